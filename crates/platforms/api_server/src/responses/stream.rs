//! A streamed response: a turn's events as the Responses API's server-sent
//! events, each `event: <type>` with `data: {"type", "sequence_number",
//! ...}` numbered from 0:
//!
//! `response.created`, `response.in_progress`, then for the assistant's
//! message `response.output_item.added`, `response.content_part.added`,
//! `response.output_text.delta`s, `response.output_text.done`,
//! `response.content_part.done`, `response.output_item.done`, and last
//! `response.completed` — or `response.incomplete` (token limit,
//! interrupt) with the text it had, or `response.failed` (with
//! `response.error`) when the turn fails or the model's answer was cut off,
//! so a partial answer is never passed off as complete. A failure before
//! anything was produced is an HTTP error instead (see
//! [`stream_response`]). Approval requests and tool progress go out as
//! `hermes.approval.request` and `hermes.tool.progress` events whose data
//! carry `type` and `sequence_number` too, which OpenAI's SDKs pass
//! through as events of an unknown type.

use super::object::{ResponseMeta, Status, message_item, output_text, response_object};
use super::save::{LiveGuard, Saver};
use crate::approvals::{APPROVAL_EVENT, PROGRESS_EVENT};
use crate::error::ApiError;
use crate::outbound::SSE_KEEPALIVE;
use axum::body::{Body, Bytes};
use axum::response::Response;
use hermod_agent::{AgentEvent, FinishReason, TurnOutcome};
use hermod_core::{ApprovalChoice, CoreError, DirectiveFilter, ReplyMedia, TurnEvent, TurnStream};
use hermod_model::Usage;
use hermod_model::text::ThinkFilter;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::time::Duration;
use tracing::debug;

/// A comment sent on an idle event stream so proxies keep it open.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(30);

/// Answers an event stream. The status is decided by the first event: a
/// turn that fails before producing anything gets an HTTP error instead of
/// a 200 stream that carries only a failure.
pub(crate) async fn stream_response(
    mut turn: TurnStream,
    meta: ResponseMeta,
    saver: Saver,
) -> Result<Response, ApiError> {
    let first = crate::stream::first_event(&mut turn).await?;
    // Recorded as it starts: `GET` finds it while it runs, and if the
    // client leaves early it reads as interrupted (see `save::Live`).
    let live = saver.state.responses.live.hold(&meta.id);
    let created = response_object(&meta, &Status::InProgress, None, None);
    saver.save(&created).await;
    Ok(events_response(
        Some(live),
        Some(turn),
        Some(first),
        meta,
        saver,
    ))
}

/// A whole answer that did not come from the agent (a slash command), as
/// a stream.
pub(crate) fn stream_reply(text: String, meta: ResponseMeta, saver: Saver) -> Response {
    events_response(None, None, Some(TurnEvent::Reply { text }), meta, saver)
}

fn events_response(
    live: Option<LiveGuard>,
    turn: Option<TurnStream>,
    first: Option<TurnEvent>,
    meta: ResponseMeta,
    saver: Saver,
) -> Response {
    let mut events = Events {
        _live: live,
        turn,
        meta,
        saver,
        think: ThinkFilter::new(),
        directives: DirectiveFilter::new(),
        files: None,
        pending: VecDeque::new(),
        first,
        sequence: 0,
        text: String::new(),
        opened: false,
        end: None,
    };
    let created = response_object(&events.meta, &Status::InProgress, None, None);
    events.event("response.created", json!({"response": created}));
    events.event("response.in_progress", json!({"response": created}));
    // The body owns the turn: when the client disconnects, hyper drops the
    // body, the turn stream is dropped and the turn is cancelled.
    let body = futures_util::stream::unfold(events, |mut events| async move {
        let frame = events.next_frame().await?;
        Some((
            Ok::<_, std::convert::Infallible>(Bytes::from(frame)),
            events,
        ))
    });
    crate::stream::sse_response(Body::from_stream(body))
}

/// How the stream ends, once known: the terminal event is written after
/// the response has been saved, so a `GET` right after the stream finds it.
enum End {
    Done(Status, Usage),
    Written,
}

