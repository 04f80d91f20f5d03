//! Provider quirks the client must tolerate.

use crate::support::*;
use hermod_agent::{AgentError, AgentEvent, FinishReason, LlmConfig, ToolRegistry};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;
use std::sync::Arc;

/// Runs a tool-call reply (streamed or not) followed by a text answer and
/// returns the arguments the tool saw and the ids echoed back upstream.
async fn tool_round_trip(reply: Reply, stream: bool) -> (Vec<serde_json::Value>, String, String) {
    let fake = FakeLlm::start().await;
    fake.push_all([reply, Reply::text("ok")]);
    let lookup = Arc::new(Lookup::default());
    let config = LlmConfig {
        stream,
        ..config(&fake)
    };
    let agent = new_agent(config, registry_with(lookup.clone()));
    let events = run(&agent, request("x")).await;
    assert_eq!(outcome(&events).text, "ok", "{events:?}");
    let second = fake.requests()[1].messages().to_vec();
    let id = |v: &serde_json::Value| v.as_str().expect("an id").to_owned();
    let call_id = id(&second[1]["tool_calls"][0]["id"]);
    let result_id = id(&second[2]["tool_call_id"]);
    let calls = lookup.calls.lock().expect("not poisoned").clone();
    (calls, call_id, result_id)
}

#[tokio::test]
async fn arguments_sent_as_an_object() {
    for stream in [true, false] {
        let reply = Reply::tool_call("lookup", json!({"q": "obj"})).arguments_as_object();
        let (calls, _, _) = tool_round_trip(reply, stream).await;
        assert_eq!(calls, [json!({"q": "obj"})], "stream: {stream}");
    }
}

#[tokio::test]
async fn missing_tool_call_ids_are_generated() {
    for stream in [true, false] {
        let reply = Reply::tool_call("lookup", json!({"q": "id"})).without_tool_call_ids();
        let (calls, call_id, result_id) = tool_round_trip(reply, stream).await;
        assert_eq!(calls.len(), 1);
        assert!(call_id.starts_with("call_"), "{call_id}");
        assert_eq!(call_id, result_id);
    }
}

#[tokio::test]
async fn tool_call_deltas_without_index() {
    let reply = Reply::tool_calls([
        ("lookup", json!({"q": "one"})),
        ("lookup", json!({"q": "two"})),
    ])
    .without_tool_call_indexes()
    .chunk_size(4);
    let (calls, _, _) = tool_round_trip(reply, true).await;
    assert_eq!(calls, [json!({"q": "one"}), json!({"q": "two"})]);
}

#[tokio::test]
async fn tool_calls_with_null_content_and_stop_finish_reason() {
    // Content null next to the calls (non-streamed), and a provider saying
    // "stop" although it asks for tools.
    let reply = Reply::tool_call("lookup", json!({"q": "s"})).finish_reason("stop");
    let (calls, _, _) = tool_round_trip(reply, false).await;
    assert_eq!(calls.len(), 1);
}

#[tokio::test]
async fn usage_missing_null_or_empty() {
    for reply in [
        Reply::text("a").no_usage(),
        Reply::text("a").null_usage(),
        Reply::text("a").empty_usage(),
    ] {
        for stream in [true, false] {
            let fake = FakeLlm::start().await;
            fake.push(reply.clone());
            let agent = new_agent(
                LlmConfig {
                    stream,
                    ..config(&fake)
                },
                ToolRegistry::new(),
            );
            let events = run(&agent, request("x")).await;
            assert!(
                !events.iter().any(|e| matches!(e, AgentEvent::Usage(_))),
                "{events:?}"
            );
            assert_eq!(outcome(&events).usage.total_tokens, 0);
            assert_eq!(outcome(&events).text, "a");
        }
    }
}

#[tokio::test]
async fn stream_closed_without_done_after_an_answer() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::text("complete answer").without_done());
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert_eq!(outcome(&events).text, "complete answer");
    assert_eq!(outcome(&events).finish_reason, FinishReason::Stop);
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn stream_closed_without_done_or_answer_is_transient() {
    let fake = FakeLlm::start().await;
    fake.set_default(Reply::raw_stream([
        ": keepalive\n\n",
        "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n",
    ]));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert!(
        matches!(
            events.last(),
            Some(AgentEvent::Failed(AgentError::Transient(_)))
        ),
        "{events:?}"
    );
    assert_eq!(fake.request_count(), 3, "retried: nothing was shown");
}

#[tokio::test]
async fn sse_framing_variants() {
    let fake = FakeLlm::start().await;
    let chunk =
        |text: &str| format!(r#"{{"choices":[{{"index":0,"delta":{{"content":"{text}"}}}}]}}"#);
    fake.push(Reply::raw_stream([
        ": OPENROUTER PROCESSING\r\n\r\n".to_owned(),
        format!("data: {}\r\n\r\ndata: {}", chunk("Hel"), &chunk("lo")[..10]),
        format!("{}\r", &chunk("lo")[10..]),
        format!("\n\r\nevent: message\ndata: {}\n\n", chunk(", you")),
        // Two chunks as two data lines of one event.
        format!("data: {}\ndata: {}\n\n", chunk(" and"), chunk(" me")),
        r#"data: {"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}"#
            .to_owned() + "\n\n",
        "data: [DONE]\n\n".to_owned(),
    ]));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert_eq!(outcome(&events).text, "Hello, you and me");
    assert_eq!(outcome(&events).usage.total_tokens, 5);
}

#[tokio::test]
async fn an_error_chunk_in_the_stream_fails_the_turn() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::raw_stream([
        r#"data: {"choices":[{"delta":{"content":"Hi"}}]}"#.to_owned() + "\n\n",
        r#"data: {"error":{"message":"context too long","code":400}}"#.to_owned() + "\n\n",
    ]));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert_eq!(
        events.last(),
        Some(&AgentEvent::Failed(AgentError::Rejected {
            status: 400,
            message: "context too long".into()
        }))
    );
}

#[tokio::test]
async fn a_provider_ignoring_stream_answers_with_json() {
    let fake = FakeLlm::start().await;
    fake.push_all([
        Reply::text("whole answer").ignore_stream(),
        Reply::status(200).body(r#"{"error":{"message":"bad model","code":404}}"#),
    ]);
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert_eq!(streamed_text(&events), "whole answer");
    assert_eq!(outcome(&events).text, "whole answer");
    let events = run(&agent, request("y")).await;
    assert_eq!(
        events.last(),
        Some(&AgentEvent::Failed(AgentError::Rejected {
            status: 404,
            message: "bad model".into()
        }))
    );
}
