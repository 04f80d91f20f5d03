//! Replies that do not run to their end, and answers that are not stored:
//! an interrupted reply is stored marked partial and reported with its own
//! finish reason; an interrupt before any text is `CoreError::Interrupted`;
//! an ephemeral request leaves nothing in the store.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_agent::{
    Agent, AgentError, AgentEvent, FinishReason, TurnControl, TurnHandle, TurnOutcome, TurnRequest,
};
use hermod_core::{CoreError, Gateway, GatewayConfig, Inbound, TurnEvent, TurnStream};
use hermod_model::{ChatMessage, InboundEvent, PlatformId, Role, SessionId, Source, Usage};
use hermod_store::{ListSessions, SqliteStore, Store};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the agent says before it waits to be interrupted.
const PARTIAL: &str = "The first half of";

/// An agent that shows `PARTIAL` (unless the input is "silent"), then waits
/// for an interrupt and ends as `LlmAgent` does: interrupted with the text
/// shown, or cancelled when nothing was. An input of "quick" is answered at
/// once. It records the history of each turn.
#[derive(Default)]
struct Interruptible {
    histories: Arc<Mutex<Vec<Vec<ChatMessage>>>>,
}

impl Agent for Interruptible {
    fn run_turn(&self, request: TurnRequest) -> TurnHandle {
        let (control, cancel, _steer) = TurnControl::new();
        let (events, rx) = mpsc::channel(8);
        self.histories.lock().unwrap().push(request.history.clone());
        let input = request.input.text();
        tokio::spawn(async move {
            if input == "quick" {
                let _ = events
                    .send(final_event("quick answer", FinishReason::Stop))
                    .await;
                return;
            }
            let silent = input == "silent";
            if !silent {
                let _ = events.send(AgentEvent::TextDelta(PARTIAL.into())).await;
            }
            cancel.cancelled().await;
            let last = if silent {
                AgentEvent::Failed(AgentError::Cancelled)
            } else {
                final_event(PARTIAL, FinishReason::Interrupted)
            };
            let _ = events.send(last).await;
        });
        TurnHandle {
            events: rx,
            control,
        }
    }
}

fn final_event(text: &str, finish_reason: FinishReason) -> AgentEvent {
    AgentEvent::Final(TurnOutcome {
        text: text.into(),
        messages: vec![ChatMessage::assistant(text)],
        usage: Usage::default(),
        finish_reason,
        unused_steer: Vec::new(),
    })
}

