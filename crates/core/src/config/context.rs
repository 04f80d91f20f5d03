//! [`ContextConfig`]: how much of a conversation the model may be sent and
//! what the gateway does about long ones, with the presets sessions choose
//! from (Hermes' `model.context_length`, `compression:`,
//! `agent.personalities` and `agent.reasoning_effort`).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The context window assumed when neither the model nor the configuration
/// says (tokens).
pub const DEFAULT_CONTEXT_LENGTH: u64 = 128_000;

/// The reasoning efforts a session may choose (Hermes' levels, OpenAI's
/// `reasoning_effort` values).
pub const REASONING_LEVELS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh"];

/// The `compression:` section (Hermes' keys and defaults).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompressionConfig {
    /// Summarize older turns automatically when the context fills up.
    pub enabled: bool,
    /// The fraction of the context window at which a turn's history is
    /// compressed first (0.10–0.95).
    pub threshold: f64,
    /// The recent history kept verbatim after a compression, as a fraction
    /// of the threshold (0.05–0.80): 0.20 of 0.50 of 128k keeps ~12.8k
    /// tokens of recent messages.
    pub target_ratio: f64,
    /// The most recent messages kept verbatim (while they fit the share
    /// above; the last 8 of them always are).
    pub protect_last_n: usize,
    /// Thresholds for particular models: the longest key found in the
    /// model's name wins.
    pub model_thresholds: BTreeMap<String, f64>,
    /// After a summary fails, the session's history is trimmed instead of
    /// summarized for this long (Hermes waits 600 s).
    pub failure_cooldown_secs: u64,
}

impl Default for CompressionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: 0.50,
            target_ratio: 0.20,
            protect_last_n: 20,
            model_thresholds: BTreeMap::new(),
            failure_cooldown_secs: 600,
        }
    }
}

/// One of `agent.personalities`: a system prompt, or Hermes' detailed form.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Personality {
    Prompt(String),
    Detailed {
        system_prompt: String,
        #[serde(default)]
        tone: Option<String>,
        #[serde(default)]
        style: Option<String>,
        #[serde(default)]
        description: Option<String>,
    },
}

impl Personality {
    /// The text added to the system prompt.
    pub fn prompt(&self) -> String {
        match self {
            Personality::Prompt(prompt) => prompt.trim().to_owned(),
            Personality::Detailed {
                system_prompt,
                tone,
                style,
                ..
            } => {
                let mut parts = vec![system_prompt.trim().to_owned()];
                parts.extend(tone.iter().map(|t| format!("Tone: {}", t.trim())));
                parts.extend(style.iter().map(|s| format!("Style: {}", s.trim())));
                parts.retain(|p| !p.is_empty());
                parts.join("\n")
            }
        }
    }

    /// A line for lists.
    pub fn describe(&self) -> String {
        let text = match self {
            Personality::Detailed {
                description: Some(description),
                ..
            } => description.clone(),
            other => other.prompt(),
        };
        let line = text.replace('\n', " ");
        match line.char_indices().nth(60) {
            Some((at, _)) => format!("{}…", &line[..at]),
            None => line,
        }
    }
}

/// Hermes' built-in personalities (plain data: a name and a prompt), always
/// available; `agent.personalities` adds to them or replaces one by name.
pub const BUILTIN_PERSONALITIES: &[(&str, &str)] = &[
    ("helpful", "You are a helpful, friendly AI assistant."),
    (
        "concise",
        "You are a concise assistant. Keep responses brief and to the point.",
    ),
    (
        "technical",
        "You are a technical expert. Provide detailed, accurate technical information.",
    ),
    (
        "creative",
        "You are a creative assistant. Think outside the box and offer innovative solutions.",
    ),
    (
        "teacher",
        "You are a patient teacher. Explain concepts clearly with examples.",
    ),
];

/// Names that mean "no personality".
const NEUTRAL_NAMES: &[&str] = &["none", "default", "neutral"];

/// The context budget, compression and session presets. Assembled by the
/// binary from several sections of `config.yaml`; given to
/// [`crate::GatewayBuilder::context`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextConfig {
    /// The model's context window in tokens (`model.context_length`);
    /// [`DEFAULT_CONTEXT_LENGTH`] when unset.
    pub context_length: Option<u64>,
    /// Context windows of particular models (`model.context_lengths`): the
    /// longest key found in the model's name wins over `context_length`.
    pub context_lengths: BTreeMap<String, u64>,
    pub compression: CompressionConfig,
    /// `agent.personalities`, added to the built-ins (names lower-case).
    pub personalities: BTreeMap<String, Personality>,
    /// `agent.reasoning_effort`: the effort of sessions that chose none;
    /// unset sends none (models without reasoning refuse the field).
    pub reasoning_effort: Option<String>,
}

/// The value of the longest key of `map` found in `model`.
fn longest_match<T: Copy>(map: &BTreeMap<String, T>, model: &str) -> Option<T> {
    map.iter()
        .filter(|(key, _)| !key.is_empty() && model.contains(key.as_str()))
        .max_by_key(|(key, _)| key.len())
        .map(|(_, value)| *value)
}

