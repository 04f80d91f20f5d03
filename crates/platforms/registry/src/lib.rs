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
pub mod lock;

pub use known::{KNOWN_PLATFORMS, KnownPlatform, known_platform, platform_of_variable};

use async_trait::async_trait;
use hermod_core::{
    AdapterError, BuildContext, Built, ChatEndpoint, Claim, PlatformConfig, ProbeContext,
};
use hermod_model::{EnvVars, Secret};
use lock::{ClaimLock, LockDir, Owner};
use serde::Deserialize;
use tracing::{error, warn};

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
    fn default_home_channel(&self) -> Option<String>;
    fn authenticates_callers(&self) -> bool;
    fn claims(&self) -> Vec<Claim>;
    fn listens_on(&self) -> Vec<String>;
    fn chat_endpoint(&self) -> Option<ChatEndpoint>;
    fn local_chat(&self, key: Secret) -> Option<Box<dyn Platform>>;
    async fn probe(&self, ctx: &ProbeContext) -> Result<String, String>;
    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError>;
}

#[async_trait]
impl<T: PlatformConfig + 'static> Platform for T {
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
    fn default_home_channel(&self) -> Option<String> {
        PlatformConfig::default_home_channel(self)
    }
    fn authenticates_callers(&self) -> bool {
        PlatformConfig::authenticates_callers(self)
    }
    fn claims(&self) -> Vec<Claim> {
        PlatformConfig::claims(self)
    }
    fn listens_on(&self) -> Vec<String> {
        PlatformConfig::listens_on(self)
    }
    fn chat_endpoint(&self) -> Option<ChatEndpoint> {
        PlatformConfig::chat_endpoint(self)
    }
    fn local_chat(&self, key: Secret) -> Option<Box<dyn Platform>> {
        PlatformConfig::local_chat(self, key).map(|c| Box::new(c) as Box<dyn Platform>)
    }
    async fn probe(&self, ctx: &ProbeContext) -> Result<String, String> {
        PlatformConfig::probe(self, ctx).await
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

        /// The platforms whose home channel variable has a name of its own
        /// besides `<PLATFORM>_HOME_CHANNEL` (Hermes' names), with it.
        #[allow(
            unused_mut,
            clippy::vec_init_then_push,
            reason = "each push is compiled only with its platform's feature"
        )]
        pub fn home_channel_variables() -> Vec<(&'static str, &'static str)> {
            let mut variables = Vec::new();
            $(
                #[cfg(feature = $feature)]
                if let Some(variable) = <$config as PlatformConfig>::HOME_CHANNEL_VARIABLE {
                    variables.push((<$config as PlatformConfig>::NAME, variable));
                }
            )*
            variables
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
    #[cfg(feature = "webhook")] webhook: hermod_webhook::WebhookPlatformConfig,
    #[cfg(feature = "ntfy")] ntfy: hermod_ntfy::NtfyConfig,
    #[cfg(feature = "matrix")] matrix: hermod_matrix::MatrixConfig,
    #[cfg(feature = "mattermost")] mattermost: hermod_mattermost::MattermostConfig,
    #[cfg(feature = "signal")] signal: hermod_signal::SignalConfig,
    #[cfg(feature = "email")] email: hermod_email::EmailConfig,
    #[cfg(feature = "irc")] irc: hermod_irc::IrcConfig,
    #[cfg(feature = "homeassistant")] homeassistant: hermod_homeassistant::HomeAssistantConfig,
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
    /// The locks on its claims (its token), held as long as this is.
    locks: Vec<ClaimLock>,
}

impl BuiltPlatform {
    /// The lock files this platform holds.
    pub fn lock_files(&self) -> impl Iterator<Item = &std::path::Path> {
        self.locks.iter().map(ClaimLock::path)
    }
}

