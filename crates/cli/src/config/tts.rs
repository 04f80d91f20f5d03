//! The `tts:` section: voice replies (`/voice`), spoken through an
//! OpenAI-compatible `/audio/speech` endpoint (OpenAI, or a local server
//! such as Kokoro-FastAPI or openedai-speech).
//!
//! Unset, the endpoint is the model's and so is its key; Hermes'
//! `VOICE_TOOLS_OPENAI_KEY` wins over the model's key and, unless
//! `tts.base_url` says otherwise, points at OpenAI, whose key it is.
//! Hermes' `tts.provider: openai` with `tts.openai.model` and
//! `tts.openai.voice` load as `tts.model` and `tts.voice` (see `hermes`).

use super::Model;
use hermod_agent::{DEFAULT_SPEECH_MODEL, DEFAULT_VOICE, RetryPolicy, SpeakerConfig};
use hermod_model::{EnvVars, Secret};
use serde::Deserialize;
use std::time::Duration;

/// Hermes' key for its OpenAI voice tools.
pub const VOICE_KEY_VARIABLE: &str = "VOICE_TOOLS_OPENAI_KEY";

/// Where [`VOICE_KEY_VARIABLE`] is used unless `tts.base_url` is set.
const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// `tts:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TtsSection {
    /// Offer voice replies; by default whenever an endpoint is usable (a
    /// key, or a base URL of its own).
    pub enabled: Option<bool>,
    /// The endpoint's base URL, up to and including `/v1`.
    pub base_url: Option<String>,
    /// The endpoint's key.
    pub api_key: Option<Secret>,
    /// The speech model (`gpt-4o-mini-tts`, `tts-1`, a local server's).
    pub model: String,
    /// The voice (`alloy`, `nova`, ... or a local server's).
    pub voice: String,
    /// 0.25 to 4.0; the endpoint's default when unset.
    pub speed: Option<f32>,
    /// How to speak ("warm and brief"); `gpt-4o-mini-tts` only.
    pub instructions: Option<String>,
    /// How long speaking one reply may take, in seconds.
    pub timeout_secs: u64,
}

impl Default for TtsSection {
    fn default() -> Self {
        Self {
            enabled: None,
            base_url: None,
            api_key: None,
            model: DEFAULT_SPEECH_MODEL.to_owned(),
            voice: DEFAULT_VOICE.to_owned(),
            speed: None,
            instructions: None,
            timeout_secs: 60,
        }
    }
}

/// Voice replies, resolved.
#[derive(Debug)]
pub struct Tts {
    pub enabled: bool,
    pub base_url: String,
    pub api_key: Option<Secret>,
    /// Where the key came from, for `config check`.
    pub key_source: &'static str,
    pub model: String,
    pub voice: String,
    pub speed: Option<f32>,
    pub instructions: Option<String>,
    pub timeout_secs: u64,
}

impl Tts {
    pub(super) fn resolve(section: TtsSection, model: &Model, env: &EnvVars) -> Self {
        let own_url = section
            .base_url
            .map(|url| url.trim().to_owned())
            .filter(|url| !url.is_empty());
        let voice_key = env
            .get(VOICE_KEY_VARIABLE)
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(Secret::new);
        let (api_key, key_source) = match (section.api_key, voice_key) {
            (Some(key), _) => (Some(key), "tts.api_key"),
            (None, Some(key)) => (Some(key), VOICE_KEY_VARIABLE),
            (None, None) => (model.api_key.clone(), "the model's key"),
        };
        let base_url = match own_url.clone() {
            Some(url) => url,
            None if key_source == VOICE_KEY_VARIABLE => OPENAI_BASE_URL.to_owned(),
            None => model.base_url.clone(),
        };
        let usable = own_url.is_some() || api_key.is_some();
        Self {
            enabled: section.enabled.unwrap_or(usable),
            base_url,
            api_key,
            key_source: if key_source == "the model's key" && model.api_key.is_none() {
                "none"
            } else {
                key_source
            },
            model: section.model.trim().to_owned(),
            voice: section.voice.trim().to_owned(),
            speed: section.speed,
            instructions: section.instructions.filter(|i| !i.trim().is_empty()),
            timeout_secs: section.timeout_secs,
        }
    }

