//! Long conversations end to end: the context budget, compression before
//! the turn that would overflow, `/compress`, `/context`, `/personality`
//! and `/reasoning`. The real model client talks to the fake LLM, so
//! this runs on real time; nothing here waits on a timer.
//!
//! The budget in these tests: a 2,000-token window compressed at 50%
//! (1,000 tokens), a recent tail of 4 messages. A user message of 400
//! characters is estimated at 104 tokens, a reply `ok N` at 5, so an
//! exchange costs 109: the history of 9 exchanges plus the 10th message
//! (1,085) is the first over the threshold.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_agent::{LlmAgent, LlmConfig, Tool, ToolContext, ToolRegistry, async_trait};
use hermod_core::{
    CompressionConfig, ContextConfig, Gateway, GatewayConfig, Personality, StreamingConfig,
};
use hermod_store::{SqliteStore, Store};
use hermod_testkit::{FakeLlm, RecordedRequest, Reply, TestPlatform};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

struct Chat {
    llm: FakeLlm,
    platform: TestPlatform,
    store: Arc<SqliteStore>,
    _shutdown: tokio_util::sync::DropGuard,
    _dir: tempfile::TempDir,
}

fn budget() -> ContextConfig {
    let mut personalities = std::collections::BTreeMap::new();
    personalities.insert(
        "mentor".to_owned(),
        Personality::Prompt("Guide, don't lecture.".to_owned()),
    );
    ContextConfig {
        context_length: Some(2_000),
        compression: CompressionConfig {
            protect_last_n: 4,
            ..CompressionConfig::default()
        },
        personalities,
        ..ContextConfig::default()
    }
}

async fn start(context: ContextConfig, system_prompt: Option<&str>) -> Chat {
    start_with(context, system_prompt, ToolRegistry::new()).await
}

async fn start_with(
    context: ContextConfig,
    system_prompt: Option<&str>,
    tools: ToolRegistry,
) -> Chat {
    hermod_http::install_crypto_provider();
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let config = LlmConfig {
        base_url: llm.base_url(),
        model: "m".into(),
        request_timeout: Duration::from_secs(20),
        system_prompt: system_prompt.map(str::to_owned),
        ..LlmConfig::default()
    };
    let agent = LlmAgent::new(config, tools);
    let platform = TestPlatform::new("test");
    let gateway = Gateway::builder(
        store.clone(),
        Arc::new(agent),
        GatewayConfig {
            allow_all_users: true,
            ..Default::default()
        },
    )
    .adapter(platform.adapter())
    .streaming(StreamingConfig {
        enabled: false,
        ..StreamingConfig::default()
    })
    .context(context)
    .build()
    .unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(gateway.run(shutdown.clone()));
    platform.wait_running().await;
    Chat {
        llm,
        platform,
        store,
        _shutdown: shutdown.drop_guard(),
        _dir: dir,
    }
}

impl Chat {
    /// Sends a DM from alice and returns the text of the next message.
    async fn ask(&self, text: &str) -> String {
        let before = self.platform.sent("alice").len();
        self.platform.user("alice").dm(text).await.unwrap();
        self.platform.wait_for_messages("alice", before + 1).await[before]
            .current_text()
            .to_owned()
    }

    /// Exchange `n`: a 400-character message answered `ok n`.
    async fn exchange(&self, n: usize) {
        self.llm.push(Reply::text(format!("ok {n}")));
        assert_eq!(self.ask(&long_message(n)).await, format!("ok {n}"));
    }

    fn last_request(&self) -> RecordedRequest {
        self.llm.requests().pop().unwrap()
    }

    async fn session(&self) -> hermod_model::SessionId {
        let sessions = self.store.list_sessions(Default::default()).await.unwrap();
        assert_eq!(sessions.len(), 1);
        sessions[0].id.clone()
    }
}

/// Message `n`: `m<n>` padded to 400 characters.
fn long_message(n: usize) -> String {
    let head = format!("m{n} ");
    format!("{head}{}", "x".repeat(400 - head.len()))
}

