//! The gateway's metrics, driven through the gateway: answered and failed
//! turns, a duplicate inbound message and a rate-limited delivery show in
//! the rendered numbers, and the rendered text is read by Prometheus'
//! own Python parser; `hermod_turns_running` goes up while turns run and
//! back to 0 however they end.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_agent::{Agent, AgentError, AgentEvent, TurnControl, TurnHandle, TurnRequest};
use hermod_core::{AdapterError, Gateway, GatewayConfig, METRICS_CONTENT_TYPE, Metrics, Submitted};
use hermod_model::Capabilities;
use hermod_store::SqliteStore;
use hermod_testkit::{ScriptedAgent, TestPlatform};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Echoes, except that a message containing "fail" fails at the model.
#[derive(Debug, Clone)]
struct FailsOnRequest(ScriptedAgent);

impl Agent for FailsOnRequest {
    fn run_turn(&self, request: TurnRequest) -> TurnHandle {
        if !request.input.text().contains("fail") {
            return self.0.run_turn(request);
        }
        let (control, _cancel, _steer) = TurnControl::new();
        let (events, receiver) = tokio::sync::mpsc::channel(1);
        events
            .try_send(AgentEvent::Failed(AgentError::Transient(
                "503 from the model".into(),
            )))
            .unwrap();
        TurnHandle {
            events: receiver,
            control,
        }
    }
}

/// A running gateway on one test platform with `metrics`, its agent
/// echoing at once.
async fn start(dir: &std::path::Path, platform: &TestPlatform, metrics: &Metrics) -> ScriptedAgent {
    start_with(dir, platform, metrics, ScriptedAgent::echo()).await
}

/// A running gateway on one test platform with `metrics` and `echo`.
async fn start_with(
    dir: &std::path::Path,
    platform: &TestPlatform,
    metrics: &Metrics,
    echo: ScriptedAgent,
) -> ScriptedAgent {
    let store = Arc::new(SqliteStore::open(&dir.join("hermod.db")).unwrap());
    let config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    let gateway = Gateway::builder(store, Arc::new(FailsOnRequest(echo.clone())), config)
        .adapter(platform.adapter())
        .metrics(metrics.clone())
        .build()
        .unwrap();
    tokio::spawn(gateway.run(CancellationToken::new()));
    platform.wait_running().await;
    echo
}

fn no_edits(name: &'static str) -> TestPlatform {
    TestPlatform::with_capabilities(
        name,
        Capabilities {
            can_edit: false,
            ..TestPlatform::default_capabilities()
        },
    )
}