impl ContextConfig {
    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        let check_threshold = |value: f64, at: &str| {
            if (0.10..=0.95).contains(&value) {
                Ok(())
            } else {
                Err(format!("{at} must be between 0.10 and 0.95 (got {value})"))
            }
        };
        let c = &self.compression;
        check_threshold(c.threshold, "compression.threshold")?;
        for (model, value) in &c.model_thresholds {
            check_threshold(*value, &format!("compression.model_thresholds.{model}"))?;
        }
        if !(0.05..=0.80).contains(&c.target_ratio) {
            return Err(format!(
                "compression.target_ratio must be between 0.05 and 0.80 (got {})",
                c.target_ratio
            ));
        }
        for (at, length) in self
            .context_length
            .iter()
            .map(|l| ("model.context_length".to_owned(), *l))
            .chain(
                self.context_lengths
                    .iter()
                    .map(|(m, l)| (format!("model.context_lengths.{m}"), *l)),
            )
        {
            if length < 1_000 {
                return Err(format!("{at} must be at least 1000 tokens (got {length})"));
            }
        }
        if let Some(effort) = &self.reasoning_effort
            && !REASONING_LEVELS.contains(&effort.as_str())
        {
            return Err(format!(
                "agent.reasoning_effort {effort:?} must be one of {}",
                REASONING_LEVELS.join(", ")
            ));
        }
        for name in self.personalities.keys() {
            if name.trim().is_empty()
                || name.chars().any(char::is_whitespace)
                || NEUTRAL_NAMES.contains(&name.to_lowercase().as_str())
            {
                return Err(format!(
                    "agent.personalities: {name:?} cannot be a personality's name (one word, not none, default or neutral)"
                ));
            }
        }
        Ok(())
    }

    /// The context window of `model`, in tokens.
    pub fn context_length(&self, model: &str) -> u64 {
        longest_match(&self.context_lengths, model)
            .or(self.context_length)
            .unwrap_or(DEFAULT_CONTEXT_LENGTH)
    }

    /// The fraction of `model`'s window at which compression starts.
    pub fn threshold(&self, model: &str) -> f64 {
        longest_match(&self.compression.model_thresholds, model)
            .unwrap_or(self.compression.threshold)
    }

    pub fn failure_cooldown(&self) -> Duration {
        Duration::from_secs(self.compression.failure_cooldown_secs)
    }

    /// Every personality by name: the built-ins, then the configured ones
    /// (which replace a built-in of the same name).
    pub fn personalities(&self) -> BTreeMap<String, Personality> {
        let mut all: BTreeMap<String, Personality> = BUILTIN_PERSONALITIES
            .iter()
            .map(|(name, prompt)| {
                (
                    (*name).to_owned(),
                    Personality::Prompt((*prompt).to_owned()),
                )
            })
            .collect();
        for (name, personality) in &self.personalities {
            all.insert(name.to_lowercase(), personality.clone());
        }
        all
    }
}

/// Whether `name` means "no personality".
pub fn is_neutral_personality(name: &str) -> bool {
    NEUTRAL_NAMES.contains(&name.trim().to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hermes_defaults() {
        let c = ContextConfig::default();
        assert!(c.compression.enabled);
        assert_eq!(c.compression.threshold, 0.50);
        assert_eq!(c.compression.target_ratio, 0.20);
        assert_eq!(c.compression.protect_last_n, 20);
        assert_eq!(c.failure_cooldown(), Duration::from_secs(600));
        assert_eq!(c.context_length("anything"), DEFAULT_CONTEXT_LENGTH);
        assert_eq!(c.reasoning_effort, None);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn per_model_values_take_the_longest_matching_key() {
        let mut c = ContextConfig {
            context_length: Some(32_000),
            ..ContextConfig::default()
        };
        c.context_lengths.insert("gpt-4o".into(), 128_000);
        c.context_lengths
            .insert("gpt-4o-mini-long".into(), 1_000_000);
        c.compression.model_thresholds.insert("glm".into(), 0.4);
        c.compression.model_thresholds.insert("glm-5".into(), 0.7);
        assert_eq!(c.context_length("openai/gpt-4o-mini"), 128_000);
        assert_eq!(c.context_length("gpt-4o-mini-long-2"), 1_000_000);
        assert_eq!(c.context_length("llama"), 32_000);
        assert_eq!(c.threshold("glm-5-air"), 0.7);
        assert_eq!(c.threshold("glm-4"), 0.4);
        assert_eq!(c.threshold("llama"), 0.5);
    }

    #[test]
    fn validation_names_the_key() {
        let mut c = ContextConfig::default();
        c.compression.threshold = 0.99;
        assert!(c.validate().unwrap_err().contains("compression.threshold"));
        c.compression.threshold = 0.5;
        c.compression.target_ratio = 0.9;
        assert!(c.validate().unwrap_err().contains("target_ratio"));
        c.compression.target_ratio = 0.2;
        c.reasoning_effort = Some("extreme".into());
        assert!(c.validate().unwrap_err().contains("agent.reasoning_effort"));
        c.reasoning_effort = Some("high".into());
        c.context_length = Some(10);
        assert!(c.validate().unwrap_err().contains("model.context_length"));
        c.context_length = None;
        c.personalities
            .insert("none".into(), Personality::Prompt("x".into()));
        assert!(c.validate().unwrap_err().contains("agent.personalities"));
    }

    #[test]
    fn personalities_merge_over_the_builtins() {
        // Both of Hermes' shapes: a prompt, or a prompt with tone and style.
        let configured: BTreeMap<String, Personality> = serde_json::from_value(serde_json::json!({
            "mentor": "Guide, don't lecture.",
            "helpful": {"system_prompt": "Be kind.", "tone": "warm"}
        }))
        .unwrap();
        let c = ContextConfig {
            personalities: configured,
            ..ContextConfig::default()
        };
        let all = c.personalities();
        assert_eq!(all["mentor"].prompt(), "Guide, don't lecture.");
        assert_eq!(all["helpful"].prompt(), "Be kind.\nTone: warm");
        assert!(all["concise"].prompt().contains("concise"));
        assert!(is_neutral_personality(" None "));
        assert!(!is_neutral_personality("mentor"));
    }
}
