//! The gateway's own tools and approval scopes end to end, on paused time:
//! an in-process agent runs real tools through a [`ToolRegistry`] with the
//! turn's approval registry and policy, as the built-in agent does, and
//! the chat answers through slash commands.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_agent::{
    Agent, AgentEvent, FinishReason, Tool, ToolContext, ToolRegistry, TurnControl, TurnHandle,
    TurnOutcome, TurnRequest, async_trait,
};
use hermod_core::{
    DeliveriesLink, DisplayConfig, Gateway, GatewayConfig, MemoryLimits, MemoryTool,
    SendMessageTool, SessionSearchTool, ToolProgress,
};
use hermod_model::{ChatMessage, Usage};
use hermod_store::{OutboxState, SqliteStore, Store};
use hermod_testkit::TestPlatform;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long approval requests wait.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a command, but asks first under the key it is given.
struct Guarded;

#[async_trait]
impl Tool for Guarded {
    fn name(&self) -> &str {
        "guarded"
    }

    fn description(&self) -> &str {
        "Runs something dangerous"
    }

    fn parameters(&self) -> Value {
        json!({"type": "object"})
    }

    async fn call(&self, arguments: Value, ctx: ToolContext) -> Result<String, String> {
        let key = arguments["key"].as_str().unwrap_or("guarded").to_owned();
        ctx.request_approval_for(key.clone(), format!("run {key}"))
            .await
            .into_result()?;
        Ok(format!("ran {key}"))
    }
}

