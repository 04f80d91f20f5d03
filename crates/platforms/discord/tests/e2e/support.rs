//! The test world: a fake Discord and a store that outlive the gateways
//! started on them, so a test can stop one gateway and start another on
//! the same state.

use hermod_agent::Agent;
use hermod_core::{ComponentState, Gateway, GatewayConfig, Health, StreamingConfig};
use hermod_discord::{DiscordAdapter, DiscordConfig};
use hermod_model::Secret;
use hermod_store::SqliteStore;
use hermod_testkit::FakeDiscord;
use hermod_testkit::discord::SentMessage;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Longest any single wait in these tests may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// Awaits `future`, failing the test if it takes longer than [`PATIENCE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

pub struct World {
    pub fake: FakeDiscord,
    pub store: Arc<SqliteStore>,
    dir: tempfile::TempDir,
}

impl World {
    pub async fn new() -> Self {
        Self::on(FakeDiscord::start().await)
    }

    pub fn on(fake: FakeDiscord) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("hermod.db")).unwrap());
        Self { fake, store, dir }
    }

    pub fn config(&self) -> DiscordConfig {
        let mut config = DiscordConfig {
            bot_token: Some(Secret::new(self.fake.token())),
            api_base_url: self.fake.api_base_url(),
            request_timeout_secs: 5,
            max_reconnect_delay_secs: 2,
            ..DiscordConfig::default()
        };
        config.set_media_dir(self.dir.path().join("media"));
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
        config: DiscordConfig,
    ) -> Running {
        let adapter = DiscordAdapter::new(config).unwrap();
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
}

/// A gateway running on a [`World`]; stopped when dropped.
pub struct Running {
    /// For calling the adapter's own methods (threads).
    #[allow(dead_code, reason = "not every test calls the adapter directly")]
    pub adapter: DiscordAdapter,
    pub health: Health,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Running {
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            within("the gateway to stop", task).await.unwrap();
        }
    }

    /// Waits until Discord is reported running (READY or RESUMED seen).
    pub async fn connected(&self) {
        let mut changes = self.health.subscribe();
        within("Discord to connect", async {
            loop {
                if matches!(
                    self.health.get("discord").map(|s| s.state),
                    Some(ComponentState::Running)
                ) {
                    return;
                }
                changes.changed().await.unwrap();
            }
        })
        .await;
    }

    /// Waits until Discord is marked failed; returns the reason.
    pub async fn failed(&self) -> String {
        let mut changes = self.health.subscribe();
        within("Discord to fail", async {
            loop {
                if let Some(ComponentState::Failed { reason }) =
                    self.health.get("discord").map(|s| s.state)
                {
                    return reason;
                }
                changes.changed().await.unwrap();
            }
        })
        .await
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Waits until `channel` has at least `n` bot messages and none still
/// shows the streaming cursor.
pub async fn settled(fake: &FakeDiscord, channel: u64, n: usize) -> Vec<SentMessage> {
    within(
        "the replies to finish",
        fake.wait_for(channel, |m| {
            m.len() >= n && m.iter().all(|m| !m.current_content().contains('▉'))
        }),
    )
    .await
}

pub fn texts(messages: &[SentMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.current_content().to_owned())
        .collect()
}
