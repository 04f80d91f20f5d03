//! Reading what OpenAI-compatible providers send back, tolerantly: stream
//! chunks accumulated into one answer, whole non-streamed answers, usage
//! and error objects.
//!
//! Tolerated quirks: tool-call `arguments` as a JSON object instead of a
//! string, missing tool-call ids (generated), tool-call deltas without
//! `index`, `usage` missing / `null` / `{}`, `content: null` next to tool
//! calls, usage-only chunks with empty `choices`.

use crate::turn::AgentError;
use hermod_model::{ToolCall, Usage};
use serde_json::Value;

/// One model answer, assembled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    /// The visible text (partial unless `end` is [`CallEnd::Finished`]).
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    /// The provider's `finish_reason` (`stop`, `length`, `tool_calls`, …).
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    pub end: CallEnd,
}

/// How a model call that produced a [`Completion`] ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CallEnd {
    /// The provider finished its answer (a `finish_reason` or `[DONE]`).
    #[default]
    Finished,
    /// The call was cancelled after some text had been shown; `text` is
    /// what was shown and `tool_calls` is empty.
    Cancelled,
    /// The stream ended before the provider finished its answer, after
    /// some text had been shown; `text` is what was shown and
    /// `tool_calls` is empty, since cut calls must not run.
    Incomplete,
}

impl Completion {
    /// The model stopped at its token limit.
    pub fn is_truncated(&self) -> bool {
        self.finish_reason.as_deref() == Some("length")
    }
}

/// A tool call being assembled from deltas.
#[derive(Debug, Default)]
struct PartialCall {
    index: Option<u64>,
    id: Option<String>,
    name: String,
    arguments: String,
}

impl PartialCall {
    fn merge(&mut self, id: Option<&str>, name: Option<&str>, arguments: &Value) {
        if self.id.is_none() {
            self.id = id.map(str::to_owned);
        }
        if self.name.is_empty()
            && let Some(name) = name
        {
            self.name = name.to_owned();
        }
        match arguments {
            Value::String(piece) => self.arguments.push_str(piece),
            Value::Null => {}
            // A provider quirk: the arguments as a JSON value, sent whole.
            other => self.arguments = other.to_string(),
        }
    }

    fn has_complete_arguments(&self) -> bool {
        !self.arguments.trim().is_empty() && serde_json::from_str::<Value>(&self.arguments).is_ok()
    }

    fn finish(self) -> ToolCall {
        let arguments = if self.arguments.trim().is_empty() {
            "{}".to_owned()
        } else {
            self.arguments
        };
        ToolCall {
            id: self.id.unwrap_or_else(generate_call_id),
            name: self.name,
            arguments,
        }
    }
}

/// An id for a tool call the provider sent without one.
fn generate_call_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Random per process so ids stay unique across restarts in stored history.
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let prefix = PREFIX.get_or_init(|| getrandom::u32().unwrap_or(0));
    format!("call_{prefix:08x}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn non_empty(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

/// Accumulates the chunks of a streamed answer.
#[derive(Debug, Default)]
pub(crate) struct StreamAccumulator {
    text: String,
    calls: Vec<PartialCall>,
    finish_reason: Option<String>,
    /// Some choice carried a `finish_reason`: the answer is whole even if
    /// the stream then ends without `[DONE]`.
    finished: bool,
    chunks: usize,
    usage: Option<Usage>,
}

impl StreamAccumulator {
    /// Applies one `chat.completion.chunk`; returns its new visible text.
    pub(crate) fn apply(&mut self, chunk: &Value) -> Result<String, AgentError> {
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(error_object(error));
        }
        self.chunks += 1;
        if let Some(usage) = chunk.get("usage").and_then(parse_usage) {
            self.usage = Some(usage);
        }
        // Any choice: the answer we read is choice 0, but a provider that
        // finishes on another index has still finished the response.
        if let Some(choices) = chunk.get("choices").and_then(Value::as_array)
            && choices
                .iter()
                .any(|c| non_empty(&c["finish_reason"]).is_some())
        {
            self.finished = true;
        }
        let Some(choice) = first_choice(chunk) else {
            return Ok(String::new());
        };
        // Some providers put the whole message under `message` even when streaming.
        let delta = choice
            .get("delta")
            .or_else(|| choice.get("message"))
            .unwrap_or(&Value::Null);
        let text = content_text(&delta["content"]);
        self.text.push_str(&text);
        if let Some(calls) = delta["tool_calls"].as_array() {
            for call in calls {
                self.merge_call(call);
            }
        }
        if let Some(reason) = non_empty(&choice["finish_reason"]) {
            self.finish_reason = Some(reason.to_owned());
        }
        Ok(text)
    }

    /// Finds the call a delta continues, or starts a new one.
    fn merge_call(&mut self, delta: &Value) {
        let index = delta["index"].as_u64();
        let id = non_empty(&delta["id"]);
        let name = non_empty(&delta["function"]["name"]);
        let existing = match (index, id) {
            (Some(index), id) => self
                .calls
                .iter()
                .rposition(|c| c.index == Some(index))
                .filter(|&p| {
                    // The same index with another id is a new call (seen from
                    // providers that number every call 0).
                    match (id, &self.calls[p].id) {
                        (Some(id), Some(current)) => id == current,
                        _ => true,
                    }
                }),
            (None, Some(id)) => self.calls.iter().position(|c| c.id.as_deref() == Some(id)),
            (None, None) => match (self.calls.last(), name) {
                (None, _) => None,
                (Some(last), Some(name))
                    if !last.name.is_empty()
                        && (last.name != name || last.has_complete_arguments()) =>
                {
                    None
                }
                (Some(_), _) => Some(self.calls.len() - 1),
            },
        };
        let position = existing.unwrap_or_else(|| {
            self.calls.push(PartialCall {
                index,
                ..PartialCall::default()
            });
            self.calls.len() - 1
        });
        self.calls[position].merge(id, name, &delta["function"]["arguments"]);
    }

    /// A `finish_reason` arrived on some choice.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// How much of the answer arrived, for logs and errors.
    pub(crate) fn received(&self) -> Received {
        Received {
            chunks: self.chunks,
            text_chars: self.text.chars().count(),
            tool_calls: self.calls.len(),
        }
    }

    pub(crate) fn usage(&self) -> Option<Usage> {
        self.usage
    }

    pub(crate) fn finish(self) -> Completion {
        Completion {
            text: self.text,
            tool_calls: self.calls.into_iter().map(PartialCall::finish).collect(),
            finish_reason: self.finish_reason,
            usage: self.usage,
            end: CallEnd::Finished,
        }
    }
}

