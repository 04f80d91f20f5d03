//! [`TestHome`], the temporary home and store gateways run on, and
//! [`Launch`], the gateway started (or only built) on it.

use super::running::{Direct, Running};
use super::{allow_all, within};
use crate::FlakyStore;
use hermod_agent::Agent;
use hermod_core::{Adapter, AdapterContext, Gateway, GatewayConfig, MediaReader, StreamingConfig};
use hermod_store::{SqliteStore, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// How long [`TestHome::drained`] pauses before looking at the store
/// again: the store announces no change.
const STORE_POLL: Duration = Duration::from_millis(10);

/// A temporary `HERMOD_HOME` (removed when dropped) with a SQLite store
/// in it, wrapped so a test can make its operations fail.
pub struct TestHome {
    /// `hermod.db` in the home, with failures a test can switch on.
    pub store: Arc<FlakyStore>,
    dir: TempDir,
}

impl std::fmt::Debug for TestHome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHome")
            .field("path", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl Default for TestHome {
    fn default() -> Self {
        Self::new()
    }
}

impl TestHome {
    /// A new home in a temporary directory, with an empty store.
    ///
    /// # Panics
    /// When the directory or the store cannot be created.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory for the home");
        let sqlite = SqliteStore::open(&dir.path().join("hermod.db")).expect("a store in the home");
        Self {
            store: Arc::new(FlakyStore::new(Arc::new(sqlite))),
            dir,
        }
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where adapters save downloaded media (`HERMOD_HOME/media`).
    pub fn media_dir(&self) -> PathBuf {
        self.path().join("media")
    }

    /// Where `local` deliveries are written (`HERMOD_HOME/output`).
    pub fn output_dir(&self) -> PathBuf {
        self.path().join("output")
    }

    /// A gateway on this home's store answered by `agent`; see [`Launch`].
    pub fn gateway(&self, agent: impl Agent + 'static) -> Launch {
        Launch::new(self.store.clone(), Arc::new(agent))
            .output_dir(self.output_dir())
            .media_dir(self.media_dir())
    }

    /// Waits until every inbox row is handled and nothing waits in the
    /// outbox: the gateways on this home have finished their work.
    ///
    /// # Panics
    /// When the store fails, or the work is not finished within
    /// [`PATIENCE`](super::PATIENCE).
    pub async fn drained(&self) {
        within("the inbox and outbox to drain", async {
            loop {
                let unfinished = self.store.inbox_unfinished(0, 0).await;
                let pending = self.store.outbox_pending(0, 0).await;
                let unfinished = unfinished.expect("the inbox can be read");
                let pending = pending.expect("the outbox can be read");
                if unfinished.is_empty() && pending.is_empty() {
                    return;
                }
                tokio::time::sleep(STORE_POLL).await;
            }
        })
        .await;
    }
}

/// A gateway to start around an adapter, made by [`TestHome::gateway`]
/// or [`Launch::new`]. By default anyone may talk to it ([`allow_all`])
/// and streamed replies are edited at most once a second.
#[must_use = "a launch does nothing until started or built"]
pub struct Launch {
    store: Arc<dyn Store>,
    agent: Arc<dyn Agent>,
    config: GatewayConfig,
    streaming: StreamingConfig,
    output_dir: Option<PathBuf>,
    /// Where files the agent sends with `MEDIA:` lines may come from.
    media_dir: Option<PathBuf>,
    adapters: Vec<Arc<dyn Adapter>>,
    media: Option<Arc<dyn MediaReader>>,
}

impl std::fmt::Debug for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launch")
            .field("config", &self.config)
            .field("adapters", &self.adapters)
            .finish_non_exhaustive()
    }
}

impl Launch {
    /// A gateway on `store` answered by `agent`.
    pub fn new(store: Arc<dyn Store>, agent: Arc<dyn Agent>) -> Self {
        Self {
            store,
            agent,
            config: allow_all(),
            streaming: StreamingConfig {
                edit_interval: 1.0,
                ..StreamingConfig::default()
            },
            output_dir: None,
            media_dir: None,
            adapters: Vec::new(),
            media: None,
        }
    }

    /// Core's settings (who may talk, busy input, drain timeout, ...).
    pub fn config(mut self, config: GatewayConfig) -> Self {
        self.config = config;
        self
    }

    /// How replies are shown while they are written.
    pub fn streaming(mut self, streaming: StreamingConfig) -> Self {
        self.streaming = streaming;
        self
    }

    /// Where `local` deliveries are written.
    pub fn output_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.output_dir = Some(dir.into());
        self
    }

    /// The media directory: the agent may send files under it.
    pub fn media_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.media_dir = Some(dir.into());
        self
    }

    /// What reads the files of messages (core's `NotesOnly` unless set).
    pub fn media(mut self, media: Arc<dyn MediaReader>) -> Self {
        self.media = Some(media);
        self
    }

    /// Adds an adapter besides the one under test (or, with
    /// [`Launch::build`], any adapter).
    pub fn adapter(mut self, adapter: Arc<dyn Adapter>) -> Self {
        self.adapters.push(adapter);
        self
    }

    /// Builds the gateway without running it.
    ///
    /// # Panics
    /// When the configuration is invalid.
    pub fn build(self) -> Gateway {
        let mut builder =
            Gateway::builder(self.store, self.agent, self.config).streaming(self.streaming);
        if let Some(dir) = self.output_dir {
            builder = builder.output_dir(dir);
        }
        if let Some(dir) = self.media_dir {
            builder = builder.media_dir(dir);
        }
        if let Some(media) = self.media {
            builder = builder.media(media);
        }
        for adapter in self.adapters {
            builder = builder.adapter(adapter);
        }
        builder
            .build()
            .expect("the gateway's configuration is valid")
    }

    /// Starts the gateway with `adapter` (besides any added before) and
    /// runs it until the handle is stopped or dropped.
    ///
    /// # Panics
    /// When the configuration is invalid.
    pub async fn start<A: Adapter + Clone>(self, adapter: A) -> Running<A> {
        let gateway = self.adapter(Arc::new(adapter.clone())).build();
        Running::spawn(gateway, adapter)
    }

    /// Builds the gateway with `adapter` and never runs it: the adapter's
    /// `run` is called directly, with [`Direct::ctx`], whose router takes
    /// submissions.
    ///
    /// # Panics
    /// When the configuration is invalid.
    pub fn direct<A: Adapter + Clone>(self, adapter: A) -> Direct<A> {
        let gateway = self.adapter(Arc::new(adapter.clone())).build();
        let ctx = AdapterContext {
            inbound: gateway.inbound(),
            shutdown: CancellationToken::new(),
        };
        Direct::new(adapter, ctx, gateway)
    }
}
