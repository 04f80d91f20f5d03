//! Request bodies: JSON, a form, or `multipart/form-data` parts, read
//! once here; each fake makes its parameters of them by its platform's
//! rules (which parts are files, whether JSON must be an object, which
//! content types it refuses) and answers failures in its own words.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use serde_json::{Map, Value, json};

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The form field's name.
    pub name: String,
    /// The part's `filename`, which file parts carry.
    pub file_name: Option<String>,
    /// The part's `Content-Type`.
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl Part {
    /// The bytes as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// What a body held.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No bytes at all, whatever the content type.
    Empty,
    /// An `application/json` body.
    Json(Value),
    /// Any other body, read as `application/x-www-form-urlencoded`;
    /// values are strings, as sent.
    Form(Map<String, Value>),
    /// The parts of a `multipart/form-data` body, in order.
    Multipart(Vec<Part>),
}

/// A read body with its content type.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadBody {
    /// The `Content-Type` header, lowercase (empty without one).
    pub content_type: String,
    pub body: Body,
}

impl ReadBody {
    /// Whether the content type names a charset (Slack warns either way).
    pub fn has_charset(&self) -> bool {
        self.content_type.contains("charset")
    }
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Longer than the limit.
    TooLarge,
    /// An `application/json` body that is not JSON.
    InvalidJson,
    /// A `multipart/form-data` body that does not parse.
    BrokenMultipart,
}

/// Reads the body of `request`, up to `limit` bytes (the router's
/// `DefaultBodyLimit` bounds multipart bodies).
pub async fn read_body(request: Request, limit: usize) -> Result<ReadBody, BodyError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let parts = read_multipart(request).await?;
        return Ok(ReadBody {
            content_type,
            body: Body::Multipart(parts),
        });
    }
    let bytes = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| BodyError::TooLarge)?;
    let body = if bytes.is_empty() {
        Body::Empty
    } else if content_type.starts_with("application/json") {
        Body::Json(serde_json::from_slice(&bytes).map_err(|_| BodyError::InvalidJson)?)
    } else {
        Body::Form(form_fields(&bytes))
    };
    Ok(ReadBody { content_type, body })
}

async fn read_multipart(request: Request) -> Result<Vec<Part>, BodyError> {
    let broken = |_| BodyError::BrokenMultipart;
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|_| BodyError::BrokenMultipart)?;
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.map_err(broken)?.to_vec();
        parts.push(Part {
            name,
            file_name,
            content_type,
            bytes,
        });
    }
    Ok(parts)
}

/// The fields of a form-encoded string (a body or a query), as JSON
/// strings; a repeated name keeps its last value.
pub fn form_fields(encoded: &[u8]) -> Map<String, Value> {
    form_urlencoded::parse(encoded)
        .map(|(name, value)| (name.into_owned(), json!(value.into_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body as HttpBody;

    fn request(content_type: &str, body: &'static str) -> Request {
        axum::http::Request::post("/")
            .header(header::CONTENT_TYPE, content_type)
            .body(HttpBody::from(body))
            .expect("a request")
    }

    #[tokio::test]
    async fn json_forms_and_empty_bodies() {
        let json = read_body(
            request("application/json; charset=utf-8", r#"{"a":1}"#),
            1024,
        )
        .await
        .expect("JSON");
        assert_eq!(json.body, Body::Json(json!({"a": 1})));
        assert!(json.has_charset());
        let form = read_body(
            request("application/x-www-form-urlencoded", "a=1&b=x+y"),
            1024,
        )
        .await
        .expect("a form");
        assert_eq!(form.body, Body::Form(form_fields(b"a=1&b=x%20y")));
        let empty = read_body(request("application/json", ""), 1024)
            .await
            .expect("nothing");
        assert_eq!(empty.body, Body::Empty);
        let broken = read_body(request("application/json", "{"), 1024).await;
        assert_eq!(broken, Err(BodyError::InvalidJson));
        let long = read_body(request("text/plain", "0123456789"), 4).await;
        assert_eq!(long, Err(BodyError::TooLarge));
    }

    #[tokio::test]
    async fn multipart_parts_keep_names_files_and_types() {
        let body = "--XX\r\n\
            Content-Disposition: form-data; name=\"caption\"\r\n\r\n\
            hi\r\n\
            --XX\r\n\
            Content-Disposition: form-data; name=\"files[0]\"; filename=\"a.png\"\r\n\
            Content-Type: image/png\r\n\r\n\
            PNG\r\n\
            --XX--\r\n";
        let read = read_body(request("multipart/form-data; boundary=XX", body), 1024)
            .await
            .expect("parts");
        let Body::Multipart(parts) = read.body else {
            panic!("multipart, got {:?}", read.body);
        };
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].text()),
            ("caption", "hi".to_owned())
        );
        assert_eq!(parts[0].file_name, None);
        assert_eq!(parts[1].file_name.as_deref(), Some("a.png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[1].bytes, b"PNG");
        let broken = read_body(request("multipart/form-data; boundary=XX", "junk"), 1024).await;
        assert_eq!(broken, Err(BodyError::BrokenMultipart));
    }
}
