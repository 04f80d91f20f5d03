//! Loading hermod's configuration: `HERMOD_HOME/config.yaml`, then
//! `HERMOD_HOME/.env`, then the process environment, each overriding the one
//! before (environment > `.env` > `config.yaml` > defaults).
//!
//! A Hermes `config.yaml` and `.env` load as they are ([`hermes`]): the
//! settings hermod implements are used, the ones it does not are listed as
//! [`Notice`]s, never refused. Everything else is read strictly: an unknown
//! key is an error that names the nearest valid key, and every problem in
//! the configuration is reported at once ([`yaml`]). Each section's type
//! lives beside the component it configures; this module only composes them.

mod hermes;
pub mod media;
pub mod provider;
pub mod tools;
pub mod tts;
mod unused;
mod yaml;

use crate::dotenv;
use hermod_core::{DisplayConfig, GatewayConfig, StreamingConfig};
use hermod_model::{EnvVars, Secret};
use hermod_platforms::PlatformsConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What is wrong with the configuration: every problem found, each with
/// where it is and what to do.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl ConfigError {
    fn from_problems(problems: &[String]) -> Self {
        match problems {
            [one] => ConfigError(one.clone()),
            many => ConfigError(format!(
                "{} problems in the configuration:\n{}",
                many.len(),
                many.iter()
                    .map(|p| format!("  - {p}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// A setting that was recognised but is not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The key or variable(s), with where they were found.
    pub subject: String,
    pub message: String,
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.subject, self.message)
    }
}

/// `config.yaml` as written by the user (after the Hermes keys are moved).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    pub model: ModelSection,
    pub agent: AgentSection,
    pub gateway: GatewayConfig,
    pub streaming: StreamingConfig,
    pub display: DisplayConfig,
    pub platforms: PlatformsConfig,
    pub stt: SttSection,
    pub tts: tts::TtsSection,
    pub media: media::MediaSection,
    pub auxiliary: media::AuxiliarySection,
    /// Which tool groups the model gets (Hermes' key); the safe ones when
    /// unset.
    pub toolsets: Option<Vec<String>>,
    pub terminal: hermod_tools::TerminalConfig,
    pub web_fetch: hermod_tools::WebFetchConfig,
    pub files: hermod_tools::FilesConfig,
    pub memory: tools::MemorySection,
    pub approvals: tools::ApprovalsSection,
    pub mcp_servers: hermod_mcp::McpServersConfig,
    /// Summarizing older turns when a conversation nears the model's
    /// context window (Hermes' section).
    pub compression: hermod_core::CompressionConfig,
}

/// The `model:` section: which model, at which provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSection {
    /// The upstream model name (`HERMOD_MODEL`).
    pub default: String,
    /// `auto` (the default), `custom`, or a provider name such as
    /// `openrouter` (`HERMES_INFERENCE_PROVIDER`); see [`provider`].
    pub provider: Option<String>,
    /// The endpoint's base URL, up to and including `/v1`.
    pub base_url: Option<String>,
    /// The endpoint's key; usually a provider's variable in `.env` instead.
    pub api_key: Option<Secret>,
    /// The variable that holds the key, when it is not the provider's usual one.
    pub key_env: Option<String>,
    /// How long one model request may take, in seconds.
    pub timeout_secs: u64,
    /// Whether the model takes images (Hermes' key); unset means it does.
    pub supports_vision: Option<bool>,
    /// The model's context window in tokens (Hermes' key); 128,000 when
    /// unset.
    pub context_length: Option<u64>,
    /// Context windows of other models (`/model` switches), by name.
    pub context_lengths: std::collections::BTreeMap<String, u64>,
}

impl Default for ModelSection {
    fn default() -> Self {
        Self {
            default: "gpt-4o-mini".into(),
            provider: None,
            base_url: None,
            api_key: None,
            key_env: None,
            timeout_secs: 600,
            supports_vision: None,
            context_length: None,
            context_lengths: std::collections::BTreeMap::new(),
        }
    }
}

/// The `stt:` section: speech to text for voice messages, through an
/// OpenAI-compatible `/audio/transcriptions` endpoint (OpenAI, Groq, a
/// local whisper.cpp or faster-whisper server).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SttSection {
    /// Transcribe voice messages (Hermes' `stt.enabled`, or `stt: false`).
    pub enabled: bool,
    /// The endpoint's base URL, up to and including `/v1`; the model
    /// endpoint's when unset.
    pub base_url: Option<String>,
    /// The endpoint's key; the model's key when unset.
    pub api_key: Option<Secret>,
    /// The transcription model.
    pub model: String,
    /// The spoken language (ISO-639-1, `en`); detected when unset.
    pub language: Option<String>,
    /// The largest audio sent, in bytes (OpenAI takes up to 25 MB).
    pub max_bytes: u64,
    /// How long one transcription may take, in seconds.
    pub timeout_secs: u64,
    /// Send each transcript back to the chat before the reply (Hermes'
    /// `stt_echo_transcripts`).
    pub echo_transcripts: bool,
}

