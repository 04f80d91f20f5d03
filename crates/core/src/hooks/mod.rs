//! Hooks: the operator's programs and URLs told of what the gateway does,
//! and asked about commands (Hermes' `gateway/hooks.py`, with any
//! executable in place of a Python module).
//!
//! [`Hooks`] holds the hooks loaded from `HERMOD_HOME/hooks` at start (they
//! are read once; a restart picks up changes). Events that only inform
//! ([`Hooks::emit`]) run in the background: at most [`CONCURRENCY`] at a
//! time, at most [`QUEUE`] waiting, and an event that finds the queue full
//! is dropped with a warning, so hooks never slow a turn down. A
//! `command:<name>` event is a decision ([`Hooks::decide`]): the command
//! waits for each matching hook, at most its timeout, and the first
//! verdict other than allow wins. A hook that fails, times out or answers
//! garbage is logged at WARN and counts as no opinion.

mod decision;
mod event;
mod exec;
mod manifest;
mod url;

pub use decision::Decision;
pub use event::{EVENTS, HookEvent};
pub use exec::Ran;
pub use manifest::{DEFAULT_TIMEOUT, Handler, Hook, Problem};

pub(crate) use event::{
    AGENT_END, AGENT_START, AGENT_STEP, DELIVERY_FAILED, DELIVERY_SENT, GATEWAY_SHUTDOWN,
    GATEWAY_STARTUP, MESSAGE_RECEIVED, SESSION_END, SESSION_RESET, SESSION_START, capped,
};

use hermod_http::HttpClient;
use hermod_model::EnvVars;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

/// Events whose hooks run at the same time.
pub const CONCURRENCY: usize = 4;
/// Events waiting for their hooks to run; beyond this they are dropped.
pub const QUEUE: usize = 256;

/// The gateway's hooks. Cheap to clone; clones share the hooks and the
/// background queue.
#[derive(Debug, Clone)]
pub struct Hooks {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    hooks: Vec<Hook>,
    problems: Vec<Problem>,
    /// `HERMOD_HOME`, given to every hook.
    home: PathBuf,
    /// For URL hooks: the gateway's shared client.
    http: Option<HttpClient>,
    /// Events queued or running: one permit each.
    queued: Arc<Semaphore>,
    /// Events running: one permit each.
    running: Arc<Semaphore>,
    /// Owns the background runs; [`Hooks::finish`] waits for them.
    tracker: TaskTracker,
    /// Cancelled when the gateway stops waiting: URL hooks stop retrying.
    stop: CancellationToken,
}

impl Default for Hooks {
    fn default() -> Self {
        Self::new(Vec::new(), Vec::new(), PathBuf::new(), None)
    }
}

/// What one hook did with an event (`hermod hooks test`).
#[derive(Debug, Clone)]
pub struct HookReport {
    pub hook: String,
    pub handler: String,
    /// What the run produced, or why it did not finish.
    pub ran: Result<Ran, String>,
    /// The verdict read from its stdout, for a decision event.
    pub decision: Option<Result<Option<Decision>, String>>,
}

