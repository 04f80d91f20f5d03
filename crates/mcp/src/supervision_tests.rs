//! The supervision on paused time, against a scripted connector: start
//! does not wait, failures back off 1 s doubling to 60 s, a broken server's
//! tools are withdrawn and come back, reloads, timeouts and shutdown.

#![allow(clippy::unwrap_used, reason = "tests")]

use crate::config::{ServerSpec, ToolFilter, Transport};
use crate::fake::{Scripted, Step};
use crate::listing::ServerState;
use crate::manager::{McpManager, McpOptions};
use crate::transport::Connector;
use hermod_agent::{ToolContext, ToolSource};
use hermod_model::SessionId;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn spec(name: &str) -> ServerSpec {
    ServerSpec {
        name: name.to_owned(),
        transport: Transport::Stdio {
            command: "unused".into(),
            args: vec![],
            env: Default::default(),
            cwd: None,
        },
        enabled: true,
        call_timeout: Duration::from_secs(300),
        connect_timeout: Duration::from_secs(60),
        filter: ToolFilter::default(),
    }
}

fn start(connector: &Arc<Scripted>, specs: Vec<ServerSpec>) -> McpManager {
    let connector: Arc<dyn Connector> = connector.clone();
    McpManager::start_on(specs, McpOptions::default(), &connector)
}

fn state(manager: &McpManager, server: &str) -> ServerState {
    manager
        .list()
        .into_iter()
        .find(|s| s.name == server)
        .unwrap()
        .state
}

