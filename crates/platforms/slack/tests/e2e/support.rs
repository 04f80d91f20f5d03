//! The test world: a fake Slack and a store that outlive the gateways
//! started on them, so a test can stop one gateway and start another on
//! the same state.

use hermod_adapter_kit::WebhookConfig;
use hermod_agent::Agent;
use hermod_core::{AdapterContext, Gateway, GatewayConfig, StreamingConfig};
use hermod_model::Secret;
use hermod_slack::{SlackAdapter, SlackConfig};
use hermod_store::SqliteStore;
use hermod_testkit::FakeSlack;
use hermod_testkit::FlakyStore;
use hermod_testkit::slack::{BotMessage, SlackConfig as FakeConfig};
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
    pub fake: FakeSlack,
    pub store: Arc<FlakyStore>,
    dir: tempfile::TempDir,
}

impl World {
    pub async fn new() -> Self {
        Self::with_fake(FakeConfig::default()).await
    }

    /// A world whose fake times acks, retries and disconnects as `fake`
    /// says.
    pub async fn with_fake(fake: FakeConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = SqliteStore::open(&dir.path().join("hermod.db")).unwrap();
        Self {
            fake: FakeSlack::with_config(fake).await,
            store: Arc::new(FlakyStore::new(Arc::new(sqlite))),
            dir,
        }
    }

    /// Socket Mode against the fake.
    pub fn config(&self) -> SlackConfig {
        let fake = self.fake.config();
        SlackConfig {
            bot_token: Some(Secret::new(&fake.bot_token)),
            app_token: Some(Secret::new(&fake.app_token)),
            api_base_url: self.fake.api_base_url(),
            request_timeout_secs: 5,
            max_reconnect_delay_secs: 2,
            ..SlackConfig::default()
        }
    }

    /// The Events API: no app token, the signing secret, a listener on a
    /// free local port.
    pub fn events_config(&self) -> SlackConfig {
        SlackConfig {
            app_token: None,
            signing_secret: Some(Secret::new(&self.fake.config().signing_secret)),
            webhooks: WebhookConfig {
                host: Some("127.0.0.1".into()),
                port: Some(0),
                ..WebhookConfig::default()
            },
            ..self.config()
        }
    }

    /// Every secret of the app, for checks that none is shown.
    pub fn secrets(&self) -> Vec<String> {
        let fake = self.fake.config();
        vec![
            fake.bot_token.clone(),
            fake.app_token.clone(),
            fake.signing_secret.clone(),
        ]
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
        config: SlackConfig,
    ) -> Running {
        let adapter = SlackAdapter::new(config).unwrap();
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
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(gateway.run(shutdown.clone()));
        Running {
            adapter,
            shutdown,
            task: Some(task),
        }
    }

    /// An adapter to call `run` on directly, with a context from a gateway
    /// that is never run (its router accepts submissions).
    pub fn direct(&self, config: SlackConfig) -> Direct {
        let adapter = SlackAdapter::new(config).unwrap();
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
    pub adapter: SlackAdapter,
    pub ctx: AdapterContext,
    _gateway: Gateway,
}

impl Direct {
    pub fn spawn(&self) -> JoinHandle<Result<(), hermod_core::AdapterError>> {
        let adapter = self.adapter.clone();
        let ctx = self.ctx.clone();
        tokio::spawn(async move { hermod_core::Adapter::run(&adapter, ctx).await })
    }
}

/// A gateway running on a [`World`]; stopped when dropped.
pub struct Running {
    pub adapter: SlackAdapter,
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

/// Waits until `channel` has at least `n` bot messages and none still
/// shows the streaming cursor.
pub async fn settled(fake: &FakeSlack, channel: &str, n: usize) -> Vec<BotMessage> {
    within(
        "the replies to finish",
        fake.wait_for(channel, |m| {
            m.len() >= n && m.iter().all(|m| !m.current_text().contains('▉'))
        }),
    )
    .await
}

/// The text each message shows now.
pub fn texts(messages: &[BotMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.current_text().to_owned())
        .collect()
}
