//! Handoff through the gateway on an in-process chat platform, on paused
//! time: a pending handoff completes in a fresh thread of the home channel
//! and the thread continues the same session; failures are recorded with
//! their reason; a restart takes up a pending handoff exactly once.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::{
    AdapterError, Clock, Gateway, GatewayConfig, PlatformPolicy, StreamingConfig, await_handoff,
};
use hermod_model::{ChatMessage, PlatformId, SessionId, SessionKey, Source, Usage};
use hermod_store::{
    AppendMessages, HandoffState, NewHandoff, NewMessage, NewSession, SqliteStore, Store,
};
use hermod_testkit::{AgentStats, ScriptedAgent, TestPlatform};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const TEST: PlatformId = PlatformId::from_static("test");
const WAIT: Duration = Duration::from_secs(30);

fn config(home: Option<&str>) -> GatewayConfig {
    let mut config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    config.platforms.insert(
        "test".into(),
        PlatformPolicy {
            home_channel: home.map(str::to_owned),
            ..PlatformPolicy::default()
        },
    );
    config
}

/// Starts a gateway on `store` with `platform`; returns its handoff handle
/// and what stops it.
async fn start(
    store: Arc<SqliteStore>,
    platform: &TestPlatform,
    config: GatewayConfig,
) -> (hermod_core::Handoffs, Arc<AgentStats>, CancellationToken) {
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let gateway = Gateway::builder(store, Arc::new(agent), config)
        .adapter(platform.adapter())
        .clock(Clock::following_tokio(1_800_000_000_000))
        .streaming(StreamingConfig {
            enabled: false,
            ..StreamingConfig::default()
        })
        .build()
        .unwrap();
    let handoffs = gateway.handoffs();
    let shutdown = CancellationToken::new();
    tokio::spawn(gateway.run(shutdown.clone()));
    platform.wait_running().await;
    (handoffs, stats, shutdown)
}

/// A session from the terminal with one exchange in it.
async fn terminal_session(store: &dyn Store, id: &str) -> SessionId {
    let session = SessionId::parse(id).unwrap();
    let source = Source::dm(PlatformId::new("cli"), id);
    store
        .create_session(NewSession {
            id: session.clone(),
            key: SessionKey::build(&source, &Default::default()),
            source,
            created_at_ms: 1,
        })
        .await
        .unwrap();
    let at = |message, at_ms| NewMessage {
        message,
        at_ms,
        platform_message_id: None,
    };
    store
        .append_messages(AppendMessages {
            session: session.clone(),
            messages: vec![
                at(ChatMessage::user("plan a trip to Rome"), 2),
                at(ChatMessage::assistant("Rome in May is lovely."), 3),
            ],
            usage: Usage::default(),
        })
        .await
        .unwrap();
    session
}

fn temp_store() -> (Arc<SqliteStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    (store, dir)
}

#[tokio::test(start_paused = true)]
async fn a_handoff_opens_a_thread_at_home_and_the_thread_continues_the_session() {
    let (store, _dir) = temp_store();
    let session = terminal_session(store.as_ref(), "s-term").await;
    let platform = TestPlatform::new("test");
    let (handoffs, stats, _stop) = start(store.clone(), &platform, config(Some("home"))).await;

    let asked = handoffs.request(&session, TEST).await.unwrap();
    assert_eq!(asked.state, HandoffState::Pending);
    let done = await_handoff(store.as_ref(), &session, WAIT).await.unwrap();
    assert_eq!(done.state, HandoffState::Completed, "{done:?}");
    let target = done.destination.unwrap();
    let threads = platform.created_threads();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].chat_id, "home");
    assert_eq!(threads[0].title, "hermod — plan a trip to Rome");
    assert_eq!(
        (target.chat_id.as_str(), target.thread_id.as_deref()),
        ("home", Some(threads[0].thread_id.as_str()))
    );
    let thread = threads[0].thread_id.clone();
    let shown = platform.wait_for_messages("home", 1).await;
    assert_eq!(shown[0].thread_id.as_deref(), Some(thread.as_str()));
    assert!(
        shown[0]
            .text
            .contains("handed off from cli (session s-term)")
            && shown[0].text.contains("You: plan a trip to Rome")
            && shown[0].text.contains("Agent: Rome in May is lovely."),
        "{}",
        shown[0].text
    );

    platform
        .user("alice")
        .say_in_thread("home", &thread, "and in June?")
        .await
        .unwrap();
    let replies = platform.wait_for_messages("home", 2).await;
    assert_eq!(replies[1].text, "echo: and in June? (2 earlier)");
    let request = stats.requests().pop().unwrap();
    assert_eq!(
        request.session_id, session,
        "the thread continues the same session"
    );
    assert_eq!(request.history[0].text(), "plan a trip to Rome");
}

