//! [`HttpError`]: what can go wrong with an outbound request, classified by
//! what the caller should do about it.

use crate::retry_after::parse_retry_after;
use http::{HeaderMap, StatusCode};
use std::time::Duration;

/// Longest response body kept in an error, in characters.
const MAX_BODY_CHARS: usize = 2000;

/// A failed outbound request, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// 429: the server asks us to slow down. Retryable.
    #[error("rate limited{}", crate::retry_hint(*.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// Connect failure, timeout, 5xx, broken body: may work next time. Retryable.
    #[error("transient failure: {0}")]
    Transient(String),
    /// 401 or 403: the credentials are wrong or lack permission.
    #[error("authentication failed (HTTP {status})")]
    Auth { status: u16 },
    /// 404.
    #[error("not found: {body}")]
    NotFound { body: String },
    /// Any other non-success status: the server refused this request.
    #[error("rejected (HTTP {status}): {body}")]
    Rejected { status: u16, body: String },
    /// The server answered something that could not be understood.
    #[error("malformed response: {0}")]
    Protocol(String),
    /// The client or the request could not be built (bad URL, TLS setup).
    #[error("could not set up the request: {0}")]
    Setup(String),
    /// The caller cancelled the operation.
    #[error("cancelled")]
    Cancelled,
}

impl HttpError {
    /// True for the failures worth trying again: [`HttpError::RateLimited`]
    /// and [`HttpError::Transient`].
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            HttpError::RateLimited { .. } | HttpError::Transient(_)
        )
    }

    /// The server-given delay, for [`HttpError::RateLimited`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

/// Classifies a non-success response from its status, headers and body.
pub fn classify_status(status: StatusCode, headers: &HeaderMap, body: &str) -> HttpError {
    let code = status.as_u16();
    match code {
        429 => HttpError::RateLimited {
            retry_after: parse_retry_after(headers),
        },
        401 | 403 => HttpError::Auth { status: code },
        404 => HttpError::NotFound {
            body: truncate(body),
        },
        408 | 425 => HttpError::Transient(format!("HTTP {code}: {}", truncate(body))),
        500..=599 => HttpError::Transient(format!("HTTP {code}: {}", truncate(body))),
        _ => HttpError::Rejected {
            status: code,
            body: truncate(body),
        },
    }
}

impl From<reqwest::Error> for HttpError {
    fn from(err: reqwest::Error) -> Self {
        let err = err.without_url();
        if let Some(status) = err.status() {
            return classify_status(status, &HeaderMap::new(), "");
        }
        let text = describe(&err);
        if err.is_builder() {
            HttpError::Setup(text)
        } else if err.is_decode() && caused_by_json(&err) {
            // A body that arrived whole but is not the JSON expected. Other
            // decode errors are a body cut short, which may work next time.
            HttpError::Protocol(text)
        } else if err.is_timeout() {
            HttpError::Transient(format!("timed out: {text}"))
        } else {
            HttpError::Transient(text)
        }
    }
}

fn caused_by_json(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = err.source();
    while let Some(cause) = source {
        if cause.is::<serde_json::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// An error and its chain of sources, joined with `": "`.
pub(crate) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn truncate(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(MAX_BODY_CHARS) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_rate_limit_reads_in_whole_seconds() {
        let limited = |retry_after| HttpError::RateLimited { retry_after }.to_string();
        assert_eq!(
            limited(Some(Duration::from_millis(1500))),
            "rate limited (retry after 2 s)"
        );
        assert_eq!(limited(None), "rate limited");
    }

    use super::*;
    use http::HeaderValue;

    fn classify(code: u16) -> HttpError {
        classify_status(
            StatusCode::from_u16(code).unwrap(),
            &HeaderMap::new(),
            "nope",
        )
    }

    #[test]
    fn classifies_statuses() {
        assert_eq!(classify(429), HttpError::RateLimited { retry_after: None });
        assert_eq!(classify(401), HttpError::Auth { status: 401 });
        assert_eq!(classify(403), HttpError::Auth { status: 403 });
        assert_eq!(
            classify(404),
            HttpError::NotFound {
                body: "nope".into()
            }
        );
        assert_eq!(
            classify(400),
            HttpError::Rejected {
                status: 400,
                body: "nope".into()
            }
        );
        assert_eq!(
            classify(422),
            HttpError::Rejected {
                status: 422,
                body: "nope".into()
            }
        );
        for code in [500, 502, 503, 504, 408] {
            assert!(matches!(classify(code), HttpError::Transient(ref m) if m.contains("nope")));
        }
        assert!(classify(503).is_retryable());
        assert!(classify(429).is_retryable());
        assert!(!classify(401).is_retryable());
        assert!(!classify(400).is_retryable());
    }

    #[test]
    fn rate_limit_carries_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        let err = classify_status(StatusCode::TOO_MANY_REQUESTS, &headers, "");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    }

    #[test]
    fn long_bodies_are_truncated() {
        let body = "x".repeat(5000);
        let HttpError::Rejected { body, .. } =
            classify_status(StatusCode::BAD_REQUEST, &HeaderMap::new(), &body)
        else {
            panic!("expected Rejected");
        };
        assert_eq!(body.chars().count(), MAX_BODY_CHARS + 1);
    }

    #[tokio::test]
    async fn body_errors_are_transient_and_bad_json_is_protocol() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for body in [
                "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"a\"",
                "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nnot",
            ] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await.unwrap();
                socket.write_all(body.as_bytes()).await.unwrap();
            }
        });
        let client = crate::HttpClient::new().unwrap();
        let url = format!("http://{addr}/");
        let cut_short = client
            .reqwest()
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap_err();
        assert!(matches!(
            HttpError::from(cut_short),
            HttpError::Transient(_)
        ));
        let response = client.reqwest().get(&url).send().await.unwrap();
        let bad_json = response.json::<Vec<u8>>().await.unwrap_err();
        assert!(matches!(HttpError::from(bad_json), HttpError::Protocol(_)));
    }

    #[tokio::test]
    async fn connection_errors_are_transient_and_hide_the_url() {
        let client = crate::HttpClient::new().unwrap();
        // A port that was just free: nothing listens there any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = client
            .reqwest()
            .get(format!("http://127.0.0.1:{port}/bot123:SECRET/getMe"))
            .send()
            .await
            .unwrap_err();
        let err = HttpError::from(err);
        assert!(matches!(err, HttpError::Transient(_)), "{err:?}");
        assert!(!err.to_string().contains("SECRET"), "{err}");
        assert!(!format!("{err:?}").contains("SECRET"));
    }
}
