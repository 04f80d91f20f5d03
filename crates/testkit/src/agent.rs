//! [`ScriptedAgent`]: an in-process [`Agent`] for gateway tests on paused
//! time (the fake LLM server needs real sockets, which paused time and
//! request timeouts do not mix with).
//!
//! By default it answers `echo: <input> (<n> earlier)` after a configurable
//! delay, emitting the text as one delta first; a script of [`Step`]s
//! (text, pauses, tool calls) drives streaming scenarios. It records every
//! request, counts concurrent and interrupted turns, and hands back steer
//! text it was given as unused (its tool calls take no steer text).

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

/// One step of a scripted turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Emit visible text.
    Text(String),
    /// Wait (tokio time; an interrupt ends the turn here).
    Sleep(Duration),
    /// A tool call: a segment break (when text came before), then tool
    /// started and finished events.
    Tool(String),
    /// The model's stream breaks here: the turn ends at once with
    /// [`FinishReason::Incomplete`] and the text so far.
    CutOff,
    /// The turn fails here with this error (a refused request, an
    /// unreachable provider), whatever text came before.
    Fail(AgentError),
}

type Script = Arc<dyn Fn(&TurnRequest) -> Vec<Step> + Send + Sync>;

/// An in-process agent with scripted timing.
#[derive(Clone, Default)]
pub struct ScriptedAgent {
    delay: Duration,
    script: Option<Script>,
    stats: Arc<AgentStats>,
}

impl std::fmt::Debug for ScriptedAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedAgent")
            .field("delay", &self.delay)
            .finish_non_exhaustive()
    }
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

    /// Runs the steps `script` returns for each request.
    pub fn scripted(script: impl Fn(&TurnRequest) -> Vec<Step> + Send + Sync + 'static) -> Self {
        Self {
            script: Some(Arc::new(script)),
            ..Self::default()
        }
    }

    /// Streams `text` in chunks of `chunk` characters, `per_chunk` apart.
    pub fn streaming(text: impl Into<String>, chunk: usize, per_chunk: Duration) -> Self {
        let text: String = text.into();
        Self::scripted(move |_| {
            let chars: Vec<char> = text.chars().collect();
            chars
                .chunks(chunk.max(1))
                .flat_map(|c| [Step::Text(c.iter().collect()), Step::Sleep(per_chunk)])
                .collect()
        })
    }

    pub fn stats(&self) -> Arc<AgentStats> {
        Arc::clone(&self.stats)
    }

    fn steps(&self, request: &TurnRequest) -> Vec<Step> {
        match &self.script {
            Some(script) => script(request),
            None => vec![
                Step::Text(format!(
                    "echo: {} ({} earlier)",
                    request.input.text(),
                    request.history.len()
                )),
                Step::Sleep(self.delay),
            ],
        }
    }
}

/// How a script ended.
#[derive(PartialEq)]
enum Played {
    Finished,
    Interrupted,
    CutOff,
    Failed(AgentError),
}

/// Plays `steps`; returns the text segments and how it ended.
async fn play(
    steps: Vec<Step>,
    tx: &mpsc::Sender<AgentEvent>,
    cancel: &tokio_util::sync::CancellationToken,
) -> (Vec<String>, Played) {
    let mut segments: Vec<String> = vec![String::new()];
    for (i, step) in steps.into_iter().enumerate() {
        match step {
            Step::Text(text) => {
                if let Some(segment) = segments.last_mut() {
                    segment.push_str(&text);
                }
                let _ = tx.send(AgentEvent::TextDelta(text)).await;
            }
            Step::Sleep(duration) => {
                let slept = tokio::select! {
                    () = tokio::time::sleep(duration) => true,
                    () = cancel.cancelled() => false,
                };
                if !slept {
                    return (segments, Played::Interrupted);
                }
            }
            Step::Tool(name) => {
                if segments.last().is_some_and(|s| !s.is_empty()) {
                    let _ = tx.send(AgentEvent::SegmentBreak).await;
                    segments.push(String::new());
                }
                let call_id = format!("call_{i}");
                let started = AgentEvent::ToolStarted {
                    call_id: call_id.clone(),
                    name: name.clone(),
                    arguments: "{}".into(),
                };
                let _ = tx.send(started).await;
                let finished = AgentEvent::ToolFinished {
                    call_id,
                    name,
                    result: "ok".into(),
                    is_error: false,
                };
                let _ = tx.send(finished).await;
            }
            Step::CutOff => return (segments, Played::CutOff),
            Step::Fail(error) => return (segments, Played::Failed(error)),
        }
    }
    (segments, Played::Finished)
}

impl Agent for ScriptedAgent {
    fn run_turn(&self, request: TurnRequest) -> TurnHandle {
        let (control, cancel, mut steer) = TurnControl::new();
        let (tx, rx) = mpsc::channel(16);
        let stats = Arc::clone(&self.stats);
        let steps = self.steps(&request);
        stats
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
        let now = stats.running.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_running.fetch_max(now, Ordering::SeqCst);
        stats.started.notify_waiters();
        tokio::spawn(async move {
            let (segments, played) = play(steps, &tx, &cancel).await;
            stats.running.fetch_sub(1, Ordering::SeqCst);
            steer.close();
            let mut unused_steer = Vec::new();
            while let Ok(text) = steer.try_recv() {
                unused_steer.push(text);
            }
            let segments: Vec<String> = segments.into_iter().filter(|s| !s.is_empty()).collect();
            let text = segments.join(hermod_agent::SEGMENT_SEPARATOR);
            let event = if let Played::Failed(error) = played {
                AgentEvent::Failed(error)
            } else if played != Played::Interrupted {
                AgentEvent::Final(TurnOutcome {
                    text: text.clone(),
                    messages: vec![ChatMessage::assistant(text)],
                    usage: Usage {
                        prompt_tokens: 3,
                        completion_tokens: 2,
                        total_tokens: 5,
                    },
                    finish_reason: if played == Played::CutOff {
                        FinishReason::Incomplete
                    } else {
                        FinishReason::Stop
                    },
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