impl Default for SttSection {
    fn default() -> Self {
        Self {
            enabled: true,
            base_url: None,
            api_key: None,
            model: hermod_agent::DEFAULT_TRANSCRIPTION_MODEL.to_owned(),
            language: None,
            max_bytes: hermod_agent::OPENAI_MAX_AUDIO_BYTES,
            timeout_secs: 120,
            echo_transcripts: false,
        }
    }
}

/// Speech to text, resolved: unset endpoint and key are the model's.
#[derive(Debug)]
pub struct Stt {
    pub enabled: bool,
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub model: String,
    pub language: Option<String>,
    pub max_bytes: u64,
    pub timeout_secs: u64,
    pub echo_transcripts: bool,
}

impl Stt {
    fn resolve(section: SttSection, model: &Model) -> Self {
        let base_url = section
            .base_url
            .filter(|url| !url.trim().is_empty())
            .map_or_else(|| model.base_url.clone(), |url| url.trim().to_owned());
        Self {
            enabled: section.enabled,
            base_url,
            api_key: section.api_key.or_else(|| model.api_key.clone()),
            model: section.model,
            language: section.language.filter(|l| !l.trim().is_empty()),
            max_bytes: section.max_bytes,
            timeout_secs: section.timeout_secs,
            echo_transcripts: section.echo_transcripts,
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
    /// How images reach the model (Hermes' key): `auto`, `native`, `text`.
    pub image_input_mode: media::ImageInputMode,
    /// Toolsets taken out of `toolsets` (Hermes' key).
    pub disabled_toolsets: Vec<String>,
    /// Which agent answers: `llm` (hermod's own, on `model:`) or `acp`
    /// (an external agent over the Agent Client Protocol, `agent.acp`).
    pub kind: AgentKind,
    /// The external agent when `kind` is `acp`.
    pub acp: Option<hermod_acp::AcpConfig>,
    /// System-prompt presets for `/personality`, by name (Hermes'
    /// top-level `personalities:` is read here too), beside Hermes'
    /// built-in ones.
    pub personalities: std::collections::BTreeMap<String, hermod_core::Personality>,
    /// Reasoning effort sent to models that take it (`none` … `xhigh`);
    /// the provider's default when unset. `/reasoning` sets it per session.
    pub reasoning_effort: Option<String>,
}

/// `agent.kind`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    #[default]
    Llm,
    Acp,
}

impl Default for AgentSection {
    fn default() -> Self {
        Self {
            max_turns: 90,
            system_prompt: None,
            image_input_mode: media::ImageInputMode::Auto,
            disabled_toolsets: Vec::new(),
            kind: AgentKind::Llm,
            acp: None,
            personalities: std::collections::BTreeMap::new(),
            reasoning_effort: None,
        }
    }
}

/// The model endpoint in use, resolved.
#[derive(Debug)]
pub struct Model {
    pub default: String,
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub timeout_secs: u64,
    /// Which provider, and where its key came from.
    pub provider: provider::Resolved,
}

/// Everything loaded and checked.
#[derive(Debug)]
pub struct Config {
    pub home: PathBuf,
    pub model: Model,
    pub agent: AgentSection,
    pub gateway: GatewayConfig,
    pub streaming: StreamingConfig,
    pub display: DisplayConfig,
    pub platforms: PlatformsConfig,
    pub stt: Stt,
    pub tts: tts::Tts,
    pub media: media::Media,
    pub tools: tools::Tools,
    /// The context budget, compression and session presets.
    pub context: hermod_core::ContextConfig,
    /// Recognised settings that are not used, to tell the user once.
    pub notices: Vec<Notice>,
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
/// Every problem found is in the error.
pub fn load(home: &Path, process_env: &EnvVars) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();
    let mut notices = Vec::new();

