//! Loading hermod's configuration: `HERMOD_HOME/config.yaml`, then
//! `HERMOD_HOME/.env`, then the process environment, each overriding the one
//! before (environment > `.env` > `config.yaml` > defaults).
//!
//! The YAML is parsed strictly: an unknown key is an error that names the
//! nearest valid key. Each section's type lives beside the component it
//! configures; this module only composes them.

use crate::dotenv;
use hermod_core::{DisplayConfig, GatewayConfig, StreamingConfig};
use hermod_model::{EnvVars, Secret};
use hermod_platforms::PlatformsConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration problem, with what to do about it.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// `config.yaml` as written by the user.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    pub model: ModelSection,
    pub agent: AgentSection,
    pub gateway: GatewayConfig,
    pub streaming: StreamingConfig,
    pub display: DisplayConfig,
    pub platforms: PlatformsConfig,
}

/// The `model:` section: which OpenAI-compatible endpoint to talk to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSection {
    /// The upstream model name (`HERMOD_MODEL`).
    pub default: String,
    /// The endpoint's base URL, up to and including `/v1` (`OPENAI_BASE_URL`).
    pub base_url: String,
    /// The endpoint's key (`OPENAI_API_KEY`).
    pub api_key: Option<Secret>,
    /// Accepted for compatibility with Hermes configs; every provider is
    /// spoken to through its OpenAI-compatible API.
    pub provider: Option<String>,
    /// How long one model request may take, in seconds.
    pub timeout_secs: u64,
}

impl Default for ModelSection {
    fn default() -> Self {
        Self {
            default: "gpt-4o-mini".into(),
            base_url: "https://api.openai.com/v1".into(),
            api_key: None,
            provider: None,
            timeout_secs: 600,
        }
    }
}

/// The `agent:` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSection {
    /// Model calls allowed in one turn (tool loop bound).
    pub max_turns: u32,
    /// The system prompt every turn starts with.
    pub system_prompt: Option<String>,
}

impl Default for AgentSection {
    fn default() -> Self {
        Self {
            max_turns: 90,
            system_prompt: None,
        }
    }
}

/// Everything loaded and checked.
#[derive(Debug)]
pub struct Config {
    pub home: PathBuf,
    pub model: ModelSection,
    pub agent: AgentSection,
    pub gateway: GatewayConfig,
    pub streaming: StreamingConfig,
    pub display: DisplayConfig,
    pub platforms: PlatformsConfig,
}

impl Config {
    pub fn database_path(&self) -> PathBuf {
        self.home.join("hermod.db")
    }

    pub fn model_timeout(&self) -> Duration {
        Duration::from_secs(self.model.timeout_secs.max(1))
    }
}

/// `HERMOD_HOME`, or `~/.hermod`.
pub fn home_dir(process_env: &EnvVars) -> Result<PathBuf, ConfigError> {
    if let Some(home) = process_env.get("HERMOD_HOME") {
        return Ok(PathBuf::from(home));
    }
    match process_env.get("HOME") {
        Some(user_home) => Ok(Path::new(user_home).join(".hermod")),
        None => Err(ConfigError(
            "neither HERMOD_HOME nor HOME is set; set HERMOD_HOME".into(),
        )),
    }
}

