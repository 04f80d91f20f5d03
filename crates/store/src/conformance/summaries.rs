//! Conformance checks for session summaries.

use super::{append, at, create, sid};
use crate::{SessionSummary, Store, StoreError};
use hermod_model::ChatMessage;
use std::sync::Arc;

fn summary(session: &str, text: &str, through: i64, at_ms: i64) -> SessionSummary {
    SessionSummary {
        session: sid(session),
        summary: text.to_owned(),
        through_message_id: through,
        focus: None,
        created_at_ms: at_ms,
    }
}

/// A summary round-trips exactly, a newer one replaces it, each session
/// keeps its own, the messages stay, and an unknown session is not found.
pub async fn session_summary_round_trips_and_replaces(store: Arc<dyn Store>) {
    create(store.as_ref(), "s-1", "talk", 1).await;
    create(store.as_ref(), "s-2", "talk", 1).await;
    assert_eq!(
        store.session_summary(&sid("s-1")).await.expect("read"),
        None
    );
    let ids = append(
        store.as_ref(),
        "s-1",
        vec![
            at(ChatMessage::user("one"), 2),
            at(ChatMessage::assistant("two"), 3),
            at(ChatMessage::user("three"), 4),
        ],
    )
    .await;

    let first = SessionSummary {
        focus: Some("the \"plan\" ✈".to_owned()),
        ..summary("s-1", "They said one; I said two.\nLine two.", ids[1], 10)
    };
    store.set_session_summary(first.clone()).await.expect("set");
    assert_eq!(
        store.session_summary(&sid("s-1")).await.expect("read"),
        Some(first)
    );
    assert_eq!(
        store.session_summary(&sid("s-2")).await.expect("read"),
        None
    );

    let second = summary("s-1", "All three.", ids[2], 20);
    store
        .set_session_summary(second.clone())
        .await
        .expect("replace");
    assert_eq!(
        store.session_summary(&sid("s-1")).await.expect("read"),
        Some(second),
        "the newer summary replaces the older, focus included"
    );
    assert_eq!(
        store.messages(&sid("s-1")).await.expect("messages").len(),
        3,
        "the messages stay stored in full"
    );
    assert!(matches!(
        store.set_session_summary(summary("nope", "x", 1, 1)).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Taking back a message the summary covers removes the summary; taking
/// back only messages after it keeps it.
pub async fn undo_forgets_a_summary_it_reaches(store: Arc<dyn Store>) {
    create(store.as_ref(), "s", "talk", 1).await;
    let ids = append(
        store.as_ref(),
        "s",
        vec![
            at(ChatMessage::user("q1"), 2),
            at(ChatMessage::assistant("a1"), 3),
            at(ChatMessage::user("q2"), 4),
            at(ChatMessage::assistant("a2"), 5),
            at(ChatMessage::user("q3"), 6),
            at(ChatMessage::assistant("a3"), 7),
        ],
    )
    .await;
    let kept = summary("s", "q1 and a1", ids[1], 10);
    store.set_session_summary(kept.clone()).await.expect("set");
    store.undo_exchanges(&sid("s"), 1).await.expect("undo");
    assert_eq!(
        store.session_summary(&sid("s")).await.expect("read"),
        Some(kept),
        "the exchange taken back came after the summary"
    );
    store.undo_exchanges(&sid("s"), 2).await.expect("undo");
    assert_eq!(
        store.session_summary(&sid("s")).await.expect("read"),
        None,
        "the summary spoke of an exchange taken back"
    );
}