/// Waits (on tokio's paused clock) until every line is in the rendered
/// metrics; a turn's numbers are recorded just after its reply is sent.
/// The outbox gauge is counted by the sweeper (every 30 s), so the wait
/// covers two sweeps: a sweep that ran before a delivery was recorded is
/// followed by one after it, however the tasks were scheduled.
async fn wait_for_lines(metrics: &Metrics, lines: &[&str]) -> String {
    for _ in 0..6_500 {
        let text = metrics.render();
        if lines.iter().all(|line| text.lines().any(|l| l == *line)) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let text = metrics.render();
    let missing: Vec<_> = lines
        .iter()
        .filter(|line| !text.lines().any(|l| l == **line))
        .collect();
    panic!("missing {missing:?} in\n{text}");
}

#[tokio::test(start_paused = true)]
async fn turns_duplicates_and_rate_limits_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let platform = no_edits("test");
    let metrics = Metrics::new();
    // The first reply is refused once with a retry-after, then sent.
    platform.fail_next_send(AdapterError::RateLimited {
        retry_after: Some(Duration::from_secs(2)),
    });
    let echo = start(dir.path(), &platform, &metrics).await;
    let alice = platform.user("alice");

    let inbound = platform.inbound().unwrap();
    let mut hello = alice.dm_event("hello");
    hello.message_id = Some("m-1".into());
    let first = inbound.submit_once(hello.clone(), "alice:m-1").await;
    assert_eq!(first.unwrap(), Submitted::Accepted);
    let again = inbound.submit_once(hello, "alice:m-1").await;
    assert_eq!(again.unwrap(), Submitted::Duplicate);
    let answered = platform.wait_for_messages("alice", 1).await;
    assert!(answered[0].text.starts_with("echo: hello"), "{answered:?}");

    alice.dm("please fail").await.unwrap();
    let both = platform.wait_for_messages("alice", 2).await;
    assert!(both[1].text.contains("model"), "{both:?}");

    let text = wait_for_lines(
        &metrics,
        &[
            r#"hermod_turns_total{platform="test",outcome="answered"} 1"#,
            r#"hermod_turns_total{platform="test",outcome="failed"} 1"#,
            r#"hermod_turn_duration_seconds_count{platform="test"} 2"#,
            r#"hermod_turn_first_token_seconds_count{platform="test"} 1"#,
            r#"hermod_inbound_duplicates_total{platform="test"} 1"#,
            r#"hermod_rate_limited_total{platform="test"} 1"#,
            r#"hermod_platform_state{platform="test",state="running"} 1"#,
            r#"hermod_platform_state{platform="test",state="failed"} 0"#,
            "hermod_session_workers 1",
            "hermod_outbox_pending 0",
        ],
    )
    .await;
    assert!(
        text.contains(&format!(
            "hermod_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    // The waited-out rate limit was not a deferred or failed delivery.
    assert!(!text.contains("hermod_outbox_retried_total{"), "{text}");
    assert!(!text.contains("hermod_outbox_failed_total{"), "{text}");
    // The reply that was waited for took the retry-after at least.
    assert!(
        text.contains(r#"hermod_turn_duration_seconds_bucket{platform="test",le="1"} 1"#),
        "one turn under a second, the rate-limited one over: {text}"
    );
    // The agent is handed the observer its model calls are counted by.
    assert!(
        echo.stats()
            .requests()
            .iter()
            .all(|r| r.model_calls.is_some())
    );
    // Nothing about who wrote: no user or chat ids in any label.
    assert!(!text.contains("alice"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_delivery_refused_for_good_is_counted_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let platform = no_edits("test");
    let metrics = Metrics::new();
    platform.fail_next_send(AdapterError::Rejected("chat not found".into()));
    start(dir.path(), &platform, &metrics).await;
    platform.user("alice").dm("hi").await.unwrap();
    wait_for_lines(
        &metrics,
        &[
            r#"hermod_outbox_failed_total{platform="test"} 1"#,
            r#"hermod_turns_total{platform="test",outcome="answered"} 1"#,
        ],
    )
    .await;
}

/// The Python interpreter with Prometheus' `prometheus_client` (the CI
/// venv, as `HERMOD_SDK_PYTHON`), or `python3`.
fn python() -> Option<std::path::PathBuf> {
    let python = std::env::var_os("HERMOD_SDK_PYTHON")
        .map_or_else(|| "python3".into(), std::path::PathBuf::from);
    let found = std::process::Command::new(&python)
        .args(["-c", "import prometheus_client.parser"])
        .output()
        .is_ok_and(|o| o.status.success());
    found.then_some(python)
}

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = {
        "type": family.type,
        "samples": [[s.name, s.labels, s.value] for s in family.samples],
    }
print(json.dumps(families))
"#;

#[tokio::test(start_paused = true)]
async fn prometheus_parses_the_rendered_metrics() {
    let Some(python) = python() else {
        eprintln!("skipped: no python with prometheus_client (set HERMOD_SDK_PYTHON, see .ci/run)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let platform = no_edits("test");
    let metrics = Metrics::new();
    start(dir.path(), &platform, &metrics).await;
    platform.user("alice").dm("hi").await.unwrap();
    wait_for_lines(
        &metrics,
        &[r#"hermod_turns_total{platform="test",outcome="answered"} 1"#],
    )
    .await;
    assert!(METRICS_CONTENT_TYPE.starts_with("text/plain; version=0.0.4"));

    let mut child = std::process::Command::new(python)
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(metrics.render().as_bytes()).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let families: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let kind = |name: &str| families[name]["type"].as_str().map(str::to_owned);
    assert_eq!(
        kind("hermod_turns").as_deref(),
        Some("counter"),
        "{families}"
    );
    assert_eq!(
        kind("hermod_turn_duration_seconds").as_deref(),
        Some("histogram")
    );
    assert_eq!(kind("hermod_platform_state").as_deref(), Some("gauge"));
    assert_eq!(kind("hermod_session_workers").as_deref(), Some("gauge"));
    let samples = families["hermod_turns"]["samples"].as_array().unwrap();
    let answered = samples
        .iter()
        .find(|s| s[1]["outcome"] == "answered")
        .unwrap_or_else(|| panic!("{families}"));
    assert_eq!(answered[0], "hermod_turns_total");
    assert_eq!(
        answered[1],
        serde_json::json!({"platform": "test", "outcome": "answered"})
    );
    assert_eq!(answered[2].as_f64(), Some(1.0), "{families}");
}

/// Waits (on tokio's paused clock) until `outcome` turns ended that way;
/// the count is recorded after the turn stopped counting as running.
async fn wait_ended(metrics: &Metrics, outcome: &str, n: usize) {
    let line = format!(r#"hermod_turns_total{{platform="test",outcome="{outcome}"}} {n}"#);
    // Up to five minutes of the paused clock: the agent takes one.
    for _ in 0..3000 {
        if metrics.render().lines().any(|l| l == line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("missing {line} in\n{}", metrics.render());
}

fn rendered_gauge(metrics: &Metrics) -> String {
    metrics
        .render()
        .lines()
        .find(|l| l.starts_with("hermod_turns_running "))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(start_paused = true)]
async fn the_gauge_counts_running_turns_and_returns_to_zero_however_they_end() {
    let dir = tempfile::tempdir().unwrap();
    let platform = TestPlatform::new("test");
    let metrics = Metrics::new();
    // The agent answers after a minute, so turns are seen running.
    let agent = ScriptedAgent::with_delay(Duration::from_secs(60));
    let stats = agent.stats();
    start_with(dir.path(), &platform, &metrics, agent).await;
    assert_eq!(metrics.turns_running(), 0);
    assert_eq!(rendered_gauge(&metrics), "hermod_turns_running 0");

    // Two chats, two turns at once; both answered.
    platform.user("alice").dm("hello").await.unwrap();
    platform.user("bob").dm("hello").await.unwrap();
    stats.wait_started(2).await;
    assert_eq!(metrics.turns_running(), 2);
    assert_eq!(rendered_gauge(&metrics), "hermod_turns_running 2");
    wait_ended(&metrics, "answered", 2).await;
    assert_eq!(metrics.turns_running(), 0);

    // Failed at the model.
    platform.user("alice").dm("please fail").await.unwrap();
    wait_ended(&metrics, "failed", 1).await;
    assert_eq!(metrics.turns_running(), 0);

    // Stopped while it runs.
    let alice = platform.user("alice");
    alice.dm("a long one").await.unwrap();
    stats.wait_started(3).await;
    assert_eq!(metrics.turns_running(), 1);
    alice.dm("/stop").await.unwrap();
    wait_ended(&metrics, "stopped", 1).await;
    assert_eq!(metrics.turns_running(), 0);
    assert_eq!(rendered_gauge(&metrics), "hermod_turns_running 0");
}
