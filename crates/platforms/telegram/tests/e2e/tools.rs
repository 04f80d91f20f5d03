//! The agent's tools end to end through Telegram: hermod's own model
//! client against the fake LLM, which scripts the tool calls, and the real
//! tools — a dangerous terminal command approved, denied and timed out in
//! the chat, a memory note in the next session's system prompt,
//! `session_search` blind to another user's sessions, and MCP tools from a
//! real MCP server over stdio and streamable HTTP.

use crate::support::{World, bot_says, within};
use hermod_agent::{LlmAgent, LlmConfig, RetryPolicy, ToolRegistry};
use hermod_core::{MemoryLimits, MemoryTool, SessionSearchTool};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// hermod's agent on `llm` with `tools`; approvals wait `approval_timeout`.
fn agent(llm: &FakeLlm, tools: ToolRegistry, approval_timeout: Duration) -> LlmAgent {
    LlmAgent::new(
        LlmConfig {
            base_url: llm.base_url(),
            model: "fake-model".into(),
            request_timeout: Duration::from_secs(30),
            stream: true,
            retry: RetryPolicy::none(),
            approval_timeout,
            ..LlmConfig::default()
        },
        tools,
    )
}

/// The terminal tool working in `workspace`, with the default patterns.
fn terminal(workspace: &Path) -> hermod_tools::Terminal {
    let workspace = hermod_tools::Workspace::open(workspace).unwrap();
    hermod_tools::TerminalConfig::default()
        .build(&workspace)
        .unwrap()
}

/// The tool result the model read in request `n` (0-based).
fn tool_result(llm: &FakeLlm, n: usize) -> String {
    let request = &llm.requests()[n];
    let tool = request
        .messages()
        .iter()
        .rev()
        .find(|m| m["role"] == "tool")
        .unwrap_or_else(|| panic!("request {n} has no tool result"));
    tool["content"].as_str().unwrap().to_owned()
}

/// The system prompt of the last request the model got.
fn last_system_prompt(llm: &FakeLlm) -> String {
    let requests = llm.requests();
    let last = requests.last().unwrap();
    last.messages()
        .iter()
        .filter(|m| m["role"] == "system")
        .filter_map(|m| m["content"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A workspace with a directory `doomed` in it, and the command that
/// deletes it.
fn doomed() -> (tempfile::TempDir, PathBuf, Value) {
    let workspace = tempfile::tempdir().unwrap();
    let doomed = workspace.path().join("doomed");
    std::fs::create_dir_all(doomed.join("inner")).unwrap();
    let call = json!({"command": format!("rm -rf {}", doomed.display())});
    (workspace, doomed, call)
}

#[tokio::test]
async fn a_dangerous_command_runs_once_approved_in_the_chat() {
    let (workspace, doomed, call) = doomed();
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("terminal", call),
        Reply::text("The directory is gone."),
    ]);
    let tools = ToolRegistry::new().with(terminal(workspace.path()));
    let world = World::new().await;
    let running = world
        .start(agent(&llm, tools, Duration::from_secs(60)))
        .await;
    let alice = world.fake.user(3001, "Alice");

    alice.dm("clean up the doomed directory");
    let ask = bot_says(&world, 3001, "the approval request", |t| {
        t.starts_with("🔐 Approval needed")
    })
    .await;
    assert!(
        ask.current_text().contains("rm -rf"),
        "{}",
        ask.current_text()
    );
    assert!(
        ask.current_text().contains("/approve session"),
        "{}",
        ask.current_text()
    );
    assert!(doomed.exists(), "nothing runs before the answer");

    alice.dm("/approve");
    bot_says(&world, 3001, "the final reply", |t| {
        t == "The directory is gone."
    })
    .await;
    assert!(!doomed.exists(), "the approved command ran");
    let result = tool_result(&llm, 1);
    assert!(result.contains("exit code: 0"), "{result}");
    running.stop().await;
}

#[tokio::test]
async fn a_denied_command_never_runs_and_the_model_hears_why() {
    let (workspace, doomed, call) = doomed();
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("terminal", call),
        Reply::text("Understood, I left it."),
    ]);
    let tools = ToolRegistry::new().with(terminal(workspace.path()));
    let world = World::new().await;
    let running = world
        .start(agent(&llm, tools, Duration::from_secs(60)))
        .await;
    let alice = world.fake.user(3002, "Alice");

    alice.dm("clean up the doomed directory");
    bot_says(&world, 3002, "the approval request", |t| {
        t.starts_with("🔐 Approval needed")
    })
    .await;
    alice.dm("/deny keep my files");
    bot_says(&world, 3002, "the final reply", |t| {
        t == "Understood, I left it."
    })
    .await;
    assert!(doomed.exists(), "a denied command does not run");
    let result = tool_result(&llm, 1);
    assert!(
        result.contains("denied") && result.contains("keep my files"),
        "{result}"
    );
    running.stop().await;
}

