//! Streamed answers: a turn's events as server-sent `chat.completion.chunk`
//! frames. A failure, or an answer the model did not finish, ends the
//! stream with an `{"error":{...}}` frame (which OpenAI's SDKs raise) and no
//! `finish_reason` chunk, so a partial answer is never passed off as whole.
//! A turn an interrupt stopped ends normally, with `finish_reason`
//! `interrupted` after the text it had (possibly none). Approval requests
//! and tool progress go out as named events ([`crate::approvals`]).

use crate::approvals;
use crate::chat::INTERRUPTED;
use crate::error::ApiError;
use crate::outbound::{CompletionMeta, SSE_DONE, SSE_KEEPALIVE, chunk, sse_data, usage_chunk};
use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use hermod_agent::{AgentEvent, FinishReason, TurnOutcome};
use hermod_core::{CoreError, DirectiveFilter, ReplyMedia, TurnEvent, TurnStream};
use hermod_model::text::ThinkFilter;
use serde_json::json;
use std::collections::VecDeque;
use std::time::Duration;
use tracing::debug;

/// A comment sent on an idle event stream so proxies keep it open.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(30);

/// A whole answer that did not come from the agent, as a stream.
pub(crate) fn text_stream(text: &str, meta: &CompletionMeta, usage_chunk: bool) -> Response {
    let frames = [
        opening_frame(meta),
        content_frame(meta, text),
        finish_frame(meta, "stop", hermod_model::Usage::default(), usage_chunk),
        SSE_DONE.to_owned(),
    ];
    sse_response(Body::from(frames.concat()))
}

/// The first chunk of every stream: the assistant's role, no text yet.
fn opening_frame(meta: &CompletionMeta) -> String {
    sse_data(&chunk(
        meta,
        &json!({"role": "assistant", "content": ""}),
        None,
        None,
    ))
}

fn content_frame(meta: &CompletionMeta, text: &str) -> String {
    sse_data(&chunk(meta, &json!({"content": text}), None, None))
}

fn reasoning_frame(meta: &CompletionMeta, text: &str) -> String {
    sse_data(&chunk(
        meta,
        &json!({"reasoning_content": text}),
        None,
        None,
    ))
}

/// The last chunk: why the answer ended, and the turn's usage — on it, as
/// Hermes sends it, or in a chunk of its own after it, as OpenAI does when
/// the request asked with `stream_options.include_usage`.
fn finish_frame(
    meta: &CompletionMeta,
    finish_reason: &str,
    usage: hermod_model::Usage,
    own_chunk: bool,
) -> String {
    if own_chunk {
        let finish = sse_data(&chunk(meta, &json!({}), Some(finish_reason), None));
        finish + &sse_data(&usage_chunk(meta, usage))
    } else {
        sse_data(&chunk(meta, &json!({}), Some(finish_reason), Some(usage)))
    }
}

pub(crate) fn sse_response(body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    response
}

/// Answers an event stream. The status is decided by the first event: a
/// turn that fails before producing anything gets a proper error status
/// instead of a 200 stream that carries only an error. With `usage_chunk`
/// the usage comes in a chunk of its own at the end ([`finish_frame`]).
pub(crate) async fn stream_response(
    mut turn: TurnStream,
    meta: CompletionMeta,
    usage_chunk: bool,
) -> Result<Response, ApiError> {
    let first = first_event(&mut turn).await?;
    let frames = Frames {
        pending: VecDeque::from([opening_frame(&meta)]),
        turn,
        think: meta.think_filter(),
        directives: DirectiveFilter::new(),
        files: None,
        meta,
        usage_chunk,
        first: Some(first),
        done: false,
    };
    // The body owns the turn: when the client disconnects, hyper drops the
    // body, the turn stream is dropped and the turn is cancelled.
    let body = futures_util::stream::unfold(frames, |mut frames| async move {
        let frame = frames.next_frame().await?;
        Some((
            Ok::<_, std::convert::Infallible>(Bytes::from(frame)),
            frames,
        ))
    });
    Ok(sse_response(Body::from_stream(body)))
}

/// The turn's first event that decides how the answer starts; a turn
/// that fails (or whose answer is cut off) before producing anything is
/// the error to answer with a proper status, rather than a 200 stream that
/// carries only a failure. Shared by every streamed answer.
pub(crate) async fn first_event(turn: &mut TurnStream) -> Result<TurnEvent, ApiError> {
    loop {
        match turn.next().await {
            Some(TurnEvent::Agent(AgentEvent::Failed(e))) => return Err(CoreError::Agent(e).into()),
            Some(TurnEvent::Failed(e)) if e != CoreError::Interrupted => return Err(e.into()),
            Some(TurnEvent::Agent(AgentEvent::Final(outcome)))
                if outcome.finish_reason == FinishReason::Incomplete =>
            {
                debug!("the model's answer was cut off; answering an error");
                return Err(ApiError::incomplete());
            }
            Some(TurnEvent::Agent(AgentEvent::Usage(_))) => {}
            Some(other) => return Ok(other),
            None => return Err(CoreError::Cancelled.into()),
        }
    }
}

