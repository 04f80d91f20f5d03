//! [`Run`]: one run's shared record — its pollable status (the object
//! `GET /v1/runs/{id}` answers), its event buffer, the approval requests it
//! has open and the switch that stops it. The task driving the turn writes
//! it; the handlers read it and subscribers are woken through a watch
//! channel.

use super::buffer::{Batch, EventBuffer};
use crate::body::BudgetShare;
use crate::slots::RunSlot;
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Where a run stands (Hermes' `status` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Accepted, not yet picked up by its session's worker.
    Queued,
    Running,
    WaitingForApproval,
    /// A stop was asked for; `cancelled` follows.
    Stopping,
    Completed,
    Failed,
    Cancelled,
}

impl Phase {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::WaitingForApproval => "waiting_for_approval",
            Self::Stopping => "stopping",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// How a run ended, with what its last event and status carry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ending {
    Completed {
        output: String,
        usage: Value,
    },
    Failed {
        error: String,
    },
    /// Stopped (or interrupted); `output` is the text it had, if any.
    Cancelled {
        output: Option<String>,
    },
}

/// The seconds since the epoch, as Hermes' timestamps are.
pub(crate) fn timestamp() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) id: String,
    state: Mutex<RunState>,
    /// Bumped on every new event, so subscribers wake up.
    changed: watch::Sender<()>,
    /// Cancelled by `POST /stop`: the driving task drops the turn.
    stop: CancellationToken,
}

#[derive(Debug)]
struct RunState {
    phase: Phase,
    /// The status object's other fields (`created_at`, `session_id`,
    /// `model`, `last_event`, `output`, `usage`, `error`...).
    fields: Map<String, Value>,
    /// `None` once the stream's time after the end has passed.
    events: Option<EventBuffer>,
    /// Approval requests of this run not known to be settled, oldest first.
    approvals: VecDeque<String>,
    /// When the run ended, on tokio's clock.
    ended_at: Option<Instant>,
    /// The run's place under the concurrent-run cap and its request's
    /// share of the body budget (the body's copies live on in the agent
    /// and the model request while the turn runs), given back as it ends
    /// (before its last event, so a client that saw the end may start
    /// another run at once).
    held: Option<(RunSlot, BudgetShare)>,
}

