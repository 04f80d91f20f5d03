//! [`AcpConfig`]: which agent program to run and how long to wait on it.

use hermod_model::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How to start and talk to an ACP agent (`agent.acp` in the config file).
/// `Debug` never shows the values of `env`, which often hold API keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcpConfig {
    /// The agent program, e.g. `hermes` or `npx`.
    pub command: String,
    /// Its arguments, e.g. `["acp"]`.
    #[serde(default)]
    pub args: Vec<String>,
    /// The working directory of the process and of every ACP session
    /// (agents resolve relative paths and run tools there); the gateway's
    /// own directory when unset.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Environment variables for the process (values are secrets).
    #[serde(default)]
    pub env: BTreeMap<String, Secret>,
    /// Names of the gateway's own environment variables handed to the
    /// process besides the basic ones ([`BASE_ENV`]). Nothing else is: the
    /// agent runs commands for chat users, and the gateway's environment
    /// holds its platform tokens.
    #[serde(default)]
    pub pass_env: Vec<String>,
    /// Prepended to the first prompt of every ACP session (hermod's system
    /// prompt or personality; ACP has no system prompt of its own).
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// Seconds to wait for `initialize`, `session/new` and `session/load`.
    #[serde(default = "defaults::startup_secs")]
    pub startup_timeout_secs: u64,
    /// Seconds a cancelled prompt may take to answer after
    /// `session/cancel` before hermod gives up on it.
    #[serde(default = "defaults::cancel_secs")]
    pub cancel_timeout_secs: u64,
    /// Seconds a permission request waits for the user before it is denied.
    #[serde(default = "defaults::approval_secs")]
    pub approval_timeout_secs: u64,
    /// First wait before restarting an agent that died; doubles with each
    /// death in a row up to `restart_backoff_max_secs`.
    #[serde(default = "defaults::backoff_secs")]
    pub restart_backoff_secs: u64,
    #[serde(default = "defaults::backoff_max_secs")]
    pub restart_backoff_max_secs: u64,
}

/// The gateway's environment variables every agent process gets: what a
/// program needs to find its tools, home, locale and temporary directory.
pub const BASE_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TMPDIR",
    "TZ",
];

mod defaults {
    pub(super) fn startup_secs() -> u64 {
        60
    }
    pub(super) fn cancel_secs() -> u64 {
        10
    }
    pub(super) fn approval_secs() -> u64 {
        60
    }
    pub(super) fn backoff_secs() -> u64 {
        1
    }
    pub(super) fn backoff_max_secs() -> u64 {
        60
    }
}

impl AcpConfig {
    /// A configuration that runs `command` with `args` and defaults for the
    /// rest.
    pub fn new(
        command: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            command: command.into(),
            args: args.into_iter().map(Into::into).collect(),
            cwd: None,
            env: BTreeMap::new(),
            pass_env: Vec::new(),
            system_prompt: None,
            startup_timeout_secs: defaults::startup_secs(),
            cancel_timeout_secs: defaults::cancel_secs(),
            approval_timeout_secs: defaults::approval_secs(),
            restart_backoff_secs: defaults::backoff_secs(),
            restart_backoff_max_secs: defaults::backoff_max_secs(),
        }
    }

    pub(crate) fn startup_timeout(&self) -> Duration {
        Duration::from_secs(self.startup_timeout_secs.max(1))
    }

    pub(crate) fn cancel_timeout(&self) -> Duration {
        Duration::from_secs(self.cancel_timeout_secs.max(1))
    }

    pub(crate) fn approval_timeout(&self) -> Duration {
        Duration::from_secs(self.approval_timeout_secs.max(1))
    }

    /// The wait before the start that follows `deaths` deaths in a row.
    pub(crate) fn restart_delay(&self, deaths: u32) -> Duration {
        if deaths == 0 {
            return Duration::ZERO;
        }
        let base = self.restart_backoff_secs.max(1);
        let max = self.restart_backoff_max_secs.max(base);
        let factor = 1u64 << (deaths - 1).min(20);
        Duration::from_secs(base.saturating_mul(factor).min(max))
    }

    /// The environment of the process: the basic variables and `pass_env`
    /// from the gateway's environment, then `env`.
    pub(crate) fn process_env(&self) -> Vec<(String, String)> {
        let mut vars: BTreeMap<String, String> = BASE_ENV
            .iter()
            .copied()
            .chain(self.pass_env.iter().map(String::as_str))
            .filter_map(|name| Some((name.to_owned(), std::env::var(name).ok()?)))
            .collect();
        for (name, value) in &self.env {
            vars.insert(name.clone(), value.expose().to_owned());
        }
        vars.into_iter().collect()
    }

    /// The session working directory as the agent is told it (absolute).
    pub(crate) fn session_cwd(&self) -> String {
        let dir = match &self.cwd {
            Some(dir) if dir.is_absolute() => dir.clone(),
            Some(dir) => std::env::current_dir().unwrap_or_default().join(dir),
            None => std::env::current_dir().unwrap_or_default(),
        };
        dir.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn reads_the_documented_shape_and_hides_env_values() {
        let config: AcpConfig = serde_json::from_value(serde_json::json!({
            "command": "hermes",
            "args": ["acp"],
            "cwd": "/srv/work",
            "env": {"OPENROUTER_API_KEY": "sk-or-secret"},
        }))
        .unwrap();
        assert_eq!(config.command, "hermes");
        assert_eq!(config.args, ["acp"]);
        assert_eq!(config.session_cwd(), "/srv/work");
        assert_eq!(config.env["OPENROUTER_API_KEY"].expose(), "sk-or-secret");
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-or-secret"), "{shown}");
        assert!(shown.contains("OPENROUTER_API_KEY"), "{shown}");
        assert_eq!(config.cancel_timeout(), Duration::from_secs(10));

        let unknown = serde_json::from_value::<AcpConfig>(serde_json::json!({
            "command": "x", "argz": []
        }));
        assert!(unknown.unwrap_err().to_string().contains("argz"));
    }

    #[test]
    fn the_process_gets_only_the_basic_passed_and_configured_variables() {
        let mut config = AcpConfig::new("x", ["a"]);
        config.env.insert("API_KEY".into(), Secret::new("k"));
        config.env.insert("PATH".into(), Secret::new("/only/here"));
        // CARGO is set for every test run, and not passed unless named.
        assert!(std::env::var("CARGO").is_ok());
        let names = |config: &AcpConfig| -> Vec<String> {
            config.process_env().into_iter().map(|(n, _)| n).collect()
        };
        assert!(!names(&config).contains(&"CARGO".to_owned()));
        config.pass_env.push("CARGO".into());
        assert!(names(&config).contains(&"CARGO".to_owned()));
        let vars = config.process_env();
        assert!(vars.contains(&("API_KEY".into(), "k".into())));
        assert!(
            vars.contains(&("PATH".into(), "/only/here".into())),
            "env wins"
        );
    }

    #[test]
    fn restarts_back_off_exponentially_up_to_the_cap() {
        let config = AcpConfig {
            restart_backoff_secs: 2,
            restart_backoff_max_secs: 30,
            ..AcpConfig::new("x", ["a"])
        };
        let delays: Vec<u64> = (0..7).map(|n| config.restart_delay(n).as_secs()).collect();
        assert_eq!(delays, [0, 2, 4, 8, 16, 30, 30]);
        assert_eq!(config.restart_delay(u32::MAX).as_secs(), 30);
    }
}