/// The result of a platform's live check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    pub name: &'static str,
    /// What the check found, or what is wrong and what to do.
    pub result: Result<String, String>,
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

    /// The home channels enabled platforms have when none is set, by
    /// platform name.
    pub fn default_home_channels(&self) -> Vec<(&'static str, String)> {
        self.each()
            .into_iter()
            .filter(|p| p.enabled())
            .filter_map(|p| Some((p.name(), p.default_home_channel()?)))
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

    /// The addresses the enabled platforms listen on, each once, with the
    /// platforms that use it (webhook platforms share one listener).
    pub fn listen_addrs(&self) -> Vec<(String, Vec<&'static str>)> {
        let mut addrs: Vec<(String, Vec<&'static str>)> = Vec::new();
        for platform in self.each().into_iter().filter(|p| p.enabled()) {
            for addr in platform.listens_on() {
                match addrs.iter_mut().find(|(a, _)| *a == addr) {
                    Some((_, users)) => users.push(platform.name()),
                    None => addrs.push((addr, vec![platform.name()])),
                }
            }
        }
        addrs
    }

    /// The chat endpoint (`hermod chat`) an enabled platform serves, from
    /// the settings, as a gateway running them serves it.
    pub fn chat_endpoint(&self) -> Option<ChatEndpoint> {
        self.each()
            .into_iter()
            .filter(|p| p.enabled())
            .find_map(|p| p.chat_endpoint())
    }

    /// Builds only the platform that serves a chat endpoint, changed to
    /// listen on an ephemeral loopback port with `key`, for `hermod chat`'s
    /// own gateway; `None` when this build has no such platform.
    pub async fn build_local_chat(
        &self,
        ctx: &BuildContext,
        key: Secret,
    ) -> Result<Option<BuiltPlatform>, AdapterError> {
        let Some(platform) = self
            .each()
            .into_iter()
            .find_map(|p| p.local_chat(key.clone()))
        else {
            return Ok(None);
        };
        Ok(Some(BuiltPlatform {
            name: platform.name(),
            built: platform.build(ctx).await?,
            locks: Vec::new(),
        }))
    }

    /// Checks each enabled platform's settings live, all at once.
    pub async fn probe(&self, ctx: &ProbeContext) -> Vec<Probed> {
        let enabled: Vec<&dyn Platform> = self.each().into_iter().filter(|p| p.enabled()).collect();
        let probes = enabled.iter().map(|p| async move {
            Probed {
                name: p.name(),
                result: p.probe(ctx).await,
            }
        });
        futures_util::future::join_all(probes).await
    }

    /// Builds every enabled platform's adapter (binding listeners, so a
    /// port in use is reported here), after locking what each claims (its
    /// token) in the per-user lock directory ([`lock`]) — unless the
    /// database is shared, where receiver leases guard them. A platform whose
    /// token another gateway holds is refused with an ERROR saying which
    /// gateway, and the others are built; when every one is refused, that
    /// is the error.
    pub async fn build(&self, ctx: &BuildContext) -> Result<Vec<BuiltPlatform>, AdapterError> {
        let locks = LockDir::from_env();
        let owner = Owner {
            pid: std::process::id(),
            start_time: hermod_core::now_ms(),
            home: ctx.home.clone(),
        };
        let mut built = Vec::new();
        let mut refused = Vec::new();
        for platform in self.each().into_iter().filter(|p| p.enabled()) {
            // On a shared database the receiver leases guard the tokens.
            let held = if ctx.shared_database {
                Ok(Vec::new())
            } else {
                lock_claims(platform, locks.as_ref(), &owner)
            };
            let held = match held {
                Ok(held) => held,
                Err(reason) => {
                    let reason = format!("{} is not started: {reason}", platform.name());
                    error!(platform = platform.name(), "{reason}");
                    refused.push(reason);
                    continue;
                }
            };
            built.push(BuiltPlatform {
                name: platform.name(),
                built: platform.build(ctx).await?,
                locks: held,
            });
        }
        if built.is_empty() && !refused.is_empty() {
            return Err(AdapterError::Startup(refused.join("; ")));
        }
        Ok(built)
    }
}

/// Locks each of `platform`'s claims in `dir`; a lock another gateway
/// holds is the error. Without a lock directory (no `HOME`), the claims
/// go unlocked, with a warning.
fn lock_claims(
    platform: &dyn Platform,
    dir: Option<&LockDir>,
    owner: &Owner,
) -> Result<Vec<ClaimLock>, lock::LockError> {
    let claims = platform.claims();
    let Some(dir) = dir else {
        if !claims.is_empty() {
            warn!(
                platform = platform.name(),
                "no per-user lock directory (none of HERMOD_LOCK_DIR, XDG_STATE_HOME and HOME \
                 is set), so nothing stops another gateway from using the same token; set one"
            );
        }
        return Ok(Vec::new());
    };
    let mut held = Vec::new();
    for claim in &claims {
        let lock = dir.acquire(claim, owner)?;
        if let Some(stale) = lock.took_over() {
            warn!(
                platform = platform.name(),
                lock = %lock.path().display(),
                "took over a stale {} lock left by pid {} (home {}): {}",
                claim.scope,
                stale.holder.pid,
                stale.holder.home.display(),
                stale.reason
            );
        }
        held.push(lock);
    }
    Ok(held)
}
