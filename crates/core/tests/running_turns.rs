//! `hermod_turns_running`: up while a turn runs, one per running turn, and
//! back to 0 however the turn ends — answered, failed at the model, or
//! stopped by `/stop`.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_agent::{Agent, AgentError, AgentEvent, TurnControl, TurnHandle, TurnRequest};
use hermod_core::{Gateway, GatewayConfig, Metrics};
use hermod_store::SqliteStore;
use hermod_testkit::{AgentStats, ScriptedAgent, TestPlatform};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Echoes after a minute, except that a message containing "fail" fails
/// at the model at once.
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

/// A running gateway on one test platform, its agent answering after a
/// minute.
async fn start(
    dir: &std::path::Path,
    platform: &TestPlatform,
    metrics: &Metrics,
) -> Arc<AgentStats> {
    let store = Arc::new(SqliteStore::open(&dir.join("hermod.db")).unwrap());
    let agent = ScriptedAgent::with_delay(Duration::from_secs(60));
    let stats = agent.stats();
    let config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    let gateway = Gateway::builder(store, Arc::new(FailsOnRequest(agent)), config)
        .adapter(platform.adapter())
        .metrics(metrics.clone())
        .build()
        .unwrap();
    tokio::spawn(gateway.run(CancellationToken::new()));
    platform.wait_running().await;
    stats
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
    let stats = start(dir.path(), &platform, &metrics).await;
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
