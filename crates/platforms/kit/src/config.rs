//! What adapters' typed configurations share, so a platform's `config.rs`
//! holds its own fields and its own checks:
//!
//! - [`EnvSettings`]: its environment variables declared once, each beside
//!   its field, from which [`apply_env`], [`env_vars`] and [`check_limits`]
//!   follow;
//! - [`Choice`] for settings that take one of a few words, and the shared
//!   [`ReplyToMode`] and [`AllowBots`];
//! - the id-list readers of `hermod_model`, re-exported so every adapter
//!   reads lists the same way (`"1, 2"` in the environment, `[1, "2"]` or
//!   `"1,2"` in YAML);
//! - URL checks that name the setting, whether a token is set, and where
//!   inbound files go.

mod choice;
mod env;

pub use choice::{AllowBots, Choice, ReplyToMode};
pub use env::{Env, EnvSettings, Limits, Number, apply_env, check_limits, env_vars};
pub use hermod_model::{deserialize_list, split_list};

use hermod_model::Secret;
use std::path::{Path, PathBuf};

/// Whether a secret is configured and not empty: a platform whose token is
/// runs.
pub fn is_set(secret: Option<&Secret>) -> bool {
    secret.is_some_and(|s| !s.is_empty())
}

/// Where inbound files are saved: `configured` (the gateway sets
/// `HERMOD_HOME/media`), else `hermod-media` in the system's temporary
/// directory, for an adapter built outside a gateway.
pub fn media_dir(configured: Option<&Path>) -> PathBuf {
    configured.map_or_else(|| std::env::temp_dir().join("hermod-media"), Path::to_owned)
}

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

    #[test]
    fn a_blank_token_is_not_set() {
        assert!(is_set(Some(&Secret::new("t"))));
        assert!(!is_set(Some(&Secret::new(""))));
        assert!(!is_set(None));
    }

    #[test]
    fn media_goes_where_configured_else_to_the_temporary_directory() {
        assert_eq!(
            media_dir(Some(Path::new("/srv/media"))),
            Path::new("/srv/media")
        );
        assert_eq!(media_dir(None), std::env::temp_dir().join("hermod-media"));
    }
}
