//! The task that runs a run: it owns the turn's [`TurnStream`] and the
//! run's slot, so the turn goes on whether or not anyone listens, and turns
//! the turn's events into the run's events (Hermes' names and fields):
//!
//! - `run.started` when the session's worker picks the message up;
//! - `message.delta` for visible text (hidden reasoning and `MEDIA:` lines
//!   taken out, as in streamed completions);
//! - `reasoning.available` with a block of hidden reasoning once it is
//!   complete (unless `API_SERVER_REASONING_CONTENT=false`);
//! - `tool.started` / `tool.completed` around each tool call;
//! - `approval.request` when a tool asks (answered with
//!   `POST /v1/runs/{id}/approval`);
//! - and exactly one of `run.completed` (the final text and usage),
//!   `run.failed` (the error) or `run.cancelled` (stopped, or interrupted).
//!
//! The task's owner is its [`Run`]: it ends with the turn, or at once when
//! the run is stopped. At shutdown the gateway interrupts every turn, so
//! each run ends (`run.cancelled` or `run.failed`) and its task with it.

use super::run::{Ending, Phase, Run};
use crate::body::BudgetShare;
use crate::error::ApiError;
use crate::slots::RunSlot;
use hermod_agent::{AgentEvent, FinishReason, TurnOutcome};
use hermod_core::{CoreError, DirectiveFilter, ReplyMedia, TurnEvent, TurnStream};
use hermod_model::Usage;
use hermod_model::text::ThinkFilter;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::time::Instant;
use tracing::debug;

/// Drives `turn` to its end (or until the run is stopped); the run holds
/// `slot` and the request's `share` of the body budget until it ends.
pub(crate) async fn drive(
    run: Arc<Run>,
    mut turn: TurnStream,
    (slot, share): (RunSlot, BudgetShare),
    reasoning: bool,
) {
    run.hold(slot, share);
    let mut mapper = Mapper::new(run.clone(), reasoning);
    loop {
        let event = tokio::select! {
            biased;
            () = run.stopped() => {
                // Dropping the stream cancels the turn, as a client that
                // disconnects from a streamed completion does.
                drop(turn);
                debug!(run = %run.id, "run stopped");
                mapper.flush_reasoning();
                run.end(Ending::Cancelled { output: None });
                break;
            }
            event = turn.next() => event,
        };
        if mapper.push(event) {
            break;
        }
    }
}

/// Turns a turn's events into the run's.
struct Mapper {
    run: Arc<Run>,
    think: ThinkFilter,
    directives: DirectiveFilter,
    /// Hidden reasoning not yet sent (sent whole once visible text or a
    /// tool call follows it).
    reasoning: String,
    files: Option<ReplyMedia>,
    /// When each running tool call started, for `duration`.
    tools: HashMap<String, Instant>,
}

impl Mapper {
    fn new(run: Arc<Run>, reasoning: bool) -> Self {
        Self {
            run,
            think: if reasoning {
                ThinkFilter::keeping_reasoning()
            } else {
                ThinkFilter::new()
            },
            directives: DirectiveFilter::new(),
            reasoning: String::new(),
            files: None,
            tools: HashMap::new(),
        }
    }

    /// Handles one event; true once the run has ended.
    fn push(&mut self, event: Option<TurnEvent>) -> bool {
        let agent = match event {
            Some(TurnEvent::Agent(event)) => event,
            Some(TurnEvent::Started { session_id }) => {
                self.run.set_field("session_id", json!(session_id.as_str()));
                self.run.emit(
                    "run.started",
                    json!({"session_id": session_id.as_str()}),
                    Some(Phase::Running),
                );
                return false;
            }
            Some(TurnEvent::Files(media)) => {
                self.files = Some(media);
                return false;
            }
            // Answered without the agent (a slash command, a busy notice).
            Some(TurnEvent::Reply { text }) => {
                self.text(&text);
                self.finish_text();
                self.run.end(Ending::Completed {
                    output: text,
                    usage: usage_json(Usage::default()),
                });
                return true;
            }
            Some(TurnEvent::Failed(CoreError::Interrupted)) => {
                self.flush_reasoning();
                self.run.end(Ending::Cancelled { output: None });
                return true;
            }
            Some(TurnEvent::Failed(e)) => {
                self.fail(e.into());
                return true;
            }
            None => {
                self.fail(CoreError::Cancelled.into());
                return true;
            }
        };
        match agent {
            AgentEvent::TextDelta(text) => self.text(&text),
            AgentEvent::SegmentBreak => self.text(hermod_agent::SEGMENT_SEPARATOR),
            AgentEvent::ToolStarted {
                call_id,
                name,
                arguments,
            } => {
                self.flush_reasoning();
                self.tools.insert(call_id.clone(), Instant::now());
                self.run.emit(
                    "tool.started",
                    json!({"tool": name, "preview": crate::approvals::preview(&arguments), "call_id": call_id}),
                    Some(Phase::Running),
                );
            }
            AgentEvent::ToolFinished {
                call_id,
                name,
                is_error,
                ..
            } => {
                let duration = self
                    .tools
                    .remove(&call_id)
                    .map_or(0.0, |started| started.elapsed().as_secs_f64());
                self.run.emit(
                    "tool.completed",
                    json!({
                        "tool": name,
                        "duration": (duration * 1000.0).round() / 1000.0,
                        "error": is_error,
                        "call_id": call_id,
                    }),
                    Some(Phase::Running),
                );
            }
            AgentEvent::ApprovalRequested {
                request_id,
                tool,
                key,
                description,
                timeout,
            } => {
                self.flush_reasoning();
                self.run.approval_opened(&request_id);
                self.run.emit(
                    "approval.request",
                    json!({
                        "command": description,
                        "description": description,
                        "pattern_key": key,
                        "pattern_keys": [key],
                        "allow_permanent": true,
                        "choices": hermod_core::ApprovalChoice::NAMES,
                        "request_id": request_id,
                        "tool": tool,
                        "timeout_secs": timeout.as_secs(),
                    }),
                    Some(Phase::WaitingForApproval),
                );
            }
            // The final event carries the turn's total.
            AgentEvent::Usage(_) => {}
            AgentEvent::Final(outcome) => {
                self.finish(&outcome);
                return true;
            }
            AgentEvent::Failed(e) => {
                self.fail(CoreError::Agent(e).into());
                return true;
            }
        }
        false
    }