#[tokio::test]
async fn an_unanswered_request_is_denied_when_its_time_runs_out() {
    let (workspace, doomed, call) = doomed();
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("terminal", call),
        Reply::text("Nobody answered, so I did nothing."),
    ]);
    let tools = ToolRegistry::new().with(terminal(workspace.path()));
    let world = World::new().await;
    // Real time: the gateway's clock is not paused in these tests.
    let running = world
        .start(agent(&llm, tools, Duration::from_secs(1)))
        .await;
    world
        .fake
        .user(3003, "Alice")
        .dm("clean up the doomed directory");
    bot_says(&world, 3003, "the approval request", |t| {
        t.starts_with("🔐 Approval needed")
    })
    .await;
    bot_says(&world, 3003, "the final reply", |t| {
        t == "Nobody answered, so I did nothing."
    })
    .await;
    assert!(doomed.exists(), "an unanswered request is a denial");
    let result = tool_result(&llm, 1);
    assert!(result.contains("nobody answered"), "{result}");
    running.stop().await;
}

#[tokio::test]
async fn a_memory_note_is_in_the_next_sessions_system_prompt() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call(
            "memory",
            json!({"action": "add", "content": "Prefers green tea, no sugar"}),
        ),
        Reply::text("Noted."),
        Reply::text("Hello again."),
        Reply::text("Hello, stranger."),
    ]);
    let world = World::new().await;
    let tools = ToolRegistry::new().with(MemoryTool::new(
        world.store.clone(),
        MemoryLimits::default(),
    ));
    let running = world
        .start(agent(&llm, tools, Duration::from_secs(60)))
        .await;
    let alice = world.fake.user(3004, "Alice");
    alice.dm("remember that I like green tea without sugar");
    bot_says(&world, 3004, "the first reply", |t| t == "Noted.").await;
    let saved = tool_result(&llm, 1);
    assert!(!saved.starts_with("error"), "{saved}");

    alice.dm("/new");
    bot_says(&world, 3004, "the new session", |t| {
        t.contains("New conversation started")
    })
    .await;
    alice.dm("hi");
    bot_says(&world, 3004, "the reply in the new session", |t| {
        t == "Hello again."
    })
    .await;
    let prompt = last_system_prompt(&llm);
    assert!(prompt.contains("Prefers green tea, no sugar"), "{prompt}");
    let requests = llm.requests();
    let history = requests.last().unwrap().messages();
    assert!(
        !history.iter().any(|m| m["content"]
            .as_str()
            .is_some_and(|c| c.contains("remember that"))),
        "a new session does not carry the old conversation: {history:?}"
    );

    world.fake.user(3005, "Bob").dm("hi");
    bot_says(&world, 3005, "Bob's reply", |t| t == "Hello, stranger.").await;
    let prompt = last_system_prompt(&llm);
    assert!(
        !prompt.contains("green tea"),
        "Alice's notes are hers: {prompt}"
    );
    running.stop().await;
}