    let yaml_path = home.join("config.yaml");
    let file_name = yaml_path.display().to_string();
    let file = match std::fs::read_to_string(&yaml_path) {
        Ok(text) => read_file_config(&text, &file_name, &mut problems, &mut notices),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileConfig::default(),
        Err(e) => {
            problems.push(format!("cannot read {file_name}: {e}"));
            FileConfig::default()
        }
    };

    let mut env = process_env.clone();
    let env_path = home.join(".env");
    match std::fs::read_to_string(&env_path) {
        Ok(text) => match dotenv::parse(&text) {
            Ok(vars) => {
                for (k, v) in vars {
                    env.set_default(k, v);
                }
            }
            Err(e) => problems.push(format!("{}: {e}", env_path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => problems.push(format!("cannot read {}: {e}", env_path.display())),
    }

    let FileConfig {
        model,
        agent,
        mut gateway,
        streaming,
        display,
        mut platforms,
        stt,
        tts,
        media: media_section,
        auxiliary,
        toolsets,
        terminal,
        web_fetch,
        files,
        memory,
        approvals,
        mcp_servers,
        compression,
    } = file;
    let model_supports_vision = model.supports_vision;
    let default = env
        .get("HERMOD_MODEL")
        .map_or(model.default.clone(), |name| name.trim().to_owned());
    let request = provider::Request {
        provider: model.provider.as_deref(),
        base_url: model.base_url.as_deref(),
        api_key: model.api_key.as_ref(),
        key_env: model.key_env.as_deref(),
    };
    let resolved = match provider::resolve(&request, &env) {
        Ok(resolved) => resolved,
        Err(e) => {
            problems.push(e);
            provider::resolve(&provider::Request::default(), &EnvVars::new())
                .expect("the default provider always resolves")
        }
    };
    let context = hermod_core::ContextConfig {
        context_length: model.context_length,
        context_lengths: model.context_lengths.clone(),
        compression,
        personalities: agent.personalities.clone(),
        // Hermes writes "" for "not set".
        reasoning_effort: agent
            .reasoning_effort
            .clone()
            .map(|level| level.trim().to_ascii_lowercase())
            .filter(|level| !level.is_empty()),
    };
    let model = Model {
        default,
        base_url: resolved.base_url.clone(),
        api_key: resolved.api_key.clone(),
        timeout_secs: model.timeout_secs,
        provider: resolved,
    };
    let stt = Stt::resolve(stt, &model);
    let tts = tts::Tts::resolve(tts, &model, &env);
    let media = media::Media::resolve(
        agent.image_input_mode,
        model_supports_vision,
        &media_section,
        &auxiliary.vision,
        &model,
    );
    if let Err(e) = gateway.apply_env(&env, &hermod_platforms::platform_names()) {
        problems.push(format!("environment: {e}"));
    }
    for (platform, variable) in hermod_platforms::home_channel_variables() {
        gateway.apply_home_channel_variable(&env, platform, variable);
    }
    problems.extend(
        platforms
            .apply_env(&env)
            .into_iter()
            .map(|e| format!("environment: {e}")),
    );
    for (platform, channel) in platforms.default_home_channels() {
        let policy = gateway.platforms.entry(platform.to_owned()).or_default();
        policy.home_channel.get_or_insert(channel);
    }
    notices.extend(unused::variables(&env, &model.provider));
    let tools = tools::Tools::resolve(
        tools::Sections {
            toolsets,
            disabled_toolsets: agent.disabled_toolsets.clone(),
            terminal,
            web_fetch,
            files,
            memory,
            approvals,
            mcp_servers,
        },
        home,
        &env,
        &mut notices,
        &mut problems,
    );

    let config = Config {
        home: home.to_owned(),
        model,
        agent,
        gateway,
        streaming,
        display,
        platforms,
        stt,
        tts,
        media,
        tools,
        context,
        notices,
    };
    problems.extend(validate(&config));
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::from_problems(&problems))
    }
}

/// Reads `config.yaml`'s text: Hermes keys moved or noted, then every
/// problem collected. What is valid is kept, so later checks still run.
fn read_file_config(
    text: &str,
    file_name: &str,
    problems: &mut Vec<String>,
    notices: &mut Vec<Notice>,
) -> FileConfig {
    let mut tree = match yaml::parse_tree(text, file_name) {
        Ok(tree) => tree,
        Err(e) => {
            problems.push(e);
            return FileConfig::default();
        }
    };
    let translation = hermes::translate(&mut tree, &hermod_platforms::platform_names(), &|name| {
        hermod_platforms::known_platform(name).map(|p| p.display)
    });
    let (file, found, tolerated) =
        yaml::read_all::<FileConfig>(tree, text, &|key| translation.tolerate(key));
    problems.extend(found.iter().map(|p| p.display(file_name)));
    let short = Path::new(file_name)
        .file_name()
        .map_or(file_name.to_owned(), |n| n.to_string_lossy().into_owned());
    notices.extend(
        translation
            .notices
            .into_iter()
            .chain(tolerated)
            .map(|(key, message)| Notice {
                subject: format!("{short}: {key}"),
                message,
            }),
    );
    file
}

/// Every value problem serde cannot see.
fn validate(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let url = config.model.base_url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        problems.push(format!(
            "the model's base URL must start with http:// or https://, got {url:?} (from {})",
            base_url_source(config)
        ));
    }
    if config.model.default.trim().is_empty() {
        problems.push("model.default (HERMOD_MODEL) is empty: name the model to use".into());
    }
    if config.agent.max_turns == 0 {
        problems.push("agent.max_turns must be at least 1".into());
    }
    problems.extend(config.gateway.validate().err());
    problems.extend(config.streaming.validate().err());
    problems.extend(config.platforms.validate());
    problems.extend(config.tts.validate());
    problems.extend(config.media.validate());
    problems.extend(config.tools.validate(&config.home));
    problems.extend(config.context.validate().err());
    if config.agent.kind == AgentKind::Acp && config.agent.acp.is_none() {
        problems.push(
            "agent.kind is acp but agent.acp is not set: give the agent's command, e.g. \
             agent: {kind: acp, acp: {command: hermes, args: [acp]}}"
                .into(),
        );
    }
    problems
}

fn base_url_source(config: &Config) -> &str {
    let chosen = config.model.provider.chosen_by.as_str();
    if chosen == "OPENAI_BASE_URL" || chosen == "model.base_url" {
        chosen
    } else {
        "model.base_url or the provider's base-URL variable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stt_defaults_to_the_model_endpoint_and_takes_hermes_spellings() {
        let home = std::env::temp_dir().join(format!("hermod-stt-config-{}", std::process::id()));
        std::fs::create_dir_all(&home).expect("a home");
        std::fs::write(
            home.join("config.yaml"),
            "model: {provider: custom, base_url: http://m/v1, api_key: sk-model}\nstt:\n  enabled: true\n  provider: openai\n  openai: {model: gpt-4o-mini-transcribe}\n",
        )
        .expect("written");
        let c = load(&home, &EnvVars::new()).expect("loads");
        assert!(c.stt.enabled);
        assert_eq!(c.stt.base_url, "http://m/v1");
        assert_eq!(c.stt.model, "gpt-4o-mini-transcribe");
        assert_eq!(c.stt.api_key.as_ref().map(Secret::expose), Some("sk-model"));
        assert!(!format!("{:?}", c.stt).contains("sk-model"));
        std::fs::write(home.join("config.yaml"), "stt: false\n").expect("written");
        let c = load(&home, &EnvVars::new()).expect("loads");
        assert!(!c.stt.enabled);
        assert_eq!(c.stt.model, "whisper-1");
        std::fs::write(
            home.join("config.yaml"),
            "stt: {base_url: http://whisper:9000/v1, api_key: sk-stt, max_bytes: 1000, language: en}\n",
        )
        .expect("written");
        let c = load(&home, &EnvVars::new()).expect("loads");
        assert_eq!(c.stt.base_url, "http://whisper:9000/v1");
        assert_eq!(c.stt.max_bytes, 1000);
        assert_eq!(c.stt.language.as_deref(), Some("en"));
        assert_eq!(c.stt.api_key.as_ref().map(Secret::expose), Some("sk-stt"));
        std::fs::remove_dir_all(&home).expect("removed");
    }

    #[test]
    fn images_follow_hermes_keys_and_the_vision_model_defaults_to_the_models_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let model =
            "model: {provider: custom, base_url: http://m/v1, api_key: sk-model, default: big}\n";
        write(dir.path(), "config.yaml", model);
        let c = load(dir.path(), &EnvVars::new()).unwrap();
        assert_eq!(c.media.images, hermod_media::ImageInput::Native);
        let describer = c
            .media
            .describer
            .as_ref()
            .expect("the main model describes stickers");
        assert_eq!(describer.model, "big");

        write(
            dir.path(),
            "config.yaml",
            &format!("{model}agent: {{image_input_mode: auto}}\nstt_echo_transcripts: true\n"),
        );
        let c = load(dir.path(), &EnvVars::new()).unwrap();
        assert!(c.stt.echo_transcripts, "Hermes' top-level key");

        write(
            dir.path(),
            "config.yaml",
            "model: {provider: custom, base_url: http://m/v1, default: big, supports_vision: false}\n",
        );
        let c = load(dir.path(), &EnvVars::new()).unwrap();
        assert_eq!(c.media.images, hermod_media::ImageInput::Text);
        assert!(
            c.media.describer.is_none(),
            "nothing can see: images are named"
        );

        write(
            dir.path(),
            "config.yaml",
            &format!(
                "{model}agent: {{image_input_mode: text}}\nauxiliary:\n  vision: {{provider: openrouter, model: vis, base_url: http://v/v1, api_key: sk-vis, timeout: 12}}\n  compression: {{model: small}}\nmedia: {{max_image_edge: 1024, document_max_chars: 500}}\n"
            ),
        );
        let c = load(dir.path(), &EnvVars::new()).unwrap();
        assert_eq!(c.media.images, hermod_media::ImageInput::Text);
        let vision = c.media.describer.as_ref().unwrap();
        assert_eq!(
            (vision.model.as_str(), vision.base_url.as_str()),
            ("vis", "http://v/v1")
        );
        assert_eq!(vision.api_key.as_ref().map(Secret::expose), Some("sk-vis"));
        assert_eq!(vision.timeout_secs, 12);
        assert_eq!(
            (c.media.max_image_edge, c.media.document_max_chars),
            (1024, 500)
        );
        let noticed: Vec<&str> = c.notices.iter().map(|n| n.subject.as_str()).collect();
        assert!(
            noticed
                .iter()
                .any(|s| s.ends_with("auxiliary.vision.provider"))
                && noticed.iter().any(|s| s.ends_with("auxiliary.compression")),
            "{noticed:?}"
        );

        write(
            dir.path(),
            "config.yaml",
            "media: {max_image_edge: 10}\nagent: {image_input_mode: eyes}\n",
        );
        let e = load(dir.path(), &EnvVars::new()).unwrap_err().to_string();
        assert!(
            e.contains("media.max_image_edge must be between 64 and 8192"),
            "{e}"
        );
        assert!(e.contains("image_input_mode"), "{e}");
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn defaults_without_files() {
        let dir = tempfile::tempdir().unwrap();
        let c = load(dir.path(), &EnvVars::new()).unwrap();
        assert_eq!(c.model.base_url, "https://api.openai.com/v1");
        // The platforms' own defaults are checked through `config check`
        // (tests/config_check.rs): this crate names no platform.
        assert!(!c.platforms.enabled().is_empty());
    }

    #[test]
    fn precedence_env_over_dotenv_over_yaml() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "config.yaml",
            "model:\n  default: from-yaml\n  base_url: http://yaml/v1\ngateway:\n  session_reset:\n    idle_minutes: 1111\n",
        );
        write(
            dir.path(),
            ".env",
            "HERMOD_MODEL=from-dotenv\nSESSION_IDLE_MINUTES=2222\n",
        );
        let env: EnvVars = [("SESSION_IDLE_MINUTES", "3333")].into_iter().collect();
        let c = load(dir.path(), &env).unwrap();
        assert_eq!(c.model.default, "from-dotenv");
        assert_eq!(c.model.base_url, "http://yaml/v1");
        assert_eq!(c.gateway.session_reset.idle_minutes, 3333);
    }

    #[test]
    fn typos_in_hermods_keys_are_errors_with_the_nearest_key() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "config.yaml",
            "modle:\n  default: x\nmodel:\n  base_ulr: x\ngateway:\n  session_reset:\n    idle_minuts: 1\nzzzzzzzz: 1\n",
        );
        let err = load(dir.path(), &EnvVars::new()).unwrap_err().to_string();
        for expected in [
            "4 problems in the configuration",
            "config.yaml:1: modle: unknown key; did you mean `model`?",
            "config.yaml:4: model.base_ulr: unknown key; did you mean `base_url`?",
            "config.yaml:7: gateway.session_reset.idle_minuts: unknown key; did you mean `idle_minutes`?",
            "config.yaml:8: zzzzzzzz: unknown key; valid keys here: model, agent",
        ] {
            assert!(err.contains(expected), "{expected:?} not in:\n{err}");
        }
        assert!(!err.contains("<input>") && !err.contains("error:"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_in_one_pass() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "config.yaml",
            "agent:\n  max_turns: lots\ngateway:\n  session_reset:\n    at_hour: 300\n",
        );
        let env: EnvVars = [("SESSION_IDLE_MINUTES", "many"), ("HERMOD_MODEL", " ")]
            .into_iter()
            .collect();
        let err = load(dir.path(), &env).unwrap_err().to_string();
        for expected in [
            "agent.max_turns: expected a whole number from 0 to 4294967295, got \"lots\"",
            "gateway.session_reset.at_hour: expected a whole number from 0 to 255, got 300",
            "SESSION_IDLE_MINUTES=\"many\": expected a whole number, 0 or more",
        ] {
            assert!(err.contains(expected), "{expected:?} not in:\n{err}");
        }
        assert!(!err.contains("invalid u"), "{err}");
    }

    /// The minimal offline configuration of the Hermes reference (§18).
    #[test]
    fn a_hermes_config_and_env_load_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "config.yaml",
            "model: {default: fake-model, provider: custom, base_url: http://127.0.0.1:18080/v1, api_key: sk-local-fake, context_length: 131072}\n",
        );
        write(dir.path(), ".env", "TIRITH_ENABLED=false\n");
        let c = load(dir.path(), &EnvVars::new()).unwrap();
        assert_eq!(c.model.default, "fake-model");
        assert_eq!(c.model.base_url, "http://127.0.0.1:18080/v1");
        assert_eq!(c.model.api_key.as_ref().unwrap().expose(), "sk-local-fake");
        assert_eq!(
            c.context.context_length,
            Some(131_072),
            "Hermes' context window is used"
        );
        let notices: Vec<String> = c.notices.iter().map(ToString::to_string).collect();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].starts_with("TIRITH_ENABLED: "), "{notices:?}");
    }

    /// Every key the issue found refused, in a Hermes config written by its
    /// setup, loads with a notice each.
    #[test]
    fn the_hermes_keys_hermod_lacks_are_notices_not_errors() {
        // A platform Hermes has and this build does not.
        let missing = hermod_platforms::KNOWN_PLATFORMS
            .iter()
            .map(|p| p.name)
            .find(|name| !hermod_platforms::platform_names().contains(name))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "config.yaml",
            "_config_version: 33
model:
  default: anthropic/claude-sonnet-4
  provider: openrouter
  context_length: 200000
agent:
  max_turns: 60
  gateway_timeout: 1800
  restart_drain_timeout: 10
terminal:
  backend: local
toolsets: [hermes-cli]
display:
  busy_input_mode: queue
  show_reasoning: false
session_reset:
  mode: idle
  idle_minutes: 120
  notify: true
unauthorized_dm_behavior: ignore
group_sessions_per_user: false
approvals:
  mode: smart
  timeout: 60
timezone: Europe/Paris
streaming:
  enabled: true
  fresh_final_after_seconds: 0.0
MISSING:
  require_mention: true
"
            .replace("MISSING", missing)
            .as_str(),
        );
        let env: EnvVars = [("OPENROUTER_API_KEY", "sk-or-v1-x")].into_iter().collect();
        let c = load(dir.path(), &env).unwrap();
        assert_eq!(c.model.base_url, "https://openrouter.ai/api/v1");
        assert_eq!(c.agent.max_turns, 60);
        assert_eq!(c.gateway.drain_timeout_secs, 10);
        assert_eq!(c.gateway.busy_input_mode, hermod_core::BusyMode::Queue);
        assert_eq!(c.gateway.session_reset.idle_minutes, 120);
        assert_eq!(
            c.gateway.unauthorized_dm_behavior,
            Some(hermod_core::DmBehavior::Ignore)
        );
        assert!(!c.gateway.group_sessions_per_user);
        assert_eq!(c.gateway.timezone.as_deref(), Some("Europe/Paris"));
        assert_eq!(c.context.context_length, Some(200_000));
        // Hermes' preset is the safe toolsets; its timeout is kept.
        assert!(c.tools.has(tools::Toolset::Web) && !c.tools.has(tools::Toolset::Terminal));
        assert_eq!(c.tools.approval_timeout, Duration::from_secs(60));
        let subjects: Vec<&str> = c.notices.iter().map(|n| n.subject.as_str()).collect();
        assert!(!subjects.contains(&"config.yaml: toolsets"), "{subjects:?}");
        let missing_key = format!("config.yaml: platforms.{missing}");
        for key in [
            "config.yaml: agent.gateway_timeout",
            "config.yaml: terminal.backend",
            "config.yaml: display.show_reasoning",
            "config.yaml: gateway.session_reset.notify",
            "config.yaml: approvals.mode",
            "config.yaml: streaming.fresh_final_after_seconds",
            missing_key.as_str(),
        ] {
            assert!(subjects.contains(&key), "{key:?} not in {subjects:#?}");
        }
    }

    #[test]
    fn agents_tools_and_mcp_servers_load_as_hermes_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "config.yaml",
            "toolsets: [terminal, file, memory]
