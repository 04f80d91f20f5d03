//! CORS, for web pages on other origins (a web UI calling the API from the
//! browser): the origins of `API_SERVER_CORS_ORIGINS` get their preflight
//! requests answered, without the API key (browsers never send it on a
//! preflight), and CORS headers on every response. Other origins get no CORS
//! headers, so the browser keeps the response from the page. Without
//! configured origins the layer is not installed at all.

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `PATCH` and `DELETE` rename and delete sessions, responses and jobs.
const ALLOWED_METHODS: &str = "GET, POST, PATCH, DELETE, OPTIONS";

/// Request headers a page may always send: the key, JSON bodies, and the
/// Hermes headers clients configured for Hermes send.
const ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "idempotency-key",
    "x-hermes-session-id",
    "x-hermes-session-key",
    "x-hermod-session-id",
];

/// Response headers a page may read (beyond the CORS-safelisted ones).
const EXPOSED_HEADERS: &str = "X-Hermes-Session-Id, X-Hermod-Session-Id, X-Hermes-Session-Key, X-Hermod-Tools-Ignored, \
     Retry-After";

/// How long a browser may reuse a preflight answer. Browsers cap it (two
/// hours in Chromium); ten minutes keeps a configuration change quick to
/// take effect.
const MAX_AGE_SECS: &str = "600";

/// The allowed origins, normalized.
#[derive(Debug)]
pub(crate) struct Cors {
    any: bool,
    origins: Vec<String>,
}

impl Cors {
    /// The layer's state, or `None` when no origin is configured.
    pub(crate) fn new(configured: &[String]) -> Option<Arc<Self>> {
        if configured.is_empty() {
            return None;
        }
        Some(Arc::new(Self {
            any: configured.iter().any(|o| o.trim() == "*"),
            origins: configured.iter().map(|o| normalize(o)).collect(),
        }))
    }

    fn allows(&self, origin: &str) -> bool {
        self.any || self.origins.iter().any(|o| *o == normalize(origin))
    }
}

/// Scheme and host are case-insensitive; browsers send no trailing slash.
fn normalize(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Why a configured origin cannot match any browser's `Origin`, if so.
pub(crate) fn origin_problem(origin: &str) -> Option<String> {
    let origin = origin.trim();
    if origin == "*" || origin == "null" {
        return None;
    }
    let shape = "an origin is a scheme and a host, like https://chat.example.com or \
                 http://localhost:3000 (or * for any origin)";
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Some(format!("'{origin}' has no scheme; {shape}"));
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok || host.is_empty() || host.chars().any(|c| c.is_whitespace()) {
        return Some(format!("'{origin}' is not an origin; {shape}"));
    }
    if host.contains('/') {
        return Some(format!(
            "'{origin}' has a path, which an Origin header never has; {shape}"
        ));
    }
    None
}

/// The layer: answers preflight requests, adds CORS headers to the
/// responses of allowed origins.
pub(crate) async fn cors(State(cors): State<Arc<Cors>>, request: Request, next: Next) -> Response {
    let Some(origin) = request.headers().get(ORIGIN).cloned() else {
        return next.run(request).await;
    };
    let allowed = origin.to_str().is_ok_and(|o| cors.allows(o));
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = match (preflight, allowed) {
        (true, true) => preflight_response(&origin, request.headers()),
        (true, false) => ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            "origin_not_allowed",
            "This origin may not call the API from a browser; the operator can add it to \
             API_SERVER_CORS_ORIGINS.",
        )
        .into_response(),
        (false, _) => next.run(request).await,
    };
    let headers = response.headers_mut();
    // The answer depends on the origin: caches must not share it across them.
    headers.append(VARY, HeaderValue::from_static("Origin"));
    if allowed {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if !preflight {
            headers.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
        }
    }
    response
}

/// `204` with the methods and headers a page may use. The headers the
/// browser asks for are allowed as well as the API's own: an allowed
/// origin is trusted with any header (SDKs send their own), and every
/// request still needs the key.
fn preflight_response(origin: &HeaderValue, request: &HeaderMap) -> Response {
    let mut names: Vec<String> = ALLOWED_HEADERS.iter().map(|h| (*h).to_owned()).collect();
    let requested = request
        .get_all(ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| HeaderName::from_bytes(name.as_bytes()).is_ok());
    for name in requested {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    if let Ok(value) = HeaderValue::from_str(&names.join(", ")) {
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, value);
    }
    headers.insert(
        ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE_SECS),
    );
    response.headers_mut().append(
        VARY,
        HeaderValue::from_static("Access-Control-Request-Method, Access-Control-Request-Headers"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_ignoring_case_and_a_trailing_slash() {
        let cors = Cors::new(&["https://Chat.Example.com/".to_owned()]).unwrap();
        assert!(cors.allows("https://chat.example.com"));
        assert!(!cors.allows("http://chat.example.com"));
        assert!(!cors.allows("https://chat.example.com.evil.test"));
        let any = Cors::new(&["*".to_owned()]).unwrap();
        assert!(any.allows("http://localhost:3000"));
        assert!(Cors::new(&[]).is_none());
    }
}
