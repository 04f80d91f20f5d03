//! The page and its assets, embedded in the binary (`include_str!`), so the
//! server needs no files at run time and a page always matches its server.
//!
//! The page (`/`, `/chat`, `/dashboard`) is never cached (`no-store`): a
//! new binary is picked up at the next load. Assets are revalidated on
//! each load (`no-cache` with an `ETag`), which costs one `304` each.
//! The page carries its own CSP, which allows scripts, styles and
//! connections from this origin only and nothing inline; the security
//! middleware keeps it.

use crate::error::ApiError;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The page's content security policy.
pub(crate) const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; connect-src 'self'; form-action 'none'; \
     frame-ancestors 'none'; base-uri 'none'";

const INDEX: &str = include_str!("../../web/index.html");

/// One file under `/assets/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
    etag: &'static str,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {{
        const BODY: &str = include_str!(concat!("../../web/", $name));
        const HASH: [u8; 18] = etag(BODY);
        Asset {
            name: $name,
            content_type: $type,
            body: BODY,
            etag: match std::str::from_utf8(&HASH) {
                Ok(tag) => tag,
                Err(_) => panic!("the ETag is ASCII"),
            },
        }
    }};
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: [Asset; 6] = [
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("markdown.js", JS),
    asset!("reply.js", JS),
    asset!("chat.js", JS),
    asset!("dashboard.js", JS),
];

/// `"<16 hex digits>"`: the FNV-1a hash of `body`, computed at compile
/// time. A cache validator, not a security measure.
const fn etag(body: &str) -> [u8; 18] {
    let bytes = body.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'"'; 18];
    let mut d = 0;
    while d < 16 {
        out[1 + d] = DIGITS[((hash >> (60 - 4 * d)) & 0xf) as usize];
        d += 1;
    }
    out
}

/// The page, for `/`, `/chat` and `/dashboard` (the script picks the view).
pub(crate) async fn page() -> Response {
    let mut response = INDEX.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    response
}

/// `/assets/{name}`: `304` when the client's copy is current, `404` for a
/// name that is not an asset.
pub(crate) async fn asset(Path(name): Path<String>, request: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "not_found",
            "No such asset.",
        )
        .into_response();
    };
    let current = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == asset.etag || tag.trim() == "*");
    let mut response = if current {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_differ_with_content_and_are_quoted_hex() {
        let a = etag("a");
        let b = etag("b");
        assert_ne!(a, b);
        let tag = std::str::from_utf8(&a).unwrap();
        assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
        assert!(tag[1..17].bytes().all(|c| c.is_ascii_hexdigit()), "{tag}");
        // FNV-1a of "a", a published test vector.
        assert_eq!(tag, "\"af63dc4c8601ec8c\"");
    }

    #[test]
    fn every_asset_has_a_distinct_name_and_tag() {
        for (i, a) in ASSETS.iter().enumerate() {
            for b in &ASSETS[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.etag, b.etag, "{} and {}", a.name, b.name);
            }
        }
    }
}
