//! Turning a [`Reply`] into OpenAI wire format: `chat.completion.chunk`
//! SSE events when streaming, one `chat.completion` object otherwise.

use super::reply::{FakeToolCall, Kind, Reply, UsageMode};
use serde_json::{Value, json};

/// What the request asked for, as far as rendering is concerned.
#[derive(Debug, Clone)]
pub(crate) struct RequestView {
    pub(crate) model: String,
    pub(crate) include_usage: bool,
    pub(crate) last_user_text: String,
    pub(crate) prompt_chars: usize,
}

impl RequestView {
    pub(crate) fn from_body(body: &Value) -> Self {
        let messages = body.get("messages").and_then(Value::as_array);
        let last_user_text = messages
            .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
            .map(|m| content_text(&m["content"]))
            .unwrap_or_default();
        Self {
            model: body["model"].as_str().unwrap_or("fake-model").to_owned(),
            include_usage: body["stream_options"]["include_usage"]
                .as_bool()
                .unwrap_or(false),
            last_user_text,
            prompt_chars: messages.map_or(0, |m| m.iter().map(|m| m.to_string().len()).sum()),
        }
    }
}

fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
            texts.join("\n")
        }
        _ => String::new(),
    }
}

const COMPLETION_ID: &str = "chatcmpl-fake";
const CREATED: u64 = 1_700_000_000;

/// The answer's content text (tool-call replies may have some too).
pub(crate) fn content(reply: &Reply, view: &RequestView) -> Option<String> {
    match &reply.kind {
        Kind::Text(text) => Some(text.clone()),
        Kind::Echo => Some(format!("echo: {}", view.last_user_text)),
        Kind::ToolCalls(_) => reply.text_with_tools.clone(),
        _ => None,
    }
}

fn tool_calls(reply: &Reply) -> &[FakeToolCall] {
    match &reply.kind {
        Kind::ToolCalls(calls) => calls,
        _ => &[],
    }
}

fn finish_reason(reply: &Reply) -> String {
    match (&reply.finish_reason, &reply.kind) {
        (Some(reason), _) => reason.clone(),
        (None, Kind::ToolCalls(_)) => "tool_calls".to_owned(),
        (None, _) => "stop".to_owned(),
    }
}

fn usage(reply: &Reply, view: &RequestView) -> Option<Value> {
    match reply.usage {
        UsageMode::Omitted => None,
        UsageMode::Null => Some(Value::Null),
        UsageMode::Empty => Some(json!({})),
        UsageMode::Fixed(u) => Some(json!({
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens,
        })),
        UsageMode::Estimated => {
            let produced = content(reply, view).map_or(0, |c| c.len())
                + tool_calls(reply)
                    .iter()
                    .map(|c| c.arguments.to_string().len())
                    .sum::<usize>();
            let prompt = view.prompt_chars / 4 + 1;
            let completion = produced / 4 + 1;
            Some(json!({
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }))
        }
    }
}

fn call_id(index: usize) -> String {
    format!("call_fake_{index}")
}

fn arguments(reply: &Reply, call: &FakeToolCall) -> Value {
    if reply.arguments_as_object {
        call.arguments.clone()
    } else {
        Value::String(call.arguments.to_string())
    }
}

/// The non-streaming `chat.completion` object.
pub(crate) fn completion(reply: &Reply, view: &RequestView) -> Value {
    let calls: Vec<Value> = tool_calls(reply)
        .iter()
        .enumerate()
        .map(|(i, call)| {
            let mut v = json!({
                "type": "function",
                "function": {"name": call.name, "arguments": arguments(reply, call)},
            });
            if !reply.without_tool_call_ids {
                v["id"] = json!(call_id(i));
            }
            v
        })
        .collect();
    let mut message = json!({"role": "assistant", "content": content(reply, view)});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let mut body = json!({
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": view.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(reply)}],
    });
    if let Some(usage) = usage(reply, view) {
        body["usage"] = usage;
    }
    body
}

/// Splits `text` into pieces of `n` characters.
fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

