//! Conformance checks for per-user state: search over a user's own
//! sessions, notes and "always" approval grants.

use super::{append, at, sid, source};
use crate::{NewSession, Owner, Store};
use hermod_model::{ChatMessage, PlatformId, SessionKey, SessionKeyPolicy};
use std::sync::Arc;

fn owner(platform: &str, user: &str) -> Owner {
    Owner::new(PlatformId::new(platform), user)
}

/// Creates session `id` in chat `chat` for `user` on `platform`.
async fn create_for(store: &dyn Store, id: &str, platform: &str, chat: &str, user: &str) {
    let mut source = source(platform, chat);
    source.user_id = Some(user.to_owned());
    let new = NewSession {
        id: sid(id),
        key: SessionKey::build(&source, &SessionKeyPolicy::default()),
        source,
        created_at_ms: 1,
    };
    store.create_session(new).await.expect("create_session");
}

/// A user's search sees only sessions whose source has the same platform
/// and user id: never another user's (in the same chat, or with the same
/// user id on another platform), even when theirs match better and there
/// are more of them than the limit.
pub async fn search_owned_sees_only_the_owners_sessions(store: Arc<dyn Store>) {
    create_for(&*store, "mine-1", "talk", "c-1", "alice").await;
    create_for(&*store, "mine-2", "talk", "c-2", "alice").await;
    create_for(&*store, "theirs", "talk", "c-1", "bob").await;
    create_for(&*store, "elsewhere", "chat", "c-9", "alice").await;
    append(
        &*store,
        "mine-1",
        vec![at(ChatMessage::user("the zebra plan"), 10)],
    )
    .await;
    append(
        &*store,
        "mine-2",
        vec![at(ChatMessage::assistant("a zebra again"), 11)],
    )
    .await;
    // More, and better, matches than the limit in other users' sessions.
    let loud: Vec<_> = (0..30)
        .map(|i| at(ChatMessage::user("zebra zebra zebra"), 20 + i))
        .collect();
    append(&*store, "theirs", loud.clone()).await;
    append(&*store, "elsewhere", loud).await;

    let hits = store
        .search_owned(&owner("talk", "alice"), "zebra", 2)
        .await
        .expect("search_owned");
    let mut sessions: Vec<_> = hits.iter().map(|h| h.session.as_str().to_owned()).collect();
    sessions.sort();
    assert_eq!(sessions, ["mine-1", "mine-2"]);
    assert!(hits.iter().all(|h| h.snippet.contains(">>>zebra<<<")));

    let bob = store
        .search_owned(&owner("talk", "bob"), "plan", 0)
        .await
        .expect("search_owned");
    assert!(bob.is_empty(), "bob never sees alice's words: {bob:?}");
    let nobody = store
        .search_owned(&owner("talk", "carol"), "zebra", 0)
        .await
        .expect("search_owned");
    assert!(nobody.is_empty());
    assert!(
        store
            .search_owned(&owner("talk", "alice"), " * ", 0)
            .await
            .expect("search_owned")
            .is_empty()
    );
}

/// Notes belong to their owner: added in order, replaced and removed only
/// by the same owner.
pub async fn memory_notes_per_owner(store: Arc<dyn Store>) {
    let alice = owner("talk", "alice");
    let other = owner("chat", "alice");
    assert!(store.memory_notes(&alice).await.expect("notes").is_empty());
    let first = store
        .memory_add(&alice, "prefers short answers", 10)
        .await
        .expect("add");
    let second = store
        .memory_add(&alice, "lives in Oslo", 11)
        .await
        .expect("add");
    assert!(second.id > first.id);
    store
        .memory_add(&other, "someone else", 12)
        .await
        .expect("add");
    let notes = store.memory_notes(&alice).await.expect("notes");
    assert_eq!(
        notes.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(),
        ["prefers short answers", "lives in Oslo"]
    );
    assert_eq!((notes[0].created_at_ms, notes[0].updated_at_ms), (10, 10));

    assert!(
        !store
            .memory_replace(&other, first.id, "hijacked", 13)
            .await
            .expect("replace"),
        "another owner cannot change the note"
    );
    assert!(
        store
            .memory_replace(&alice, first.id, "prefers long answers", 14)
            .await
            .expect("replace")
    );
    assert!(
        !store
            .memory_remove(&other, second.id)
            .await
            .expect("remove")
    );
    assert!(
        store
            .memory_remove(&alice, second.id)
            .await
            .expect("remove")
    );
    assert!(
        !store
            .memory_remove(&alice, second.id)
            .await
            .expect("remove")
    );
    let notes = store.memory_notes(&alice).await.expect("notes");
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].text, "prefers long answers");
    assert_eq!((notes[0].created_at_ms, notes[0].updated_at_ms), (10, 14));
    assert_eq!(store.memory_notes(&other).await.expect("notes").len(), 1);
}

/// Grants are per owner and key, listed oldest first, kept once, revocable.
pub async fn approval_grants_per_owner(store: Arc<dyn Store>) {
    let alice = owner("talk", "alice");
    let bob = owner("talk", "bob");
    assert!(!store.approval_granted(&alice, "rm").await.expect("granted"));
    assert!(store.approval_grant(&alice, "rm", 10).await.expect("grant"));
    assert!(
        !store.approval_grant(&alice, "rm", 20).await.expect("grant"),
        "granted once"
    );
    assert!(
        store
            .approval_grant(&alice, "curl_pipe_sh", 5)
            .await
            .expect("grant")
    );
    assert!(store.approval_granted(&alice, "rm").await.expect("granted"));
    assert!(!store.approval_granted(&bob, "rm").await.expect("granted"));
    let grants = store.approval_grants(&alice, 0).await.expect("grants");
    assert_eq!(
        grants
            .iter()
            .map(|g| (g.key.as_str(), g.granted_at_ms))
            .collect::<Vec<_>>(),
        [("curl_pipe_sh", 5), ("rm", 10)]
    );
    assert_eq!(
        store
            .approval_grants(&alice, 1)
            .await
            .expect("grants")
            .len(),
        1
    );
    assert!(
        store
            .approval_grants(&bob, 0)
            .await
            .expect("grants")
            .is_empty()
    );
    assert!(!store.approval_revoke(&bob, "rm").await.expect("revoke"));
    assert!(store.approval_revoke(&alice, "rm").await.expect("revoke"));
    assert!(!store.approval_granted(&alice, "rm").await.expect("granted"));
    assert!(!store.approval_revoke(&alice, "rm").await.expect("revoke"));
}
