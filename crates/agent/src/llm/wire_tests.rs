//! Tests of the tolerant response readers.

use super::*;
use serde_json::json;

fn stream(chunks: &[Value]) -> Completion {
    let mut acc = StreamAccumulator::default();
    for chunk in chunks {
        acc.apply(chunk).unwrap();
    }
    acc.finish()
}

fn delta(delta: Value) -> Value {
    let mut chunk = json!({"choices": [{"index": 0, "finish_reason": null}]});
    chunk["choices"][0]["delta"] = delta;
    chunk
}

fn calls(calls: Value) -> Value {
    let mut content = json!({});
    content["tool_calls"] = calls;
    delta(content)
}

#[test]
fn text_deltas_accumulate() {
    let mut acc = StreamAccumulator::default();
    assert_eq!(
        acc.apply(&delta(json!({"role": "assistant", "content": ""})))
            .unwrap(),
        ""
    );
    assert_eq!(acc.apply(&delta(json!({"content": "Hel"}))).unwrap(), "Hel");
    assert_eq!(acc.apply(&delta(json!({"content": null}))).unwrap(), "");
    assert_eq!(acc.apply(&delta(json!({"content": "lo"}))).unwrap(), "lo");
    acc.apply(&json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}))
        .unwrap();
    let done = acc.finish();
    assert_eq!(done.text, "Hello");
    assert!(done.is_truncated());
}

#[test]
fn indexed_tool_call_deltas_are_joined() {
    let done = stream(&[
        calls(
            json!([{"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": ""}}]),
        ),
        calls(json!([{"index": 1, "id": "b", "function": {"name": "g", "arguments": "{\"y\""}}])),
        calls(json!([{"index": 0, "function": {"arguments": "{\"x\":"}}])),
        calls(json!([{"index": 0, "function": {"arguments": "1}"}}])),
        calls(json!([{"index": 1, "function": {"arguments": ":2}"}}])),
    ]);
    assert_eq!(
        done.tool_calls,
        [
            ToolCall {
                id: "a".into(),
                name: "f".into(),
                arguments: r#"{"x":1}"#.into()
            },
            ToolCall {
                id: "b".into(),
                name: "g".into(),
                arguments: r#"{"y":2}"#.into()
            },
        ]
    );
}

