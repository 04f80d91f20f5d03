//! [`PlatformConfig`]: what a platform crate gives the registry, so that a
//! new platform is its own crate plus one line in the registry.
//!
//! A platform's configuration type is its `platforms.<name>` section of
//! `config.yaml` (read strictly, defaults for what is missing), knows the
//! environment variables it reads (the Hermes names), checks itself, says
//! whether it is enabled and what it is in a line, and builds its adapter
//! from a [`BuildContext`]. The registry composes the sections and calls
//! these; nothing outside the platform's crate and the registry names a
//! platform.

use crate::adapter::{Adapter, AdapterError};
use async_trait::async_trait;
use hermod_model::{EnvVars, Secret};
use hermod_store::Store;
use serde::de::DeserializeOwned;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use tokio_util::sync::CancellationToken;

/// What the gateway hands a platform to build its adapter.
#[derive(Clone)]
pub struct BuildContext {
    /// The store, for the adapter's own small state (cursors, offsets).
    pub store: Arc<dyn Store>,
    /// The gateway's HTTP client, shared by the platforms: one connection
    /// pool and one copy of the system's root certificates.
    pub http: hermod_http::HttpClient,
    /// `HERMOD_HOME`: config, `.env`, the database.
    pub home: PathBuf,
    /// Where inbound files are saved (`HERMOD_HOME/media`).
    pub media_dir: PathBuf,
    /// Cancelled when the gateway stops.
    pub shutdown: CancellationToken,
    /// What the platforms of this gateway share (the one webhook listener).
    pub shared: SharedParts,
    /// Other gateways may share the database: a receiver is guarded by
    /// its lease in the database (one gateway receives, the others stand
    /// by), not by a lock on this machine, which would keep a standby
    /// gateway on the same machine from starting the platform at all.
    pub shared_database: bool,
}

/// Values the platforms of one gateway share, made by the first platform
/// that asks for one and handed to the others: the inbound webhook
/// listener every webhook platform registers its path on, say. Keyed by
/// type, so core does not need to know what they are.
#[derive(Clone, Default)]
pub struct SharedParts {
    parts: Arc<Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>,
}

impl std::fmt::Debug for SharedParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedParts").finish_non_exhaustive()
    }
}

impl SharedParts {
    /// The shared `T`, made with `make` by the first caller.
    pub fn get_or_insert_with<T: Any + Clone + Send + Sync>(&self, make: impl FnOnce() -> T) -> T {
        let mut parts = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
        let part = parts
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(make()));
        part.downcast_ref::<T>()
            .expect("each type is stored under its own id")
            .clone()
    }
}

impl BuildContext {
    /// The context of a gateway whose home is `home`: media under
    /// `home/media`, a new shared HTTP client, nothing shared yet.
    pub fn new(
        store: Arc<dyn Store>,
        home: PathBuf,
        shutdown: CancellationToken,
    ) -> Result<Self, AdapterError> {
        let http = hermod_http::HttpClient::new()
            .map_err(|e| AdapterError::Startup(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self {
            store,
            media_dir: home.join("media"),
            home,
            http,
            shutdown,
            shared: SharedParts::default(),
            shared_database: false,
        })
    }
}

impl std::fmt::Debug for BuildContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext")
            .field("home", &self.home)
            .field("media_dir", &self.media_dir)
            .field("shared", &self.shared)
            .field("shared_database", &self.shared_database)
            .finish_non_exhaustive()
    }
}

/// An adapter ready to run.
pub struct Built {
    pub adapter: Arc<dyn Adapter>,
    /// A line for the operator: the platform's name, and its address when
    /// it listens on one ("API server on http://127.0.0.1:8642").
    pub description: String,
    /// Lines to show the operator once, on stdout, before the gateway is
    /// ready (a key generated on the first run, and how to use it).
    pub first_run: Vec<String>,
}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

/// An identity a platform uses that no two gateways may use at once: a bot
/// token that only one process may poll, say. The registry locks each
/// claim of a platform before building it, so a second gateway configured
/// with the same token refuses that platform instead of fighting the
/// first one for its updates.
#[derive(Clone)]
pub struct Claim {
    /// What kind of identity it is (`<platform>-bot`, `<platform>-app`): the
    /// lock file's name begins with it, and the refusal names it.
    pub scope: &'static str,
    /// The identity itself. Only a hash of it is ever written.
    pub identity: Secret,
}