/// Turns a turn's events into numbered SSE frames.
struct Events {
    /// Marks the response as being answered; first, so it is let go before
    /// the turn is stopped when the client leaves.
    _live: Option<LiveGuard>,
    /// `None` for a whole answer given as the first event.
    turn: Option<TurnStream>,
    meta: ResponseMeta,
    saver: Saver,
    /// Takes hidden reasoning out of the text as it streams (dropped: the
    /// Responses API would carry it as reasoning items, not supported).
    think: ThinkFilter,
    /// Takes `MEDIA:` lines out of the visible text; their files follow
    /// at the end.
    directives: DirectiveFilter,
    files: Option<ReplyMedia>,
    pending: VecDeque<String>,
    first: Option<TurnEvent>,
    /// The next event's `sequence_number`.
    sequence: u64,
    /// The visible text sent so far.
    text: String,
    /// Whether the message item was opened.
    opened: bool,
    end: Option<End>,
}

impl Events {
    async fn next_frame(&mut self) -> Option<String> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Some(frame);
            }
            match self.end.take() {
                Some(End::Written) => {
                    self.end = Some(End::Written);
                    return None;
                }
                Some(End::Done(status, usage)) => {
                    self.terminal(status, usage).await;
                    self.end = Some(End::Written);
                    continue;
                }
                None => {}
            }
            let event = match (self.first.take(), &mut self.turn) {
                (Some(first), _) => Some(first),
                (None, None) => None,
                (None, Some(turn)) => tokio::select! {
                    event = turn.next() => event,
                    () = tokio::time::sleep(KEEPALIVE_EVERY) => return Some(SSE_KEEPALIVE.to_owned()),
                },
            };
            self.push(event);
        }
    }

    /// Queues one event with the next sequence number.
    fn event(&mut self, kind: &str, fields: Value) {
        let mut data = json!({"type": kind, "sequence_number": self.sequence});
        if let (Some(data), Value::Object(fields)) = (data.as_object_mut(), fields) {
            data.extend(fields);
        }
        self.sequence += 1;
        self.pending
            .push_back(format!("event: {kind}\ndata: {data}\n\n"));
    }

    /// Opens the assistant's message item and its text part, once.
    fn open(&mut self) {
        if self.opened {
            return;
        }
        self.opened = true;
        let item = message_item(&self.meta.message_id, "in_progress", "");
        self.event(
            "response.output_item.added",
            json!({"output_index": 0, "item": item}),
        );
        let part = output_text("");
        let id = self.meta.message_id.clone();
        self.event(
            "response.content_part.added",
            json!({"item_id": id, "output_index": 0, "content_index": 0, "part": part}),
        );
    }

    fn content(&mut self, text: &str) {
        let visible = self.think.push(text);
        let visible = self.directives.push(&visible);
        self.delta(&visible);
    }

    fn delta(&mut self, visible: &str) {
        if visible.is_empty() {
            return;
        }
        self.open();
        self.text.push_str(visible);
        let id = self.meta.message_id.clone();
        self.event(
            "response.output_text.delta",
            json!({"item_id": id, "output_index": 0, "content_index": 0, "delta": visible, "logprobs": []}),
        );
    }

    fn push(&mut self, event: Option<TurnEvent>) {
        match event {
            Some(TurnEvent::Agent(AgentEvent::TextDelta(text))) => self.content(&text),
            Some(TurnEvent::Agent(AgentEvent::SegmentBreak)) => {
                self.content(hermod_agent::SEGMENT_SEPARATOR)
            }
            Some(TurnEvent::Files(media)) => self.files = Some(media),
            Some(TurnEvent::Agent(AgentEvent::Final(outcome))) => self.finish(&outcome),
            Some(TurnEvent::Agent(AgentEvent::Failed(e))) => self.fail(CoreError::Agent(e).into()),
            Some(TurnEvent::Failed(CoreError::Interrupted)) => {
                debug!("the turn was interrupted before any text");
                self.finish_with(Status::Incomplete("interrupted"), Usage::default());
            }
            Some(TurnEvent::Failed(e)) => self.fail(e.into()),
            Some(TurnEvent::Reply { text }) => {
                self.content(&text);
                self.finish_with(Status::Completed, Usage::default());
            }
            None => self.fail(CoreError::Cancelled.into()),
            Some(TurnEvent::Agent(AgentEvent::ApprovalRequested {
                request_id,
                tool,
                key,
                description,
                timeout,
            })) => {
                let id = self.meta.id.clone();
                self.event(
                    APPROVAL_EVENT,
                    json!({
                        "response_id": id,
                        "request_id": request_id,
                        "tool": tool,
                        "key": key,
                        "description": description,
                        "options": ApprovalChoice::NAMES,
                        "timeout_secs": timeout.as_secs(),
                    }),
                );
            }
            Some(TurnEvent::Agent(AgentEvent::ToolStarted {
                call_id,
                name,
                arguments,
            })) => {
                let id = self.meta.id.clone();
                self.event(
                    PROGRESS_EVENT,
                    json!({
                        "response_id": id,
                        "call_id": call_id,
                        "tool": name,
                        "status": "started",
                        "arguments_preview": crate::approvals::preview(&arguments),
                    }),
                );
            }
            Some(TurnEvent::Agent(AgentEvent::ToolFinished {
                call_id,
                name,
                is_error,
                ..
            })) => {
                let id = self.meta.id.clone();
                let status = if is_error { "failed" } else { "completed" };
                self.event(
                    PROGRESS_EVENT,
                    json!({"response_id": id, "call_id": call_id, "tool": name, "status": status}),
                );
            }
            // The final event carries the turn's total usage.
            Some(_) => {}
        }
    }

    fn finish(&mut self, outcome: &TurnOutcome) {
        let status = match outcome.finish_reason {
            FinishReason::Incomplete => {
                debug!("the model's answer was cut off mid-stream; the response fails");
                self.fail(ApiError::incomplete());
                return;
            }
            FinishReason::Length | FinishReason::MaxIterations => {
                Status::Incomplete("max_output_tokens")
            }
            FinishReason::Interrupted => Status::Incomplete("interrupted"),
            FinishReason::Stop => Status::Completed,
        };
        self.finish_with(status, outcome.usage);
    }

    /// Closes the message item with the rest of the text (and the reply's
    /// files); the terminal event follows once the response is saved.
    fn finish_with(&mut self, status: Status, usage: Usage) {
        let rest = self.think.finish();
        let mut rest = self.directives.push(&rest);
        rest.push_str(&self.directives.finish());
        if let Some(media) = self.files.take() {
            let appendix = crate::files::appendix(&media);
            if !appendix.is_empty() {
                rest.push_str("\n\n");
                rest.push_str(&appendix);
            }
        }
        self.delta(&rest);
        self.open();
        let id = self.meta.message_id.clone();
        let text = self.text.clone();
        self.event(
            "response.output_text.done",
            json!({"item_id": id, "output_index": 0, "content_index": 0, "text": text, "logprobs": []}),
        );
        self.event(
            "response.content_part.done",
            json!({"item_id": id, "output_index": 0, "content_index": 0, "part": output_text(&text)}),
        );
        let item = message_item(&id, status.item_status(), &text);
        self.event(
            "response.output_item.done",
            json!({"output_index": 0, "item": item}),
        );
        self.end = Some(End::Done(status, usage));
    }

    fn fail(&mut self, error: ApiError) {
        self.end = Some(End::Done(Status::Failed(error), Usage::default()));
    }

    /// Saves the response and queues its terminal event.
    async fn terminal(&mut self, status: Status, usage: Usage) {
        let text = self.opened.then_some(self.text.as_str());
        let response = response_object(&self.meta, &status, text, Some(usage));
        self.saver.save_final(&response).await;
        let kind = match status {
            Status::Completed | Status::InProgress => "response.completed",
            Status::Incomplete(_) => "response.incomplete",
            Status::Failed(_) => "response.failed",
        };
        self.event(kind, json!({"response": response}));
    }
}
