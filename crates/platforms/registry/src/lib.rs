//! The only list of hermod's adapters.
//!
//! Each platform is its own crate whose configuration type implements
//! [`PlatformConfig`], one Cargo feature, and one line in the
//! [`platforms!`] invocation below. Everything else — the `platforms:`
//! section of `config.yaml`, environment variables, validation, `config
//! check`, building the adapters, log targets — is generated from that
//! line, so nothing outside a platform's crate and this file names a
//! platform.

pub mod hermes_schema;
mod known;

pub use known::{KNOWN_PLATFORMS, KnownPlatform, known_platform, platform_of_variable};

use async_trait::async_trait;
use hermod_core::{AdapterError, BuildContext, Built, PlatformConfig};
use hermod_model::EnvVars;
use serde::Deserialize;

/// [`PlatformConfig`] without its static parts, so the registry can hold
/// every platform in one list.
#[async_trait]
trait Platform: Send + Sync {
    fn name(&self) -> &'static str;
    fn env_vars(&self) -> Vec<&'static str>;
    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String>;
    fn enabled(&self) -> bool;
    fn validate(&self) -> Result<(), String>;
    fn describe(&self) -> String;
    fn authenticates_callers(&self) -> bool;
    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError>;
}

#[async_trait]
impl<T: PlatformConfig> Platform for T {
    fn name(&self) -> &'static str {
        T::NAME
    }
    fn env_vars(&self) -> Vec<&'static str> {
        T::env_vars()
    }
    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        PlatformConfig::apply_env(self, env)
    }
    fn enabled(&self) -> bool {
        PlatformConfig::enabled(self)
    }
    fn validate(&self) -> Result<(), String> {
        PlatformConfig::validate(self)
    }
    fn describe(&self) -> String {
        PlatformConfig::describe(self)
    }
    fn authenticates_callers(&self) -> bool {
        PlatformConfig::authenticates_callers(self)
    }
    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        PlatformConfig::build(self, ctx).await
    }
}

/// Generates [`PlatformsConfig`] (one field per platform, its
/// `platforms.<name>` section) and the list the rest of this file walks.
macro_rules! platforms {
    ($( #[cfg(feature = $feature:literal)] $field:ident : $config:ty, )*) => {
        /// The `platforms:` section of `config.yaml`.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct PlatformsConfig {
            $(
                #[cfg(feature = $feature)]
                pub $field: $config,
            )*
        }

        impl PlatformsConfig {
            #[allow(
                unused_mut,
                clippy::vec_init_then_push,
                reason = "each push is compiled only with its platform's feature"
            )]
            fn each(&self) -> Vec<&dyn Platform> {
                let mut all: Vec<&dyn Platform> = Vec::new();
                $(
                    #[cfg(feature = $feature)]
                    all.push(&self.$field);
                )*
                all
            }

            #[allow(
                unused_mut,
                clippy::vec_init_then_push,
                reason = "each push is compiled only with its platform's feature"
            )]
            fn each_mut(&mut self) -> Vec<&mut dyn Platform> {
                let mut all: Vec<&mut dyn Platform> = Vec::new();
                $(
                    #[cfg(feature = $feature)]
                    all.push(&mut self.$field);
                )*
                all
            }
        }

        /// The names of the platforms compiled into this build.
        #[allow(
            unused_mut,
            clippy::vec_init_then_push,
            reason = "each push is compiled only with its platform's feature"
        )]
        pub fn platform_names() -> Vec<&'static str> {
            let mut names = Vec::new();
            $(
                #[cfg(feature = $feature)]
                names.push(<$config as PlatformConfig>::NAME);
            )*
            names
        }

        /// The log targets of the platform crates compiled in (their crate
        /// names), for the default log filter.
        #[allow(
            unused_mut,
            clippy::vec_init_then_push,
            reason = "each push is compiled only with its platform's feature"
        )]
        pub fn log_targets() -> Vec<&'static str> {
            let mut targets = Vec::new();
            $(
                #[cfg(feature = $feature)]
                targets.push(crate_of(std::any::type_name::<$config>()));
            )*
            targets
        }
    };
}

// The registry: one line per platform.
platforms! {
    #[cfg(feature = "api_server")] api_server: hermod_api_server::ApiServerConfig,
    #[cfg(feature = "telegram")] telegram: hermod_telegram::TelegramConfig,
    #[cfg(feature = "discord")] discord: hermod_discord::DiscordConfig,
    #[cfg(feature = "slack")] slack: hermod_slack::SlackConfig,
}

/// `hermod_telegram` of `hermod_telegram::config::TelegramConfig`.
fn crate_of(type_name: &'static str) -> &'static str {
    type_name.split("::").next().unwrap_or(type_name)
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

/// A built adapter and the platform it is for.
#[derive(Debug)]
pub struct BuiltPlatform {
    pub name: &'static str,
    pub built: Built,
}

impl PlatformsConfig {
    /// Applies each platform's environment variables; each platform reports
    /// its first bad variable.
    pub fn apply_env(&mut self, env: &EnvVars) -> Vec<String> {
        self.each_mut()
            .into_iter()
            .filter_map(|p| p.apply_env(env).err())
            .collect()
    }

    /// Checks each enabled platform's settings; each reports its first
    /// problem.
    pub fn validate(&self) -> Vec<String> {
        self.each()
            .into_iter()
            .filter(|p| p.enabled())
            .filter_map(|p| p.validate().err())
            .collect()
    }

    /// The platforms that will run, in the order they start.
    pub fn enabled(&self) -> Vec<EnabledPlatform> {
        self.each()
            .into_iter()
            .filter(|p| p.enabled())
            .map(|p| EnabledPlatform {
                name: p.name(),
                summary: p.describe(),
                authenticates_callers: p.authenticates_callers(),
            })
            .collect()
    }

    /// Every platform's environment variables, by platform.
    pub fn env_vars(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        self.each()
            .into_iter()
            .map(|p| (p.name(), p.env_vars()))
            .collect()
    }

    /// Builds every enabled platform's adapter (binding listeners, so a
    /// port in use is reported here).
    pub async fn build(&self, ctx: &BuildContext) -> Result<Vec<BuiltPlatform>, AdapterError> {
        let mut built = Vec::new();
        for platform in self.each().into_iter().filter(|p| p.enabled()) {
            built.push(BuiltPlatform {
                name: platform.name(),
                built: platform.build(ctx).await?,
            });
        }
        Ok(built)
    }
}
