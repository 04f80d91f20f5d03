//! Request bodies as Discord reads them (Reference, "Content Type" and
//! "Uploading Files"): JSON, a form, or `multipart/form-data` whose
//! `payload_json` part carries the JSON and whose file parts
//! (`files[n]`) carry uploads. Another content type is a form error;
//! broken JSON is error 50109.

use super::errors::ApiError;
use super::state::FakeFile;
use crate::peer::{self, BodyError, Part, read_body};
use axum::extract::Request;
use serde_json::{Map, Value};

/// Bodies up to this size are read ("the maximum request size when
/// sending a message is 25 MiB", with room for the multipart framing).
pub(crate) const BODY_LIMIT: usize = 26 << 20;

/// One uploaded file and the part it came in.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    /// The part's name (`files[0]`).
    pub(crate) field: String,
    pub(crate) file: FakeFile,
}

impl Upload {
    /// `n` of a `files[n]` part.
    pub(crate) fn index(&self) -> Option<u64> {
        self.field
            .strip_prefix("files[")
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|n| n.parse().ok())
    }
}

/// A read body.
#[derive(Debug, Default)]
pub(crate) struct Body {
    /// The JSON value (an object for most routes, an array for bulk
    /// command overwrites), `Null` without a body.
    pub(crate) json: Value,
    pub(crate) uploads: Vec<Upload>,
}

impl Body {
    /// The JSON as an object (empty when it is not one).
    pub(crate) fn object(&self) -> Map<String, Value> {
        match &self.json {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        }
    }
}

/// Reads the body of `request`.
pub(crate) async fn read(request: Request) -> Result<Body, ApiError> {
    let read = read_body(request, BODY_LIMIT).await.map_err(|e| match e {
        BodyError::TooLarge => ApiError::new(413, 40005, "Request entity too large"),
        BodyError::InvalidJson => ApiError::invalid_json(),
        BodyError::BrokenMultipart => ApiError::new(400, 0, "400: Bad Request"),
    })?;
    match read.body {
        peer::Body::Empty => Ok(Body::default()),
        peer::Body::Json(json) => Ok(Body {
            json,
            uploads: Vec::new(),
        }),
        peer::Body::Form(map)
            if read
                .content_type
                .starts_with("application/x-www-form-urlencoded") =>
        {
            Ok(Body {
                json: Value::Object(map),
                uploads: Vec::new(),
            })
        }
        peer::Body::Form(_) => Err(ApiError::form(
            "",
            "CONTENT_TYPE_INVALID",
            "Expected \"Content-Type\" header to be one of {'application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'}.",
        )),
        peer::Body::Multipart(parts) => from_parts(parts),
    }
}

/// A multipart body: files are uploads, `payload_json` is the JSON, and
/// other fields are JSON values given as text.
fn from_parts(parts: Vec<Part>) -> Result<Body, ApiError> {
    let mut fields = Map::new();
    let mut payload: Option<Value> = None;
    let mut uploads = Vec::new();
    for part in parts {
        if let Some(filename) = part.file_name {
            uploads.push(Upload {
                field: part.name,
                file: FakeFile {
                    filename,
                    content_type: part.content_type,
                    bytes: part.bytes,
                },
            });
        } else if part.name == "payload_json" {
            payload =
                Some(serde_json::from_slice(&part.bytes).map_err(|_| ApiError::invalid_json())?);
        } else {
            let text = part.text();
            // Form fields carry JSON values as their text (`tts=true`).
            let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            let value = match (part.name.as_str(), value) {
                ("content", v) if !v.is_string() => Value::String(v.to_string()),
                (_, v) => v,
            };
            fields.insert(part.name, value);
        }
    }
    // "The JSON message body can optionally be provided using the
    // payload_json parameter"; when it is, it is the body.
    let json = match payload {
        Some(Value::Object(mut map)) => {
            for (k, v) in fields {
                map.entry(k).or_insert(v);
            }
            Value::Object(map)
        }
        Some(other) => other,
        None => Value::Object(fields),
    };
    Ok(Body { json, uploads })
}
