//! Hooks through the gateway: shell-script hooks deciding commands and
//! receiving events on the in-process chat platform.
//!
//! Hooks are real processes, so the tests whose hooks must finish run on
//! the real clock (a paused clock would reach their timeout at once); the
//! hook that must time out blocks forever, on paused time.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::{Gateway, GatewayConfig, Hooks, StreamingConfig};
use hermod_model::EnvVars;
use hermod_store::SqliteStore;
use hermod_testkit::{ScriptedAgent, Step, TestPlatform};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

struct Chat {
    platform: TestPlatform,
    shutdown: CancellationToken,
    gateway: tokio::task::JoinHandle<()>,
    home: tempfile::TempDir,
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

    /// Stops the gateway and waits for it (and its hooks) to finish.
    async fn stop(self) -> tempfile::TempDir {
        self.shutdown.cancel();
        self.gateway.await.unwrap();
        self.home
    }
}

/// Writes `hooks/<dir>/HOOK.yaml` (`yaml` and `run: ./handler`) and the
/// handler, `#!/bin/sh` and `body`.
fn hook(home: &Path, dir: &str, yaml: &str, body: &str) {
    let dir = home.join("hooks").join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("HOOK.yaml"), format!("{yaml}\nrun: ./handler\n")).unwrap();
    let handler = dir.join("handler");
    std::fs::write(&handler, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&handler, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A gateway on `home` (its hooks written already) with `agent`.
async fn start(home: tempfile::TempDir, agent: ScriptedAgent) -> Chat {
    let store = Arc::new(SqliteStore::open(&home.path().join("t.db")).unwrap());
    let platform = TestPlatform::new("test");
    let hooks = Hooks::load(
        home.path(),
        &EnvVars::new(),
        hermod_http::HttpClient::new().unwrap(),
    );
    assert!(hooks.problems().is_empty(), "{:?}", hooks.problems());
    let config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    let gateway = Gateway::builder(store, Arc::new(agent), config)
        .adapter(platform.adapter())
        .streaming(StreamingConfig {
            enabled: false,
            ..StreamingConfig::default()
        })
        .hooks(hooks)
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    let gateway = tokio::spawn(gateway.run(shutdown.clone()));
    platform.wait_running().await;
    Chat {
        platform,
        shutdown,
        gateway,
        home,
    }
}

#[tokio::test]
async fn a_hook_denies_a_command_and_the_user_sees_why() {
    let home = tempfile::tempdir().unwrap();
    hook(
        home.path(),
        "no-new",
        "events: [command:new]",
        "echo '{\"decision\": \"deny\", \"message\": \"Resets are off this week.\"}'",
    );
    let chat = start(home, ScriptedAgent::echo()).await;
    assert_eq!(chat.ask("hello").await, "echo: hello (0 earlier)");
    // The alias is the same command: the hook sees `command:new`.
    assert_eq!(chat.ask("/reset").await, "Resets are off this week.");
    assert_eq!(chat.ask("/new").await, "Resets are off this week.");
    // The conversation was not reset.
    assert_eq!(chat.ask("again").await, "echo: again (2 earlier)");
    chat.stop().await;
}

#[tokio::test]
async fn a_hook_rewrites_a_command() {
    let home = tempfile::tempdir().unwrap();
    hook(
        home.path(),
        "help-is-version",
        "events: [command:help]",
        "echo '{\"decision\": \"rewrite\", \"command_name\": \"version\", \"raw_args\": \"\"}'",
    );
    let chat = start(home, ScriptedAgent::echo()).await;
    let version = chat.ask("/version").await;
    assert!(version.contains("hermod"), "{version}");
    assert_eq!(chat.ask("/help").await, version);
    chat.stop().await;
}

#[tokio::test]
async fn a_failing_hook_is_skipped_and_the_command_runs() {
    let home = tempfile::tempdir().unwrap();
    hook(
        home.path(),
        "broken",
        "events: [\"command:*\"]",
        "echo '{\"decision\": \"deny\"}'\nexit 1",
    );
    let chat = start(home, ScriptedAgent::echo()).await;
    assert_eq!(chat.ask("/new").await, "✨ New conversation started.");
    chat.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_hook_that_hangs_is_killed_at_its_timeout_and_the_gateway_answers() {
    let home = tempfile::tempdir().unwrap();
    hook(
        home.path(),
        "hang",
        "events: [command:new]\ntimeout_secs: 5",
        "sleep 600",
    );
    let chat = start(home, ScriptedAgent::echo()).await;
    let started = tokio::time::Instant::now();
    assert_eq!(chat.ask("/new").await, "✨ New conversation started.");
    assert!(started.elapsed() >= Duration::from_secs(5));
    // Other chats never wait for it.
    chat.stop().await;
}

#[tokio::test]
async fn events_reach_hooks_with_their_context() {
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("events");
    std::fs::create_dir(&log).unwrap();
    hook(
        home.path(),
        "record",
        "events: [\"gateway:*\", \"session:*\", \"message:*\", \"agent:*\", \"delivery:*\"]",
        // Events run side by side: one file each.
        &format!("cat > \"$(mktemp {}/event.XXXXXX)\"", log.display()),
    );
    let agent = ScriptedAgent::scripted(|_| {
        vec![
            Step::Text("Looking.".into()),
            Step::Tool("search".into()),
            Step::Text("Found it.".into()),
        ]
    });
    let chat = start(home, agent).await;
    chat.ask("hello there").await;
    let home = chat.stop().await;
    let events: Vec<Value> = std::fs::read_dir(home.path().join("events"))
        .unwrap()
        .map(|f| {
            serde_json::from_str(&std::fs::read_to_string(f.unwrap().path()).unwrap()).unwrap()
        })
        .collect();
    let find = |name: &str| {
        events
            .iter()
            .find(|e| e["event"] == name)
            .unwrap_or_else(|| panic!("no {name} in {events:#?}"))["context"]
            .clone()
    };
    assert_eq!(
        find("gateway:startup")["platforms"],
        serde_json::json!(["test"])
    );
    // Sent after the drain, and waited for.
    assert_eq!(find("gateway:shutdown")["reason"], "shutdown");

    let received = find("message:received");
    for (key, value) in [
        ("platform", "test"),
        ("user_id", "alice"),
        ("chat_id", "alice"),
        ("chat_type", "dm"),
        ("message", "hello there"),
    ] {
        assert_eq!(received[key], value, "{key} in {received}");
    }
    assert!(received["message_id"].is_string());
    let session = find("session:start")["session_id"].clone();
    assert!(session.is_string());
    let start = find("agent:start");
    assert_eq!(start["session_id"], session);
    assert_eq!(start["message"], "hello there");
    let step = find("agent:step");
    assert_eq!(step["iteration"], 1);
    assert_eq!(step["tool_names"], serde_json::json!(["search"]));
    let end = find("agent:end");
    assert_eq!(end["outcome"], "answered");
    assert_eq!(end["session_id"], session);
    assert!(
        end["response"].as_str().unwrap().contains("Found it."),
        "{end}"
    );
    let sent = find("delivery:sent");
    assert_eq!(sent["chat_id"], "alice");
    assert_eq!(sent["session_id"], session);
    assert!(
        !sent["message_ids"].as_array().unwrap().is_empty(),
        "{sent}"
    );
}