impl Hooks {
    fn new(
        hooks: Vec<Hook>,
        problems: Vec<Problem>,
        home: PathBuf,
        http: Option<HttpClient>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                hooks,
                problems,
                home,
                http,
                queued: Arc::new(Semaphore::new(QUEUE + CONCURRENCY)),
                running: Arc::new(Semaphore::new(CONCURRENCY)),
                tracker: TaskTracker::new(),
                stop: CancellationToken::new(),
            }),
        }
    }

    /// No hooks: every event is a no-op.
    pub fn none() -> Self {
        Self::default()
    }

    /// The hooks in `home/hooks`, with `env` (the process environment and
    /// `.env`) for `secret_env`, and `http` for URL hooks. Problems are
    /// kept for [`Hooks::problems`], never fatal.
    pub fn load(home: &Path, env: &EnvVars, http: HttpClient) -> Self {
        let (hooks, problems) = manifest::load_dir(&home.join("hooks"), env);
        Self::new(hooks, problems, home.to_owned(), Some(http))
    }

    pub fn hooks(&self) -> &[Hook] {
        &self.inner.hooks
    }

    /// Hook directories skipped, and caveats about loaded hooks.
    pub fn problems(&self) -> &[Problem] {
        &self.inner.problems
    }

    pub fn is_empty(&self) -> bool {
        self.inner.hooks.is_empty()
    }

    /// The hooks `event` reaches, in the order they run. URL hooks never
    /// get decision events.
    pub fn matching(&self, event: &HookEvent) -> Vec<&Hook> {
        event::matching(&self.inner.hooks, event.name())
            .into_iter()
            .filter(|h| !event.is_decision() || matches!(h.handler, Handler::Run(_)))
            .collect()
    }

    /// Tells the hooks of `event` in the background; never waits.
    pub(crate) fn emit(&self, event: HookEvent) {
        if self.matching(&event).is_empty() {
            return;
        }
        let inner = &self.inner;
        if inner.tracker.is_closed() {
            debug!(
                event = event.name(),
                "the gateway has stopped; hook event not sent"
            );
            return;
        }
        let Ok(slot) = Arc::clone(&inner.queued).try_acquire_owned() else {
            warn!(
                event = event.name(),
                queued = QUEUE,
                "hook queue full; event dropped"
            );
            return;
        };
        let hooks = self.clone();
        inner.tracker.spawn(async move {
            let _slot = slot;
            let Ok(_running) = hooks.inner.running.acquire().await else {
                return;
            };
            for hook in hooks.matching(&event) {
                hooks.run_one(hook, &event).await;
            }
        });
    }

    /// Asks the hooks of a decision event, in order, each for at most its
    /// timeout; the first verdict other than allow. `None` when none
    /// objected.
    pub(crate) async fn decide(&self, event: &HookEvent) -> Option<Decision> {
        for hook in self.matching(event) {
            let report = self.run_one(hook, event).await;
            match report.decision {
                Some(Ok(Some(Decision::Allow) | None)) | None => {}
                Some(Ok(Some(decision))) => {
                    debug!(hook = %hook.name, event = event.name(), ?decision, "a hook decided");
                    return Some(decision);
                }
                Some(Err(reason)) => {
                    warn!(hook = %hook.name, event = event.name(), %reason, "hook answered no decision; skipped");
                }
            }
        }
        None
    }

    /// Runs every hook `event` reaches, one after another, and reports
    /// what each did (`hermod hooks test`).
    pub async fn test(&self, event: &HookEvent) -> Vec<HookReport> {
        let mut reports = Vec::new();
        for hook in self.matching(event) {
            reports.push(self.run_one(hook, event).await);
        }
        reports
    }

    /// Runs one hook on one event; a failure is logged at WARN.
    async fn run_one(&self, hook: &Hook, event: &HookEvent) -> HookReport {
        let ran = match &hook.handler {
            Handler::Run(program) => exec::run(hook, program, &self.inner.home, event).await,
            Handler::Url { url, secret } => self.post(hook, url, secret, event).await,
        };
        let decision = match &ran {
            Ok(ran) if ran.success() && event.is_decision() => Some(decision::parse(&ran.stdout)),
            _ => None,
        };
        match &ran {
            Ok(ran) => match ran.failure() {
                Some(reason) => {
                    warn!(hook = %hook.name, event = event.name(), %reason, "hook failed; skipped");
                }
                None => {
                    debug!(hook = %hook.name, event = event.name(), elapsed = ?ran.elapsed, "hook ran");
                }
            },
            Err(reason) => {
                warn!(hook = %hook.name, event = event.name(), %reason, "hook failed; skipped");
            }
        }
        HookReport {
            hook: hook.name.clone(),
            handler: hook.handler.to_string(),
            ran,
            decision,
        }
    }

    async fn post(
        &self,
        hook: &Hook,
        url: &str,
        secret: &hermod_model::Secret,
        event: &HookEvent,
    ) -> Result<Ran, String> {
        let started = Instant::now();
        let Some(http) = &self.inner.http else {
            return Err("no HTTP client to post with".to_owned());
        };
        let post = url::Post {
            http,
            url,
            secret,
            timeout: hook.timeout,
            body: event.to_json(),
        };
        match post.send(&url::policy(), &self.inner.stop).await {
            Ok(status) => Ok(Ran {
                exit_code: Some(0),
                stdout: format!("HTTP {status}"),
                stderr: String::new(),
                elapsed: started.elapsed(),
            }),
            // `HttpError` never shows a URL (it may carry a token).
            Err(e) => Err(format!("POST to {} failed: {e}", manifest::origin(url))),
        }
    }

    /// Stops taking events and waits up to `grace` for those queued and
    /// running; hooks still running then are killed as the runtime drops
    /// them.
    pub(crate) async fn finish(&self, grace: Duration) {
        let inner = &self.inner;
        inner.tracker.close();
        if tokio::time::timeout(grace, inner.tracker.wait())
            .await
            .is_err()
        {
            warn!(grace = ?grace, "hooks still running at shutdown were abandoned");
            inner.stop.cancel();
        }
    }
}

#[cfg(test)]
mod tests;