terminal: {cwd: /srv/agent, timeout: 30}
approvals: {timeout: 120, require: [write_file]}
memory: {memory_char_limit: 1000, user_profile_enabled: true}
mcp_servers:
  github:
    command: npx
    args: [-y, '@modelcontextprotocol/server-github']
    env: {GITHUB_PERSONAL_ACCESS_TOKEN: '${GITHUB_TOKEN}'}
    timeout: 90
  docs: {url: 'https://mcp.example.com/mcp', headers: {Authorization: 'Bearer ${DOCS_KEY}'}}
",
        );
        let env: EnvVars = [("GITHUB_TOKEN", "ghp-secret"), ("DOCS_KEY", "k-secret")]
            .into_iter()
            .collect();
        let c = load(dir.path(), &env).unwrap();
        let sets: Vec<&str> = c.tools.toolsets.iter().map(|t| t.name()).collect();
        assert_eq!(sets, ["terminal", "file", "memory"]);
        assert_eq!(c.tools.workspace, Path::new("/srv/agent"));
        assert_eq!(c.tools.terminal.timeout, 30);
        assert_eq!(c.tools.approval_timeout, Duration::from_secs(120));
        assert_eq!(c.tools.require_approval, ["write_file"]);
        assert_eq!(c.tools.memory.char_limit, 1000);
        let names: Vec<&str> = c.tools.mcp.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["docs", "github"]);
        assert_eq!(c.tools.mcp[1].call_timeout, Duration::from_secs(90));
        let shown = format!("{:?}", c.tools);
        assert!(
            !shown.contains("ghp-secret") && !shown.contains("k-secret"),
            "{shown}"
        );
        assert!(
            c.notices
                .iter()
                .any(|n| n.subject == "config.yaml: memory.user_profile_enabled"),
            "{:?}",
            c.notices
        );

        write(
            dir.path(),
            "config.yaml",
            "agent: {kind: acp, acp: {command: hermes, args: [acp], cwd: /srv/agent}}\n",
        );
        let c = load(dir.path(), &EnvVars::new()).unwrap();
        assert_eq!(c.agent.kind, AgentKind::Acp);
        assert_eq!(c.agent.acp.unwrap().args, ["acp"]);

        write(dir.path(), "config.yaml", "agent: {kind: acp}\n");
        let err = load(dir.path(), &EnvVars::new()).unwrap_err().to_string();
        assert!(err.contains("agent.acp is not set"), "{err}");
        write(
            dir.path(),
            "config.yaml",
            "mcp_servers: {broken: {args: [x]}}\n",
        );
        let err = load(dir.path(), &EnvVars::new()).unwrap_err().to_string();
        assert!(
            err.contains("mcp_servers") && err.contains("broken"),
            "{err}"
        );
    }

    #[test]
    fn context_compression_personalities_and_reasoning_load_as_hermes_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "config.yaml",
            "model: {default: m, context_length: 32000, context_lengths: {big: 1000000}}
