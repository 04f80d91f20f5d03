//! The router and session workers, driven with an in-process agent and a
//! real SQLite store: ordering, parallelism, bounded queues, cancellation,
//! persistence and shutdown.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]
use hermod_agent::AgentEvent;
use hermod_core::{BusyMode, CoreError, Gateway, GatewayConfig, Inbound, TurnEvent, TurnStream};
use hermod_model::{ChatMessage, InboundEvent, PlatformId, Role, SessionId, Source};
use hermod_store::{SqliteStore, Store};
use hermod_testkit::{AgentStats, ScriptedAgent};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

struct Harness {
    inbound: Inbound,
    store: Arc<SqliteStore>,
    stats: Arc<AgentStats>,
    shutdown: CancellationToken,
    done: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn start(delay: Duration, config: GatewayConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let agent = ScriptedAgent::with_delay(delay);
    let stats = agent.stats();
    let agent = Arc::new(agent);
    let gateway = Gateway::builder(store.clone(), agent, config)
        .build()
        .unwrap();
    let inbound = gateway.inbound();
    let shutdown = CancellationToken::new();
    let done = tokio::spawn(gateway.run(shutdown.clone()));
    Harness {
        inbound,
        store,
        stats,
        shutdown,
        done,
        _dir: dir,
    }
}

fn dm(chat: &str, text: &str) -> InboundEvent {
    InboundEvent::text(Source::dm(PlatformId::from_static("test"), chat), text)
}

/// Runs the stream to its end; returns the session and the final text.
async fn finish(mut stream: TurnStream) -> Result<(SessionId, String), CoreError> {
    let mut session = None;
    while let Some(event) = stream.next().await {
        match event {
            TurnEvent::Started { session_id } => session = Some(session_id),
            TurnEvent::Agent(AgentEvent::Final(outcome)) => {
                return Ok((session.unwrap(), outcome.text));
            }
            TurnEvent::Agent(AgentEvent::Failed(e)) => return Err(CoreError::Agent(e)),
            TurnEvent::Failed(e) => return Err(e),
            TurnEvent::Reply { text } => {
                return Err(CoreError::Store(format!("unexpected reply: {text}")));
            }
            TurnEvent::Agent(_) | TurnEvent::Files(_) => {}
        }
    }
    Err(CoreError::Cancelled)
}

/// Runs a stream whose `Started` event was already read to its end.
async fn final_text(mut stream: TurnStream) -> Result<String, CoreError> {
    while let Some(event) = stream.next().await {
        match event {
            TurnEvent::Agent(AgentEvent::Final(outcome)) => return Ok(outcome.text),
            TurnEvent::Agent(AgentEvent::Failed(e)) => return Err(CoreError::Agent(e)),
            TurnEvent::Failed(e) => return Err(e),
            TurnEvent::Reply { text } => return Ok(text),
            TurnEvent::Started { .. } | TurnEvent::Agent(_) | TurnEvent::Files(_) => {}
        }
    }
    Err(CoreError::Cancelled)
}

#[tokio::test(start_paused = true)]
async fn one_session_in_order_with_history_from_the_store() {
    let config = GatewayConfig {
        busy_input_mode: BusyMode::Queue,
        ..GatewayConfig::default()
    };
    let h = start(Duration::from_millis(100), config);
    let streams: Vec<_> = (0..3)
        .map(|i| {
            h.inbound
                .submit_streaming(dm("42", &format!("m{i}")))
                .unwrap()
        })
        .collect();
    let mut sessions = Vec::new();
    for (i, s) in streams.into_iter().enumerate() {
        let (session, text) = finish(s).await.unwrap();
        // Each turn sees the previous turns' user and assistant messages.
        assert_eq!(text, format!("echo: m{i} ({} earlier)", i * 2));
        sessions.push(session);
    }
    assert!(
        sessions.windows(2).all(|w| w[0] == w[1]),
        "one routing key, one session"
    );
    assert_eq!(h.stats.max_running(), 1);
    let stored = h.store.messages(&sessions[0]).await.unwrap();
    let roles: Vec<Role> = stored.iter().map(|m| m.message.role).collect();
    assert_eq!(
        roles,
        [
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant
        ]
    );
    let record = h.store.session(&sessions[0]).await.unwrap().unwrap();
    assert_eq!(record.prompt_tokens, 9);
    assert_eq!(record.key.as_str(), "agent:main:test:dm:42");
}

#[tokio::test(start_paused = true)]
async fn different_sessions_run_in_parallel() {
    let h = start(Duration::from_secs(5), GatewayConfig::default());
    let streams: Vec<_> = (0..4)
        .map(|i| {
            h.inbound
                .submit_streaming(dm(&format!("c{i}"), "hi"))
                .unwrap()
        })
        .collect();
    let started = tokio::time::Instant::now();
    for s in streams {
        finish(s).await.unwrap();
    }
    assert_eq!(h.stats.max_running(), 4);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ran concurrently, not one after another"
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_is_answered_not_grown() {
    let config = GatewayConfig {
        session_queue: 1,
        busy_input_mode: BusyMode::Queue,
        ..GatewayConfig::default()
    };
    let h = start(Duration::from_secs(5), config);
    let first = h.inbound.submit_streaming(dm("7", "one")).unwrap();
    // Let the worker take the first message off the queue.
    let mut first = first;
    assert!(matches!(
        first.next().await,
        Some(TurnEvent::Started { .. })
    ));
    let second = h.inbound.submit_streaming(dm("7", "two")).unwrap();
    let third = h.inbound.submit_streaming(dm("7", "three"));
    assert_eq!(third.unwrap_err(), CoreError::QueueFull { capacity: 1 });
    assert_eq!(final_text(first).await.unwrap(), "echo: one (0 earlier)");
    finish(second).await.unwrap();
    // Room again once the queue drained.
    finish(h.inbound.submit_streaming(dm("7", "four")).unwrap())
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_cancels_the_turn_but_keeps_the_user_message() {
    let h = start(Duration::from_secs(60), GatewayConfig::default());
    let mut stream = h
        .inbound
        .submit_streaming(dm("9", "are you there"))
        .unwrap();
    let Some(TurnEvent::Started { session_id }) = stream.next().await else {
        panic!("not started")
    };
    assert!(matches!(
        stream.next().await,
        Some(TurnEvent::Agent(AgentEvent::TextDelta(_)))
    ));
    drop(stream);
    tokio::time::timeout(Duration::from_secs(1), async {
        while h.stats.interrupted() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the turn was interrupted");
    let stored = h.store.messages(&session_id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].message.text(), "are you there");
}

#[tokio::test(start_paused = true)]
async fn explicit_session_ids_and_supplied_history() {
    let h = start(Duration::ZERO, GatewayConfig::default());
    let id = SessionId::parse("client-chosen").unwrap();
    let mut event = dm("client-chosen", "first");
    event.session_id = Some(id.clone());
    event.history = Some(vec![
        ChatMessage::user("earlier"),
        ChatMessage::assistant("reply"),
    ]);
    let (session, text) = finish(h.inbound.submit_streaming(event).unwrap())
        .await
        .unwrap();
    assert_eq!(session, id);
    assert_eq!(text, "echo: first (2 earlier)");
    // The supplied history was recorded with the turn.
    assert_eq!(h.store.messages(&id).await.unwrap().len(), 4);

    let mut next = dm("client-chosen", "second");
    next.session_id = Some(id.clone());
    let (_, text) = finish(h.inbound.submit_streaming(next).unwrap())
        .await
        .unwrap();
    assert_eq!(text, "echo: second (4 earlier)");
}

#[tokio::test(start_paused = true)]
async fn shutdown_refuses_new_input_and_cancels_turns_after_the_drain_timeout() {
    let config = GatewayConfig {
        drain_timeout_secs: 2,
        ..GatewayConfig::default()
    };
    let h = start(Duration::from_secs(3600), config);
    let stream = h.inbound.submit_streaming(dm("1", "long job")).unwrap();
    let pending = tokio::spawn(finish(stream));
    tokio::task::yield_now().await;
    h.shutdown.cancel();
    let outcome = pending.await.unwrap();
    assert!(matches!(outcome, Err(CoreError::Cancelled)), "{outcome:?}");
    tokio::time::timeout(Duration::from_secs(10), h.done)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        h.inbound.submit_streaming(dm("1", "late")).unwrap_err(),
        CoreError::ShuttingDown
    );
}

#[tokio::test(start_paused = true)]
async fn idle_workers_are_stopped() {
    let config = GatewayConfig {
        worker_idle_secs: 10,
        ..GatewayConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let agent = Arc::new(ScriptedAgent::echo());
    let gateway = Gateway::builder(store, agent, config).build().unwrap();
    let inbound = gateway.inbound();
    let router = gateway.router().clone();
    let _running = tokio::spawn(gateway.run(CancellationToken::new()));
    for i in 0..5 {
        finish(inbound.submit_streaming(dm(&i.to_string(), "x")).unwrap())
            .await
            .unwrap();
    }
    assert_eq!(router.active_workers(), 5);
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(router.active_workers(), 0);
    // A retired session starts a new worker and keeps its session.
    finish(inbound.submit_streaming(dm("0", "again")).unwrap())
        .await
        .unwrap();
    assert_eq!(router.active_workers(), 1);
}
