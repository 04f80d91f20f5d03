//! Pure construction of the Responses API's objects in OpenAI's shapes:
//! the `response` object (plain answers, `GET`, and the snapshots streamed
//! events carry) and its assistant `message` item.

use crate::error::ApiError;
use hermod_model::Usage;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

/// What one response is, fixed when the request is taken.
#[derive(Debug, Clone)]
pub(crate) struct ResponseMeta {
    /// `resp_...`
    pub(crate) id: String,
    /// The id of its assistant message item, `msg_...`.
    pub(crate) message_id: String,
    /// Seconds since the epoch.
    pub(crate) created_at: i64,
    pub(crate) model: String,
    pub(crate) instructions: Option<String>,
    pub(crate) previous_response_id: Option<String>,
    pub(crate) conversation: Option<String>,
    pub(crate) temperature: Option<f64>,
    pub(crate) max_output_tokens: Option<u64>,
    pub(crate) store: bool,
}

impl ResponseMeta {
    pub(crate) fn new(model: String) -> Self {
        Self {
            id: new_id("resp"),
            message_id: new_id("msg"),
            created_at: jiff::Timestamp::now().as_second(),
            model,
            instructions: None,
            previous_response_id: None,
            conversation: None,
            temperature: None,
            max_output_tokens: None,
            store: true,
        }
    }
}

/// `<prefix>_` and 48 random hex digits, as long as OpenAI's ids.
fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 24];
    // A response is stored, overwritten and chained onto by its id: a
    // failed fill must not leave zeros, which every response would share.
    if getrandom::fill(&mut bytes).is_err() {
        bytes = fallback_id_bytes();
    }
    format!("{prefix}_{}", hermod_model::to_hex(&bytes))
}

/// Bytes for an id when the system's randomness fails: the time in
/// nanoseconds, which tells this run's ids from another's, and a counter,
/// which tells this run's ids apart.
fn fallback_id_bytes() -> [u8; 24] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 24];
    let now = jiff::Timestamp::now().as_nanosecond().to_le_bytes();
    bytes[..16].copy_from_slice(&now);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes();
    bytes[16..].copy_from_slice(&count);
    bytes
}

/// Where a response stands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Status {
    /// Created, no answer yet (the first streamed events).
    InProgress,
    Completed,
    /// Ended early with the text it had: `max_output_tokens` (the model's
    /// token limit) or `interrupted` (a newer message, `/stop`, shutdown).
    Incomplete(&'static str),
    /// Failed after it was created (streams only; a plain request that fails
    /// is answered with an HTTP error instead).
    Failed(ApiError),
}

impl Status {
    fn name(&self) -> &'static str {
        match self {
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Incomplete(_) => "incomplete",
            Status::Failed(_) => "failed",
        }
    }

    /// The status of the message item of a response in this state.
    pub(crate) fn item_status(&self) -> &'static str {
        match self {
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Incomplete(_) | Status::Failed(_) => "incomplete",
        }
    }
}

/// The assistant's `message` item.
pub(crate) fn message_item(id: &str, status: &str, text: &str) -> Value {
    let content = if status == "in_progress" {
        json!([])
    } else {
        json!([output_text(text)])
    };
    json!({
        "id": id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    })
}

/// An `output_text` content part.
pub(crate) fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    })
}

/// The `response` object. `text` is the assistant's answer (`None`: no
/// message item yet).
pub(crate) fn response_object(
    meta: &ResponseMeta,
    status: &Status,
    text: Option<&str>,
    usage: Option<Usage>,
) -> Value {
    let output: Vec<Value> = text
        .map(|text| message_item(&meta.message_id, status.item_status(), text))
        .into_iter()
        .collect();
    let error = match status {
        Status::Failed(e) => json!({"code": e.code, "message": e.message}),
        _ => Value::Null,
    };
    let incomplete = match status {
        Status::Incomplete(reason) => json!({"reason": reason}),
        _ => Value::Null,
    };
    json!({
        "id": meta.id,
        "object": "response",
        "created_at": meta.created_at,
        "status": status.name(),
        "background": false,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": meta.instructions,
        "max_output_tokens": meta.max_output_tokens,
        "model": meta.model,
        "output": output,
        "parallel_tool_calls": true,
        "previous_response_id": meta.previous_response_id,
        "conversation": meta.conversation.as_ref().map(|id| json!({"id": id})),
        "reasoning": {"effort": null, "summary": null},
        "store": meta.store,
        "temperature": meta.temperature,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": null,
        "truncation": "disabled",
        "usage": usage.map(usage_json),
        "user": null,
        "metadata": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_without_randomness_are_still_unique() {
        let a = fallback_id_bytes();
        let b = fallback_id_bytes();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 24]);
        assert_ne!(new_id("resp"), new_id("resp"));
    }

    #[test]
    fn a_completed_response_has_openais_shape() {
        let mut meta = ResponseMeta::new("hermod".into());
        meta.previous_response_id = Some("resp_0".into());
        let usage = Usage {
            prompt_tokens: 3,
            completion_tokens: 2,
            total_tokens: 5,
        };
        let v = response_object(&meta, &Status::Completed, Some("hi"), Some(usage));
        assert!(
            v["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("resp_") && id.len() == 53)
        );
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["previous_response_id"], "resp_0");
        let item = &v["output"][0];
        assert_eq!(item["type"], "message");
        assert!(item["id"].as_str().is_some_and(|id| id.starts_with("msg_")));
        assert_eq!(item["status"], "completed");
        assert_eq!(item["content"][0]["type"], "output_text");
        assert_eq!(item["content"][0]["text"], "hi");
        assert_eq!(item["content"][0]["annotations"], json!([]));
        assert_eq!(v["usage"]["input_tokens"], 3);
        assert_eq!(v["usage"]["output_tokens"], 2);
        assert_eq!(v["usage"]["total_tokens"], 5);
        assert!(v["error"].is_null());
        assert!(v["conversation"].is_null());
    }

    #[test]
    fn failed_and_incomplete_say_why() {
        let meta = ResponseMeta::new("hermod".into());
        let failed = response_object(
            &meta,
            &Status::Failed(ApiError::incomplete()),
            Some("par"),
            None,
        );
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["error"]["code"], "incomplete_response");
        assert_eq!(failed["output"][0]["status"], "incomplete");
        let cut = response_object(
            &meta,
            &Status::Incomplete("max_output_tokens"),
            Some("x"),
            None,
        );
        assert_eq!(cut["incomplete_details"]["reason"], "max_output_tokens");
        let created = response_object(&meta, &Status::InProgress, None, None);
        assert_eq!(created["output"], json!([]));
        assert!(created["usage"].is_null());
    }
}
