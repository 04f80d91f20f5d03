//! [`RunsState`]: the runs the API knows, by id, with their memory bound.
//!
//! A run's event stream is kept [`STREAM_TTL`] after the run ends, its
//! status [`STATUS_TTL`] (Hermes' 300 s and 3600 s). At most `keep` runs
//! are kept in all: a new run pushes out the oldest finished one, and when
//! every kept run is still going a new one is refused with `429`. Expired
//! records are swept on tokio's clock, on every access and once a minute
//! by a task that ends with the state.

use super::run::Run;
use crate::error::ApiError;
use axum::http::StatusCode;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::time::Instant;

/// How long a run's event stream is kept after the run ends.
pub(crate) const STREAM_TTL: Duration = Duration::from_secs(300);
/// How long a run's status is kept after the run ends.
pub(crate) const STATUS_TTL: Duration = Duration::from_secs(3600);
/// How often the sweeper runs.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub(crate) struct RunsState {
    registry: Arc<Mutex<Registry>>,
    /// Set once the sweeper task was started (on the first run: the state
    /// is built before the runtime may be running).
    sweeping: Arc<AtomicBool>,
    /// Bytes of events kept per run.
    pub(crate) buffer_cap: usize,
}

impl std::fmt::Debug for RunsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let registry = self.lock();
        f.debug_struct("RunsState")
            .field("runs", &registry.runs.len())
            .field("keep", &registry.keep)
            .finish()
    }
}

#[derive(Debug)]
struct Registry {
    runs: HashMap<String, Arc<Run>>,
    /// Run ids, oldest first.
    order: VecDeque<String>,
    keep: usize,
}

impl RunsState {
    pub(crate) fn with_limits(keep: usize, buffer_cap: usize) -> Self {
        Self {
            registry: Arc::new(Mutex::new(Registry {
                runs: HashMap::new(),
                order: VecDeque::new(),
                keep: keep.max(1),
            })),
            sweeping: Arc::new(AtomicBool::new(false)),
            buffer_cap,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a new run, making room by dropping the oldest finished run, or
    /// refuses it when all kept runs are still going.
    pub(crate) fn insert(&self, run: Arc<Run>) -> Result<(), ApiError> {
        self.start_sweeper();
        let mut registry = self.lock();
        registry.sweep(Instant::now());
        if registry.runs.len() >= registry.keep {
            let oldest_finished = registry
                .order
                .iter()
                .position(|id| registry.runs.get(id).is_none_or(|r| !r.is_live()));
            match oldest_finished {
                Some(i) => {
                    if let Some(id) = registry.order.remove(i) {
                        registry.runs.remove(&id);
                    }
                }
                None => return Err(too_many_runs(registry.keep)),
            }
        }
        registry.order.push_back(run.id.clone());
        registry.runs.insert(run.id.clone(), run);
        Ok(())
    }

    /// The run `id`, if it is still kept.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Run>> {
        let mut registry = self.lock();
        registry.sweep(Instant::now());
        registry.runs.get(id).cloned()
    }

    /// Sweeps once a minute while the state lives.
    fn start_sweeper(&self) {
        if self.sweeping.swap(true, Ordering::Relaxed) {
            return;
        }
        let registry: Weak<Mutex<Registry>> = Arc::downgrade(&self.registry);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // The server is gone: nothing left to sweep.
                let Some(registry) = registry.upgrade() else {
                    return;
                };
                registry
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .sweep(Instant::now());
            }
        });
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().runs.len()
    }
}

impl Registry {
    /// Drops the streams and statuses whose time after the end is up.
    fn sweep(&mut self, now: Instant) {
        let mut gone = Vec::new();
        for (id, run) in &self.runs {
            let Some(ended) = run.ended_at() else {
                continue;
            };
            let since = now.saturating_duration_since(ended);
            if since >= STATUS_TTL {
                gone.push(id.clone());
            } else if since >= STREAM_TTL && run.has_events() {
                run.expire_events();
            }
        }
        if gone.is_empty() {
            return;
        }
        for id in &gone {
            self.runs.remove(id);
        }
        self.order.retain(|id| self.runs.contains_key(id));
    }
}

fn too_many_runs(keep: usize) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_error",
        "rate_limit_exceeded",
        format!(
            "Too many runs in progress (the server keeps {keep}); retry when one has finished."
        ),
    );
    error.retry_after = Some(Duration::from_secs(1));
    error
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;
    use crate::runs::run::Ending;

    fn run(id: &str) -> Arc<Run> {
        Arc::new(Run::new(id.into(), id, "hermod", 1 << 16))
    }

    fn done(run: &Run) {
        run.end(Ending::Failed { error: "x".into() });
    }

    #[tokio::test(start_paused = true)]
    async fn the_stream_expires_after_five_minutes_and_the_status_after_an_hour() {
        let state = RunsState::with_limits(10, 1 << 16);
        let a = run("a");
        state.insert(a.clone()).unwrap();
        // A run still going is kept however long it takes.
        tokio::time::advance(STATUS_TTL * 2).await;
        assert!(state.get("a").unwrap().read(0).is_some());
        done(&a);
        tokio::time::advance(STREAM_TTL - Duration::from_secs(1)).await;
        assert!(state.get("a").unwrap().read(0).is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        let kept = state.get("a").unwrap();
        assert!(kept.read(0).is_none(), "the stream is gone");
        assert_eq!(kept.status()["status"], "failed", "the status is not");
        tokio::time::advance(STATUS_TTL - STREAM_TTL - Duration::from_secs(1)).await;
        assert!(state.get("a").is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(state.get("a").is_none());
        assert_eq!(state.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_sweeper_drops_expired_runs_without_any_request() {
        let state = RunsState::with_limits(10, 1 << 16);
        let a = run("a");
        state.insert(a.clone()).unwrap();
        done(&a);
        drop(a);
        tokio::time::sleep(STATUS_TTL + SWEEP_EVERY).await;
        // Read without sweeping: the task did it.
        assert_eq!(state.lock().runs.len(), 0);
    }

    #[tokio::test]
    async fn a_new_run_pushes_out_the_oldest_finished_one_or_is_refused() {
        let state = RunsState::with_limits(2, 1 << 16);
        let b = run("b");
        state.insert(run("a")).unwrap();
        state.insert(b.clone()).unwrap();
        let refused = state.insert(run("c")).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.code, "rate_limit_exceeded");
        done(&b);
        state.insert(run("c")).unwrap();
        assert!(state.get("b").is_none(), "the finished one made room");
        assert!(state.get("a").is_some(), "the running one stays");
        assert_eq!(state.len(), 2);
    }
}
