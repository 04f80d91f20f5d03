//! [`ApiServerConfig`]: the `platforms.api_server` section and its
//! environment variables (the same names as the Hermes gateway).

use crate::cors::origin_problem;
use crate::key::key_problem;
use hermod_model::{EnvVars, Secret};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiServerConfig {
    pub enabled: bool,
    /// Address to listen on; loopback unless deliberately exposed.
    pub host: String,
    pub port: u16,
    /// The bearer key clients must send.
    pub key: Option<Secret>,
    /// The model name advertised on `/v1/models`; requests naming it use the
    /// configured upstream model.
    pub model_name: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The most request bodies, in bytes, handled at once (from the first
    /// byte read until the answer is complete). A request larger than what
    /// is left waits, unread, for earlier ones to finish, so memory stays
    /// within a small multiple of this whatever the number of clients.
    /// Unset: twice `max_body_bytes`.
    pub body_budget_bytes: Option<usize>,
    /// The most connections served at once. Further connections wait in the
    /// operating system's accept queue until one closes.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, counted from when the
    /// connection starts waiting for a request (on connect, and after each
    /// answer on a kept-alive connection). Slow or stalled clients are
    /// disconnected.
    pub header_read_timeout_secs: u64,
    /// A connection that sends nothing for this long while no request is in
    /// progress (a new one, or a kept-alive one between requests) is closed.
    /// At most `header_read_timeout_secs`, whose timer also runs while a
    /// connection waits for its next request.
    pub idle_timeout_secs: u64,
    /// Whether `X-Hermod-Session-Id` may name sessions of other platforms
    /// (a Telegram chat's, say). Off: the API reaches only sessions it
    /// created, and other ids are answered as not found.
    pub allow_platform_sessions: bool,
    /// Browser origins (`https://chat.example.com`, or `*` for any) allowed
    /// to call the API from a web page: they get CORS headers and their
    /// preflight requests are answered. Empty: no CORS headers at all. A
    /// YAML list or a comma-separated string.
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub cors_origins: Vec<String>,
    /// Whether a request without a session header is recorded (under a
    /// fresh session id returned in the response). Off: such requests are
    /// answered from their own `messages` and nothing is stored, so the
    /// one-off requests of web UIs (title and tag generation) do not fill
    /// the session list.
    pub store_stateless: bool,
    /// `API_SERVER_REASONING_CONTENT`: a model's hidden reasoning
    /// (`<think>…</think>`) is returned as `reasoning_content` beside the
    /// answer (the field DeepSeek, vLLM and Open WebUI read); off, it is
    /// dropped. It never appears in `content`.
    pub reasoning_content: bool,
    /// `API_SERVER_MAX_CONCURRENT_RUNS`: the most agent turns the API runs
    /// at once, across chat completions, responses and runs; one more is
    /// answered `429 rate_limit_exceeded` with `Retry-After`. 0: no cap.
    pub max_concurrent_runs: usize,
    /// The most responses of `/v1/responses` kept for
    /// `previous_response_id` and `GET /v1/responses/{id}` (least recently
    /// used first out).
    pub max_stored_responses: usize,
}

impl Default for ApiServerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            host: "127.0.0.1".into(),
            port: 8642,
            key: None,
            model_name: "hermod".into(),
            max_body_bytes: 10 * 1024 * 1024,
            body_budget_bytes: None,
            max_connections: 512,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 5,
            allow_platform_sessions: false,
            cors_origins: Vec::new(),
            store_stateless: true,
            reasoning_content: true,
            // Hermes caps at 10; hermod's turns are cheap tasks, and the cap
            // is there against floods, not to throttle a busy client pool.
            max_concurrent_runs: 128,
            max_stored_responses: 100,
        }
    }
}

