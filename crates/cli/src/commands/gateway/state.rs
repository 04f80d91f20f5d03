//! `gateway_state.json`: the running gateway's [`GatewayStatus`], kept
//! current for `hermod gateway status`, `/health/detailed` (through the
//! [`StatusBoard`]) and systemd (`STATUS=`, `READY=1`, `STOPPING=1`).
//!
//! [`keep`] rewrites it whenever a component's state changes — once the
//! changes have settled for [`DEBOUNCE`], so a flapping platform does not
//! turn into a stream of writes — and every [`REFRESH`] for the counts
//! (sessions, running turns, outbox backlog) that change without a health event. Both
//! timers are tokio's. The file is replaced whole each time (see
//! `files`), and is left in place with its final state (`stopped` or
//! `failed` and the reason) when the gateway ends.

use super::files;
use super::notify::Notifier;
use hermod_core::{
    ComponentState, GatewayPhase, GatewayStatus, Health, Metrics, OUTBOX_COUNT_LIMIT, Router,
    StatusBoard, now_ms,
};
use hermod_store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::warn;

pub const STATE_FILE: &str = "gateway_state.json";

/// How long health changes must settle before the file is written.
pub const DEBOUNCE: Duration = Duration::from_millis(250);
/// How often the file is written when nothing changes.
pub const REFRESH: Duration = Duration::from_secs(30);

/// The numbers the status shows besides the components' states.
pub(super) trait Counts {
    fn active_sessions(&self) -> usize;
    fn running_turns(&self) -> usize;
    async fn outbox_pending(&self) -> Option<usize>;
}

/// The running gateway's counts.
pub struct GatewayCounts {
    pub router: Router,
    pub metrics: Metrics,
    pub store: Arc<dyn Store>,
}

impl Counts for GatewayCounts {
    fn active_sessions(&self) -> usize {
        self.router.active_workers()
    }

    fn running_turns(&self) -> usize {
        self.metrics.turns_running()
    }

    async fn outbox_pending(&self) -> Option<usize> {
        const PAGE: usize = 200;
        let mut count = 0;
        let mut after = 0;
        while count < OUTBOX_COUNT_LIMIT {
            let page = match self.store.outbox_pending(after, PAGE).await {
                Ok(page) => page,
                Err(e) => {
                    warn!(error = %e, "cannot count the outbox for the status file");
                    return None;
                }
            };
            count += page.len();
            match page.last() {
                Some(last) if page.len() == PAGE => after = last.id,
                _ => break,
            }
        }
        Some(count.min(OUTBOX_COUNT_LIMIT))
    }
}

/// The status file, its last content and where else it is published.
pub struct StatusFile {
    path: PathBuf,
    status: GatewayStatus,
    board: StatusBoard,
    notifier: Notifier,
    /// The last `STATUS=` line sent, so an unchanged one is not resent.
    last_line: String,
}

impl StatusFile {
    pub fn new(home: &Path, status: GatewayStatus, board: StatusBoard, notifier: Notifier) -> Self {
        Self {
            path: home.join(STATE_FILE),
            status,
            board,
            notifier,
            last_line: String::new(),
        }
    }

    /// Moves to `phase`, telling systemd what it needs to know.
    fn enter(&mut self, phase: GatewayPhase) {
        if self.status.state == phase {
            return;
        }
        let was_live = self.status.state.is_live()
            && !matches!(
                self.status.state,
                GatewayPhase::Draining | GatewayPhase::Stopping
            );
        self.status.state = phase;
        match phase {
            GatewayPhase::Running => self.notifier.send("READY=1"),
            GatewayPhase::Draining
            | GatewayPhase::Stopping
            | GatewayPhase::Stopped
            | GatewayPhase::Failed
                if was_live =>
            {
                self.notifier.send("STOPPING=1");
            }
            _ => {}
        }
    }

    /// Writes the file and publishes the status.
    pub fn publish(&mut self) {
        self.status.updated_at_ms = now_ms();
        match serde_json::to_vec_pretty(&self.status) {
            Ok(bytes) => {
                if let Err(e) = files::write_atomic(&self.path, &bytes) {
                    warn!(error = %format!("{e:#}"), "cannot write the status file");
                }
            }
            Err(e) => warn!(error = %e, "cannot serialize the status"),
        }
        self.board.publish(self.status.clone());
        let line = summary(&self.status);
        if line != self.last_line {
            self.notifier.status(&line);
            self.last_line = line;
        }
    }

    /// Records that the gateway is closing the store.
    pub fn stopping(&mut self) {
        self.enter(GatewayPhase::Stopping);
        self.publish();
    }

    /// The final state: `Ok` with how it was stopped, or the error it
    /// failed with.
    pub fn finish(mut self, outcome: Result<String, String>) {
        let (phase, reason) = match outcome {
            Ok(reason) => (GatewayPhase::Stopped, reason),
            Err(reason) => (GatewayPhase::Failed, reason),
        };
        self.enter(phase);
        self.status.exit_reason = Some(reason);
        self.status.active_sessions = 0;
        self.status.running_turns = 0;
        self.publish();
    }

    /// Reads the counts and the components' states, and moves from
    /// starting to running once every adapter has left `connecting`.
    async fn refresh(&mut self, health: &Health, adapters: &[String], counts: &impl Counts) {
        let report = health.report();
        self.status.apply_health(&report);
        if self.status.state == GatewayPhase::Starting
            && adapters.iter().all(|a| {
                report
                    .components
                    .get(a)
                    .is_some_and(|c| c.state != ComponentState::Connecting)
            })
        {
            self.enter(GatewayPhase::Running);
        }
        self.status.active_sessions = counts.active_sessions();
        self.status.running_turns = counts.running_turns();
        self.status.outbox_pending = counts.outbox_pending().await;
        self.publish();
    }
}