/// Waits (on paused time, so without delay) until `ok` holds.
async fn until(manager: &McpManager, what: &str, ok: impl Fn(&McpManager) -> bool) {
    let wait = async {
        let mut changes = manager.changes();
        while !ok(manager) {
            changes.next().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(24 * 3600), wait)
        .await
        .unwrap_or_else(|_| panic!("never: {what}; servers: {:?}", manager.list()));
}

fn ctx() -> ToolContext {
    ToolContext::new(
        SessionId::parse("s").unwrap(),
        "c",
        CancellationToken::new(),
    )
}

fn offered(manager: &McpManager) -> Vec<String> {
    manager
        .tools()
        .iter()
        .map(|t| t.name().to_owned())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_dead_server_neither_delays_the_start_nor_the_others_and_backs_off() {
    let connector = Arc::new(Scripted::default());
    connector.script("dead", [Step::Hang]);
    connector.script(
        "flaky",
        [
            Step::Fail("refused"),
            Step::Fail("refused"),
            Step::Fail("refused"),
            Step::Up(vec!["echo"]),
        ],
    );
    connector.script("good", [Step::Up(vec!["add", "echo"])]);
    let begin = Instant::now();
    let manager = start(&connector, vec![spec("dead"), spec("flaky"), spec("good")]);
    // Nothing connected yet, and starting did not wait.
    assert_eq!(state(&manager, "good"), ServerState::Connecting);
    assert!(manager.tools().is_empty());

    until(&manager, "good connected", |m| {
        state(m, "good") == ServerState::Connected
    })
    .await;
    assert_eq!(begin.elapsed(), Duration::ZERO);
    assert_eq!(offered(&manager), ["mcp__good__add", "mcp__good__echo"]);
    assert!(
        matches!(state(&manager, "flaky"), ServerState::Failed { error, .. } if error == "refused")
    );

    until(&manager, "flaky connected", |m| {
        state(m, "flaky") == ServerState::Connected
    })
    .await;
    let tries: Vec<Duration> = connector
        .attempts("flaky")
        .iter()
        .map(|t| t.duration_since(begin))
        .collect();
    let secs = |s: &[u64]| {
        s.iter()
            .map(|&s| Duration::from_secs(s))
            .collect::<Vec<_>>()
    };
    assert_eq!(tries, secs(&[0, 1, 3, 7]), "1 s, then 2 s, then 4 s");
    assert_eq!(
        offered(&manager),
        ["mcp__flaky__echo", "mcp__good__add", "mcp__good__echo"]
    );

    // The hanging server gives up at its connect timeout and backs off.
    until(&manager, "dead failed", |m| {
        matches!(state(m, "dead"), ServerState::Failed { .. })
    })
    .await;
    let ServerState::Failed { error, retry_in } = state(&manager, "dead") else {
        unreachable!()
    };
    assert!(error.contains("within 1 min (connect_timeout)"), "{error}");
    assert_eq!(retry_in, Duration::from_secs(1));
    assert_eq!(begin.elapsed(), Duration::from_secs(60));
    manager.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_broken_server_is_withdrawn_says_when_it_is_retried_and_comes_back() {
    let connector = Arc::new(Scripted::default());
    connector.script(
        "srv",
        [
            Step::Up(vec!["echo"]),
            Step::Fail("exec failed"),
            Step::Up(vec!["echo"]),
            Step::Up(vec!["echo"]),
        ],
    );
    let manager = start(&connector, vec![spec("srv")]);
    until(&manager, "connected", |m| {
        state(m, "srv") == ServerState::Connected
    })
    .await;
    let tool = manager.get("mcp__srv__echo").unwrap();
    assert_eq!(
        tool.call(json!({"text": "hi"}), ctx()).await.unwrap(),
        r#"echo {"text":"hi"}"#
    );

    let first = connector.session("srv");
    first.end("the server process exited");
    until(&manager, "failed", |m| {
        matches!(state(m, "srv"), ServerState::Failed { .. })
    })
    .await;
    assert!(first.is_closed());
    // Not offered, but a call the model already chose says why and when.
    assert!(manager.tools().is_empty());
    let error = tool.call(json!({}), ctx()).await.unwrap_err();
    assert!(
        error.contains("'srv' is restarting after: the server process exited")
            && error.contains("retried in 1 s"),
        "{error}"
    );
    let begin = Instant::now();
    until(&manager, "back", |m| {
        state(m, "srv") == ServerState::Connected
    })
    .await;
    // 1 s to the failed attempt, then 2 s more.
    assert_eq!(begin.elapsed(), Duration::from_secs(3));
    assert_eq!(offered(&manager), ["mcp__srv__echo"]);
    assert!(tool.call(json!({}), ctx()).await.is_ok());

    // A session that lasted the backoff's ceiling starts the backoff over.
    tokio::time::sleep(Duration::from_secs(60)).await;
    connector.session("srv").end("exited again");
    let ended = Instant::now();
    until(&manager, "failed again", |m| {
        matches!(state(m, "srv"), ServerState::Failed { .. })
    })
    .await;
    until(&manager, "back again", |m| {
        state(m, "srv") == ServerState::Connected
    })
    .await;
    assert_eq!(ended.elapsed(), Duration::from_secs(1));
    manager.shutdown().await;
    assert!(connector.session("srv").is_closed());
    assert_eq!(state(&manager, "srv"), ServerState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn reload_reconnects_every_server_at_once_and_lists_the_tools_again() {
    let connector = Arc::new(Scripted::default());
    connector.script(
        "up",
        [Step::Up(vec!["old"]), Step::Up(vec!["new", "newer"])],
    );
    connector.script("down", [Step::Fail("refused"), Step::Up(vec!["x"])]);
    let mut disabled = spec("off");
    disabled.enabled = false;
    let manager = McpManager::start_on(
        vec![spec("up"), spec("down"), disabled],
        McpOptions {
            backoff: crate::server::Backoff {
                initial: Duration::from_secs(3600),
                max: Duration::from_secs(3600),
            },
        },
        &(connector.clone() as Arc<dyn Connector>),
    );
    manager.settled().await;
    assert_eq!(offered(&manager), ["mcp__up__old"]);
    let old = connector.session("up");

    let begin = Instant::now();
    let summary = manager.reload().await;
    // Neither the hour's backoff nor anything else was waited for.
    assert_eq!(begin.elapsed(), Duration::ZERO);
    assert!(old.is_closed());
    assert_eq!(
        summary.to_string(),
        "MCP servers reloaded: 2 of 2 connected, 3 tools.\n\
         • up (stdio): connected, 2 tools\n\
         • down (stdio): connected, 1 tools\n\
         • off (stdio): disabled"
    );
    assert_eq!(
        offered(&manager),
        ["mcp__up__new", "mcp__up__newer", "mcp__down__x"]
    );
    // The old tool is gone altogether.
    assert!(manager.get("mcp__up__old").is_none());
    assert_eq!(connector.attempts("off").len(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_changed_tool_list_is_listed_again() {
    let connector = Arc::new(Scripted::default());
    connector.script("srv", [Step::Up(vec!["a"])]);
    let manager = start(&connector, vec![spec("srv")]);
    until(&manager, "connected", |m| {
        state(m, "srv") == ServerState::Connected
    })
    .await;
    connector.session("srv").change_tools(vec!["a", "b"]);
    until(&manager, "b offered", |m| offered(m).len() == 2).await;
    assert_eq!(offered(&manager), ["mcp__srv__a", "mcp__srv__b"]);
    assert_eq!(connector.attempts("srv").len(), 1, "no reconnection");
}

#[tokio::test(start_paused = true)]
async fn a_call_that_outlasts_its_timeout_fails_and_names_it() {
    let connector = Arc::new(Scripted::default());
    connector.script("srv", [Step::Up(vec!["sleep"])]);
    let mut slow = spec("srv");
    slow.call_timeout = Duration::from_secs(90);
    let manager = start(&connector, vec![slow]);
    until(&manager, "connected", |m| {
        state(m, "srv") == ServerState::Connected
    })
    .await;
    let begin = Instant::now();
    let error = manager
        .get("mcp__srv__sleep")
        .unwrap()
        .call(json!({}), ctx())
        .await
        .unwrap_err();
    assert_eq!(begin.elapsed(), Duration::from_secs(90));
    assert!(
        error.contains("did not finish sleep within 1 min 30 s"),
        "{error}"
    );
    // An interrupted turn ends the call at once.
    let cancel = CancellationToken::new();
    cancel.cancel();
    let interrupted = ToolContext::new(SessionId::parse("s").unwrap(), "c", cancel);
    let error = manager
        .get("mcp__srv__sleep")
        .unwrap()
        .call(json!({}), interrupted)
        .await
        .unwrap_err();
    assert!(error.contains("interrupted"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn filters_and_clashing_names_decide_what_is_offered() {
    let connector = Arc::new(Scripted::default());
    connector.script(
        "srv",
        [Step::Up(vec!["get-a", "get_a", "get_b", "drop_me", "keep"])],
    );
    let mut filtered = spec("srv");
    filtered.filter.exclude = vec!["drop_*".into()];
    let manager = start(&connector, vec![filtered]);
    until(&manager, "connected", |m| {
        state(m, "srv") == ServerState::Connected
    })
    .await;
    // get-a and get_a both become mcp__srv__get_a: neither is offered.
    assert_eq!(offered(&manager), ["mcp__srv__get_b", "mcp__srv__keep"]);
    let listing = &manager.list()[0];
    assert_eq!(listing.tools[0].remote_name, "get_b");
    assert_eq!(listing.tools[0].description, "The get_b tool.");
}

#[test]
fn the_same_failure_again_is_not_news_until_a_connection() {
    let mut repeats = crate::server::Repeats::default();
    let seen: Vec<bool> = ["refused", "refused", "refused", "no such host", "refused"]
        .into_iter()
        .map(|e| repeats.is_news(e))
        .collect();
    assert_eq!(seen, [true, false, false, true, true]);
    assert!(!repeats.is_news("refused"));
    repeats.forget();
    assert!(
        repeats.is_news("refused"),
        "after a connection it is news again"
    );
}
