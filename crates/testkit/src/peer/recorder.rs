//! What a fake received: [`Recorder`] keeps its call records in order of
//! arrival; [`RequestHead`] takes from a request what such records are
//! made of.

use axum::http::HeaderMap;
use axum::http::request::Parts;
use tokio::time::Instant;

/// Every call a fake received, as its own records `C`, in order of
/// arrival.
#[derive(Debug, Clone)]
pub struct Recorder<C> {
    calls: Vec<C>,
}

impl<C> Default for Recorder<C> {
    fn default() -> Self {
        Self { calls: Vec::new() }
    }
}

impl<C: Clone> Recorder<C> {
    pub fn record(&mut self, call: C) {
        self.calls.push(call);
    }

    /// Every call, in order.
    pub fn all(&self) -> Vec<C> {
        self.calls.clone()
    }

    /// The calls `keep` selects, in order.
    pub fn matching(&self, keep: impl Fn(&C) -> bool) -> Vec<C> {
        self.calls.iter().filter(|c| keep(c)).cloned().collect()
    }

    /// How many calls `keep` selects.
    pub fn count(&self, keep: impl Fn(&C) -> bool) -> usize {
        self.calls.iter().filter(|c| keep(c)).count()
    }

    /// Whether any call is one `keep` selects.
    pub fn any(&self, keep: impl Fn(&C) -> bool) -> bool {
        self.calls.iter().any(keep)
    }

    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

/// What a request said before its body: method, path, query, the headers
/// a fake records, and when it arrived (tokio clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path as sent.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The headers of interest that were present and readable as text,
    /// by their lowercase names.
    pub headers: Vec<(String, String)>,
    pub at: Instant,
}

impl RequestHead {
    /// The head of `parts`, keeping only the headers named in `wanted`.
    pub fn of(parts: &Parts, wanted: &[&str]) -> Self {
        Self {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: headers_of_interest(&parts.headers, wanted),
            at: Instant::now(),
        }
    }

    /// The header `name` (case-insensitive), if it was kept.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The query's `name` parameter, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

fn headers_of_interest(headers: &HeaderMap, wanted: &[&str]) -> Vec<(String, String)> {
    wanted
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?;
            Some((name.to_ascii_lowercase(), value.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    #[test]
    fn a_head_keeps_the_headers_asked_for() {
        let request = Request::post("/api/chat.postMessage?channel=C1&x=%20y")
            .header("user-agent", "hermod")
            .header("authorization", "Bearer secret")
            .body(())
            .expect("a request");
        let (parts, ()) = request.into_parts();
        let head = RequestHead::of(&parts, &["User-Agent", "x-audit-log-reason"]);
        assert_eq!(head.method, "POST");
        assert_eq!(head.path, "/api/chat.postMessage");
        assert_eq!(head.query.as_deref(), Some("channel=C1&x=%20y"));
        assert_eq!(head.header("user-agent"), Some("hermod"));
        assert_eq!(head.header("authorization"), None, "not asked for");
        assert_eq!(head.query_param("x").as_deref(), Some(" y"));
    }

    #[test]
    fn a_recorder_selects_and_counts() {
        let mut calls = Recorder::default();
        for method in ["a", "b", "a"] {
            calls.record(method.to_owned());
        }
        assert_eq!(calls.all(), ["a", "b", "a"]);
        assert_eq!(calls.matching(|c| c == "a").len(), 2);
        assert_eq!(calls.count(|c| c == "b"), 1);
        assert!(!calls.any(|c| c == "c"));
        assert_eq!(calls.len(), 3);
    }
}
