//! Streams that end before the model finished: no `finish_reason` on any
//! choice and no `[DONE]`, whether the connection broke or closed cleanly.
//! Nothing shown yet: retried. Text shown: the turn ends `Incomplete` with
//! that text. Never a normal stop, and never a tool run on cut arguments.

use crate::support::*;
use hermod_agent::{AgentEvent, FinishReason, LlmConfig, ToolRegistry};
use hermod_model::{ChatMessage, Role};
use hermod_testkit::logs::Logs;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;
use std::sync::Arc;
use tracing::Level;

/// `w0 w1 … w{n-1}`, streamed one word per chunk.
fn words(n: usize) -> String {
    (0..n)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The warning logged for a cut stream.
const CUT_WARNING: &str = "the model's stream ended before the model finished its answer";

fn tool_started(events: &[AgentEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, AgentEvent::ToolStarted { .. }))
}

#[tokio::test(start_paused = true)]
async fn a_stream_cut_before_anything_was_shown_is_retried() {
    // Streamed chunks of the call: role, name, its arguments
    // (`{"q":"weather in Oslo"}`) in 8 pieces of 3, finish, usage, [DONE].
    let call = || Reply::tool_call("lookup", json!({"q": "weather in Oslo"})).chunk_size(3);
    let cuts = [
        (
            "clean end after the role chunk",
            Reply::text("lost").end_after_chunks(1),
        ),
        (
            "connection reset after the role chunk",
            Reply::text("lost").drop_after_chunks(1),
        ),
        (
            "clean end mid tool-call arguments",
            call().end_after_chunks(4),
        ),
        (
            "connection reset mid tool-call arguments",
            call().drop_after_chunks(4),
        ),
        // Every argument piece arrived, the finish chunk did not.
        (
            "clean end before the finish chunk",
            call().end_after_chunks(10),
        ),
    ];
    for (case, cut) in cuts {
        let fake = FakeLlm::start().await;
        fake.push_all([cut, Reply::text("second try")]);
        let lookup = Arc::new(Lookup::default());
        let agent = new_agent(config(&fake), registry_with(lookup.clone()));
        let warnings = Logs::capture();
        let events = run(&agent, request("x")).await;
        assert_eq!(fake.request_count(), 2, "{case}");
        assert!(
            warnings
                .at_least(Level::WARN)
                .first()
                .is_some_and(|l| l.starts_with(CUT_WARNING)),
            "{case}: {:?}",
            warnings.at_least(Level::WARN)
        );
        assert!(!tool_started(&events), "{case}: {events:?}");
        assert!(lookup.calls.lock().unwrap().is_empty(), "{case}");
        assert_eq!(streamed_text(&events), "second try", "{case}");
        let outcome = outcome(&events);
        assert_eq!(outcome.finish_reason, FinishReason::Stop, "{case}");
        assert_eq!(outcome.text, "second try", "{case}");
        assert_eq!(
            outcome.messages,
            [ChatMessage::assistant("second try")],
            "{case}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_non_streamed_answer_cut_short_is_retried() {
    let fake = FakeLlm::start().await;
    // The first 32 bytes of the JSON body, then a clean end.
    fake.push_all([
        Reply::text("lost").end_after_chunks(2),
        Reply::text("second try"),
    ]);
    let config = LlmConfig {
        stream: false,
        ..config(&fake)
    };
    let agent = new_agent(config, ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert_eq!(fake.request_count(), 2, "{events:?}");
    assert_eq!(streamed_text(&events), "second try");
    assert_eq!(outcome(&events).finish_reason, FinishReason::Stop);
}

#[tokio::test]
async fn a_stream_cut_after_text_ends_incomplete_with_the_partial_text() {
    // 200 words, cut after the role chunk and 61 of them.
    let partial = words(61);
    let cuts = [
        ("clean end", Reply::text(words(200)).end_after_chunks(62)),
        (
            "connection reset",
            Reply::text(words(200)).drop_after_chunks(62),
        ),
    ];
    for (case, cut) in cuts {
        let fake = FakeLlm::start().await;
        fake.push_all([cut, Reply::text("must not be asked for")]);
        let agent = new_agent(config(&fake), ToolRegistry::new());
        let warnings = Logs::capture();
        let events = run(&agent, request("x")).await;
        let lines = warnings.at_least(Level::WARN);
        assert_eq!(lines.len(), 1, "{case}: {lines:?}");
        let chars = partial.chars().count();
        for part in [
            CUT_WARNING.to_owned(),
            " chunks=62 ".to_owned(),
            format!(" text_chars={chars} "),
            " tool_calls=0 ".to_owned(),
            format!(" shown_chars={chars}"),
        ] {
            assert!(lines[0].contains(&part), "{case}: {part} in {}", lines[0]);
        }
        assert_eq!(
            fake.request_count(),
            1,
            "{case}: shown text is never repeated"
        );
        assert_eq!(streamed_text(&events), partial, "{case}");
        let outcome = outcome(&events);
        assert_eq!(outcome.finish_reason, FinishReason::Incomplete, "{case}");
        assert_eq!(outcome.text, partial, "{case}");
        assert_eq!(
            outcome.messages,
            [ChatMessage::assistant(partial.clone())],
            "{case}"
        );
    }
}

#[tokio::test]
async fn a_half_received_last_event_is_part_of_the_cut() {
    let fake = FakeLlm::start().await;
    fake.push_all([
        Reply::raw_stream([
            "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"lo wo",
        ]),
        Reply::text("must not be asked for"),
    ]);
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert_eq!(fake.request_count(), 1);
    let outcome = outcome(&events);
    assert_eq!(outcome.finish_reason, FinishReason::Incomplete);
    assert_eq!(outcome.text, "Hel");
}

#[tokio::test]
async fn a_stream_cut_mid_tool_call_after_text_never_runs_the_tool() {
    // Role, "Let", " me", " look.", the call's first chunk, two argument
    // pieces; or all argument pieces but no finish chunk.
    let call = || {
        Reply::tool_call("lookup", json!({"q": "weather in Oslo"}))
            .with_text("Let me look.")
            .chunk_size(3)
    };
    for (case, cut) in [
        ("mid arguments", call().end_after_chunks(7)),
        ("reset mid arguments", call().drop_after_chunks(7)),
        ("before the finish chunk", call().end_after_chunks(13)),
    ] {
        let fake = FakeLlm::start().await;
        fake.push_all([cut, Reply::text("must not be asked for")]);
        let lookup = Arc::new(Lookup::default());
        let agent = new_agent(config(&fake), registry_with(lookup.clone()));
        let events = run(&agent, request("x")).await;
        assert_eq!(fake.request_count(), 1, "{case}");
        assert!(!tool_started(&events), "{case}: {events:?}");
        assert!(lookup.calls.lock().unwrap().is_empty(), "{case}");
        let outcome = outcome(&events);
        assert_eq!(outcome.finish_reason, FinishReason::Incomplete, "{case}");
        assert_eq!(outcome.text, "Let me look.", "{case}");
        assert_eq!(
            outcome.messages,
            [ChatMessage::assistant("Let me look.")],
            "{case}: no tool call in the history"
        );
    }
}

#[tokio::test]
async fn a_cut_after_a_tool_round_keeps_the_earlier_messages() {
    let fake = FakeLlm::start().await;
    fake.push_all([
        Reply::tool_call("lookup", json!({"q": "Oslo"})).with_text("Looking."),
        // Role, "It", " is", then the connection closes.
        Reply::text("It is sunny today.").end_after_chunks(3),
    ]);
    let lookup = Arc::new(Lookup::default());
    let agent = new_agent(config(&fake), registry_with(lookup.clone()));
    let events = run(&agent, request("weather?")).await;
    assert_eq!(fake.request_count(), 2);
    assert_eq!(*lookup.calls.lock().unwrap(), [json!({"q": "Oslo"})]);
    let outcome = outcome(&events);
    assert_eq!(outcome.finish_reason, FinishReason::Incomplete);
    assert_eq!(outcome.text, "Looking.\n\nIt is");
    let roles: Vec<Role> = outcome.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::Assistant, Role::Tool, Role::Assistant]);
    assert_eq!(outcome.messages[0].tool_calls.len(), 1);
    assert_eq!(outcome.messages[1].text(), "looked up Oslo");
    assert_eq!(outcome.messages[2], ChatMessage::assistant("It is"));
}

#[tokio::test]
async fn a_finish_reason_without_done_is_a_complete_answer() {
    // Role, "complete", " answer", the finish chunk, the usage chunk; no
    // [DONE]. Then a clean close, or a reset before or after the usage.
    for (case, reply) in [
        ("clean close", Reply::text("complete answer").without_done()),
        (
            "reset after the finish chunk",
            Reply::text("complete answer")
                .without_done()
                .drop_after_chunks(4),
        ),
        (
            "reset after the usage chunk",
            Reply::text("complete answer")
                .without_done()
                .drop_after_chunks(5),
        ),
    ] {
        let fake = FakeLlm::start().await;
        fake.push_all([reply, Reply::text("must not be asked for")]);
        let agent = new_agent(config(&fake), ToolRegistry::new());
        let warnings = Logs::capture();
        let events = run(&agent, request("x")).await;
        assert_eq!(
            warnings.at_least(Level::WARN),
            Vec::<String>::new(),
            "{case}"
        );
        assert_eq!(fake.request_count(), 1, "{case}");
        let outcome = outcome(&events);
        assert_eq!(
            outcome.finish_reason,
            FinishReason::Stop,
            "{case}: {events:?}"
        );
        assert_eq!(outcome.text, "complete answer", "{case}");
    }

    // A tool call finished without [DONE] runs.
    let fake = FakeLlm::start().await;
    fake.push_all([
        Reply::tool_call("lookup", json!({"q": "no done"}))
            .without_done()
            .drop_after_chunks(3),
        Reply::text("ok"),
    ]);
    let lookup = Arc::new(Lookup::default());
    let agent = new_agent(config(&fake), registry_with(lookup.clone()));
    let events = run(&agent, request("x")).await;
    assert_eq!(outcome(&events).text, "ok", "{events:?}");
    assert_eq!(*lookup.calls.lock().unwrap(), [json!({"q": "no done"})]);
}

#[tokio::test]
async fn done_without_a_finish_reason_is_a_complete_answer() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::raw_stream([
        "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"All\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\" here\"}}]}\n\n",
        "data: [DONE]\n\n",
    ]));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert_eq!(fake.request_count(), 1);
    let outcome = outcome(&events);
    assert_eq!(outcome.finish_reason, FinishReason::Stop);
    assert_eq!(outcome.text, "All here");
}
