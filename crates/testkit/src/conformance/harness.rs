//! What every check runs in: the log capture, a real gateway around the
//! adapter, the adapter's `run` task, and change-woken waits.

use super::{Peer, Subject, assert_hides_secrets};
use crate::agent::ScriptedAgent;
use crate::harness::{Launch, PATIENCE, allow_all, within};
use async_trait::async_trait;
use hermod_core::{
    Adapter, AdapterContext, AdapterError, DmBehavior, Gateway, GatewayConfig, Messenger,
    StreamingConfig,
};
use hermod_model::{Capabilities, Edit, MessageRef, Outbound, PlatformId, Sent};
use hermod_store::SqliteStore;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::subscriber::DefaultGuard;

/// Everything written through `tracing` while installed.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Captures every event at every level on this thread until the
    /// guard drops.
    fn install(&self) -> DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub(crate) fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The adapter as the gateway sees it: the same, plus a wake-up after
/// every send, edit and delete, so checks wait on changes, not on time.
struct Observed {
    inner: Arc<dyn Adapter>,
    changed: Arc<Notify>,
}

#[async_trait]
impl Adapter for Observed {
    fn id(&self) -> PlatformId {
        self.inner.id()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        self.inner.run(ctx).await
    }

    fn messenger(&self) -> Option<&dyn Messenger> {
        // A messenger exactly when the adapter observed has one.
        self.inner.messenger().map(|_| self as &dyn Messenger)
    }
}

impl Observed {
    fn inner_messenger(&self) -> Result<&dyn Messenger, AdapterError> {
        self.inner
            .messenger()
            .ok_or_else(|| AdapterError::NoMessenger(self.inner.id()))
    }
}

#[async_trait]
impl Messenger for Observed {
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        let result = self.inner_messenger()?.send(message).await;
        self.changed.notify_waiters();
        result
    }

    async fn edit(&self, edit: Edit) -> Result<(), AdapterError> {
        let result = self.inner_messenger()?.edit(edit).await;
        self.changed.notify_waiters();
        result
    }

    async fn delete(&self, message: MessageRef) -> Result<(), AdapterError> {
        let result = self.inner_messenger()?.delete(message).await;
        self.changed.notify_waiters();
        result
    }
}

/// How the gateway answers direct messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replies {
    /// Not at all (users are not allowed; their DMs are ignored), so only
    /// the check's own sends reach the chat.
    Off,
    /// With the echo `echo: <text> (<n> earlier)`.
    Echo,
}

/// A subject running against a gateway, with logs captured.
pub(crate) struct Harness {
    pub(crate) adapter: Arc<dyn Adapter>,
    pub(crate) peer: Arc<dyn Peer>,
    pub(crate) agent: ScriptedAgent,
    pub(crate) logs: LogCapture,
    changed: Arc<Notify>,
    shutdown: CancellationToken,
    run: Option<JoinHandle<Result<(), AdapterError>>>,
    // Declared last: dropped after everything above.
    _gateway: Gateway,
    _log_guard: DefaultGuard,
}

impl Harness {
    /// Captures logs, builds the subject, and runs its adapter against a
    /// fresh gateway until it is receiving.
    pub(crate) async fn start(subject: impl Future<Output = Subject>, replies: Replies) -> Self {
        let logs = LogCapture::default();
        let log_guard = logs.install();
        let Subject { adapter, peer } = subject.await;
        assert!(
            adapter.messenger().is_some(),
            "{}: a chat adapter must have a messenger (`Adapter::messenger` returned None), \
             or nothing can be sent to its chats",
            adapter.id()
        );
        let changed = Arc::new(Notify::new());
        let observed = Arc::new(Observed {
            inner: adapter.clone(),
            changed: changed.clone(),
        });
        let agent = ScriptedAgent::echo();
        let config = match replies {
            Replies::Echo => allow_all(),
            Replies::Off => GatewayConfig {
                unauthorized_dm_behavior: Some(DmBehavior::Ignore),
                ..GatewayConfig::default()
            },
        };
        let store = Arc::new(SqliteStore::open_in_memory().expect("an in-memory store"));
        let gateway = Launch::new(store, Arc::new(agent.clone()))
            .config(config)
            .streaming(StreamingConfig {
                enabled: false,
                ..StreamingConfig::default()
            })
            .adapter(observed)
            .build();
        let shutdown = CancellationToken::new();
        let ctx = AdapterContext {
            inbound: gateway.inbound(),
            shutdown: shutdown.clone(),
        };
        let running = adapter.clone();
        let run = tokio::spawn(async move { running.run(ctx).await });
        within(
            "the adapter to start receiving",
            peer.wait_until_receiving(),
        )
        .await;
        Self {
            adapter,
            peer,
            agent,
            logs,
            changed,
            shutdown,
            run: Some(run),
            _gateway: gateway,
            _log_guard: log_guard,
        }
    }

    /// The messenger of the adapter under test (checked when it started).
    pub(crate) fn messenger(&self) -> &dyn Messenger {
        self.adapter
            .messenger()
            .expect("a chat adapter must have a messenger")
    }

    /// Whether `run` has returned.
    pub(crate) fn run_finished(&self) -> bool {
        self.run.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Cancels the shutdown token; returns what `run` returned and how
    /// long after the cancellation, failing when that took over `limit`.
    pub(crate) async fn stop(&mut self, limit: Duration) -> (Result<(), AdapterError>, Duration) {
        let run = self.run.take().expect("the adapter is running");
        let cancelled = Instant::now();
        self.shutdown.cancel();
        match tokio::time::timeout(limit, run).await {
            Ok(joined) => {
                let result = joined.unwrap_or_else(|e| panic!("run panicked: {e}"));
                (result, cancelled.elapsed())
            }
            Err(_) => {
                panic!("run did not return within {limit:?} of its shutdown token being cancelled")
            }
        }
    }

    /// Waits until the messages of `chat_id` satisfy `done`; returns them.
    pub(crate) async fn wait_for_messages(
        &self,
        chat_id: &str,
        what: &str,
        done: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        within(what, async {
            loop {
                let notified = self.changed.notified();
                let mut notified = std::pin::pin!(notified);
                // Registered before looking, so no change slips in between.
                notified.as_mut().enable();
                let messages = self.peer.messages(chat_id).await;
                if done(&messages) {
                    return messages;
                }
                notified.await;
            }
        })
        .await
    }

    /// Checks the captured logs, then stops the adapter if it still runs.
    pub(crate) async fn finish(mut self) {
        if self.run.is_some() {
            // Stopping is checked elsewhere; here it only must not hang.
            let _ = self.stop(PATIENCE).await;
        }
        let secrets = self.peer.secrets();
        assert_hides_secrets("the log output", &self.logs.text(), &secrets);
    }
}
