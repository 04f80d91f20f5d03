//! [`ScriptedAgent`]: an in-process [`Agent`] for gateway tests on paused
//! time (the fake LLM server needs real sockets, which paused time and
//! request timeouts do not mix with).
//!
//! It answers `echo: <input> (<n> earlier)` after a configurable delay,
//! emitting the text as one delta first, records every request, counts
//! concurrent and interrupted turns, and hands back steer text it was given
//! as unused (it never calls tools).

use hermod_agent::{
    Agent, AgentError, AgentEvent, FinishReason, TurnControl, TurnHandle, TurnOutcome, TurnRequest,
};
use hermod_model::{ChatMessage, Usage};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

/// What a [`ScriptedAgent`] saw.
#[derive(Debug, Default)]
pub struct AgentStats {
    running: AtomicUsize,
    max_running: AtomicUsize,
    interrupted: AtomicUsize,
    requests: Mutex<Vec<TurnRequest>>,
    /// Woken whenever a turn starts.
    started: tokio::sync::Notify,
}

impl AgentStats {
    /// The most turns that ran at the same time.
    pub fn max_running(&self) -> usize {
        self.max_running.load(Ordering::SeqCst)
    }

    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Turns that ended because they were interrupted.
    pub fn interrupted(&self) -> usize {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Every turn request, in order.
    pub fn requests(&self) -> Vec<TurnRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until at least `n` turns have started.
    pub async fn wait_started(&self, n: usize) {
        loop {
            let notified = self.started.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self
                .requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
                >= n
            {
                return;
            }
            notified.await;
        }
    }

    /// The input texts of every turn, in order.
    pub fn inputs(&self) -> Vec<String> {
        self.requests().iter().map(|r| r.input.text()).collect()
    }
}

/// An in-process agent with scripted timing.
#[derive(Debug, Clone, Default)]
pub struct ScriptedAgent {
    delay: Duration,
    stats: Arc<AgentStats>,
}

impl ScriptedAgent {
    /// Answers at once.
    pub fn echo() -> Self {
        Self::default()
    }

    /// Answers after `delay` (tokio time).
    pub fn with_delay(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }

    pub fn stats(&self) -> Arc<AgentStats> {
        Arc::clone(&self.stats)
    }
}

impl Agent for ScriptedAgent {
    fn run_turn(&self, request: TurnRequest) -> TurnHandle {
        let (control, cancel, mut steer) = TurnControl::new();
        let (tx, rx) = mpsc::channel(16);
        let stats = Arc::clone(&self.stats);
        stats
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request.clone());
        let now = stats.running.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_running.fetch_max(now, Ordering::SeqCst);
        stats.started.notify_waiters();
        let delay = self.delay;
        tokio::spawn(async move {
            let text = format!(
                "echo: {} ({} earlier)",
                request.input.text(),
                request.history.len()
            );
            let _ = tx.send(AgentEvent::TextDelta(text.clone())).await;
            let finished = tokio::select! {
                () = tokio::time::sleep(delay) => true,
                () = cancel.cancelled() => false,
            };
            stats.running.fetch_sub(1, Ordering::SeqCst);
            steer.close();
            let mut unused_steer = Vec::new();
            while let Ok(text) = steer.try_recv() {
                unused_steer.push(text);
            }
            let event = if finished {
                AgentEvent::Final(TurnOutcome {
                    text: text.clone(),
                    messages: vec![ChatMessage::assistant(text)],
                    usage: Usage {
                        prompt_tokens: 3,
                        completion_tokens: 2,
                        total_tokens: 5,
                    },
                    finish_reason: FinishReason::Stop,
                    unused_steer,
                })
            } else {
                stats.interrupted.fetch_add(1, Ordering::SeqCst);
                AgentEvent::Failed(AgentError::Cancelled)
            };
            let _ = tx.send(event).await;
        });
        TurnHandle {
            events: rx,
            control,
        }
    }
}