compression: {enabled: true, threshold: 0.7, protect_last_n: 10, protect_first_n: 3, in_place: true}
personalities: {pirate: Talk like a pirate.}
agent: {reasoning_effort: HIGH, personalities: {terse: Answer in one line.}}
",
        );
        let c = load(dir.path(), &EnvVars::new()).unwrap();
        assert_eq!(c.context.context_length, Some(32_000));
        assert_eq!(c.context.context_lengths["big"], 1_000_000);
        assert!((c.context.compression.threshold - 0.7).abs() < f64::EPSILON);
        assert_eq!(c.context.compression.protect_last_n, 10);
        let names: Vec<&str> = c.context.personalities.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["pirate", "terse"],
            "Hermes' top-level personalities join hermod's"
        );
        assert_eq!(c.context.reasoning_effort.as_deref(), Some("high"));
        assert!(
            c.notices
                .iter()
                .any(|n| n.subject == "config.yaml: compression.protect_first_n"),
            "{:?}",
            c.notices
        );
        write(
            dir.path(),
            "config.yaml",
            "agent: {reasoning_effort: ''}\ncompression: {threshold: 3}\n",
        );
        let err = load(dir.path(), &EnvVars::new()).unwrap_err().to_string();
        assert!(err.contains("threshold"), "{err}");
    }

    #[test]
    fn an_openrouter_key_alone_reaches_openrouter() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".env", "OPENROUTER_API_KEY=sk-or-v1-abc\n");
        let c = load(dir.path(), &EnvVars::new()).unwrap();
        assert_eq!(c.model.base_url, "https://openrouter.ai/api/v1");
        assert_eq!(c.model.api_key.as_ref().unwrap().expose(), "sk-or-v1-abc");
        assert_eq!(c.model.provider.id, "openrouter");
    }

    #[test]
    fn invalid_values_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let env: EnvVars = [("OPENAI_BASE_URL", "localhost:11434")]
            .into_iter()
            .collect();
        let err = load(dir.path(), &env).unwrap_err().to_string();
        assert!(err.contains("OPENAI_BASE_URL"), "{err}");
        write(dir.path(), "config.yaml", "model: [1, 2]\n");
        let err = load(dir.path(), &EnvVars::new()).unwrap_err().to_string();
        assert!(err.contains("config.yaml"), "{err}");
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let dir = tempfile::tempdir().unwrap();
        let env: EnvVars = [("OPENAI_API_KEY", "sk-topsecret")].into_iter().collect();
        let c = load(dir.path(), &env).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("topsecret"), "{debug}");
    }
}