struct Harness {
    inbound: Inbound,
    store: Arc<SqliteStore>,
    histories: Arc<Mutex<Vec<Vec<ChatMessage>>>>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn start() -> Harness {
    start_with(GatewayConfig::default())
}

fn start_with(config: GatewayConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let agent = Interruptible::default();
    let histories = Arc::clone(&agent.histories);
    let gateway = Gateway::builder(store.clone(), Arc::new(agent), config)
        .build()
        .unwrap();
    let inbound = gateway.inbound();
    let shutdown = CancellationToken::new();
    tokio::spawn(gateway.run(shutdown.clone()));
    Harness {
        inbound,
        store,
        histories,
        shutdown,
        _dir: dir,
    }
}

/// A message to the session `session`, as a request/response source sends it.
fn to_session(session: &str, text: &str) -> InboundEvent {
    let mut event = InboundEvent::text(Source::dm(PlatformId::from_static("test"), session), text);
    event.session_id = Some(SessionId::parse(session).unwrap());
    event
}

/// The stream's events until its last one, which is returned.
async fn last_event(stream: &mut TurnStream) -> Option<TurnEvent> {
    let mut last = None;
    while let Some(event) = stream.next().await {
        last = Some(event);
    }
    last
}

/// Reads the stream until the agent has shown text.
async fn until_text(stream: &mut TurnStream) {
    loop {
        match stream.next().await {
            Some(TurnEvent::Agent(AgentEvent::TextDelta(_))) => return,
            Some(_) => {}
            None => panic!("the stream ended before any text"),
        }
    }
}

async fn stored_texts(store: &SqliteStore, session: &str) -> Vec<(Role, String)> {
    let id = SessionId::parse(session).unwrap();
    store
        .messages(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.message.role, m.message.text()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_reply_interrupted_by_a_newer_message_is_stored_marked_partial() {
    let h = start();
    let mut first = h
        .inbound
        .submit_streaming(to_session("s1", "tell me a story"))
        .unwrap();
    until_text(&mut first).await;
    // Busy input interrupts by default.
    let second = h
        .inbound
        .submit_streaming(to_session("s1", "quick"))
        .unwrap();

    let Some(TurnEvent::Agent(AgentEvent::Final(outcome))) = last_event(&mut first).await else {
        panic!("the interrupted turn ends with its partial text");
    };
    assert_eq!(outcome.finish_reason, FinishReason::Interrupted);
    assert_eq!(
        outcome.text, PARTIAL,
        "the source gets the text without the mark"
    );
    let mut second = second;
    assert!(matches!(
        last_event(&mut second).await,
        Some(TurnEvent::Agent(AgentEvent::Final(_)))
    ));

    let stored = stored_texts(&h.store, "s1").await;
    assert_eq!(stored.len(), 4, "{stored:?}");
    assert_eq!(
        stored[1],
        (
            Role::Assistant,
            format!("{PARTIAL}\n\n[reply interrupted: it was stopped before it was complete]")
        )
    );
    assert_eq!(stored[3], (Role::Assistant, "quick answer".to_owned()));
    // The next turn's model sees that its earlier reply was cut.
    let histories = h.histories.lock().unwrap().clone();
    assert!(histories[1][1].text().contains("[reply interrupted"));
}

#[tokio::test(start_paused = true)]
async fn a_reply_stopped_by_shutdown_is_stored_marked_partial() {
    let h = start_with(GatewayConfig {
        drain_timeout_secs: 2,
        ..GatewayConfig::default()
    });
    let mut running = h
        .inbound
        .submit_streaming(to_session("s3", "tell me a story"))
        .unwrap();
    until_text(&mut running).await;
    h.shutdown.cancel();
    let Some(TurnEvent::Agent(AgentEvent::Final(outcome))) = last_event(&mut running).await else {
        panic!("the turn ends with its partial text once the drain deadline passes");
    };
    assert_eq!(outcome.finish_reason, FinishReason::Interrupted);
    let stored = stored_texts(&h.store, "s3").await;
    assert!(
        stored[1]
            .1
            .ends_with("[reply interrupted: it was stopped before it was complete]"),
        "{stored:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn stop_before_any_text_is_an_interruption_not_a_cancellation() {
    let h = start();
    let mut running = h
        .inbound
        .submit_streaming(to_session("s2", "silent"))
        .unwrap();
    assert!(matches!(
        running.next().await,
        Some(TurnEvent::Started { .. })
    ));
    let mut stop = h
        .inbound
        .submit_streaming(to_session("s2", "/stop"))
        .unwrap();
    assert!(matches!(
        last_event(&mut stop).await,
        Some(TurnEvent::Reply { .. })
    ));
    assert_eq!(
        last_event(&mut running).await,
        Some(TurnEvent::Failed(CoreError::Interrupted))
    );
    // The user message stays; no reply was produced to store.
    let stored = stored_texts(&h.store, "s2").await;
    assert_eq!(stored, [(Role::User, "silent".to_owned())]);
}

#[tokio::test(start_paused = true)]
async fn an_ephemeral_request_is_answered_without_storing_anything() {
    let h = start();
    let mut event = to_session("one-off", "quick");
    event.ephemeral = true;
    event.history = Some(vec![
        ChatMessage::user("earlier"),
        ChatMessage::assistant("reply"),
    ]);
    let mut stream = h.inbound.submit_streaming(event).unwrap();
    let Some(TurnEvent::Started { session_id }) = stream.next().await else {
        panic!("not started");
    };
    assert_eq!(session_id.as_str(), "one-off");
    assert!(matches!(
        last_event(&mut stream).await,
        Some(TurnEvent::Agent(AgentEvent::Final(_)))
    ));
    assert_eq!(
        h.histories.lock().unwrap()[0].len(),
        2,
        "the history came with the request"
    );
    let id = SessionId::parse("one-off").unwrap();
    assert!(h.store.session(&id).await.unwrap().is_none());
    let all = ListSessions {
        platform: None,
        limit: 10,
        offset: 0,
    };
    assert!(h.store.list_sessions(all).await.unwrap().is_empty());
}