/// Turns a turn's events into SSE frames.
struct Frames {
    turn: TurnStream,
    meta: CompletionMeta,
    /// The usage goes in a chunk of its own ([`finish_frame`]).
    usage_chunk: bool,
    /// Takes hidden reasoning out of the text as it streams.
    think: ThinkFilter,
    /// Takes `MEDIA:` lines out of the visible text; their files follow
    /// at the end.
    directives: DirectiveFilter,
    /// The reply's files, when it names any.
    files: Option<ReplyMedia>,
    pending: VecDeque<String>,
    first: Option<TurnEvent>,
    done: bool,
}

impl Frames {
    async fn next_frame(&mut self) -> Option<String> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Some(frame);
            }
            if self.done {
                return None;
            }
            let event = match self.first.take() {
                Some(first) => Some(first),
                None => tokio::select! {
                    event = self.turn.next() => event,
                    () = tokio::time::sleep(KEEPALIVE_EVERY) => return Some(SSE_KEEPALIVE.to_owned()),
                },
            };
            self.push(event);
        }
    }

    /// The model's text: what is visible as `content`, its hidden
    /// reasoning as `reasoning_content` (or nothing).
    fn content(&mut self, text: &str) {
        let visible = self.think.push(text);
        let visible = self.directives.push(&visible);
        self.released(&visible);
    }

    fn released(&mut self, visible: &str) {
        let reasoning = self.think.take_reasoning();
        if !reasoning.is_empty() {
            self.pending
                .push_back(reasoning_frame(&self.meta, &reasoning));
        }
        if !visible.is_empty() {
            self.pending.push_back(content_frame(&self.meta, visible));
        }
    }

    fn push(&mut self, event: Option<TurnEvent>) {
        match event {
            Some(TurnEvent::Agent(AgentEvent::TextDelta(text))) => self.content(&text),
            Some(TurnEvent::Agent(AgentEvent::SegmentBreak)) => {
                self.content(hermod_agent::SEGMENT_SEPARATOR)
            }
            Some(TurnEvent::Files(media)) => self.files = Some(media),
            Some(TurnEvent::Agent(AgentEvent::Final(outcome))) => self.finish(&outcome),
            Some(TurnEvent::Agent(AgentEvent::Failed(e))) => self.fail(&CoreError::Agent(e).into()),
            Some(TurnEvent::Failed(CoreError::Interrupted)) => {
                debug!("the turn was interrupted before any text");
                self.finish_with(INTERRUPTED, hermod_model::Usage::default());
            }
            Some(TurnEvent::Failed(e)) => self.fail(&e.into()),
            Some(TurnEvent::Reply { text }) => {
                self.content(&text);
                self.finish_with("stop", hermod_model::Usage::default());
            }
            None => self.fail(&CoreError::Cancelled.into()),
            Some(TurnEvent::Agent(AgentEvent::ApprovalRequested {
                request_id,
                tool,
                key,
                description,
                timeout,
            })) => self.pending.push_back(approvals::approval_frame(
                &self.meta,
                &request_id,
                &tool,
                &key,
                &description,
                timeout,
            )),
            Some(TurnEvent::Agent(AgentEvent::ToolStarted {
                call_id,
                name,
                arguments,
            })) => self.pending.push_back(approvals::progress_frame(
                &self.meta,
                &call_id,
                &name,
                "started",
                Some(&arguments),
            )),
            Some(TurnEvent::Agent(AgentEvent::ToolFinished {
                call_id,
                name,
                is_error,
                ..
            })) => {
                let status = if is_error { "failed" } else { "completed" };
                self.pending.push_back(approvals::progress_frame(
                    &self.meta, &call_id, &name, status, None,
                ));
            }
            // Per-call usage is not part of the OpenAI stream; the final
            // chunk carries the turn's total usage.
            Some(_) => {}
        }
    }

    fn finish(&mut self, outcome: &TurnOutcome) {
        if outcome.finish_reason == FinishReason::Incomplete {
            debug!("the model's answer was cut off mid-stream; ending the stream with an error");
            self.fail(&ApiError::incomplete());
            return;
        }
        self.finish_with(outcome.finish_reason.as_openai(), outcome.usage);
    }

    fn finish_with(&mut self, finish_reason: &str, usage: hermod_model::Usage) {
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
        self.released(&rest);
        self.pending.push_back(finish_frame(
            &self.meta,
            finish_reason,
            usage,
            self.usage_chunk,
        ));
        self.pending.push_back(SSE_DONE.to_owned());
        self.done = true;
    }

    fn fail(&mut self, error: &ApiError) {
        self.pending.push_back(sse_data(&error.body()));
        self.done = true;
    }
}
