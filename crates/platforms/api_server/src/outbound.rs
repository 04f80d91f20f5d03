//! Pure construction of OpenAI-shaped responses: the completion object and
//! the chunks of an event stream.

use hermod_model::Usage;
use hermod_model::text::ThinkFilter;
use serde_json::{Value, json};

/// Identity of one completion, repeated in each of its chunks.
#[derive(Debug, Clone)]
pub(crate) struct CompletionMeta {
    pub(crate) id: String,
    pub(crate) created: i64,
    pub(crate) model: String,
    /// Hidden reasoning is returned as `reasoning_content` (else dropped).
    pub(crate) reasoning_content: bool,
}

impl CompletionMeta {
    pub(crate) fn new(model: String, reasoning_content: bool) -> Self {
        let mut bytes = [0u8; 12];
        // An id only needs to be unique enough to tell responses apart.
        let _ = getrandom::fill(&mut bytes);
        let hex = hermod_model::to_hex(&bytes);
        Self {
            id: format!("chatcmpl-{hex}"),
            created: jiff::Timestamp::now().as_second(),
            model,
            reasoning_content,
        }
    }

    /// The filter that takes a model's hidden reasoning out of its answer,
    /// keeping it when it is to be returned.
    pub(crate) fn think_filter(&self) -> ThinkFilter {
        if self.reasoning_content {
            ThinkFilter::keeping_reasoning()
        } else {
            ThinkFilter::new()
        }
    }
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    })
}

/// A `chat.completion` object.
pub(crate) fn completion(
    meta: &CompletionMeta,
    text: &str,
    finish_reason: &str,
    usage: Usage,
) -> Value {
    let mut think = meta.think_filter();
    let mut content = think.push(text);
    content.push_str(&think.finish());
    let mut message = json!({"role": "assistant", "content": content});
    let reasoning = think.take_reasoning();
    if !reasoning.is_empty() {
        message["reasoning_content"] = Value::String(reasoning);
    }
    json!({
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": finish_reason,
        }],
        "usage": usage_json(usage),
    })
}

/// A `chat.completion.chunk` with the given delta.
pub(crate) fn chunk(
    meta: &CompletionMeta,
    delta: &Value,
    finish_reason: Option<&str>,
    usage: Option<Usage>,
) -> Value {
    let mut chunk = json!({
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    });
    if let Some(usage) = usage {
        chunk["usage"] = usage_json(usage);
    }
    chunk
}

/// The usage chunk OpenAI ends a stream with when asked
/// (`stream_options.include_usage`): no choices, just the usage.
pub(crate) fn usage_chunk(meta: &CompletionMeta, usage: Usage) -> Value {
    json!({
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "choices": [],
        "usage": usage_json(usage),
    })
}

/// One server-sent event carrying JSON.
pub(crate) fn sse_data(value: &Value) -> String {
    format!("data: {value}\n\n")
}

pub(crate) const SSE_DONE: &str = "data: [DONE]\n\n";
pub(crate) const SSE_KEEPALIVE: &str = ": keepalive\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> CompletionMeta {
        CompletionMeta {
            id: "chatcmpl-1".into(),
            created: 7,
            model: "hermod".into(),
            reasoning_content: true,
        }
    }

    #[test]
    fn completion_shape() {
        let usage = Usage {
            prompt_tokens: 3,
            completion_tokens: 2,
            total_tokens: 5,
        };
        let v = completion(&meta(), "hi", "stop", usage);
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["choices"][0]["message"]["content"], "hi");
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(v["usage"]["total_tokens"], 5);
    }

    #[test]
    fn chunk_shape() {
        let v = chunk(&meta(), &json!({"content": "x"}), None, None);
        assert_eq!(v["choices"][0]["delta"]["content"], "x");
        assert!(v["choices"][0]["finish_reason"].is_null());
        assert!(v.get("usage").is_none());
        let last = chunk(&meta(), &json!({}), Some("stop"), Some(Usage::default()));
        assert_eq!(last["usage"]["total_tokens"], 0);
        let usage = usage_chunk(&meta(), Usage::default());
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["total_tokens"], 0);
        assert_eq!(sse_data(&json!({"a":1})), "data: {\"a\":1}\n\n");
    }
}