#[tokio::test]
async fn session_search_never_shows_another_users_sessions() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::text("Got it."),
        Reply::text("Nice."),
        Reply::tool_call("session_search", json!({"query": "pineapple"})),
        Reply::text("Here is what I found."),
    ]);
    let world = World::new().await;
    let tools = ToolRegistry::new().with(SessionSearchTool::new(world.store.clone()));
    let running = world
        .start(agent(&llm, tools, Duration::from_secs(60)))
        .await;
    let bob = world.fake.user(3007, "Bob");
    bob.dm("my secret pineapple upside-down recipe uses rum");
    bot_says(&world, 3007, "Bob's reply", |t| t == "Got it.").await;
    let alice = world.fake.user(3006, "Alice");
    alice.dm("I grow pineapple sage on the balcony");
    bot_says(&world, 3006, "Alice's reply", |t| t == "Nice.").await;

    alice.dm("what did we say about pineapple?");
    bot_says(&world, 3006, "the answer", |t| t == "Here is what I found.").await;
    let result = tool_result(&llm, 3);
    assert!(
        result.contains("sage on the balcony"),
        "her own session is found: {result}"
    );
    assert!(
        !result.contains("rum") && !result.contains("upside-down"),
        "Bob's session is not hers: {result}"
    );
    running.stop().await;
}

/// The Python with the official `mcp` package, or `None` (the test
/// skips) outside CI, where `.ci/run` installs it.
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
fn mcp_python() -> Option<String> {
    match std::env::var("HERMOD_MCP_PYTHON") {
        Ok(python) => Some(python),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "HERMOD_MCP_PYTHON is needed under CI (.ci/run installs it)"
            );
            eprintln!("skipped: HERMOD_MCP_PYTHON is not set (a Python with the `mcp` package)");
            None
        }
    }
}

/// The MCP client crate's test server (`tools_server.py`).
fn mcp_script() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../mcp/tests/servers/tools_server.py")
        .display()
        .to_string()
}

/// The test server over streamable HTTP on a free loopback port, killed
/// when dropped; it prints its port once it listens.
async fn mcp_http_server(python: &str) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(python)
        .args([mcp_script(), "--http".into()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let port = within("the MCP server's port", lines.next_line())
        .await
        .unwrap()
        .expect("the MCP server printed its port");
    (child, format!("http://127.0.0.1:{}/mcp", port.trim()))
}

#[tokio::test]
async fn mcp_tools_are_called_over_stdio_and_streamable_http() {
    let Some(python) = mcp_python() else {
        return;
    };
    let (_server, url) = mcp_http_server(&python).await;
    let servers: hermod_mcp::McpServersConfig = serde_json::from_value(json!({
        "local": {"command": python, "args": [mcp_script()]},
        "remote": {"url": url},
    }))
    .unwrap();
    let specs = hermod_mcp::resolve_all(&servers, &hermod_model::EnvVars::new()).unwrap();
    let manager = hermod_mcp::McpManager::start(specs);
    within("the MCP servers to connect", manager.settled()).await;

    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("mcp__local__add", json!({"a": 2, "b": 40})),
        Reply::text("2 + 40 = 42"),
        Reply::tool_call("mcp__remote__echo", json!({"text": "over HTTP"})),
        Reply::text("It echoed."),
    ]);
    let tools = ToolRegistry::new().with_source(manager.tool_source());
    let world = World::new().await;
    let running = world
        .start(agent(&llm, tools, Duration::from_secs(60)))
        .await;
    let alice = world.fake.user(3008, "Alice");

    alice.dm("add 2 and 40");
    bot_says(&world, 3008, "the stdio answer", |t| t == "2 + 40 = 42").await;
    let requests = llm.requests();
    let offered = requests[0].tool_names();
    assert!(
        offered.contains(&"mcp__local__add") && offered.contains(&"mcp__remote__echo"),
        "{offered:?}"
    );
    assert_eq!(tool_result(&llm, 1).trim(), "42");

    alice.dm("echo something over HTTP");
    bot_says(&world, 3008, "the HTTP answer", |t| t == "It echoed.").await;
    assert!(
        tool_result(&llm, 3).contains("over HTTP"),
        "{}",
        tool_result(&llm, 3)
    );
    running.stop().await;
    manager.shutdown().await;
}
