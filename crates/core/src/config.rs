//! [`GatewayConfig`]: the settings of the router and runtime.

use hermod_model::{EnvVars, SessionKeyPolicy};
use serde::Deserialize;
use std::time::Duration;

/// The `gateway:` section of `config.yaml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// In groups, give each user their own session.
    pub group_sessions_per_user: bool,
    /// In threads, give each user their own session (threads are shared by default).
    pub thread_sessions_per_user: bool,
    /// Profile name that replaces `main` in session keys.
    pub profile: Option<String>,
    /// How long running turns may take to finish on shutdown before they are
    /// cancelled, in seconds.
    pub drain_timeout_secs: u64,
    /// Messages that may wait behind a running turn in one session.
    pub session_queue: usize,
    /// A session worker with nothing to do for this long is stopped, in seconds.
    pub worker_idle_secs: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            group_sessions_per_user: true,
            thread_sessions_per_user: false,
            profile: None,
            drain_timeout_secs: 30,
            session_queue: 32,
            worker_idle_secs: 300,
        }
    }
}

impl GatewayConfig {
    /// Applies the environment variables this section honours
    /// (`HERMOD_DRAIN_TIMEOUT`, and Hermes' `HERMES_RESTART_DRAIN_TIMEOUT`).
    pub fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        for key in ["HERMES_RESTART_DRAIN_TIMEOUT", "HERMOD_DRAIN_TIMEOUT"] {
            if let Some(secs) = env.get_parsed::<f64>(key)? {
                if !(0.0..=86_400.0).contains(&secs) {
                    return Err(format!("{key} must be between 0 and 86400 seconds"));
                }
                self.drain_timeout_secs = secs.ceil() as u64;
            }
        }
        Ok(())
    }

    pub fn key_policy(&self) -> SessionKeyPolicy {
        SessionKeyPolicy {
            group_sessions_per_user: self.group_sessions_per_user,
            thread_sessions_per_user: self.thread_sessions_per_user,
            profile: self.profile.clone(),
        }
    }

    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.drain_timeout_secs)
    }

    pub fn worker_idle(&self) -> Duration {
        Duration::from_secs(self.worker_idle_secs.max(1))
    }
}