/// Splits `text` word by word, keeping each word's leading whitespace.
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut in_space = true;
    for c in text.chars() {
        if c.is_whitespace() && !in_space && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        in_space = c.is_whitespace();
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The SSE events of a streamed answer, each a complete `data: …\n\n`.
pub(crate) fn stream_events(reply: &Reply, view: &RequestView) -> Vec<String> {
    let chunk = |choices: Value| {
        json!({
            "id": COMPLETION_ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": view.model,
            "choices": choices,
        })
    };
    let delta = |delta: Value| chunk(json!([{"index": 0, "delta": delta, "finish_reason": null}]));
    let mut chunks = vec![delta(json!({"role": "assistant", "content": ""}))];

    if let Some(text) = content(reply, view).filter(|t| !t.is_empty()) {
        let parts = match reply.chunk_size {
            Some(n) => pieces(&text, n),
            None => words(&text),
        };
        chunks.extend(parts.into_iter().map(|p| delta(json!({"content": p}))));
    }

    for (i, call) in tool_calls(reply).iter().enumerate() {
        let with_index = |mut v: Value| {
            if !reply.without_tool_call_indexes {
                v["index"] = json!(i);
            }
            v
        };
        let mut first = with_index(json!({"type": "function", "function": {"name": call.name}}));
        if !reply.without_tool_call_ids {
            first["id"] = json!(call_id(i));
        }
        let args = arguments(reply, call);
        match (&args, reply.chunk_size) {
            (Value::String(args), Some(n)) => {
                first["function"]["arguments"] = json!("");
                chunks.push(delta(json!({"tool_calls": [first]})));
                for piece in pieces(args, n) {
                    let next = with_index(json!({"function": {"arguments": piece}}));
                    chunks.push(delta(json!({"tool_calls": [next]})));
                }
            }
            _ => {
                first["function"]["arguments"] = args;
                chunks.push(delta(json!({"tool_calls": [first]})));
            }
        }
    }

    chunks.push(chunk(
        json!([{"index": 0, "delta": {}, "finish_reason": finish_reason(reply)}]),
    ));
    if view.include_usage
        && let Some(usage) = usage(reply, view)
    {
        let mut last = chunk(json!([]));
        last["usage"] = usage;
        chunks.push(last);
    }

    let mut events: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    if !reply.without_done {
        events.push("data: [DONE]\n\n".to_owned());
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> RequestView {
        RequestView::from_body(&json!({
            "model": "m",
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "first"}, {"role": "user", "content": "hi there"}],
        }))
    }

    fn parse(events: &[String]) -> Vec<Value> {
        events
            .iter()
            .filter(|e| !e.contains("[DONE]"))
            .map(|e| serde_json::from_str(e.trim().strip_prefix("data: ").unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn splits_words_and_pieces() {
        assert_eq!(words("hello big  world"), ["hello", " big", "  world"]);
        assert_eq!(pieces("abcdé", 2), ["ab", "cd", "é"]);
    }

    #[test]
    fn streamed_text_has_role_content_finish_usage_done() {
        let events = stream_events(&Reply::echo(), &view());
        assert_eq!(events.last().unwrap(), "data: [DONE]\n\n");
        let chunks = parse(&events);
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "echo: hi there");
        let finish = &chunks[chunks.len() - 2];
        assert_eq!(finish["choices"][0]["finish_reason"], "stop");
        let usage = chunks.last().unwrap();
        assert_eq!(usage["choices"], json!([]));
        assert!(usage["usage"]["total_tokens"].as_u64().unwrap() > 0);
    }

    #[test]
    fn streamed_tool_call_arguments_are_split() {
        let reply = Reply::tool_call("lookup", json!({"q": "rust"})).chunk_size(3);
        let chunks = parse(&stream_events(&reply, &view()));
        let calls: Vec<&Value> = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
            .collect();
        assert_eq!(calls[0]["id"], "call_fake_0");
        assert_eq!(calls[0]["function"]["name"], "lookup");
        assert!(calls[1].get("id").is_none());
        let args: String = calls
            .iter()
            .map(|c| c["function"]["arguments"].as_str().unwrap())
            .collect();
        assert_eq!(args, r#"{"q":"rust"}"#);
        assert!(calls.len() > 3);
    }

    #[test]
    fn non_streaming_has_null_content_with_tool_calls() {
        let reply = Reply::tool_call("f", json!({}))
            .without_tool_call_ids()
            .arguments_as_object();
        let body = completion(&reply, &view());
        let message = &body["choices"][0]["message"];
        assert_eq!(message["content"], Value::Null);
        assert_eq!(message["tool_calls"][0]["function"]["arguments"], json!({}));
        assert!(message["tool_calls"][0].get("id").is_none());
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    }
}
