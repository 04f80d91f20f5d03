//! [`ApiServerConfig`]: the `platforms.api_server` section and its
//! environment variables (the same names as the Hermes gateway).

use hermod_model::{EnvVars, Secret};
use serde::Deserialize;

/// Shortest API key accepted.
pub const MIN_KEY_LEN: usize = 16;

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
        }
    }
}

impl ApiServerConfig {
    /// Applies `API_SERVER_ENABLED`, `API_SERVER_KEY`, `API_SERVER_HOST`,
    /// `API_SERVER_PORT` and `API_SERVER_MODEL_NAME`.
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
        if let Some(problem) = self.key.as_ref().and_then(key_problem) {
            return Err(problem);
        }
        Ok(())
    }
}

/// Why a key is not acceptable, if it is not.
pub fn key_problem(key: &Secret) -> Option<String> {
    if key.char_len() < MIN_KEY_LEN {
        return Some(format!(
            "API_SERVER_KEY is shorter than {MIN_KEY_LEN} characters; use a long random key \
             (or remove it to have one generated)"
        ));
    }
    let lower = key.expose().to_ascii_lowercase();
    let placeholders = [
        "changeme",
        "change-me",
        "your-key",
        "your_key",
        "placeholder",
        "example",
    ];
    if placeholders.iter().any(|p| lower.contains(p)) {
        return Some("API_SERVER_KEY looks like a placeholder; set a real random key".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_and_defaults() {
        let env: EnvVars = [
            ("API_SERVER_KEY", "k".repeat(20)),
            ("API_SERVER_PORT", "9000".to_owned()),
            ("API_SERVER_ENABLED", "false".to_owned()),
        ]
        .into_iter()
        .collect();
        let mut c = ApiServerConfig::default();
        assert_eq!(c.host, "127.0.0.1");
        c.apply_env(&env).unwrap();
        assert_eq!(c.port, 9000);
        assert!(!c.enabled);
        assert!(c.validate().is_ok());
        assert!(!format!("{c:?}").contains("kkkk"));
    }

    #[test]
    fn weak_keys_are_refused() {
        let mut c = ApiServerConfig {
            key: Some(Secret::new("short")),
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().contains("16"));
        c.key = Some(Secret::new("changeme-changeme-changeme"));
        assert!(c.validate().unwrap_err().contains("placeholder"));
        let bad: EnvVars = [("API_SERVER_PORT", "http")].into_iter().collect();
        assert!(c.apply_env(&bad).unwrap_err().contains("API_SERVER_PORT"));
    }
}