fn contents(request: &RecordedRequest) -> Vec<String> {
    request
        .messages()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Each message as `m<n>` (a long message) or its whole text (a reply).
fn labels(contents: &[String]) -> Vec<String> {
    contents
        .iter()
        .map(|c| match c.split_once(' ') {
            Some((first, _)) if c.len() == 400 => first.to_owned(),
            _ => c.clone(),
        })
        .collect()
}

fn is_summary_request(request: &RecordedRequest) -> bool {
    contents(request)
        .first()
        .is_some_and(|c| c.contains("TURNS:") && c.contains("## Goal"))
}

#[tokio::test]
async fn a_long_session_is_compressed_before_the_turn_that_would_overflow() {
    let chat = start(budget(), None).await;
    for n in 1..=9 {
        chat.exchange(n).await;
    }
    assert_eq!(
        chat.llm.request_count(),
        9,
        "no summary below the threshold"
    );
    assert!(!chat.llm.requests().iter().any(is_summary_request));

    // The 10th message would pass 1,000 tokens: the older messages are
    // summarized first, the recent tail of 4 stays.
    chat.llm.push(Reply::text("They sent m1 to m7; I said ok."));
    chat.exchange(10).await;
    let requests = chat.llm.requests();
    assert_eq!(requests.len(), 11);
    let summary_call = &requests[9];
    assert!(is_summary_request(summary_call));
    let prompt = &contents(summary_call)[0];
    assert!(prompt.contains("[USER]: m1 x"), "{prompt}");
    assert!(prompt.contains("[USER]: m7 x"), "{prompt}");
    assert!(!prompt.contains("m8 "), "the tail is not summarized");
    assert!(summary_call.body.get("tools").is_none());

    let turn = contents(&requests[10]);
    assert!(turn[0].contains("They sent m1 to m7; I said ok."));
    assert!(turn[0].contains("reference only"));
    assert_eq!(labels(&turn[1..]), ["m8", "ok 8", "m9", "ok 9", "m10"]);

    // The store keeps every message; the summary is stored with the session.
    let session = chat.session().await;
    assert_eq!(chat.store.messages(&session).await.unwrap().len(), 20);
    let stored = chat.store.session_summary(&session).await.unwrap().unwrap();
    assert_eq!(stored.summary, "They sent m1 to m7; I said ok.");

    // The next turn sends the summary and what came after it, and needs no
    // new summary.
    chat.exchange(11).await;
    assert_eq!(chat.llm.request_count(), 12);
    let next = contents(&chat.last_request());
    assert!(next[0].contains("They sent m1 to m7"));
    assert_eq!(
        labels(&next[1..]),
        ["m8", "ok 8", "m9", "ok 9", "m10", "ok 10", "m11"]
    );
}

#[tokio::test]
async fn a_failing_summary_still_answers_with_the_oldest_messages_left_out() {
    let chat = start(budget(), None).await;
    for n in 1..=9 {
        chat.exchange(n).await;
    }
    // The summary call is refused; the turn goes on.
    chat.llm.push(Reply::status(400));
    chat.exchange(10).await;
    let requests = chat.llm.requests();
    assert_eq!(requests.len(), 11);
    assert!(is_summary_request(&requests[9]));
    let turn = contents(&requests[10]);
    assert!(!turn.iter().any(|c| c.contains("reference only")));
    // 896 tokens of room after the 104 of the new message: the newest 8
    // exchanges (872) and the first reply fit, the first message is left out.
    assert_eq!(labels(&turn)[..3], ["ok 1", "m2", "ok 2"]);
    assert_eq!(turn.len(), 1 + 16 + 1);
    let session = chat.session().await;
    assert_eq!(chat.store.session_summary(&session).await.unwrap(), None);
    assert_eq!(chat.store.messages(&session).await.unwrap().len(), 20);

    // In the cool-down no summary is tried: one request, trimmed again.
    chat.exchange(11).await;
    assert_eq!(chat.llm.request_count(), 12);
    assert!(!is_summary_request(&chat.last_request()));
    assert_eq!(labels(&contents(&chat.last_request()))[..2], ["ok 2", "m3"]);
    let context = chat.ask("/context").await;
    assert!(context.contains("Summaries paused for"), "{context}");
}

#[tokio::test]
async fn compress_summarizes_now_with_the_focus() {
    let chat = start(budget(), None).await;
    assert!(chat.ask("/compress").await.contains("No conversation yet"));
    for n in 1..=3 {
        chat.exchange(n).await;
    }
    chat.llm
        .push(Reply::text("Three long messages about databases."));
    let reply = chat.ask("/compress databases").await;
    // The first exchange becomes the summary; the last 4 messages stay.
    assert!(reply.contains("Compressed 2 older messages"), "{reply}");
    assert!(reply.contains("keeping “databases” in detail"), "{reply}");
    assert!(reply.contains("from ~327 to ~"), "{reply}");
    let summary_call = chat.last_request();
    assert!(is_summary_request(&summary_call));
    let prompt = &contents(&summary_call)[0];
    assert!(prompt.contains("FOCUS: \"databases\""), "{prompt}");
    let session = chat.session().await;
    let stored = chat.store.session_summary(&session).await.unwrap().unwrap();
    assert_eq!(stored.focus.as_deref(), Some("databases"));

    // The next turn starts from the summary.
    chat.exchange(4).await;
    let turn = contents(&chat.last_request());
    assert!(turn[0].contains("Three long messages about databases."));
    assert_eq!(labels(&turn[1..]), ["m2", "ok 2", "m3", "ok 3", "m4"]);
    // Hermes' alias: the earlier summary is updated with the exchange that
    // left the tail.
    chat.llm
        .push(Reply::text("Four long messages about databases."));
    let again = chat.ask("/compact").await;
    assert!(again.contains("Compressed 2 older messages"), "{again}");
    let prompt = &contents(&chat.last_request())[0];
    assert!(
        prompt.contains("EARLIER SUMMARY:\nThree long messages about databases."),
        "{prompt}"
    );
    assert!(
        prompt.contains("[USER]: m2 x") && !prompt.contains("m1 "),
        "{prompt}"
    );
    assert!(!prompt.contains("FOCUS"), "{prompt}");
}

#[tokio::test]
async fn compress_with_nothing_older_than_the_tail_changes_nothing() {
    let chat = start(budget(), None).await;
    for n in 1..=2 {
        chat.exchange(n).await;
    }
    let reply = chat.ask("/compress").await;
    assert!(reply.contains("Nothing to compress yet"), "{reply}");
    assert_eq!(chat.llm.request_count(), 2, "no summary asked for");
    let session = chat.session().await;
    assert_eq!(chat.store.session_summary(&session).await.unwrap(), None);
}

#[tokio::test]
async fn context_shows_the_budget() {
    let chat = start(budget(), Some("Be brief.")).await;
    for text in ["hello", "again"] {
        chat.llm.push(Reply::text("ok"));
        assert_eq!(chat.ask(text).await, "ok");
    }
    let context = chat.ask("/context").await;
    // 9 characters of system prompt; two exchanges of 6 + 5 tokens.
    assert!(context.contains("System prompt: ~3 tokens"), "{context}");
    assert!(context.contains("Tools: ~0 tokens"), "{context}");
    assert!(context.contains("Summary: none"), "{context}");
    assert!(
        context.contains("Recent history: ~22 tokens in 4 messages"),
        "{context}"
    );
    assert!(
        context.contains("Total: ~25 of 2,000 tokens (1.2%)"),
        "{context}"
    );
    assert!(
        context.contains("Compression: at 50% = 1,000 tokens"),
        "{context}"
    );
}

/// The system message of a request, if it has one.
fn system_of(request: &RecordedRequest) -> Option<String> {
    request
        .messages()
        .iter()
        .find(|m| m["role"] == "system")
        .map(|m| m["content"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn personality_changes_the_system_prompt_of_the_next_request() {
    let chat = start(budget(), Some("Be brief.")).await;
    assert_eq!(chat.ask("hi").await, "echo: hi");
    let list = chat.ask("/personality").await;
    assert!(list.contains("Personality: none"), "{list}");
    assert!(list.contains("• mentor — Guide, don't lecture."), "{list}");
    assert!(list.contains("• concise"), "{list}");

    assert!(
        chat.ask("/personality mentor")
            .await
            .contains("mentor personality")
    );
    assert_eq!(chat.ask("one").await, "echo: one");
    assert_eq!(
        system_of(&chat.last_request()).as_deref(),
        Some("Be brief.\n\nGuide, don't lecture.")
    );
    assert!(
        chat.ask("/personality")
            .await
            .contains("Personality: mentor")
    );
    let unknown = chat.ask("/personality pirate-king").await;
    assert!(unknown.contains("Unknown personality"), "{unknown}");

    assert!(
        chat.ask("/personality none")
            .await
            .contains("No personality")
    );
    assert_eq!(chat.ask("two").await, "echo: two");
    assert_eq!(
        system_of(&chat.last_request()).as_deref(),
        Some("Be brief.")
    );
}

#[tokio::test]
async fn reasoning_effort_is_sent_only_when_chosen() {
    let chat = start(budget(), None).await;
    assert_eq!(chat.ask("hi").await, "echo: hi");
    assert_eq!(chat.last_request().body.get("reasoning_effort"), None);
    let shown = chat.ask("/reasoning").await;
    assert!(shown.contains("none is sent"), "{shown}");

    assert!(chat.ask("/reasoning high").await.contains("high"));
    assert_eq!(chat.ask("think").await, "echo: think");
    assert_eq!(
        chat.last_request().body["reasoning_effort"],
        Value::from("high")
    );
    assert!(
        chat.ask("/reasoning")
            .await
            .contains("Reasoning effort: high")
    );
    assert!(
        chat.ask("/reasoning lots")
            .await
            .contains("Unknown reasoning effort")
    );

    chat.ask("/reasoning default").await;
    assert_eq!(chat.ask("plain").await, "echo: plain");
    assert_eq!(chat.last_request().body.get("reasoning_effort"), None);
}

#[tokio::test]
async fn a_configured_reasoning_effort_applies_to_every_session() {
    let chat = start(
        ContextConfig {
            reasoning_effort: Some("low".into()),
            ..budget()
        },
        None,
    )
    .await;
    assert_eq!(chat.ask("hi").await, "echo: hi");
    assert_eq!(
        chat.last_request().body["reasoning_effort"],
        Value::from("low")
    );
}

#[tokio::test]
async fn stop_cuts_a_running_summary_short_without_pausing_summaries() {
    let chat = start(budget(), None).await;
    for n in 1..=9 {
        chat.exchange(n).await;
    }
    // The summary never comes; /stop ends the turn waiting for it.
    chat.llm.push(Reply::hang());
    chat.platform
        .user("alice")
        .dm(&long_message(10))
        .await
        .unwrap();
    chat.llm.wait_for_requests(10).await;
    assert!(is_summary_request(&chat.last_request()));
    let before = chat.platform.sent("alice").len();
    chat.platform.user("alice").dm("/stop").await.unwrap();
    let sent = chat.platform.wait_for_messages("alice", before + 1).await;
    assert!(
        sent[before..]
            .iter()
            .any(|m| m.current_text().contains("Stopped")),
        "{:?}",
        sent[before..]
            .iter()
            .map(|m| m.current_text())
            .collect::<Vec<_>>()
    );
    chat.llm.wait_for_disconnects(1).await;

    // Not a failure: the next turn tries the summary again.
    chat.llm.push(Reply::text("m1 to m8, all ok."));
    chat.exchange(11).await;
    let requests = chat.llm.requests();
    let last_two = &requests[requests.len() - 2..];
    assert!(is_summary_request(&last_two[0]));
    assert!(contents(&last_two[1])[0].contains("m1 to m8, all ok."));
}

#[tokio::test]
async fn a_tail_too_long_for_the_threshold_loses_its_oldest_messages_too() {
    let chat = start(budget(), None).await;
    chat.exchange(1).await;
    chat.exchange(2).await;
    // Two messages of 1,600 characters (404 tokens each).
    let big = |n: usize| format!("b{n} {}", "y".repeat(1_600 - 3));
    chat.llm.push(Reply::text("ok 3"));
    assert_eq!(chat.ask(&big(3)).await, "ok 3");
    // Over the threshold: m1 and ok 1 are summarized, but the tail (m2 to
    // ok 3) with the summary and the new message still passes 1,000
    // tokens, so m2 is left out as well.
    chat.llm.push_all([Reply::text("S."), Reply::text("ok 4")]);
    assert_eq!(chat.ask(&big(4)).await, "ok 4");
    let requests = chat.llm.requests();
    assert!(is_summary_request(&requests[requests.len() - 2]));
    let turn = contents(&requests[requests.len() - 1]);
    assert!(turn[0].contains("reference only"));
    let shown: Vec<String> = turn[1..]
        .iter()
        .map(|c| {
            c.split_once(' ')
                .map_or(c.clone(), |(first, _)| first.to_owned())
        })
        .collect();
    assert_eq!(shown, ["ok", "b3", "ok", "b4"], "{shown:?}");
    // Stored whole all the same; the summary covers m1 and ok 1.
    let session = chat.session().await;
    let stored = chat.store.messages(&session).await.unwrap();
    assert_eq!(stored.len(), 8);
    let summary = chat.store.session_summary(&session).await.unwrap().unwrap();
    assert_eq!(summary.through_message_id, stored[1].id);
}

/// Answers `looked up <q>`.
struct Lookup;

#[async_trait]
impl Tool for Lookup {
    fn name(&self) -> &str {
        "lookup"
    }

    fn description(&self) -> &str {
        "Looks something up"
    }

    fn parameters(&self) -> Value {
        serde_json::json!({"type": "object", "properties": {"q": {"type": "string"}}})
    }

    async fn call(&self, arguments: Value, _ctx: ToolContext) -> Result<String, String> {
        Ok(format!(
            "looked up {}",
            arguments["q"].as_str().unwrap_or("?")
        ))
    }
}

#[tokio::test]
async fn a_tool_call_stays_with_its_result_across_a_compression() {
    let mut context = budget();
    // A tail of 2 would start at the tool result: it goes back to the call.
    context.compression.protect_last_n = 2;
    let chat = start_with(context, None, ToolRegistry::new().with(Lookup)).await;
    // The tool's definition counts too (~40 tokens): 7 exchanges and the
    // tool round stay under the threshold, the next message passes it.
    for n in 1..=7 {
        chat.exchange(n).await;
    }
    assert!(!chat.llm.requests().iter().any(is_summary_request));
    chat.llm.push_all([
        Reply::tool_call("lookup", serde_json::json!({"q": "x"})),
        Reply::text("found 9"),
    ]);
    assert_eq!(chat.ask(&long_message(9)).await, "found 9");
    chat.llm
        .push_all([Reply::text("Earlier: m1 to m9."), Reply::text("ok 10")]);
    assert_eq!(chat.ask(&long_message(10)).await, "ok 10");

    let requests = chat.llm.requests();
    assert_eq!(requests.iter().filter(|r| is_summary_request(r)).count(), 1);
    assert!(is_summary_request(&requests[requests.len() - 2]));
    let turn = requests.last().unwrap();
    let roles: Vec<&str> = turn
        .messages()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "tool", "assistant", "user"]);
    let messages = turn.messages();
    assert!(
        messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("Earlier: m1 to m9.")
    );
    assert_eq!(
        messages[1]["tool_calls"][0]["id"],
        messages[2]["tool_call_id"]
    );
    assert_eq!(messages[2]["content"], "looked up x");
}