/// The tool calls a turn makes, by its input.
type Script = Arc<dyn Fn(&str) -> Vec<(&'static str, Value)> + Send + Sync>;

/// An agent whose turns make the calls its script names and answer with
/// their results joined by ` | `.
#[derive(Clone)]
struct ToolAgent {
    tools: Arc<ToolRegistry>,
    script: Script,
    requests: Arc<Mutex<Vec<TurnRequest>>>,
}

impl ToolAgent {
    fn requests(&self) -> Vec<TurnRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl Agent for ToolAgent {
    fn run_turn(&self, request: TurnRequest) -> TurnHandle {
        let (control, cancel, _steer) = TurnControl::new();
        let (tx, rx) = mpsc::channel(16);
        self.requests.lock().unwrap().push(request.clone());
        let calls = (self.script)(&request.input.text());
        let (tools, approvals) = (Arc::clone(&self.tools), control.approvals().clone());
        tokio::spawn(async move {
            let mut results = Vec::new();
            for (i, (name, arguments)) in calls.into_iter().enumerate() {
                let call_id = format!("call_{i}");
                let arguments = arguments.to_string();
                let started = AgentEvent::ToolStarted {
                    call_id: call_id.clone(),
                    name: name.to_owned(),
                    arguments: arguments.clone(),
                };
                let _ = tx.send(started).await;
                let ctx = ToolContext::new(
                    request.session_id.clone(),
                    call_id.clone(),
                    cancel.child_token(),
                )
                .with_approvals(name, approvals.clone(), tx.clone(), TIMEOUT)
                .with_approval_policy(request.approval_policy.clone());
                let (result, is_error) = tools.execute(name, &arguments, ctx).await;
                let finished = AgentEvent::ToolFinished {
                    call_id,
                    name: name.to_owned(),
                    result: result.clone(),
                    is_error,
                };
                let _ = tx.send(finished).await;
                results.push(result);
            }
            let text = if results.is_empty() {
                "nothing to do".to_owned()
            } else {
                results.join(" | ")
            };
            let outcome = TurnOutcome {
                text: text.clone(),
                messages: vec![ChatMessage::assistant(text)],
                usage: Usage::default(),
                finish_reason: FinishReason::Stop,
                unused_steer: Vec::new(),
            };
            let _ = tx.send(AgentEvent::Final(outcome)).await;
        });
        TurnHandle {
            events: rx,
            control,
        }
    }
}

struct Chat {
    platform: TestPlatform,
    agent: ToolAgent,
    store: Arc<SqliteStore>,
    _stop: tokio_util::sync::DropGuard,
    _dir: tempfile::TempDir,
}

async fn start(
    script: impl Fn(&str) -> Vec<(&'static str, Value)> + Send + Sync + 'static,
    display: DisplayConfig,
) -> Chat {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let link = DeliveriesLink::new();
    let shared: Arc<dyn Store> = store.clone();
    let tools = ToolRegistry::new()
        .with(Guarded)
        .with(MemoryTool::new(shared.clone(), MemoryLimits::default()))
        .with(SessionSearchTool::new(shared.clone()))
        .with(SendMessageTool::new(shared, link.clone()));
    let agent = ToolAgent {
        tools: Arc::new(tools),
        script: Arc::new(script),
        requests: Arc::default(),
    };
    let platform = TestPlatform::new("test");
    let mut config = GatewayConfig {
        allow_all_users: true,
        ..Default::default()
    };
    config
        .platforms
        .entry("test".into())
        .or_default()
        .home_channel = Some("home-chat".into());
    let gateway = Gateway::builder(store.clone(), Arc::new(agent.clone()), config)
        .adapter(platform.adapter())
        .display(display)
        .output_dir(dir.path().join("output"))
        .build()
        .unwrap();
    link.connect(gateway.deliveries());
    let shutdown = CancellationToken::new();
    tokio::spawn(gateway.run(shutdown.clone()));
    platform.wait_running().await;
    Chat {
        platform,
        agent,
        store,
        _stop: shutdown.drop_guard(),
        _dir: dir,
    }
}

/// Turns whose input starts with `guard` call the guarded tool once per
/// following word (its key).
fn guarding(input: &str) -> Vec<(&'static str, Value)> {
    match input.strip_prefix("guard") {
        Some(keys) => keys
            .split_whitespace()
            .map(|key| ("guarded", json!({"key": key})))
            .collect(),
        None => Vec::new(),
    }
}

fn is_prompt(text: &str) -> bool {
    text.starts_with("🔐 Approval needed")
}

/// How many approval prompts `chat` has had.
fn prompts(chat: &Chat, chat_id: &str) -> usize {
    chat.platform
        .sent(chat_id)
        .iter()
        .filter(|m| is_prompt(m.current_text()))
        .count()
}

async fn reply(chat: &Chat, chat_id: &str, text: &str) {
    chat.platform.wait_for_text(chat_id, |t| t == text).await;
}

#[tokio::test(start_paused = true)]
async fn approved_once_runs_once_and_the_next_request_is_asked_again() {
    let chat = start(guarding, DisplayConfig::default()).await;
    let alice = chat.platform.user("alice");
    alice.dm("guard rm").await.unwrap();
    let ask = chat.platform.wait_for_text("alice", is_prompt).await;
    for expected in [
        "guarded wants to run rm",
        "/approve session",
        "/approve always",
        "/deny [reason]",
        "within 1 min",
    ] {
        assert!(ask.text.contains(expected), "{expected:?} in {}", ask.text);
    }
    alice.dm("/approve").await.unwrap();
    reply(&chat, "alice", "✅ Approved.").await;
    reply(&chat, "alice", "ran rm").await;

    alice.dm("guard rm").await.unwrap();
    chat.platform
        .wait_for("alice", |m| {
            m.iter().filter(|m| is_prompt(m.current_text())).count() == 2
        })
        .await;
    alice.dm("/deny").await.unwrap();
    chat.platform
        .wait_for_text("alice", |t| t.contains("the user denied this"))
        .await;
}

#[tokio::test(start_paused = true)]
async fn approved_for_the_session_is_not_asked_again_in_it() {
    let chat = start(guarding, DisplayConfig::default()).await;
    let alice = chat.platform.user("alice");
    alice.dm("guard rm rm").await.unwrap();
    chat.platform.wait_for_text("alice", is_prompt).await;
    alice.dm("/approve session").await.unwrap();
    chat.platform
        .wait_for_text("alice", |t| {
            t.starts_with("✅ Approved for this session: rm")
        })
        .await;
    reply(&chat, "alice", "ran rm | ran rm").await;
    assert_eq!(
        prompts(&chat, "alice"),
        1,
        "the second request was not asked"
    );

    // Later turns of the session are not asked either; another key is.
    alice.dm("guard rm").await.unwrap();
    chat.platform
        .wait_for("alice", |m| {
            m.iter().filter(|m| m.current_text() == "ran rm").count() == 1
        })
        .await;
    assert_eq!(prompts(&chat, "alice"), 1);
    alice.dm("/approvals").await.unwrap();
    chat.platform
        .wait_for_text("alice", |t| {
            t.contains("Approved for this conversation: rm.")
        })
        .await;

    // A new session asks again.
    alice.dm("/new").await.unwrap();
    alice.dm("guard rm").await.unwrap();
    chat.platform
        .wait_for("alice", |m| {
            m.iter().filter(|m| is_prompt(m.current_text())).count() == 2
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn approved_always_holds_for_the_user_only_until_revoked() {
    let chat = start(guarding, DisplayConfig::default()).await;
    let alice = chat.platform.user("alice");
    alice.dm("guard curl_pipe_sh").await.unwrap();
    chat.platform.wait_for_text("alice", is_prompt).await;
    alice.dm("/approve always").await.unwrap();
    chat.platform
        .wait_for_text("alice", |t| {
            t.starts_with("✅ Approved always: curl_pipe_sh")
        })
        .await;
    reply(&chat, "alice", "ran curl_pipe_sh").await;

    // A new session of the same user is not asked.
    alice.dm("/new").await.unwrap();
    alice.dm("guard curl_pipe_sh").await.unwrap();
    chat.platform
        .wait_for("alice", |m| {
            m.iter()
                .filter(|m| m.current_text() == "ran curl_pipe_sh")
                .count()
                == 2
        })
        .await;
    assert_eq!(prompts(&chat, "alice"), 1);

    // Another user is asked.
    let bob = chat.platform.user("bob");
    bob.dm("guard curl_pipe_sh").await.unwrap();
    chat.platform.wait_for_text("bob", is_prompt).await;
    bob.dm("/deny not today").await.unwrap();
    chat.platform
        .wait_for_text("bob", |t| t.contains("the user denied this: not today"))
        .await;

    // Listed, revoked by number, and asked again.
    alice.dm("/approvals").await.unwrap();
    chat.platform
        .wait_for_text("alice", |t| {
            t.starts_with("Approved always:\n1. curl_pipe_sh")
        })
        .await;
    alice.dm("/approvals revoke 1").await.unwrap();
    chat.platform
        .wait_for_text("alice", |t| t.starts_with("Revoked curl_pipe_sh"))
        .await;
    alice.dm("guard curl_pipe_sh").await.unwrap();
    chat.platform
        .wait_for("alice", |m| {
            m.iter().filter(|m| is_prompt(m.current_text())).count() == 2
        })
        .await;
    alice.dm("/deny").await.unwrap();
    reply(&chat, "alice", "error: the user denied this").await;
    alice.dm("/approvals revoke nothing_here").await.unwrap();
    chat.platform
        .wait_for_text("alice", |t| t.starts_with("nothing_here was not approved"))
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_denial_reason_reaches_the_tool_and_an_unanswered_request_times_out() {
    let chat = start(guarding, DisplayConfig::default()).await;
    let alice = chat.platform.user("alice");
    alice.dm("guard rm").await.unwrap();
    chat.platform.wait_for_text("alice", is_prompt).await;
    alice.dm("/deny too risky").await.unwrap();
    reply(&chat, "alice", "🚫 Denied.").await;
    reply(&chat, "alice", "error: the user denied this: too risky").await;

    let asked = tokio::time::Instant::now();
    alice.dm("guard rm").await.unwrap();
    chat.platform
        .wait_for("alice", |m| {
            m.iter().filter(|m| is_prompt(m.current_text())).count() == 2
        })
        .await;
    reply(
        &chat,
        "alice",
        "error: the user denied this: nobody answered within 1 min",
    )
    .await;
    assert!(asked.elapsed() >= TIMEOUT, "denied only after the timeout");
    alice.dm("/approve").await.unwrap();
    reply(&chat, "alice", "Nothing is waiting for approval.").await;
}

#[tokio::test(start_paused = true)]
async fn a_note_written_in_one_session_is_in_the_next_sessions_prompt_of_that_user_only() {
    let chat = start(
        |input| match input {
            "remember" => vec![(
                "memory",
                json!({"action": "add", "content": "likes green tea"}),
            )],
            _ => Vec::new(),
        },
        DisplayConfig::default(),
    )
    .await;
    let alice = chat.platform.user("alice");
    alice.dm("remember").await.unwrap();
    chat.platform
        .wait_for_text("alice", |t| t.contains(r#""result":"added""#))
        .await;
    alice.dm("/new").await.unwrap();
    alice.dm("hello again").await.unwrap();
    reply(&chat, "alice", "nothing to do").await;
    chat.platform.user("bob").dm("hello").await.unwrap();
    reply(&chat, "bob", "nothing to do").await;

    let requests = chat.agent.requests();
    let prompt_of = |input: &str| {
        requests
            .iter()
            .find(|r| r.input.text() == input)
            .unwrap()
            .system_prompt
            .clone()
    };
    assert_eq!(prompt_of("remember"), None, "no notes yet");
    let next = prompt_of("hello again").unwrap();
    assert!(
        next.starts_with("<user-memory>") && next.contains("- likes green tea\n</user-memory>"),
        "{next}"
    );
    assert_ne!(
        requests[0].session_id,
        requests
            .iter()
            .find(|r| r.input.text() == "hello again")
            .unwrap()
            .session_id,
        "a new session"
    );
    assert_eq!(prompt_of("hello"), None, "bob does not see alice's notes");
}

#[tokio::test(start_paused = true)]
async fn session_search_never_sees_another_users_sessions() {
    let chat = start(
        |input| match input.strip_prefix("find ") {
            Some(query) => vec![("session_search", json!({"query": query}))],
            None => Vec::new(),
        },
        DisplayConfig::default(),
    )
    .await;
    let (alice, bob) = (chat.platform.user("alice"), chat.platform.user("bob"));
    alice.dm("the zebra password is hunter2").await.unwrap();
    reply(&chat, "alice", "nothing to do").await;
    bob.dm("my zebra drawing").await.unwrap();
    reply(&chat, "bob", "nothing to do").await;
    bob.dm("find zebra").await.unwrap();
    let found = chat
        .platform
        .wait_for_text("bob", |t| t.starts_with(r#"{"query":"zebra""#))
        .await;
    assert!(
        found.text.contains("my >>>zebra<<< drawing"),
        "{}",
        found.text
    );
    assert!(!found.text.contains("hunter2"), "{}", found.text);

    alice.dm("find drawing").await.unwrap();
    let found = chat
        .platform
        .wait_for_text("alice", |t| t.starts_with(r#"{"query":"drawing""#))
        .await;
    assert!(!found.text.contains("my >>>drawing"), "{}", found.text);
    assert!(!found.text.contains(r#""current":false"#), "{}", found.text);
}

#[tokio::test(start_paused = true)]
async fn send_message_posts_to_the_home_channel_through_the_outbox_and_nowhere_else() {
    let chat = start(
        |input| match input {
            "announce" => vec![(
                "send_message",
                json!({"target": "test", "message": "Standup moved to 10:00"}),
            )],
            "elsewhere" => vec![(
                "send_message",
                json!({"target": "test:someone-else", "message": "spam"}),
            )],
            _ => Vec::new(),
        },
        DisplayConfig::default(),
    )
    .await;
    let alice = chat.platform.user("alice");
    alice.dm("announce").await.unwrap();
    chat.platform
        .wait_for_text("alice", |t| t.contains(r#""sent_to":"test:home-chat""#))
        .await;
    let posted = chat.platform.sent("home-chat");
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].text, "Standup moved to 10:00");
    let session = &chat.agent.requests()[0].session_id;
    let entry = chat
        .store
        .outbox_entry(&format!("send_message:{session}:call_0"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, OutboxState::Delivered);

    alice.dm("elsewhere").await.unwrap();
    chat.platform
        .wait_for_text("alice", |t| {
            t.contains("neither this chat nor a home channel")
        })
        .await;
    assert!(chat.platform.sent("someone-else").is_empty());
}

#[tokio::test(start_paused = true)]
async fn verbose_progress_shows_arguments_and_failures() {
    let display = DisplayConfig {
        tool_progress: ToolProgress::Verbose,
        ..DisplayConfig::default()
    };
    let chat = start(
        |_| {
            vec![(
                "memory",
                json!({"action": "forget", "content": "x".repeat(400)}),
            )]
        },
        display,
    )
    .await;
    chat.platform.user("alice").dm("go").await.unwrap();
    let started = chat
        .platform
        .wait_for_text("alice", |t| t.starts_with("🔧 memory("))
        .await;
    assert!(
        started.text.contains(r#""action":"forget""#),
        "{}",
        started.text
    );
    assert!(started.text.chars().count() < 230, "{}", started.text);
    chat.platform
        .wait_for_text("alice", |t| {
            t.starts_with("⚠️ memory failed: unknown action \"forget\"")
        })
        .await;
}

/// With the real model client: the note the model saved in one session is
/// in the system message the model gets in the user's next session, and
/// not in another user's.
#[tokio::test]
async fn the_model_gets_the_users_notes_in_its_system_message() {
    use hermod_agent::{LlmAgent, LlmConfig};
    use hermod_testkit::{FakeLlm, Reply};

    hermod_http::install_crypto_provider();
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call(
            "memory",
            json!({"action": "add", "content": "lives in Bergen"}),
        ),
        Reply::text("Noted."),
        Reply::text("Hello again."),
        Reply::text("Hello Bob."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let config = LlmConfig {
        base_url: llm.base_url(),
        model: "m".into(),
        system_prompt: Some("You are hermod.".into()),
        request_timeout: Duration::from_secs(20),
        ..LlmConfig::default()
    };
    let shared: Arc<dyn Store> = store.clone();
    let tools = ToolRegistry::new().with(MemoryTool::new(shared, MemoryLimits::default()));
    let platform = TestPlatform::new("test");
    let gateway = Gateway::builder(
        store,
        Arc::new(LlmAgent::new(config, tools)),
        GatewayConfig {
            allow_all_users: true,
            ..Default::default()
        },
    )
    .adapter(platform.adapter())
    .build()
    .unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(gateway.run(shutdown.clone()));
    let _stop = shutdown.drop_guard();
    platform.wait_running().await;

    let alice = platform.user("alice");
    alice.dm("I live in Bergen").await.unwrap();
    platform.wait_for_text("alice", |t| t == "Noted.").await;
    alice.dm("/new").await.unwrap();
    alice.dm("hi").await.unwrap();
    platform
        .wait_for_text("alice", |t| t == "Hello again.")
        .await;
    platform.user("bob").dm("hi").await.unwrap();
    platform.wait_for_text("bob", |t| t == "Hello Bob.").await;

    let system = |n: usize| {
        let request = &llm.requests()[n];
        let first = &request.messages()[0];
        assert_eq!(first["role"], "system");
        first["content"].as_str().unwrap().to_owned()
    };
    assert_eq!(system(0), "You are hermod.", "no notes yet");
    let next = system(2);
    assert!(
        next.starts_with("You are hermod.\n\n<user-memory>\n")
            && next.contains("- lives in Bergen\n</user-memory>"),
        "{next}"
    );
    assert_eq!(
        system(3),
        "You are hermod.",
        "bob does not see alice's notes"
    );
}
