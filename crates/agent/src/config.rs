//! [`LlmConfig`]: where the model lives and how to talk to it.

use hermod_http::RetryPolicy;
use hermod_model::Secret;
use std::time::Duration;

/// How [`crate::LlmAgent`] reaches its OpenAI-compatible model. `Debug`
/// never shows the API key.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmConfig {
    /// The API root, e.g. `http://127.0.0.1:8080/v1` (a trailing slash is
    /// fine); requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer <key>` when set.
    pub api_key: Option<Secret>,
    /// The default model; a turn's `TurnOptions::model` overrides it.
    pub model: String,
    /// The longest wait on the provider: for the response to start, between
    /// two streamed chunks, and for a whole non-streamed body.
    pub request_timeout: Duration,
    /// Ask for server-sent events and forward text as it arrives.
    pub stream: bool,
    /// Bound on model calls per turn (each tool round is one call).
    pub max_iterations: u32,
    /// The system prompt sent first in every request.
    pub system_prompt: Option<String>,
    /// Retries of a model call on 429, 5xx and network errors (only while
    /// no text of that call has been shown).
    pub retry: RetryPolicy,
    /// How long a tool's approval request waits for an answer before it is
    /// denied.
    pub approval_timeout: Duration,
}

impl LlmConfig {
    /// A configuration with defaults for everything but the endpoint and model.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            ..Self::default()
        }
    }

    /// The chat completions endpoint under [`LlmConfig::base_url`].
    pub fn endpoint(&self) -> String {
        format!("{}/chat/completions", self.base_url.trim_end_matches('/'))
    }
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8080/v1".to_owned(),
            api_key: None,
            model: "default".to_owned(),
            request_timeout: Duration::from_secs(120),
            stream: true,
            max_iterations: 90,
            system_prompt: None,
            retry: RetryPolicy::default(),
            approval_timeout: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_accepts_a_trailing_slash() {
        assert_eq!(
            LlmConfig::new("http://h/v1", "m").endpoint(),
            "http://h/v1/chat/completions"
        );
        assert_eq!(
            LlmConfig::new("http://h/v1/", "m").endpoint(),
            "http://h/v1/chat/completions"
        );
    }

    #[test]
    fn debug_hides_the_key() {
        let config = LlmConfig {
            api_key: Some(Secret::new("sk-live-123")),
            ..LlmConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-live-123"), "{shown}");
        assert!(shown.contains("redacted"));
        assert!(config.stream);
        assert_eq!(config.max_iterations, 90);
        assert_eq!(config.approval_timeout, Duration::from_secs(60));
    }
}
