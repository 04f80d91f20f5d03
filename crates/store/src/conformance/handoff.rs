//! Conformance checks for handoffs.

use super::{create, sid};
use crate::{HandoffOutcome, HandoffState, NewHandoff, Store, StoreError};
use hermod_model::{ChatTarget, PlatformId};
use std::sync::Arc;

fn ask(session: &str, platform: &str, at_ms: i64) -> NewHandoff {
    NewHandoff {
        session: sid(session),
        platform: PlatformId::new(platform),
        at_ms,
    }
}

/// A handoff moves pending → running → completed with its destination, or
/// → failed with its reason; a claim succeeds once; a finish applies only
/// to a running handoff; a new request replaces only a finished one.
pub async fn handoff_state_machine(store: Arc<dyn Store>) {
    create(store.as_ref(), "s-1", "cli", 1).await;
    create(store.as_ref(), "s-2", "cli", 2).await;
    assert_eq!(store.handoff(&sid("s-1")).await.expect("handoff"), None);
    assert!(matches!(
        store.handoff_request(ask("nope", "talk", 5)).await,
        Err(StoreError::NotFound(_))
    ));

    let asked = store
        .handoff_request(ask("s-1", "talk", 10))
        .await
        .expect("request");
    assert_eq!(asked.state, HandoffState::Pending);
    assert_eq!(asked.platform.as_str(), "talk");
    assert_eq!((asked.requested_at_ms, asked.updated_at_ms), (10, 10));
    assert_eq!((asked.error, asked.destination), (None, None));
    assert!(
        matches!(
            store.handoff_request(ask("s-1", "chat", 11)).await,
            Err(StoreError::Conflict(_))
        ),
        "a pending handoff is not replaced"
    );
    assert!(
        !store
            .handoff_finish(&sid("s-1"), HandoffOutcome::Failed("x".into()), 11)
            .await
            .expect("finish"),
        "a pending handoff is not finished before it is claimed"
    );

    assert!(store.handoff_claim(&sid("s-1"), 12).await.expect("claim"));
    assert!(
        !store.handoff_claim(&sid("s-1"), 13).await.expect("claim"),
        "one claimant wins"
    );
    assert!(!store.handoff_claim(&sid("s-2"), 13).await.expect("claim"));
    let running = store
        .handoff(&sid("s-1"))
        .await
        .expect("read")
        .expect("row");
    assert_eq!(running.state, HandoffState::Running);
    assert_eq!(running.updated_at_ms, 12);
    assert!(matches!(
        store.handoff_request(ask("s-1", "chat", 13)).await,
        Err(StoreError::Conflict(_))
    ));

    let target = ChatTarget {
        chat_id: "-100 ✓".into(),
        thread_id: Some("77".into()),
    };
    assert!(
        store
            .handoff_finish(&sid("s-1"), HandoffOutcome::Completed(target.clone()), 14)
            .await
            .expect("finish")
    );
    assert!(
        !store
            .handoff_finish(&sid("s-1"), HandoffOutcome::Failed("late".into()), 15)
            .await
            .expect("finish again"),
        "a finished handoff stays as it ended"
    );
    let done = store
        .handoff(&sid("s-1"))
        .await
        .expect("read")
        .expect("row");
    assert_eq!(done.state, HandoffState::Completed);
    assert_eq!(done.destination, Some(target));
    assert_eq!((done.error, done.updated_at_ms), (None, 14));

    let again = store
        .handoff_request(ask("s-1", "chat", 20))
        .await
        .expect("a finished handoff is replaced by a new request");
    assert_eq!(
        (again.state, again.platform.as_str(), again.destination),
        (HandoffState::Pending, "chat", None)
    );
    assert!(store.handoff_claim(&sid("s-1"), 21).await.expect("claim"));
    assert!(
        store
            .handoff_finish(
                &sid("s-1"),
                HandoffOutcome::Failed("chat has no home channel".into()),
                22
            )
            .await
            .expect("fail")
    );
    let failed = store
        .handoff(&sid("s-1"))
        .await
        .expect("read")
        .expect("row");
    assert_eq!(failed.state, HandoffState::Failed);
    assert_eq!(failed.error.as_deref(), Some("chat has no home channel"));
    assert_eq!(failed.destination, None);
}

/// `handoffs_in` lists one state's handoffs, oldest request first, up to
/// the limit.
pub async fn handoffs_in_lists_by_state_oldest_first(store: Arc<dyn Store>) {
    for (id, at) in [("b", 30), ("a", 30), ("c", 10), ("d", 40)] {
        create(store.as_ref(), id, "cli", 1).await;
        store
            .handoff_request(ask(id, "talk", at))
            .await
            .expect("request");
    }
    assert!(store.handoff_claim(&sid("d"), 41).await.expect("claim"));
    let pending: Vec<String> = store
        .handoffs_in(HandoffState::Pending, 0)
        .await
        .expect("list")
        .into_iter()
        .map(|h| h.session.as_str().to_owned())
        .collect();
    assert_eq!(pending, ["c", "a", "b"]);
    let first = store
        .handoffs_in(HandoffState::Pending, 1)
        .await
        .expect("list");
    assert_eq!(first.len(), 1);
    let running = store
        .handoffs_in(HandoffState::Running, 0)
        .await
        .expect("list");
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].session.as_str(), "d");
    assert!(
        store
            .handoffs_in(HandoffState::Completed, 0)
            .await
            .expect("list")
            .is_empty()
    );
}
