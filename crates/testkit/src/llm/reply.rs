//! [`Reply`]: one scripted answer of the fake LLM, built fluently.

use hermod_model::Usage;
use serde_json::Value;
use std::time::Duration;

/// What the fake answers to one request. Built with a constructor
/// ([`Reply::text`], [`Reply::tool_call`], [`Reply::status`], …) and
/// modifiers; streaming or not follows the request's `stream` field.
#[derive(Debug, Clone)]
pub struct Reply {
    pub(crate) kind: Kind,
    /// Assistant text sent alongside tool calls.
    pub(crate) text_with_tools: Option<String>,
    pub(crate) chunk_size: Option<usize>,
    pub(crate) token_delay: Duration,
    pub(crate) usage: UsageMode,
    pub(crate) finish_reason: Option<String>,
    pub(crate) arguments_as_object: bool,
    pub(crate) without_tool_call_ids: bool,
    pub(crate) without_tool_call_indexes: bool,
    pub(crate) without_done: bool,
    pub(crate) ignore_stream: bool,
    pub(crate) drop_after_chunks: Option<usize>,
    pub(crate) end_after_chunks: Option<usize>,
    pub(crate) retry_after: Option<f64>,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Text(String),
    /// `"echo: <last user text>"`.
    Echo,
    ToolCalls(Vec<FakeToolCall>),
    Status {
        status: u16,
        body: Option<String>,
    },
    /// Body pieces sent verbatim as `text/event-stream`.
    RawStream(Vec<String>),
    Hang,
}

#[derive(Debug, Clone)]
pub(crate) struct FakeToolCall {
    pub(crate) name: String,
    pub(crate) arguments: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UsageMode {
    /// Token counts estimated from the request and the answer.
    Estimated,
    Fixed(Usage),
    /// No usage at all (no usage chunk, no `usage` field).
    Omitted,
    /// `"usage": null`.
    Null,
    /// `"usage": {}`.
    Empty,
}

impl Reply {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            text_with_tools: None,
            chunk_size: None,
            token_delay: Duration::ZERO,
            usage: UsageMode::Estimated,
            finish_reason: None,
            arguments_as_object: false,
            without_tool_call_ids: false,
            without_tool_call_indexes: false,
            without_done: false,
            ignore_stream: false,
            drop_after_chunks: None,
            end_after_chunks: None,
            retry_after: None,
        }
    }

    /// A plain text answer.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new(Kind::Text(text.into()))
    }

    /// `"echo: <last user text>"`, the default when the queue is empty.
    pub fn echo() -> Self {
        Self::new(Kind::Echo)
    }

    /// One tool call with the given JSON arguments.
    pub fn tool_call(name: impl Into<String>, arguments: Value) -> Self {
        Self::tool_calls([(name, arguments)])
    }

    /// Several tool calls in one answer.
    pub fn tool_calls<S: Into<String>>(calls: impl IntoIterator<Item = (S, Value)>) -> Self {
        let calls = calls
            .into_iter()
            .map(|(name, arguments)| FakeToolCall {
                name: name.into(),
                arguments,
            })
            .collect();
        Self::new(Kind::ToolCalls(calls))
    }

    /// An error response with this status and an OpenAI-shaped error body.
    pub fn status(status: u16) -> Self {
        Self::new(Kind::Status { status, body: None })
    }

    /// A response body sent verbatim as `text/event-stream`, one piece per
    /// write (for SSE framing edge cases).
    pub fn raw_stream<S: Into<String>>(pieces: impl IntoIterator<Item = S>) -> Self {
        Self::new(Kind::RawStream(
            pieces.into_iter().map(Into::into).collect(),
        ))
    }

    /// Never answers (until the fake shuts down): for timeouts and cancellation.
    pub fn hang() -> Self {
        Self::new(Kind::Hang)
    }

    /// Text content sent before the tool calls of a tool-call reply.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text_with_tools = Some(text.into());
        self
    }

    /// Replaces the error body of a [`Reply::status`] reply.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        if let Kind::Status { body: b, .. } = &mut self.kind {
            *b = Some(body.into());
        }
        self
    }

    /// Splits streamed content and tool-call arguments into pieces of `n`
    /// characters (default: content word by word, arguments whole).
    pub fn chunk_size(mut self, n: usize) -> Self {
        self.chunk_size = Some(n.max(1));
        self
    }

    /// Waits this long between streamed chunks.
    pub fn token_delay(mut self, delay: Duration) -> Self {
        self.token_delay = delay;
        self
    }

    pub fn usage(mut self, usage: Usage) -> Self {
        self.usage = UsageMode::Fixed(usage);
        self
    }

    /// Sends no usage at all.
    pub fn no_usage(mut self) -> Self {
        self.usage = UsageMode::Omitted;
        self
    }

    /// Sends `"usage": null`.
    pub fn null_usage(mut self) -> Self {
        self.usage = UsageMode::Null;
        self
    }

    /// Sends `"usage": {}`.
    pub fn empty_usage(mut self) -> Self {
        self.usage = UsageMode::Empty;
        self
    }

    /// Overrides the `finish_reason` (default `stop`, or `tool_calls`).
    pub fn finish_reason(mut self, reason: impl Into<String>) -> Self {
        self.finish_reason = Some(reason.into());
        self
    }

    /// Quirk: tool-call `arguments` as a JSON object instead of a string.
    pub fn arguments_as_object(mut self) -> Self {
        self.arguments_as_object = true;
        self
    }

    /// Quirk: tool calls without an `id`.
    pub fn without_tool_call_ids(mut self) -> Self {
        self.without_tool_call_ids = true;
        self
    }

    /// Quirk: streamed tool-call deltas without an `index`.
    pub fn without_tool_call_indexes(mut self) -> Self {
        self.without_tool_call_indexes = true;
        self
    }

    /// Quirk: ends the stream cleanly after the last chunk, without `[DONE]`.
    pub fn without_done(mut self) -> Self {
        self.without_done = true;
        self
    }

    /// Quirk: answers with one `chat.completion` JSON object even when the
    /// request asked for a stream.
    pub fn ignore_stream(mut self) -> Self {
        self.ignore_stream = true;
        self
    }

    /// Abruptly closes the connection after `n` body chunks (SSE events
    /// when streaming; bytes of the JSON body otherwise).
    pub fn drop_after_chunks(mut self, n: usize) -> Self {
        self.drop_after_chunks = Some(n);
        self
    }

    /// Ends the response cleanly after `n` body chunks (SSE events when
    /// streaming; bytes of the JSON body otherwise): no `finish_reason`, no
    /// `[DONE]`, but no connection error either. This is how a server
    /// killed mid-answer looks through a proxy, or to a client that reads
    /// a response to EOF.
    pub fn end_after_chunks(mut self, n: usize) -> Self {
        self.end_after_chunks = Some(n);
        self
    }

    /// Adds a `Retry-After` header to a [`Reply::status`] reply: whole
    /// seconds, or decimal seconds when fractional (`0.05`).
    pub fn retry_after(mut self, secs: impl Into<f64>) -> Self {
        self.retry_after = Some(secs.into());
        self
    }
}