#[test]
fn arguments_as_an_object_are_serialized() {
    let done = stream(&[calls(
        json!([{"index": 0, "id": "a", "function": {"name": "f", "arguments": {"q": "x"}}}]),
    )]);
    assert_eq!(done.tool_calls[0].arguments, r#"{"q":"x"}"#);
}

#[test]
fn missing_ids_are_generated_and_unique() {
    let done = stream(&[
        calls(json!([{"index": 0, "function": {"name": "f", "arguments": "{}"}}])),
        calls(json!([{"index": 1, "function": {"name": "g"}}])),
    ]);
    let ids: Vec<&str> = done.tool_calls.iter().map(|c| c.id.as_str()).collect();
    assert!(ids.iter().all(|id| id.starts_with("call_")), "{ids:?}");
    assert_ne!(ids[0], ids[1]);
    assert_eq!(
        done.tool_calls[1].arguments, "{}",
        "no arguments become an empty object"
    );
}

#[test]
fn deltas_without_index_follow_ids_and_names() {
    // Continuations without index or id belong to the call before them.
    let done = stream(&[
        calls(json!([{"id": "a", "function": {"name": "f", "arguments": "{\"x\""}}])),
        calls(json!([{"function": {"arguments": ":1}"}}])),
        calls(json!([{"id": "b", "function": {"name": "g", "arguments": "{}"}}])),
        calls(json!([{"id": "b", "function": {"arguments": ""}}])),
    ]);
    let names: Vec<&str> = done.tool_calls.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["f", "g"]);
    assert_eq!(done.tool_calls[0].arguments, r#"{"x":1}"#);

    // Neither index nor id: a new name, or the same name after complete
    // arguments, starts a new call.
    let done = stream(&[calls(json!([
        {"function": {"name": "f", "arguments": "{\"a\":1}"}},
        {"function": {"name": "f", "arguments": "{\"a\":2}"}},
        {"function": {"name": "g"}},
        {"function": {"arguments": "{}"}},
    ]))]);
    let got: Vec<(&str, &str)> = done
        .tool_calls
        .iter()
        .map(|c| (c.name.as_str(), c.arguments.as_str()))
        .collect();
    assert_eq!(got, [("f", r#"{"a":1}"#), ("f", r#"{"a":2}"#), ("g", "{}")]);
}

#[test]
fn one_index_reused_with_new_ids_gives_separate_calls() {
    let done = stream(&[
        calls(json!([{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}])),
        calls(json!([{"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}])),
    ]);
    assert_eq!(done.tool_calls.len(), 2);
    assert_eq!(done.tool_calls[1].id, "b");
}

#[test]
fn usage_variants() {
    assert_eq!(parse_usage(&Value::Null), None);
    assert_eq!(parse_usage(&json!({})), None);
    assert_eq!(parse_usage(&json!({"prompt_tokens": 0})), None);
    assert_eq!(
        parse_usage(&json!({"prompt_tokens": 3, "completion_tokens": 4})),
        Some(Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
            total_tokens: 7
        })
    );
    // A usage-only chunk with no choices.
    let done = stream(&[
        delta(json!({"content": "x"})),
        json!({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}),
    ]);
    assert_eq!(done.usage.map(|u| u.total_tokens), Some(3));
    let done = stream(&[json!({"choices": [{"delta": {"content": "x"}}], "usage": null})]);
    assert_eq!(done.usage, None);
}

#[test]
fn error_objects_are_classified() {
    let mut acc = StreamAccumulator::default();
    let err = acc
        .apply(&json!({"error": {"message": "overloaded", "code": 529}}))
        .unwrap_err();
    assert_eq!(err, AgentError::Transient("overloaded".into()));
    let err = acc
        .apply(&json!({"error": {"message": "bad", "code": 400}}))
        .unwrap_err();
    assert_eq!(
        err,
        AgentError::Rejected {
            status: 400,
            message: "bad".into()
        }
    );
    let err =
        parse_completion(&json!({"error": {"message": "slow down", "code": 429}})).unwrap_err();
    assert_eq!(err, AgentError::RateLimited { retry_after: None });
}

#[test]
fn whole_completions_are_parsed() {
    let done = parse_completion(&json!({
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant",
            "content": null,
            "tool_calls": [
                {"type": "function", "function": {"name": "f", "arguments": {"a": 1}}},
                {"id": "x", "type": "function", "function": {"name": "g", "arguments": "{}"}},
            ],
        }}],
        "usage": {},
    }))
    .unwrap();
    assert_eq!(done.text, "");
    assert_eq!(done.tool_calls.len(), 2);
    assert!(done.tool_calls[0].id.starts_with("call_"));
    assert_eq!(done.tool_calls[0].arguments, r#"{"a":1}"#);
    assert_eq!(done.tool_calls[1].id, "x");
    assert_eq!(done.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(done.usage, None);

    let parts = parse_completion(&json!({"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}]})).unwrap();
    assert_eq!(parts.text, "ab");
    assert!(matches!(
        parse_completion(&json!({"choices": []})),
        Err(AgentError::Protocol(_))
    ));
}

#[test]
fn error_messages_are_extracted() {
    assert_eq!(
        error_message(r#"{"error":{"message":"model not found"}}"#),
        "model not found"
    );
    assert_eq!(error_message(r#"{"error":"nope"}"#), "nope");
    assert_eq!(error_message(r#"{"detail":"bad"}"#), "bad");
    assert_eq!(error_message(" plain text "), "plain text");
}

#[test]
fn a_finish_reason_on_any_choice_finishes_the_stream() {
    let mut acc = StreamAccumulator::default();
    acc.apply(&delta(json!({"role": "assistant", "content": "Hé"})))
        .unwrap();
    assert!(!acc.is_finished());
    // An empty reason is no reason; a usage chunk finishes nothing.
    acc.apply(&json!({"choices": [{"index": 0, "delta": {}, "finish_reason": ""}]}))
        .unwrap();
    acc.apply(&json!({"choices": [], "usage": {"total_tokens": 3}}))
        .unwrap();
    assert!(!acc.is_finished());
    acc.apply(&calls(
        json!([{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{\"x\""}}]),
    ))
    .unwrap();
    assert_eq!(
        acc.received(),
        Received {
            chunks: 4,
            text_chars: 2,
            tool_calls: 1
        }
    );
    acc.apply(&json!({"choices": [{"index": 1, "delta": {}, "finish_reason": "stop"}]}))
        .unwrap();
    assert!(acc.is_finished());
}