impl ApiServerConfig {
    /// Applies `API_SERVER_ENABLED`, `API_SERVER_KEY`, `API_SERVER_HOST`,
    /// `API_SERVER_PORT`, `API_SERVER_MODEL_NAME`, `API_SERVER_MAX_CONNECTIONS`,
    /// `API_SERVER_ALLOW_PLATFORM_SESSIONS`, `API_SERVER_CORS_ORIGINS` and
    /// `API_SERVER_STORE_STATELESS`, `API_SERVER_REASONING_CONTENT` and
    /// `API_SERVER_MAX_CONCURRENT_RUNS`.
    pub fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        if let Some(enabled) = env.get_bool("API_SERVER_ENABLED")? {
            self.enabled = enabled;
        }
        if let Some(key) = env.get("API_SERVER_KEY") {
            self.key = Some(Secret::new(key.trim()));
        }
        if let Some(host) = env.get("API_SERVER_HOST") {
            self.host = host.trim().to_owned();
        }
        if let Some(port) = env.get_parsed::<u16>("API_SERVER_PORT")? {
            self.port = port;
        }
        if let Some(name) = env.get("API_SERVER_MODEL_NAME") {
            self.model_name = name.trim().to_owned();
        }
        if let Some(max) = env.get_parsed::<usize>("API_SERVER_MAX_CONNECTIONS")? {
            self.max_connections = max;
        }
        if let Some(allow) = env.get_bool("API_SERVER_ALLOW_PLATFORM_SESSIONS")? {
            self.allow_platform_sessions = allow;
        }
        if let Some(origins) = env.get("API_SERVER_CORS_ORIGINS") {
            self.cors_origins = hermod_model::split_list(origins);
        }
        if let Some(store) = env.get_bool("API_SERVER_STORE_STATELESS")? {
            self.store_stateless = store;
        }
        if let Some(reasoning) = env.get_bool("API_SERVER_REASONING_CONTENT")? {
            self.reasoning_content = reasoning;
        }
        if let Some(max) = env.get_parsed::<usize>("API_SERVER_MAX_CONCURRENT_RUNS")? {
            self.max_concurrent_runs = max;
        }
        Ok(())
    }

    /// Checks the settings that would make the server unsafe or unusable.
    /// A missing key is reported separately by [`ApiServerConfig::key_problem`].
    pub fn validate(&self) -> Result<(), String> {
        if self.host.trim().is_empty() {
            return Err("platforms.api_server.host (API_SERVER_HOST) is empty".into());
        }
        if self.model_name.trim().is_empty() {
            return Err("platforms.api_server.model_name (API_SERVER_MODEL_NAME) is empty".into());
        }
        if self.max_body_bytes < 1024 {
            return Err("platforms.api_server.max_body_bytes must be at least 1024".into());
        }
        if self.body_budget() < self.max_body_bytes {
            return Err(
                "platforms.api_server.body_budget_bytes must be at least max_body_bytes".into(),
            );
        }
        if self.max_connections == 0 {
            return Err(
                "platforms.api_server.max_connections (API_SERVER_MAX_CONNECTIONS) must be at least 1"
                    .into(),
            );
        }
        if self.header_read_timeout_secs == 0 || self.idle_timeout_secs == 0 {
            return Err(
                "platforms.api_server.header_read_timeout_secs and idle_timeout_secs must be at least 1"
                    .into(),
            );
        }
        if self.idle_timeout_secs > self.header_read_timeout_secs {
            return Err(
                "platforms.api_server.idle_timeout_secs cannot exceed header_read_timeout_secs \
                 (the header timer also runs while a connection waits for its next request)"
                    .into(),
            );
        }
        if self.max_stored_responses == 0 {
            return Err("platforms.api_server.max_stored_responses must be at least 1".into());
        }
        if let Some(problem) = self.key.as_ref().and_then(key_problem) {
            return Err(problem);
        }
        if let Some(problem) = self.cors_origins.iter().find_map(|o| origin_problem(o)) {
            return Err(format!(
                "platforms.api_server.cors_origins (API_SERVER_CORS_ORIGINS): {problem}"
            ));
        }
        Ok(())
    }

    /// The body budget in bytes ([`ApiServerConfig::body_budget_bytes`] or
    /// its default).
    pub(crate) fn body_budget(&self) -> usize {
        self.body_budget_bytes
            .unwrap_or_else(|| self.max_body_bytes.saturating_mul(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key that passes validation.
    const KEY: &str = "Zq8vN2xL5tR9wK3mP7yB";

    #[test]
    fn env_overrides_and_defaults() {
        let env: EnvVars = [
            ("API_SERVER_KEY", KEY.to_owned()),
            ("API_SERVER_PORT", "9000".to_owned()),
            ("API_SERVER_ENABLED", "false".to_owned()),
            ("API_SERVER_MAX_CONNECTIONS", "64".to_owned()),
            ("API_SERVER_ALLOW_PLATFORM_SESSIONS", "true".to_owned()),
            (
                "API_SERVER_CORS_ORIGINS",
                " https://chat.example.com, http://localhost:3000 ,".to_owned(),
            ),
            ("API_SERVER_STORE_STATELESS", "false".to_owned()),
            ("API_SERVER_MAX_CONCURRENT_RUNS", "0".to_owned()),
        ]
        .into_iter()
        .collect();
        let mut c = ApiServerConfig::default();
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.max_connections, 512);
        assert!(!c.allow_platform_sessions);
        assert!(c.cors_origins.is_empty());
        assert!(c.store_stateless);
        assert_eq!(c.body_budget(), 2 * c.max_body_bytes);
        c.apply_env(&env).unwrap();
        assert_eq!(c.port, 9000);
        assert!(!c.enabled);
        assert_eq!(c.max_connections, 64);
        assert!(c.allow_platform_sessions);
        assert_eq!(
            c.cors_origins,
            ["https://chat.example.com", "http://localhost:3000"]
        );
        assert!(!c.store_stateless);
        assert_eq!(c.max_concurrent_runs, 0, "0 turns the cap off");
        assert!(c.validate().is_ok());
        assert!(!format!("{c:?}").contains(KEY));
    }

    #[test]
    fn weak_keys_are_refused() {
        let mut c = ApiServerConfig {
            key: Some(Secret::new("short")),
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().contains("16"));
        for placeholder in [
            "changeme-changeme-changeme",
            "your-api-key-here",
            "k".repeat(20).as_str(),
        ] {
            c.key = Some(Secret::new(placeholder));
            assert!(
                c.validate().unwrap_err().contains("placeholder"),
                "{placeholder}"
            );
        }
        c.key = Some(Secret::new(KEY));
        assert!(c.validate().is_ok());
        let bad: EnvVars = [("API_SERVER_PORT", "http")].into_iter().collect();
        assert!(c.apply_env(&bad).unwrap_err().contains("API_SERVER_PORT"));
    }

    #[test]
    fn limits_that_cannot_work_are_refused() {
        let ok = ApiServerConfig {
            key: Some(Secret::new(KEY)),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        let cases = [
            (
                ApiServerConfig {
                    max_connections: 0,
                    ..ok.clone()
                },
                "max_connections",
            ),
            (
                ApiServerConfig {
                    body_budget_bytes: Some(ok.max_body_bytes - 1),
                    ..ok.clone()
                },
                "body_budget_bytes",
            ),
            (
                ApiServerConfig {
                    idle_timeout_secs: 11,
                    ..ok.clone()
                },
                "idle_timeout_secs",
            ),
            (
                ApiServerConfig {
                    header_read_timeout_secs: 0,
                    ..ok
                },
                "header_read_timeout_secs",
            ),
        ];
        for (config, key) in cases {
            assert!(config.validate().unwrap_err().contains(key), "{key}");
        }
    }

    #[test]
    fn cors_origins_read_as_a_list_or_a_comma_string() {
        let from = |value: serde_json::Value| {
            serde_json::from_value::<ApiServerConfig>(serde_json::json!({ "cors_origins": value }))
                .unwrap()
                .cors_origins
        };
        let both = ["https://a.example", "http://localhost:8080"];
        assert_eq!(from(serde_json::json!(both)), both);
        assert_eq!(
            from(serde_json::json!(
                "https://a.example, http://localhost:8080"
            )),
            both
        );
        assert_eq!(from(serde_json::json!("*")), ["*"]);
        let c: ApiServerConfig =
            serde_json::from_value(serde_json::json!({"store_stateless": false})).unwrap();
        assert!(!c.store_stateless);
        assert!(c.cors_origins.is_empty());
    }

    #[test]
    fn cors_origins_must_be_origins() {
        let with = |origin: &str| ApiServerConfig {
            key: Some(Secret::new(KEY)),
            cors_origins: vec![origin.to_owned()],
            ..Default::default()
        };
        for ok in [
            "*",
            "https://chat.example.com",
            "http://localhost:3000",
            "https://a.example/",
        ] {
            assert!(with(ok).validate().is_ok(), "{ok}");
        }
        for bad in [
            "chat.example.com",
            "https://chat.example.com/app",
            "https://",
            "http://a b",
        ] {
            let err = with(bad).validate().unwrap_err();
            assert!(err.contains("API_SERVER_CORS_ORIGINS"), "{bad}: {err}");
        }
    }
}
