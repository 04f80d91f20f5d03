//! Conformance checks for deleting sessions and for stored responses.

use super::{append, at, create, sid};
use crate::{Store, StoredResponse};
use hermod_model::{ChatMessage, SessionKey};
use std::sync::Arc;

/// Deleting a session removes it, its messages (search no longer finds
/// them), its summary and its routes; other sessions are untouched; a
/// second delete, or an unknown id, answers `false`.
pub async fn delete_session_removes_what_it_recorded(store: Arc<dyn Store>) {
    create(store.as_ref(), "gone", "talk", 1).await;
    create(store.as_ref(), "kept", "talk", 1).await;
    let ids = append(
        store.as_ref(),
        "gone",
        vec![at(ChatMessage::user("zebrafish marmalade"), 2)],
    )
    .await;
    append(
        store.as_ref(),
        "kept",
        vec![at(ChatMessage::user("zebrafish too"), 2)],
    )
    .await;
    store
        .set_session_summary(crate::SessionSummary {
            session: sid("gone"),
            summary: "s".into(),
            through_message_id: ids[0],
            focus: None,
            created_at_ms: 3,
        })
        .await
        .expect("summary");
    let key = SessionKey::from_raw("talk:route-to-gone");
    store.set_route(&key, &sid("gone"), 4).await.expect("route");

    assert!(store.delete_session(&sid("gone")).await.expect("delete"));
    assert_eq!(store.session(&sid("gone")).await.expect("read"), None);
    assert!(
        matches!(
            store.messages(&sid("gone")).await,
            Err(crate::StoreError::NotFound(_))
        ),
        "its messages went with it"
    );
    assert_eq!(
        store.session_summary(&sid("gone")).await.expect("read"),
        None
    );
    assert_eq!(store.route(&key).await.expect("route"), None);
    let hits = store.search("zebrafish", 10).await.expect("search");
    assert_eq!(hits.len(), 1, "only the kept session's message: {hits:?}");
    assert_eq!(hits[0].session, sid("kept"));
    assert!(store.session(&sid("kept")).await.expect("read").is_some());

    assert!(!store.delete_session(&sid("gone")).await.expect("again"));
    assert!(!store.delete_session(&sid("never")).await.expect("unknown"));
}

fn response(id: &str, conversation: Option<&str>, at_ms: i64) -> StoredResponse {
    StoredResponse {
        id: id.to_owned(),
        conversation: conversation.map(str::to_owned),
        session_id: Some(sid("s-1")),
        data: format!(r#"{{"id":"{id}","text":"ünïcode \"quoted\""}}"#),
        created_at_ms: at_ms,
    }
}

/// Responses round-trip exactly, a put replaces one with the same id, a
/// delete removes one, and a conversation's latest is its newest.
pub async fn stored_responses_round_trip(store: Arc<dyn Store>) {
    assert_eq!(store.response("resp_1", 1).await.expect("read"), None);
    let first = response("resp_1", Some("trip"), 10);
    store
        .response_put(first.clone(), 10, 10)
        .await
        .expect("put");
    assert_eq!(
        store.response("resp_1", 11).await.expect("read"),
        Some(first)
    );
    let replaced = StoredResponse {
        data: "{}".into(),
        session_id: None,
        ..response("resp_1", Some("trip"), 10)
    };
    store
        .response_put(replaced.clone(), 10, 12)
        .await
        .expect("put");
    assert_eq!(
        store.response("resp_1", 13).await.expect("read"),
        Some(replaced)
    );
    store
        .response_put(response("resp_2", Some("trip"), 20), 10, 20)
        .await
        .expect("put");
    store
        .response_put(response("resp_3", None, 30), 10, 30)
        .await
        .expect("put");
    let latest = store.latest_response("trip").await.expect("latest");
    assert_eq!(latest.map(|r| r.id).as_deref(), Some("resp_2"));
    assert_eq!(store.latest_response("other").await.expect("latest"), None);

    assert!(store.response_delete("resp_2").await.expect("delete"));
    assert!(!store.response_delete("resp_2").await.expect("again"));
    let latest = store.latest_response("trip").await.expect("latest");
    assert_eq!(latest.map(|r| r.id).as_deref(), Some("resp_1"));
}

/// A put keeps only the most recently used responses; reading one counts
/// as a use, so it outlives those stored after it but not read since.
pub async fn stored_responses_keep_the_most_recently_used(store: Arc<dyn Store>) {
    for (n, at_ms) in [(1, 10), (2, 20), (3, 30)] {
        store
            .response_put(response(&format!("resp_{n}"), None, at_ms), 3, at_ms)
            .await
            .expect("put");
    }
    // resp_1 is read: now the most recently used.
    assert!(store.response("resp_1", 40).await.expect("read").is_some());
    store
        .response_put(response("resp_4", None, 50), 3, 50)
        .await
        .expect("put");
    assert_eq!(store.response("resp_2", 60).await.expect("read"), None);
    for kept in ["resp_1", "resp_3", "resp_4"] {
        assert!(
            store.response(kept, 60).await.expect("read").is_some(),
            "{kept} is kept"
        );
    }
    store
        .response_put(response("resp_5", None, 70), 1, 70)
        .await
        .expect("put");
    assert!(store.response("resp_5", 80).await.expect("read").is_some());
    for dropped in ["resp_1", "resp_3", "resp_4"] {
        assert_eq!(
            store.response(dropped, 80).await.expect("read"),
            None,
            "{dropped}"
        );
    }
}