/// The process environment as an [`EnvVars`].
pub fn process_env() -> EnvVars {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Loads the configuration of `home`, with `process_env` winning over `.env`.
pub fn load(home: &Path, process_env: &EnvVars) -> Result<Config, ConfigError> {
    let yaml_path = home.join("config.yaml");
    let file: FileConfig = match std::fs::read_to_string(&yaml_path) {
        Ok(text) => {
            parse_yaml(&text).map_err(|e| ConfigError(format!("{}: {e}", yaml_path.display())))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileConfig::default(),
        Err(e) => {
            return Err(ConfigError(format!(
                "cannot read {}: {e}",
                yaml_path.display()
            )));
        }
    };

    let mut env = process_env.clone();
    let env_path = home.join(".env");
    match std::fs::read_to_string(&env_path) {
        Ok(text) => {
            let vars = dotenv::parse(&text)
                .map_err(|e| ConfigError(format!("{}: {e}", env_path.display())))?;
            for (k, v) in vars {
                env.set_default(k, v);
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(ConfigError(format!(
                "cannot read {}: {e}",
                env_path.display()
            )));
        }
    }

    let FileConfig {
        mut model,
        agent,
        mut gateway,
        streaming,
        display,
        mut platforms,
    } = file;
    let env_error = |e: String| ConfigError(format!("environment: {e}"));
    if let Some(url) = env.get("OPENAI_BASE_URL") {
        model.base_url = url.trim().to_owned();
    }
    if let Some(key) = env.get("OPENAI_API_KEY") {
        model.api_key = Some(Secret::new(key.trim()));
    }
    if let Some(name) = env.get("HERMOD_MODEL") {
        model.default = name.trim().to_owned();
    }
    gateway
        .apply_env(&env, &hermod_platforms::platform_names())
        .map_err(env_error)?;
    platforms.apply_env(&env).map_err(env_error)?;

    let config = Config {
        home: home.to_owned(),
        model,
        agent,
        gateway,
        streaming,
        display,
        platforms,
    };
    validate(&config)?;
    Ok(config)
}

fn validate(config: &Config) -> Result<(), ConfigError> {
    let url = config.model.base_url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError(format!(
            "model.base_url (OPENAI_BASE_URL) must start with http:// or https://, got {url:?}"
        )));
    }
    if config.model.default.trim().is_empty() {
        return Err(ConfigError(
            "model.default (HERMOD_MODEL) is empty: name the model to use".into(),
        ));
    }
    if config.agent.max_turns == 0 {
        return Err(ConfigError("agent.max_turns must be at least 1".into()));
    }
    if config.gateway.session_queue == 0 {
        return Err(ConfigError(
            "gateway.session_queue must be at least 1".into(),
        ));
    }
    config.platforms.validate().map_err(ConfigError)
}

/// Parses `config.yaml`, turning serde's unknown-field errors into ones that
/// suggest the nearest valid key.
pub fn parse_yaml(text: &str) -> Result<FileConfig, String> {
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    serde_saphyr::from_str(text).map_err(|e| with_suggestion(&e.to_string()))
}

/// Appends "did you mean `x`?" to an "unknown field `y`, expected one of ..."
/// message when one of the expected keys is close to the unknown one.
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.split("unknown field `").nth(1) else {
        return message.to_owned();
    };
    let Some((unknown, tail)) = rest.split_once('`') else {
        return message.to_owned();
    };
    let first_line = tail.lines().next().unwrap_or("");
    let expected = first_line
        .split_once("expected one of ")
        .or_else(|| first_line.split_once("expected "))
        .map_or("", |(_, list)| list);
    let candidates: Vec<&str> = expected
        .split(',')
        .map(|c| c.trim().trim_matches('`'))
        .filter(|c| !c.is_empty())
        .collect();
    let best = candidates
        .iter()
        .map(|c| (edit_distance(unknown, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(unknown.len()) / 2).max(1))
        .min();
    match best {
        Some((_, key)) => format!("{message}\n  did you mean `{key}`?"),
        None => message.to_owned(),
    }
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn defaults_without_files() {
        let dir = tempfile::tempdir().unwrap();
        let c = load(dir.path(), &EnvVars::new()).unwrap();
        assert_eq!(c.model.base_url, "https://api.openai.com/v1");
        assert_eq!(c.platforms.api_server.port, 8642);
        assert_eq!(c.platforms.api_server.host, "127.0.0.1");
        assert!(c.platforms.api_server.enabled);
    }

    #[test]
    fn precedence_env_over_dotenv_over_yaml() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "config.yaml",
            "model:\n  default: from-yaml\n  base_url: http://yaml/v1\nplatforms:\n  api_server:\n    port: 1111\n",
        );
        write(
            dir.path(),
            ".env",
            "HERMOD_MODEL=from-dotenv\nAPI_SERVER_PORT=2222\n",
        );
        let env: EnvVars = [("API_SERVER_PORT", "3333")].into_iter().collect();
        let c = load(dir.path(), &env).unwrap();
        assert_eq!(c.model.default, "from-dotenv");
        assert_eq!(c.model.base_url, "http://yaml/v1");
        assert_eq!(c.platforms.api_server.port, 3333);
    }

    #[test]
    fn unknown_keys_suggest_the_nearest() {
        let err = parse_yaml("modle:\n  default: x\n").unwrap_err();
        assert!(err.contains("did you mean `model`?"), "{err}");
        let err = parse_yaml("model:\n  base_ulr: x\n").unwrap_err();
        assert!(err.contains("did you mean `base_url`?"), "{err}");
        let err = parse_yaml("platforms:\n  api_server:\n    prot: 1\n").unwrap_err();
        assert!(err.contains("did you mean `port`?"), "{err}");
        let err = parse_yaml("zzzzzzzz: 1\n").unwrap_err();
        assert!(
            err.contains("zzzzzzzz") && !err.contains("did you mean"),
            "{err}"
        );
    }

    #[test]
    fn invalid_values_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let env: EnvVars = [("OPENAI_BASE_URL", "localhost:11434")]
            .into_iter()
            .collect();
        let err = load(dir.path(), &env).unwrap_err().to_string();
        assert!(err.contains("OPENAI_BASE_URL"), "{err}");
        let env: EnvVars = [("API_SERVER_KEY", "short")].into_iter().collect();
        let err = load(dir.path(), &env).unwrap_err().to_string();
        assert!(err.contains("16"), "{err}");
        write(dir.path(), "config.yaml", "model: [1, 2]\n");
        let err = load(dir.path(), &EnvVars::new()).unwrap_err().to_string();
        assert!(err.contains("config.yaml"), "{err}");
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let dir = tempfile::tempdir().unwrap();
        let env: EnvVars = [
            ("OPENAI_API_KEY", "sk-topsecret"),
            ("API_SERVER_KEY", "0123456789abcdef0123"),
        ]
        .into_iter()
        .collect();
        let c = load(dir.path(), &env).unwrap();
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("topsecret") && !debug.contains("0123456789abcdef"),
            "{debug}"
        );
    }
}
