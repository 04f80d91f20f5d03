//! The only list of hermod's adapters.
//!
//! Each adapter is one field of [`PlatformsConfig`] (its `platforms.<name>`
//! section), one Cargo feature, and one line in [`PlatformsConfig::build`].

pub mod hermes_schema;
mod known;

pub use known::{KNOWN_PLATFORMS, KnownPlatform, known_platform, platform_of_variable};

use hermod_core::{Adapter, AdapterError};
use hermod_model::EnvVars;
use hermod_store::Store;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// The `platforms:` section of `config.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatformsConfig {
    #[cfg(feature = "api_server")]
    pub api_server: hermod_api_server::ApiServerConfig,
    #[cfg(feature = "telegram")]
    pub telegram: hermod_telegram::TelegramConfig,
}

/// An adapter ready to run, with a line describing it for the operator.
pub struct BuiltAdapter {
    pub adapter: Arc<dyn Adapter>,
    pub description: String,
}

impl std::fmt::Debug for BuiltAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

/// The names of the platforms compiled into this build, for the
/// `<PLATFORM>_ALLOWED_USERS`-style variables core reads.
pub fn platform_names() -> Vec<&'static str> {
    [
        cfg!(feature = "api_server").then_some("api_server"),
        cfg!(feature = "telegram").then_some("telegram"),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// An enabled platform, as `hermod config check` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnabledPlatform {
    pub name: &'static str,
    /// How it connects, in a few words.
    pub summary: String,
    /// It checks its callers itself (a key), so allowlists and pairing do
    /// not apply to it.
    pub authenticates_callers: bool,
}

impl PlatformsConfig {
    /// Applies each adapter's environment variables; each adapter reports
    /// its first bad variable.
    #[cfg_attr(
        not(any(feature = "api_server", feature = "telegram")),
        expect(
            unused_variables,
            reason = "no adapter compiled in reads the environment"
        )
    )]
    pub fn apply_env(&mut self, env: &EnvVars) -> Vec<String> {
        #[cfg_attr(
            not(any(feature = "api_server", feature = "telegram")),
            expect(unused_mut, reason = "no adapter compiled in reports anything")
        )]
        let mut errors = Vec::new();
        #[cfg(feature = "api_server")]
        errors.extend(self.api_server.apply_env(env).err());
        #[cfg(feature = "telegram")]
        errors.extend(self.telegram.apply_env(env).err());
        errors
    }

    /// Checks each enabled adapter's settings; each adapter reports its
    /// first problem.
    pub fn validate(&self) -> Vec<String> {
        #[cfg_attr(
            not(any(feature = "api_server", feature = "telegram")),
            expect(unused_mut, reason = "no adapter compiled in reports anything")
        )]
        let mut errors = Vec::new();
        #[cfg(feature = "api_server")]
        if self.api_server.enabled {
            errors.extend(self.api_server.validate().err());
        }
        #[cfg(feature = "telegram")]
        if self.telegram.enabled() {
            errors.extend(self.telegram.validate().err());
        }
        errors
    }

    /// The platforms that will run, in the order they start.
    pub fn enabled(&self) -> Vec<EnabledPlatform> {
        #[cfg_attr(
            not(any(feature = "api_server", feature = "telegram")),
            expect(unused_mut, reason = "no adapter compiled in adds anything")
        )]
        let mut enabled = Vec::new();
        #[cfg(feature = "api_server")]
        if self.api_server.enabled {
            let key = if self.api_server.key.is_some() {
                "key set"
            } else {
                "key generated on first run"
            };
            enabled.push(EnabledPlatform {
                name: "api_server",
                summary: format!(
                    "http://{}:{} ({key})",
                    self.api_server.host, self.api_server.port
                ),
                authenticates_callers: true,
            });
        }
        #[cfg(feature = "telegram")]
        if self.telegram.enabled() {
            let summary = match &self.telegram.webhook_url {
                Some(url) => format!("webhook at {url}"),
                None => "long polling".to_owned(),
            };
            enabled.push(EnabledPlatform {
                name: "telegram",
                summary,
                authenticates_callers: false,
            });
        }
        enabled
    }

    /// Tells the adapters where `HERMOD_HOME` is (for files they keep there).
    #[cfg_attr(
        not(feature = "telegram"),
        expect(unused_variables, reason = "no adapter compiled in keeps files")
    )]
    pub fn set_home(&mut self, home: &Path) {
        #[cfg(feature = "telegram")]
        self.telegram.set_media_dir(home.join("media"));
    }

    /// Builds every enabled adapter (binding listeners, so a port in use is
    /// reported here). Adapters keep their small state (update offsets) in
    /// `store`; the API server looks up there who owns a session a request
    /// names.
    #[cfg_attr(
        not(any(feature = "api_server", feature = "telegram")),
        expect(unused_variables, reason = "no adapter compiled in uses the store")
    )]
    pub async fn build(&self, store: Arc<dyn Store>) -> Result<Vec<BuiltAdapter>, AdapterError> {
        #[cfg_attr(
            not(any(feature = "api_server", feature = "telegram")),
            expect(
                unused_mut,
                reason = "every adapter feature adds to it; a build with none adds nothing"
            )
        )]
        let mut built = Vec::new();
        #[cfg(feature = "api_server")]
        if self.api_server.enabled {
            let server = hermod_api_server::ApiServer::bind(self.api_server.clone())
                .await?
                .with_store(Arc::clone(&store));
            let description = format!("API server on http://{}", server.local_addr());
            built.push(BuiltAdapter {
                adapter: Arc::new(server),
                description,
            });
        }
        #[cfg(feature = "telegram")]
        if self.telegram.enabled() {
            let adapter = hermod_telegram::TelegramAdapter::new(self.telegram.clone(), store)?;
            built.push(BuiltAdapter {
                adapter: Arc::new(adapter),
                description: "Telegram bot".into(),
            });
        }
        Ok(built)
    }
}