#[tokio::test(start_paused = true)]
async fn failures_are_recorded_with_their_reason() {
    let (store, _dir) = temp_store();
    let platform = TestPlatform::new("test");
    let (handoffs, _stats, _stop) = start(store.clone(), &platform, config(None)).await;

    let nowhere = terminal_session(store.as_ref(), "s-1").await;
    handoffs
        .request(&nowhere, PlatformId::new("elsewhere"))
        .await
        .unwrap();
    let failed = await_handoff(store.as_ref(), &nowhere, WAIT).await.unwrap();
    assert_eq!(failed.state, HandoffState::Failed);
    let reason = failed.error.unwrap();
    assert!(
        reason.contains("elsewhere is not running") && reason.contains("running: test"),
        "{reason}"
    );

    let homeless = terminal_session(store.as_ref(), "s-2").await;
    handoffs.request(&homeless, TEST).await.unwrap();
    let failed = await_handoff(store.as_ref(), &homeless, WAIT)
        .await
        .unwrap();
    let reason = failed.error.unwrap();
    assert!(
        reason.contains("no home channel") && reason.contains("/sethome"),
        "{reason}"
    );

    // With a home channel set by /sethome, a refused thread is the reason.
    platform
        .user("alice")
        .say_in_group("g1", "/sethome")
        .await
        .unwrap();
    platform.wait_for_messages("g1", 1).await;
    platform.fail_next_thread(AdapterError::Rejected("not enough rights".into()));
    handoffs.request(&homeless, TEST).await.unwrap();
    let failed = await_handoff(store.as_ref(), &homeless, WAIT)
        .await
        .unwrap();
    let reason = failed.error.unwrap();
    assert!(
        reason.contains("refused to open a thread") && reason.contains("not enough rights"),
        "{reason}"
    );
    assert!(platform.sent("g1").len() == 1, "no summary after a failure");

    // Asked again, it goes through.
    handoffs.request(&homeless, TEST).await.unwrap();
    let done = await_handoff(store.as_ref(), &homeless, WAIT)
        .await
        .unwrap();
    assert_eq!(done.state, HandoffState::Completed);
    assert_eq!(done.destination.unwrap().chat_id, "g1");
}

#[tokio::test(start_paused = true)]
async fn a_restart_takes_up_a_pending_handoff_exactly_once() {
    let (store, _dir) = temp_store();
    let pending = terminal_session(store.as_ref(), "s-pending").await;
    let cut_short = terminal_session(store.as_ref(), "s-cut").await;
    // Asked while no gateway ran; another was claimed by a run that died.
    for session in [&pending, &cut_short] {
        store
            .handoff_request(NewHandoff {
                session: session.clone(),
                platform: TEST,
                at_ms: 5,
            })
            .await
            .unwrap();
    }
    assert!(store.handoff_claim(&cut_short, 6).await.unwrap());

    let platform = TestPlatform::new("test");
    let (_handoffs, _stats, stop) = start(store.clone(), &platform, config(Some("home"))).await;
    let done = await_handoff(store.as_ref(), &pending, WAIT).await.unwrap();
    assert_eq!(done.state, HandoffState::Completed);
    let cut = store.handoff(&cut_short).await.unwrap().unwrap();
    assert_eq!(cut.state, HandoffState::Failed);
    assert!(cut.error.unwrap().contains("ask for the handoff again"));
    platform.wait_for_messages("home", 1).await;
    stop.cancel();
    platform.wait_stopped().await;

    let again = platform.restarted();
    let (_handoffs, _stats, _stop) = start(store.clone(), &again, config(Some("home"))).await;
    tokio::time::sleep(hermod_core::HANDOFF_POLL * 5).await;
    assert_eq!(again.created_threads().len(), 0, "not opened again");
    assert_eq!(again.sent("home").len(), 1, "one summary in all");
    assert_eq!(platform.created_threads().len(), 1);
    let kept = store.handoff(&pending).await.unwrap().unwrap();
    assert_eq!(kept, done, "the completed handoff stays as it was");
}