impl Claim {
    pub fn new(scope: &'static str, identity: &Secret) -> Self {
        Self {
            scope,
            identity: identity.clone(),
        }
    }
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("scope", &self.scope)
            .field("identity", &self.identity)
            .finish()
    }
}

/// An OpenAI-compatible chat endpoint a platform serves
/// (`POST {base_url}/chat/completions` with `Authorization: Bearer {key}`),
/// where `hermod chat` talks to the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatEndpoint {
    /// Up to and including `/v1`, reachable from this machine.
    pub base_url: String,
    pub key: Secret,
}

/// What a live check of a platform's settings may use (`hermod doctor`).
#[derive(Debug, Clone)]
pub struct ProbeContext {
    /// The HTTP client to call the platform with.
    pub http: hermod_http::HttpClient,
    /// How long one call of a probe may take.
    pub timeout: std::time::Duration,
}

/// One platform, as the registry sees it. Implemented by the platform's
/// `platforms.<name>` configuration type.
#[async_trait]
pub trait PlatformConfig: DeserializeOwned + Default + std::fmt::Debug + Send + Sync {
    /// The platform's name: its `platforms.<name>` key, the platform of its
    /// sessions, the prefix of its log target.
    const NAME: &'static str;

    /// The platform's own name for its home channel variable, where Hermes
    /// gave it one besides `<PLATFORM>_HOME_CHANNEL` (which is read too);
    /// `<variable>_THREAD_ID` goes with it.
    const HOME_CHANNEL_VARIABLE: Option<&'static str> = None;

    /// The environment variables it reads (Hermes' names), for `--help`,
    /// `config check` and `doctor`. Best derived from the same declaration
    /// [`PlatformConfig::apply_env`] applies, so the two cannot disagree
    /// (which is why this is built at run time rather than a fixed list).
    fn env_vars() -> Vec<&'static str>;

    /// Applies the environment over the file's settings. The first bad
    /// variable is the error, with what it needs.
    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String>;

    /// Whether it should run (a token is set, or it is switched on).
    fn enabled(&self) -> bool;

    /// Checks an enabled platform's settings. The first problem is the
    /// error, with what to do.
    fn validate(&self) -> Result<(), String>;

    /// The home channel it has when none is set (`<PLATFORM>_HOME_CHANNEL`
    /// or `/sethome`): Hermes defaults some platforms' home to the first
    /// channel they join. As a chat id of this platform.
    fn default_home_channel(&self) -> Option<String> {
        None
    }

    /// How it connects, in a few words, for `config check`
    /// ("long polling", "http://127.0.0.1:8642 (key set)").
    fn describe(&self) -> String;

    /// Whether it authenticates its callers itself (an API key), so the
    /// allowlists and pairing do not apply to it.
    fn authenticates_callers(&self) -> bool {
        false
    }

    /// The identities this platform uses that no other gateway may use at
    /// the same time (its bot token). A platform that guards itself in
    /// another way (a listening port) claims nothing.
    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    /// The local addresses (`host:port`) it listens on, for `doctor` to
    /// check that they are free. An address with port 0 (any free port)
    /// is left out.
    fn listens_on(&self) -> Vec<String> {
        Vec::new()
    }

    /// The chat endpoint an enabled platform of this kind serves, from its
    /// settings, for `hermod chat` to reach a running gateway; `None` for
    /// platforms that serve none.
    fn chat_endpoint(&self) -> Option<ChatEndpoint> {
        None
    }

    /// These settings changed to serve only `hermod chat` in its own
    /// gateway: on an ephemeral loopback port, with `key`. `None` for
    /// platforms that serve no chat endpoint.
    fn local_chat(&self, _key: Secret) -> Option<Self> {
        None
    }

    /// Checks, with one harmless call that opens no connection to keep,
    /// that the platform accepts these settings (the token is valid): what
    /// the check found ("bot @name") or what is wrong and what to do. The
    /// answer never contains a secret. Platforms without such a call say
    /// so.
    async fn probe(&self, _ctx: &ProbeContext) -> Result<String, String> {
        Ok("no live check".to_owned())
    }

    /// Builds the adapter: binds listeners (so a port in use is reported
    /// here), generates what a first run needs. Called for enabled,
    /// validated platforms only.
    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_caller_makes_a_part_and_the_others_share_it() {
        let shared = SharedParts::default();
        let first = shared.get_or_insert_with(|| Arc::new(7_u8));
        let clone = shared.clone();
        let second = clone.get_or_insert_with(|| Arc::new(9_u8));
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(shared.get_or_insert_with(|| "other type"), "other type");
    }
}