/// One line for systemd's `STATUS=`: the phase and what is wrong.
fn summary(status: &GatewayStatus) -> String {
    let phase = serde_json::to_value(status.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let problems: Vec<String> = status
        .components
        .iter()
        .filter_map(|(name, c)| {
            c.reason
                .as_ref()
                .map(|r| format!("{name} {}: {r}", c.state))
        })
        .collect();
    if problems.is_empty() {
        format!(
            "{phase}; {} sessions active, {} turns running",
            status.active_sessions, status.running_turns
        )
    } else {
        format!("{phase}; {}", problems.join("; "))
    }
}

/// Keeps the status file current until `stop`; marks it draining when
/// `shutdown` is cancelled. `adapters` are the platforms' component names.
pub async fn keep(
    file: &mut StatusFile,
    health: Health,
    adapters: Vec<String>,
    counts: &impl Counts,
    shutdown: CancellationToken,
    stop: CancellationToken,
) {
    let mut changes = health.subscribe();
    let mut slow = tokio::time::interval(REFRESH);
    slow.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is now: it writes the first full status.
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            () = shutdown.cancelled(), if file.status.state.is_live()
                && !matches!(file.status.state, GatewayPhase::Draining | GatewayPhase::Stopping) =>
            {
                file.enter(GatewayPhase::Draining);
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    // Every handle to the health is gone; the timer goes on.
                    changes = Health::default().subscribe();
                    continue;
                }
                // While starting, at once: "running" is what a service
                // manager and `status` wait for.
                if file.status.state != GatewayPhase::Starting {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(DEBOUNCE) => {}
                    }
                }
            }
            _ = slow.tick() => {}
        }
        changes.borrow_and_update();
        file.refresh(&health, &adapters, counts).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts how often the status was refreshed.
    #[derive(Default)]
    struct Probe {
        refreshes: AtomicUsize,
    }

    impl Counts for Probe {
        fn active_sessions(&self) -> usize {
            self.refreshes.fetch_add(1, Ordering::SeqCst);
            2
        }
        fn running_turns(&self) -> usize {
            1
        }
        async fn outbox_pending(&self) -> Option<usize> {
            Some(3)
        }
    }

    fn read(home: &Path) -> GatewayStatus {
        let bytes = std::fs::read(home.join(STATE_FILE)).expect("status file");
        serde_json::from_slice(&bytes).expect("status JSON")
    }

    #[tokio::test(start_paused = true)]
    async fn changes_are_written_once_settled_and_the_counts_on_a_slow_timer() {
        let home = tempfile::tempdir().unwrap();
        let health = Health::default();
        let board = StatusBoard::default();
        let mut file = StatusFile::new(
            home.path(),
            GatewayStatus::starting(1, "0", 0),
            board.clone(),
            Notifier::default(),
        );
        let probe = Arc::new(Probe::default());
        let shutdown = CancellationToken::new();
        let stop = CancellationToken::new();
        let task = {
            let (health, probe, shutdown, stop) = (
                health.clone(),
                probe.clone(),
                shutdown.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                keep(
                    &mut file,
                    health,
                    vec!["chat".into()],
                    probe.as_ref(),
                    shutdown,
                    stop,
                )
                .await;
                file
            })
        };
        let refreshes = || probe.refreshes.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(refreshes(), 1, "written at once");
        let status = read(home.path());
        assert_eq!(status.state, GatewayPhase::Starting);
        assert_eq!(
            (
                status.active_sessions,
                status.running_turns,
                status.outbox_pending
            ),
            (2, 1, Some(3))
        );

        // While starting, each change is written at once.
        health.set("chat", ComponentState::Connecting);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(refreshes(), 2);
        assert_eq!(read(home.path()).state, GatewayPhase::Starting);
        health.set("chat", ComponentState::Running);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(refreshes(), 3);
        assert_eq!(read(home.path()).state, GatewayPhase::Running);

        // Then a burst of changes is one write, after it settles.
        health.degraded("chat", "peer answers 502");
        tokio::time::sleep(Duration::from_millis(100)).await;
        health.degraded("chat", "peer answers 503");
        tokio::time::sleep(Duration::from_millis(100)).await;
        health.degraded("chat", "peer answers 502");
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(refreshes(), 3, "not before the changes settle");
        tokio::time::sleep(DEBOUNCE).await;
        assert_eq!(refreshes(), 4);
        let status = read(home.path());
        assert_eq!(
            status.components["chat"].last_error.as_deref(),
            Some("peer answers 502")
        );
        assert_eq!(board.latest().unwrap(), status);

        // Nothing changes: the slow timer writes.
        tokio::time::sleep(REFRESH - DEBOUNCE * 3).await;
        assert_eq!(refreshes(), 4);
        tokio::time::sleep(DEBOUNCE * 3).await;
        assert_eq!(refreshes(), 5);

        shutdown.cancel();
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(read(home.path()).state, GatewayPhase::Draining);
        assert_eq!(refreshes(), 6);
        stop.cancel();
        let file = task.await.unwrap();
        file.finish(Ok("stopped by SIGTERM".into()));
        let status = read(home.path());
        assert_eq!(status.state, GatewayPhase::Stopped);
        assert_eq!(status.exit_reason.as_deref(), Some("stopped by SIGTERM"));
    }
}
