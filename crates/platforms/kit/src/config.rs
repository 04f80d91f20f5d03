//! Helpers for adapters' typed configuration: URL checks, and the list
//! readers of `hermod_model` re-exported so every adapter reads id lists
//! the same way (`"1, 2"` in the environment, `[1, "2"]` or `"1,2"` in
//! YAML).

pub use hermod_model::{deserialize_list, split_list};

/// Checks that `url` is an absolute `http` or `https` URL; the error names
/// the setting `name` and what is expected.
pub fn check_http_url(url: &str, name: &str) -> Result<(), String> {
    match hermod_http::reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(()),
        _ => Err(format!(
            "{name}={url:?} is not an http(s) URL; write it whole, like https://example.com/path"
        )),
    }
}

/// The path part of `url` (`/` when it has none); `None` when it is not a URL.
pub fn url_path(url: &str) -> Option<String> {
    let parsed = hermod_http::reqwest::Url::parse(url).ok()?;
    Some(parsed.path().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_http_urls_pass() {
        check_http_url("https://api.telegram.org", "X_URL").unwrap();
        check_http_url("http://127.0.0.1:9/", "X_URL").unwrap();
        for bad in ["api.telegram.org", "ftp://x", "", "https://"] {
            let err = check_http_url(bad, "X_URL").unwrap_err();
            assert!(err.contains("X_URL"), "{err}");
        }
        assert_eq!(
            url_path("https://bot.example.com/telegram/hook").as_deref(),
            Some("/telegram/hook")
        );
        assert_eq!(url_path("https://bot.example.com").as_deref(), Some("/"));
        assert_eq!(url_path("nope"), None);
    }
}