impl Run {
    pub(crate) fn new(id: String, session_id: &str, model: &str, buffer_cap: usize) -> Self {
        let now = timestamp();
        let mut fields = Map::new();
        fields.insert("created_at".into(), json!(now));
        fields.insert("updated_at".into(), json!(now));
        fields.insert("session_id".into(), json!(session_id));
        fields.insert("model".into(), json!(model));
        Self {
            id,
            state: Mutex::new(RunState {
                phase: Phase::Queued,
                fields,
                events: Some(EventBuffer::new(buffer_cap)),
                approvals: VecDeque::new(),
                ended_at: None,
                held: None,
            }),
            changed: watch::Sender::new(()),
            stop: CancellationToken::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, RunState> {
        // A panic while holding the lock leaves plain data behind; the
        // record stays readable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The status object `GET /v1/runs/{id}` answers.
    pub(crate) fn status(&self) -> Value {
        let state = self.state();
        let mut object = Map::new();
        object.insert("object".into(), json!("hermes.run"));
        object.insert("run_id".into(), json!(self.id));
        object.insert("status".into(), json!(state.phase.as_str()));
        object.extend(state.fields.clone());
        Value::Object(object)
    }

    pub(crate) fn phase(&self) -> Phase {
        self.state().phase
    }

    /// Sets a status field.
    pub(crate) fn set_field(&self, name: &str, value: Value) {
        self.state().fields.insert(name.into(), value);
    }

    /// Records an event: into the buffer (for subscribers) and as the
    /// status' `last_event`, moving the run to `phase` when one is given
    /// (unless it is stopping or over).
    pub(crate) fn emit(&self, name: &str, fields: Value, phase: Option<Phase>) {
        let event = self.event(name, fields);
        {
            let mut state = self.state();
            if state.phase.is_final() {
                return;
            }
            if let Some(phase) = phase
                && state.phase != Phase::Stopping
            {
                state.phase = phase;
            }
            touch(&mut state, name);
            if let Some(events) = &mut state.events {
                events.push(event);
            }
        }
        self.changed.send_replace(());
    }

    /// Ends the run: its status, and its last event after which the
    /// stream closes. Only the first ending counts.
    pub(crate) fn end(&self, ending: Ending) {
        let (name, phase, fields) = match ending {
            Ending::Completed { output, usage } => (
                "run.completed",
                Phase::Completed,
                json!({"output": output, "usage": usage}),
            ),
            Ending::Failed { error } => ("run.failed", Phase::Failed, json!({"error": error})),
            Ending::Cancelled { output } => (
                "run.cancelled",
                Phase::Cancelled,
                match output {
                    Some(output) if !output.is_empty() => json!({"output": output}),
                    _ => json!({}),
                },
            ),
        };
        {
            let mut state = self.state();
            if state.phase.is_final() {
                return;
            }
            state.phase = phase;
            touch(&mut state, name);
            if let Value::Object(fields) = &fields {
                state.fields.extend(fields.clone());
            }
            state.approvals.clear();
            state.ended_at = Some(Instant::now());
            state.held = None;
            let event = self.event(name, fields);
            if let Some(events) = &mut state.events {
                events.close(event);
            }
        }
        self.changed.send_replace(());
    }

    /// An event object: its name, the run, the time, then `fields`.
    fn event(&self, name: &str, fields: Value) -> Value {
        let mut event = Map::new();
        event.insert("event".into(), json!(name));
        event.insert("run_id".into(), json!(self.id));
        event.insert("timestamp".into(), json!(timestamp()));
        if let Value::Object(fields) = fields {
            event.extend(fields);
        }
        Value::Object(event)
    }

    /// Reads events from `cursor`; `None` once the stream has expired.
    pub(crate) fn read(&self, cursor: u64) -> Option<Batch> {
        self.state()
            .events
            .as_mut()
            .map(|events| events.read(cursor))
    }

    /// Wakes on every new event.
    pub(crate) fn subscribe(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }

    /// Holds `slot` and `share` until the run ends.
    pub(crate) fn hold(&self, slot: RunSlot, share: BudgetShare) {
        let mut state = self.state();
        if !state.phase.is_final() {
            state.held = Some((slot, share));
        }
    }

    /// Notes an open approval request of this run.
    pub(crate) fn approval_opened(&self, request_id: &str) {
        self.state().approvals.push_back(request_id.to_owned());
    }

    /// The oldest approval request not yet known to be settled, taken off
    /// the list (put it back with [`Run::approval_kept`] if it stays open).
    pub(crate) fn take_approval(&self) -> Option<String> {
        self.state().approvals.pop_front()
    }

    pub(crate) fn approval_kept(&self, request_id: String) {
        self.state().approvals.push_front(request_id);
    }

    /// Whether the run's turn is still going (it can be stopped, and its
    /// approvals answered).
    pub(crate) fn is_live(&self) -> bool {
        !self.phase().is_final()
    }

    /// Asks the driving task to stop the turn. False when the run is over.
    pub(crate) fn request_stop(&self) -> bool {
        {
            let mut state = self.state();
            if state.phase.is_final() {
                return false;
            }
            state.phase = Phase::Stopping;
            touch(&mut state, "run.stopping");
        }
        self.stop.cancel();
        true
    }

    /// Resolves once a stop was asked for.
    pub(crate) async fn stopped(&self) {
        self.stop.cancelled().await;
    }

    /// When the run ended, if it has.
    pub(crate) fn ended_at(&self) -> Option<Instant> {
        self.state().ended_at
    }

    /// Drops the event buffer (the stream's time is up).
    pub(crate) fn expire_events(&self) {
        self.state().events = None;
        self.changed.send_replace(());
    }

    pub(crate) fn has_events(&self) -> bool {
        self.state().events.is_some()
    }
}

fn touch(state: &mut RunState, last_event: &str) {
    state.fields.insert("updated_at".into(), json!(timestamp()));
    state.fields.insert("last_event".into(), json!(last_event));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    fn run() -> Run {
        Run::new("run_1".into(), "run_1", "hermod", 1 << 20)
    }

    #[test]
    fn the_status_follows_the_events_and_the_first_ending_wins() {
        let run = run();
        let status = run.status();
        assert_eq!(status["object"], "hermes.run");
        assert_eq!(status["status"], "queued");
        assert_eq!(status["session_id"], "run_1");
        assert!(status.get("output").is_none());
        run.emit("run.started", json!({}), Some(Phase::Running));
        run.emit(
            "approval.request",
            json!({}),
            Some(Phase::WaitingForApproval),
        );
        assert_eq!(run.status()["status"], "waiting_for_approval");
        assert_eq!(run.status()["last_event"], "approval.request");
        run.end(Ending::Completed {
            output: "done".into(),
            usage: json!({"total_tokens": 3}),
        });
        run.end(Ending::Failed { error: "x".into() });
        let status = run.status();
        assert_eq!(status["status"], "completed");
        assert_eq!(status["output"], "done");
        assert!(status.get("error").is_none());
        assert!(!run.request_stop(), "a finished run cannot be stopped");
        let batch = run.read(0).unwrap();
        assert!(batch.ended);
        let last: Value = serde_json::from_str(batch.events.last().unwrap()).unwrap();
        assert_eq!(last["event"], "run.completed");
        assert_eq!(last["run_id"], "run_1");
        assert_eq!(last["usage"]["total_tokens"], 3);
    }

    #[test]
    fn a_stopping_run_stays_stopping_until_it_is_cancelled() {
        let run = run();
        run.emit("run.started", json!({}), Some(Phase::Running));
        assert!(run.request_stop());
        run.emit("message.delta", json!({"delta": "x"}), Some(Phase::Running));
        assert_eq!(run.status()["status"], "stopping");
        run.end(Ending::Cancelled { output: None });
        assert_eq!(run.status()["status"], "cancelled");
        assert!(run.status().get("output").is_none());
    }
}
