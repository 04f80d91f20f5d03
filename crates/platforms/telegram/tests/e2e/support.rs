//! The test world: a fake Bot API server and a store that outlive the
//! gateways started on them, so a test can stop one gateway and start
//! another on the same state.

use hermod_agent::Agent;
use hermod_core::{
    AdapterContext, ComponentState, Gateway, GatewayConfig, Health, StreamingConfig,
};
use hermod_model::Secret;
use hermod_store::SqliteStore;
use hermod_telegram::{TelegramAdapter, TelegramConfig};
use hermod_testkit::FakeTelegram;
use hermod_testkit::FlakyStore;
use hermod_testkit::telegram::FakeMessage;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Longest any single wait in these tests may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// Awaits `future`, failing the test if it takes longer than [`PATIENCE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    within_for(PATIENCE, what, future).await
}

/// Awaits `future`, failing the test if it takes longer than `patience`
/// (tokio time: with paused time, backoffs of minutes pass at once).
pub async fn within_for<T>(patience: Duration, what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(patience, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

pub struct World {
    pub fake: FakeTelegram,
    /// SQLite, with failures a test can switch on.
    pub store: Arc<FlakyStore>,
    dir: tempfile::TempDir,
}

impl World {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = SqliteStore::open(&dir.path().join("hermod.db")).unwrap();
        let store = Arc::new(FlakyStore::new(Arc::new(sqlite)));
        Self {
            fake: FakeTelegram::start().await,
            store,
            dir,
        }
    }

    pub fn media_dir(&self) -> PathBuf {
        self.dir.path().join("media")
    }

    /// The adapter's configuration for this world: the fake's URL and
    /// token, short long polls, media under the temporary home.
    pub fn config(&self) -> TelegramConfig {
        let mut config = TelegramConfig {
            bot_token: Some(Secret::new(self.fake.token())),
            api_base_url: self.fake.base_url(),
            poll_timeout_secs: 1,
            request_timeout_secs: 5,
            max_reconnect_delay_secs: 2,
            ..TelegramConfig::default()
        };
        config.set_media_dir(self.media_dir());
        config
    }

    /// Starts a gateway anyone may talk to, streaming on.
    pub async fn start(&self, agent: impl Agent + 'static) -> Running {
        let gateway = GatewayConfig {
            allow_all_users: true,
            ..GatewayConfig::default()
        };
        self.start_with(agent, gateway, self.config()).await
    }

    pub async fn start_with(
        &self,
        agent: impl Agent + 'static,
        gateway: GatewayConfig,
        config: TelegramConfig,
    ) -> Running {
        let adapter = TelegramAdapter::new(config, self.store.clone()).unwrap();
        let streaming = StreamingConfig {
            edit_interval: 1.0,
            ..StreamingConfig::default()
        };
        let gateway = Gateway::builder(self.store.clone(), Arc::new(agent), gateway)
            .adapter(Arc::new(adapter.clone()))
            .streaming(streaming)
            .output_dir(self.dir.path().join("output"))
            .build()
            .unwrap();
        let health = gateway.health().clone();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(gateway.run(shutdown.clone()));
        Running {
            adapter,
            health,
            shutdown,
            task: Some(task),
        }
    }

    /// An adapter to call `run` on directly, with a context from a gateway
    /// that is never run (its router accepts submissions) and lets anyone
    /// talk to it.
    pub fn direct(&self, config: TelegramConfig) -> Direct {
        let adapter = TelegramAdapter::new(config, self.store.clone()).unwrap();
        let gateway = GatewayConfig {
            allow_all_users: true,
            ..GatewayConfig::default()
        };
        let gateway = Gateway::builder(
            self.store.clone(),
            Arc::new(hermod_testkit::ScriptedAgent::echo()),
            gateway,
        )
        .adapter(Arc::new(adapter.clone()))
        .output_dir(self.dir.path().join("output"))
        .build()
        .unwrap();
        let ctx = AdapterContext {
            inbound: gateway.inbound(),
            shutdown: CancellationToken::new(),
        };
        Direct {
            adapter,
            ctx,
            _gateway: gateway,
        }
    }
}

/// An adapter and the context to run it with (see [`World::direct`]).
pub struct Direct {
    pub adapter: TelegramAdapter,
    pub ctx: AdapterContext,
    _gateway: Gateway,
}

impl Direct {
    /// Where the adapter reports its state.
    pub fn health(&self) -> &Health {
        self.ctx.inbound.health()
    }

    /// Runs the adapter in a task; cancel `ctx.shutdown` to stop it.
    pub fn spawn(&self) -> JoinHandle<Result<(), hermod_core::AdapterError>> {
        let adapter = self.adapter.clone();
        let ctx = self.ctx.clone();
        tokio::spawn(async move { hermod_core::Adapter::run(&adapter, ctx).await })
    }
}

/// A gateway running on a [`World`]; stopped when dropped.
pub struct Running {
    pub adapter: TelegramAdapter,
    /// The gateway's view of every component.
    pub health: Health,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Running {
    /// Stops the gateway and waits until it has shut down.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            within("the gateway to stop", task).await.unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Why Telegram is reported degraded; fails the test when it is not.
pub fn degraded_reason(health: &Health) -> String {
    match health.get("telegram").map(|s| s.state) {
        Some(ComponentState::Degraded { reason }) => reason,
        other => panic!("expected telegram to be degraded, got {other:?}"),
    }
}

/// Waits until `chat_id` has at least `n` messages from the bot and none
/// still shows the streaming cursor (every reply finished).
pub async fn settled(fake: &FakeTelegram, chat_id: i64, n: usize) -> Vec<FakeMessage> {
    within(
        "the replies to finish",
        fake.wait_for(chat_id, |m| {
            m.len() >= n && m.iter().all(|m| !m.current_text().contains('▉'))
        }),
    )
    .await
}

/// The text a message shows now.
pub fn texts(messages: &[FakeMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.current_text().to_owned())
        .collect()
}

/// The pairing code in a bot message (`<code>XXXX</code>` in its HTML).
pub fn pairing_code(message: &FakeMessage) -> String {
    let raw = message.current_raw_text();
    let start = raw.find("<code>").unwrap() + "<code>".len();
    let end = start + raw[start..].find("</code>").unwrap();
    raw[start..end].to_owned()
}