    /// Visible text as `message.delta`, hidden reasoning kept for later.
    fn text(&mut self, text: &str) {
        let visible = self.think.push(text);
        let visible = self.directives.push(&visible);
        self.visible(&visible);
    }

    fn visible(&mut self, visible: &str) {
        self.reasoning.push_str(&self.think.take_reasoning());
        if visible.is_empty() {
            return;
        }
        self.flush_reasoning();
        self.run.emit(
            "message.delta",
            json!({"delta": visible}),
            Some(Phase::Running),
        );
    }

    fn flush_reasoning(&mut self) {
        self.reasoning.push_str(&self.think.take_reasoning());
        if self.reasoning.trim().is_empty() {
            self.reasoning.clear();
            return;
        }
        let text = std::mem::take(&mut self.reasoning);
        self.run
            .emit("reasoning.available", json!({"text": text}), None);
    }

    /// Sends what the filters still hold, and the reply's files.
    fn finish_text(&mut self) {
        let rest = self.think.finish();
        let mut rest = self.directives.push(&rest);
        rest.push_str(&self.directives.finish());
        if let Some(media) = &self.files {
            let appendix = crate::files::appendix(media);
            if !appendix.is_empty() {
                rest.push_str("\n\n");
                rest.push_str(&appendix);
            }
        }
        self.visible(&rest);
        self.flush_reasoning();
    }

    fn finish(&mut self, outcome: &TurnOutcome) {
        if outcome.finish_reason == FinishReason::Incomplete {
            debug!(run = %self.run.id, "the model's answer was cut off; the run failed");
            self.flush_reasoning();
            self.run.end(Ending::Failed {
                error: ApiError::incomplete().message,
            });
            return;
        }
        self.finish_text();
        // `MEDIA:` lines never reach the client: their files do.
        let output = match &self.files {
            Some(media) => crate::files::with_files(&media.text, media),
            None => hermod_core::strip_directives(&outcome.text),
        };
        let output = hermod_model::text::strip_think(&output);
        let ending = if outcome.finish_reason == FinishReason::Interrupted {
            Ending::Cancelled {
                output: Some(output),
            }
        } else {
            Ending::Completed {
                output,
                usage: usage_json(outcome.usage),
            }
        };
        self.run.end(ending);
    }

    fn fail(&mut self, error: ApiError) {
        self.flush_reasoning();
        self.run.end(Ending::Failed {
            error: error.message,
        });
    }
}

/// Usage as Hermes reports a run's.
fn usage_json(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens,
        "output_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;
    use hermod_model::SessionId;

    fn events(run: &Run) -> Vec<Value> {
        run.read(0)
            .unwrap()
            .events
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect()
    }

    fn mapper(reasoning: bool) -> (Arc<Run>, Mapper) {
        let run = Arc::new(Run::new("run_1".into(), "run_1", "hermod", 1 << 20));
        (run.clone(), Mapper::new(run, reasoning))
    }

    fn agent(event: AgentEvent) -> Option<TurnEvent> {
        Some(TurnEvent::Agent(event))
    }

    #[test]
    fn reasoning_is_one_event_before_the_visible_text() {
        let (run, mut m) = mapper(true);
        m.push(Some(TurnEvent::Started {
            session_id: SessionId::parse("s").unwrap(),
        }));
        for piece in ["<think>plan", " it</think>", "Hel", "lo"] {
            assert!(!m.push(agent(AgentEvent::TextDelta(piece.into()))));
        }
        let outcome = TurnOutcome {
            text: "<think>plan it</think>Hello".into(),
            messages: Vec::new(),
            usage: Usage {
                prompt_tokens: 5,
                completion_tokens: 2,
                total_tokens: 7,
            },
            finish_reason: FinishReason::Stop,
            unused_steer: Vec::new(),
        };
        assert!(m.push(agent(AgentEvent::Final(outcome))));
        let events = events(&run);
        let names: Vec<_> = events
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "run.started",
                "reasoning.available",
                "message.delta",
                "run.completed"
            ]
        );
        assert_eq!(events[1]["text"], "plan it");
        assert_eq!(events[2]["delta"], "Hello");
        assert_eq!(events[3]["output"], "Hello");
        assert_eq!(
            events[3]["usage"],
            json!({"input_tokens": 5, "output_tokens": 2, "total_tokens": 7})
        );
    }

    #[test]
    fn without_reasoning_content_the_reasoning_is_dropped() {
        let (run, mut m) = mapper(false);
        m.push(agent(AgentEvent::TextDelta("<think>x</think>y".into())));
        m.push(None);
        let names: Vec<_> = events(&run)
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["message.delta", "run.failed"]);
    }

    #[test]
    fn long_arguments_are_cut_in_the_preview() {
        let long = format!("{{\"a\": \"{}\"}}", "z".repeat(500));
        let shown = crate::approvals::preview(&long);
        assert_eq!(shown.chars().count(), 200);
        assert!(shown.ends_with('…'));
        assert_eq!(crate::approvals::preview("{\n \"a\": 1\n}"), "{ \"a\": 1 }");
    }
}
