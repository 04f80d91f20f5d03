//! Request bodies as Discord reads them (Reference, "Content Type" and
//! "Uploading Files"): JSON, a form, or `multipart/form-data` whose
//! `payload_json` part carries the JSON and whose file parts
//! (`files[n]`) carry uploads. Another content type is a form error;
//! broken JSON is error 50109.

use super::errors::ApiError;
use super::state::FakeFile;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use serde_json::{Map, Value, json};

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
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        return read_multipart(request).await;
    }
    let bytes = axum::body::to_bytes(request.into_body(), BODY_LIMIT)
        .await
        .map_err(|_| ApiError::new(413, 40005, "Request entity too large"))?;
    if bytes.is_empty() {
        return Ok(Body::default());
    }
    if content_type.starts_with("application/json") {
        let json = serde_json::from_slice(&bytes).map_err(|_| ApiError::invalid_json())?;
        return Ok(Body {
            json,
            uploads: Vec::new(),
        });
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let map: Map<String, Value> = form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), json!(v.into_owned())))
            .collect();
        return Ok(Body {
            json: Value::Object(map),
            uploads: Vec::new(),
        });
    }
    Err(ApiError::form(
        "",
        "CONTENT_TYPE_INVALID",
        "Expected \"Content-Type\" header to be one of {'application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'}.",
    ))
}

async fn read_multipart(request: Request) -> Result<Body, ApiError> {
    let broken = || ApiError::new(400, 0, "400: Bad Request");
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|_| broken())?;
    let mut fields = Map::new();
    let mut payload: Option<Value> = None;
    let mut uploads = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|_| broken())? {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|_| broken())?.to_vec();
        if let Some(filename) = filename {
            uploads.push(Upload {
                field: name,
                file: FakeFile {
                    filename,
                    content_type,
                    bytes,
                },
            });
        } else if name == "payload_json" {
            payload = Some(serde_json::from_slice(&bytes).map_err(|_| ApiError::invalid_json())?);
        } else {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            // Form fields carry JSON values as their text (`tts=true`).
            let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            let value = match (name.as_str(), value) {
                ("content", v) if !v.is_string() => Value::String(v.to_string()),
                (_, v) => v,
            };
            fields.insert(name, value);
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
