//! Security headers on every answer, as Hermes' API server sends them: the
//! API serves JSON and event streams, never pages, so a browser is told to
//! run nothing from it, frame it nowhere, sniff no types and send no
//! referrer. Headers a handler set itself are kept.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The headers and their values.
const HEADERS: [(HeaderName, &str); 5] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    ),
    (header::REFERRER_POLICY, "no-referrer"),
    // Honoured only over HTTPS (a TLS proxy in front); ignored over HTTP.
    (header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"),
];

/// Adds the security headers to `request`'s answer.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in HEADERS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}