/// How much of a streamed answer arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Received {
    pub(crate) chunks: usize,
    pub(crate) text_chars: usize,
    /// Tool calls begun, whole or not.
    pub(crate) tool_calls: usize,
}

impl std::fmt::Display for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} chunks, {} characters of text, {} tool calls begun",
            self.chunks, self.text_chars, self.tool_calls
        )
    }
}

fn first_choice(body: &Value) -> Option<&Value> {
    let choices = body.get("choices")?.as_array()?;
    choices
        .iter()
        .find(|c| c["index"].as_u64().unwrap_or(0) == 0)
}

/// The text of a `content` value: a string, or text parts.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

/// Usage, if it says anything: `null`, `{}` and all-zero counts are none.
pub(crate) fn parse_usage(value: &Value) -> Option<Usage> {
    let count = |key: &str| value.get(key).and_then(Value::as_u64).unwrap_or(0);
    let mut usage = Usage {
        prompt_tokens: count("prompt_tokens"),
        completion_tokens: count("completion_tokens"),
        total_tokens: count("total_tokens"),
    };
    if usage.total_tokens == 0 {
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    }
    (usage != Usage::default()).then_some(usage)
}

/// Parses a whole `chat.completion` object.
pub(crate) fn parse_completion(body: &Value) -> Result<Completion, AgentError> {
    if let Some(error) = body.get("error").filter(|e| !e.is_null()) {
        return Err(error_object(error));
    }
    let choice = first_choice(body)
        .ok_or_else(|| AgentError::Protocol("the response has no choices".to_owned()))?;
    let message = &choice["message"];
    let tool_calls = message["tool_calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .map(|call| {
                    let mut partial = PartialCall::default();
                    partial.merge(
                        non_empty(&call["id"]),
                        non_empty(&call["function"]["name"]),
                        &call["function"]["arguments"],
                    );
                    partial.finish()
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Completion {
        text: content_text(&message["content"]),
        tool_calls,
        finish_reason: non_empty(&choice["finish_reason"]).map(str::to_owned),
        usage: body.get("usage").and_then(parse_usage),
        end: CallEnd::Finished,
    })
}

/// An `{"error": {...}}` object inside a 200 response or a stream.
fn error_object(error: &Value) -> AgentError {
    let message = error["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| error.to_string());
    let code = error["code"].as_u64().or_else(|| error["status"].as_u64());
    match code {
        Some(429) => AgentError::RateLimited { retry_after: None },
        Some(status @ (401 | 403)) => AgentError::Auth {
            status: status as u16,
        },
        Some(status @ 400..=499) => AgentError::Rejected {
            status: status as u16,
            message,
        },
        _ => AgentError::Transient(message),
    }
}

/// The human-readable part of an error response body.
pub(crate) fn error_message(body: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return body.trim().to_owned();
    };
    [
        &value["error"]["message"],
        &value["error"],
        &value["message"],
        &value["detail"],
    ]
    .into_iter()
    .find_map(|v| non_empty(v).map(str::to_owned))
    .unwrap_or_else(|| body.trim().to_owned())
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