    /// What is wrong with the section, when voice replies are on.
    pub(super) fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.enabled {
            return problems;
        }
        let url = &self.base_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            problems.push(format!(
                "tts.base_url must start with http:// or https://, got {url:?}"
            ));
        }
        if self.model.is_empty() {
            problems.push("tts.model is empty: name the speech model".into());
        }
        if self.voice.is_empty() {
            problems.push("tts.voice is empty: name the voice (alloy, nova, ...)".into());
        }
        if let Some(speed) = self.speed
            && !(0.25..=4.0).contains(&speed)
        {
            problems.push(format!("tts.speed must be 0.25 to 4.0, got {speed}"));
        }
        if self.timeout_secs == 0 {
            problems.push("tts.timeout_secs must be at least 1".into());
        }
        problems
    }

    /// The speech client's configuration; `None` when voice replies are off.
    pub fn speaker_config(&self) -> Option<SpeakerConfig> {
        self.enabled.then(|| SpeakerConfig {
            base_url: self.base_url.clone(),
            api_key: self.api_key.clone(),
            model: self.model.clone(),
            voice: self.voice.clone(),
            speed: self.speed,
            instructions: self.instructions.clone(),
            request_timeout: Duration::from_secs(self.timeout_secs.max(1)),
            retry: RetryPolicy::default(),
            ..SpeakerConfig::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::provider;

    fn model(key: Option<&str>) -> Model {
        let env = EnvVars::new();
        let resolved = provider::resolve(&provider::Request::default(), &env).expect("resolves");
        Model {
            default: "m".into(),
            base_url: "http://model/v1".into(),
            api_key: key.map(Secret::new),
            timeout_secs: 60,
            provider: resolved,
        }
    }

    fn env(pairs: &[(&str, &str)]) -> EnvVars {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn unset_it_uses_the_model_endpoint_and_key() {
        let tts = Tts::resolve(TtsSection::default(), &model(Some("sk-model")), &env(&[]));
        assert!(tts.enabled);
        assert_eq!(tts.base_url, "http://model/v1");
        assert_eq!(tts.api_key.as_ref().map(Secret::expose), Some("sk-model"));
        assert_eq!(
            (tts.model.as_str(), tts.voice.as_str()),
            ("gpt-4o-mini-tts", "alloy")
        );
        assert!(tts.validate().is_empty());
        let speaker = tts.speaker_config().expect("on");
        assert_eq!(speaker.request_timeout, Duration::from_secs(60));
        assert!(!format!("{tts:?} {speaker:?}").contains("sk-model"));
    }

    #[test]
    fn the_voice_tools_key_wins_and_points_at_openai() {
        let voice = env(&[(VOICE_KEY_VARIABLE, "sk-voice")]);
        let tts = Tts::resolve(TtsSection::default(), &model(Some("sk-model")), &voice);
        assert_eq!(tts.api_key.as_ref().map(Secret::expose), Some("sk-voice"));
        assert_eq!(tts.key_source, VOICE_KEY_VARIABLE);
        assert_eq!(tts.base_url, "https://api.openai.com/v1");
        // An endpoint of its own keeps the key but not OpenAI's URL.
        let section = TtsSection {
            base_url: Some(" http://kokoro:8880/v1 ".into()),
            ..TtsSection::default()
        };
        let tts = Tts::resolve(section, &model(None), &voice);
        assert_eq!(tts.base_url, "http://kokoro:8880/v1");
        assert_eq!(tts.api_key.as_ref().map(Secret::expose), Some("sk-voice"));
        // Its own key wins over both.
        let section = TtsSection {
            api_key: Some(Secret::new("sk-tts")),
            ..TtsSection::default()
        };
        let tts = Tts::resolve(section, &model(Some("sk-model")), &voice);
        assert_eq!(tts.api_key.as_ref().map(Secret::expose), Some("sk-tts"));
        assert_eq!(tts.key_source, "tts.api_key");
        assert_eq!(tts.base_url, "http://model/v1");
    }

    #[test]
    fn without_a_key_or_an_endpoint_it_is_off_unless_asked() {
        let tts = Tts::resolve(TtsSection::default(), &model(None), &env(&[]));
        assert!(!tts.enabled);
        assert_eq!(tts.key_source, "none");
        assert!(tts.speaker_config().is_none());
        let local = TtsSection {
            base_url: Some("http://127.0.0.1:8880/v1".into()),
            ..TtsSection::default()
        };
        assert!(Tts::resolve(local, &model(None), &env(&[])).enabled);
        let off = TtsSection {
            enabled: Some(false),
            ..TtsSection::default()
        };
        assert!(!Tts::resolve(off, &model(Some("k")), &env(&[])).enabled);
    }

    /// Loads `yaml` as `config.yaml` of a fresh home.
    fn load(yaml: &str, env: &EnvVars) -> Result<crate::config::Config, String> {
        let home = std::env::temp_dir().join(format!(
            "hermod-tts-config-{}-{}",
            std::process::id(),
            yaml.len()
        ));
        std::fs::create_dir_all(&home).expect("a home");
        std::fs::write(home.join("config.yaml"), yaml).expect("written");
        let loaded = crate::config::load(&home, env).map_err(|e| e.to_string());
        std::fs::remove_dir_all(&home).expect("removed");
        loaded
    }

    const MODEL: &str = "model: {provider: custom, base_url: http://m/v1, api_key: sk-model}\n";

    #[test]
    fn hermes_openai_spellings_are_hermods_own() {
        let yaml = format!(
            "{MODEL}tts:\n  provider: openai\n  openai: {{model: tts-1-hd, voice: nova, speed: 1.5}}\n"
        );
        let c = load(&yaml, &env(&[(VOICE_KEY_VARIABLE, "sk-voice")])).expect("loads");
        assert!(c.tts.enabled);
        assert_eq!(
            (c.tts.model.as_str(), c.tts.voice.as_str()),
            ("tts-1-hd", "nova")
        );
        assert_eq!(c.tts.speed, Some(1.5));
        assert_eq!(c.tts.base_url, "https://api.openai.com/v1");
        assert!(
            !c.notices.iter().any(|n| n.subject.contains("VOICE_TOOLS")),
            "the key is used: {:?}",
            c.notices
        );
        // hermod's own spelling wins.
        let yaml = format!("{MODEL}tts: {{voice: onyx, openai: {{voice: nova}}}}\n");
        assert_eq!(
            load(&yaml, &EnvVars::new()).expect("loads").tts.voice,
            "onyx"
        );
        let c = load(&format!("{MODEL}tts: false\n"), &EnvVars::new()).expect("loads");
        assert!(!c.tts.enabled);
    }

    #[test]
    fn another_provider_is_a_notice_and_leaves_voice_replies_off() {
        let yaml = format!(
            "{MODEL}tts:\n  provider: edge\n  edge: {{voice: en-US-AriaNeural}}\n  elevenlabs: {{voice_id: abc}}\n"
        );
        let c = load(&yaml, &EnvVars::new()).expect("loads");
        assert!(!c.tts.enabled);
        let notices: Vec<String> = c.notices.iter().map(ToString::to_string).collect();
        let all = notices.join("\n");
        assert!(
            all.contains("tts.provider: edge: hermod speaks replies through an OpenAI-compatible"),
            "{all}"
        );
        assert!(
            all.contains("tts.edge:") && all.contains("tts.elevenlabs:"),
            "{all}"
        );
        // Unless hermod's own switch says otherwise.
        let yaml = format!("{MODEL}tts: {{provider: edge, enabled: true}}\n");
        assert!(load(&yaml, &EnvVars::new()).expect("loads").tts.enabled);
    }

    #[test]
    fn unknown_keys_are_errors_and_bad_values_problems() {
        let err =
            load(&format!("{MODEL}tts: {{voise: nova}}\n"), &EnvVars::new()).expect_err("a typo");
        assert!(err.contains("voise"), "{err}");
        let err =
            load(&format!("{MODEL}tts: {{speed: 10}}\n"), &EnvVars::new()).expect_err("too fast");
        assert!(err.contains("tts.speed"), "{err}");
    }

    #[test]
    fn bad_values_are_problems_only_when_on() {
        let section = TtsSection {
            base_url: Some("kokoro:8880".into()),
            speed: Some(9.0),
            voice: " ".into(),
            timeout_secs: 0,
            ..TtsSection::default()
        };
        let tts = Tts::resolve(section, &model(None), &env(&[]));
        let problems = tts.validate().join("\n");
        for expected in ["tts.base_url", "tts.speed", "tts.voice", "tts.timeout_secs"] {
            assert!(problems.contains(expected), "{problems}");
        }
        let off = Tts {
            enabled: false,
            ..tts
        };
        assert!(off.validate().is_empty());
    }
}
