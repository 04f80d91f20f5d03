//! Conformance checks for sessions and routing.

use super::{append, at, create, new_session, sid, source};
use crate::{AppendMessages, ListSessions, Store, StoreError};
use hermod_model::{ChatMessage, PlatformId, SessionKey, Usage};
use std::sync::Arc;

/// A created session reads back exactly, including its full source.
pub async fn create_and_get_round_trip(store: Arc<dyn Store>) {
    let new = new_session("s-1", "talk", 1_000);
    let created = store
        .create_session(new.clone())
        .await
        .expect("create_session");
    assert_eq!(created.id, new.id);
    assert_eq!(created.key, new.key);
    assert_eq!(created.platform, PlatformId::new("talk"));
    assert_eq!(created.source, new.source);
    assert_eq!(created.title, None);
    assert_eq!(
        (created.created_at_ms, created.updated_at_ms),
        (1_000, 1_000)
    );
    assert_eq!(
        (created.ended_at_ms, created.end_reason.as_deref()),
        (None, None)
    );
    assert_eq!(
        (
            created.message_count,
            created.prompt_tokens,
            created.completion_tokens
        ),
        (0, 0, 0)
    );

    let read = store
        .session(&new.id)
        .await
        .expect("session")
        .expect("the session exists");
    assert_eq!(read, created);
}

/// Creating an existing id fails with Conflict and leaves the first intact.
pub async fn duplicate_create_conflicts(store: Arc<dyn Store>) {
    create(&*store, "dup", "talk", 1).await;
    let mut again = new_session("dup", "board", 2);
    again.source = source("board", "elsewhere");
    let err = store
        .create_session(again)
        .await
        .expect_err("a duplicate id must fail");
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "expected Conflict, got {err:?}"
    );

    let kept = store
        .session(&sid("dup"))
        .await
        .expect("session")
        .expect("still there");
    assert_eq!(kept.platform, PlatformId::new("talk"));
    assert_eq!(kept.created_at_ms, 1);
}

/// Operations on ids that do not exist: None for lookups, NotFound for changes.
pub async fn unknown_ids_are_not_found(store: Arc<dyn Store>) {
    let ghost = sid("ghost");
    let not_found = |what: &str, r: Result<(), StoreError>| match r {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("{what} on an unknown session: expected NotFound, got {other:?}"),
    };
    assert_eq!(store.session(&ghost).await.expect("session"), None);
    not_found("end_session", store.end_session(&ghost, "idle", 5).await);
    not_found("set_title", store.set_title(&ghost, "t").await);
    not_found(
        "set_model_override",
        store.set_model_override(&ghost, Some("m")).await,
    );
    not_found("reopen_session", store.reopen_session(&ghost).await);
    not_found(
        "undo_exchanges",
        store.undo_exchanges(&ghost, 1).await.map(drop),
    );
    let append = AppendMessages {
        session: ghost.clone(),
        messages: vec![at(ChatMessage::user("hi"), 5)],
        usage: Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
            total_tokens: 7,
        },
    };
    not_found(
        "append_messages",
        store.append_messages(append).await.map(drop),
    );
    not_found("messages", store.messages(&ghost).await.map(drop));
    let key = SessionKey::from_raw("agent:main:talk:dm:404");
    not_found("set_route", store.set_route(&key, &ghost, 5).await);
    assert_eq!(store.route(&key).await.expect("route"), None);
    assert!(
        store
            .sessions_for_key(&key, 0)
            .await
            .expect("sessions_for_key")
            .is_empty()
    );

    // Nothing was half-written by the failed calls.
    assert_eq!(store.session(&ghost).await.expect("session"), None);
    let hits = store.search("hi", 10).await.expect("search");
    assert!(
        hits.is_empty(),
        "a failed append left messages behind: {hits:?}"
    );
    assert!(
        store
            .list_sessions(ListSessions::default())
            .await
            .expect("list")
            .is_empty()
    );
}

/// Only the first end of a session counts; ending does not touch updated_at.
pub async fn end_session_keeps_first_end(store: Arc<dyn Store>) {
    create(&*store, "e", "talk", 100).await;
    store
        .end_session(&sid("e"), "idle", 200)
        .await
        .expect("first end");
    store
        .end_session(&sid("e"), "daily", 300)
        .await
        .expect("second end is not an error");
    let s = store
        .session(&sid("e"))
        .await
        .expect("session")
        .expect("exists");
    assert_eq!(s.ended_at_ms, Some(200));
    assert_eq!(s.end_reason.as_deref(), Some("idle"));
    assert_eq!(s.updated_at_ms, 100);
}

/// Titles are set and replaced.
pub async fn set_title_sets_and_replaces(store: Arc<dyn Store>) {
    create(&*store, "t", "talk", 1).await;
    store
        .set_title(&sid("t"), "First")
        .await
        .expect("set_title");
    store
        .set_title(&sid("t"), "Zweiter Titel – ✓")
        .await
        .expect("set_title again");
    let s = store
        .session(&sid("t"))
        .await
        .expect("session")
        .expect("exists");
    assert_eq!(s.title.as_deref(), Some("Zweiter Titel – ✓"));
}

/// Listing: most recently updated first, limit/offset paging, platform filter.
pub async fn list_sessions_order_and_paging(store: Arc<dyn Store>) {
    // Created in one order, updated (by appends) into another.
    let plan = [("a", "talk", 500), ("b", "board", 100), ("c", "talk", 400)];
    let plan2 = [("d", "board", 300), ("e", "talk", 200)];
    for (i, (id, platform, _)) in plan.iter().chain(&plan2).enumerate() {
        create(&*store, id, platform, i as i64).await;
    }
    for (id, _, updated) in plan.iter().chain(&plan2) {
        append(&*store, id, vec![at(ChatMessage::user("x"), *updated)]).await;
    }
    let ids = |v: Vec<crate::SessionRecord>| v.into_iter().map(|s| s.id.to_string()).collect();
    let list = |platform: Option<&str>, limit, offset| {
        let store = Arc::clone(&store);
        let query = ListSessions {
            platform: platform.map(PlatformId::new),
            limit,
            offset,
        };
        async move { store.list_sessions(query).await.expect("list_sessions") }
    };

    let all: Vec<String> = ids(list(None, 0, 0).await);
    assert_eq!(
        all,
        ["a", "c", "d", "e", "b"],
        "limit 0 means a default page"
    );
    let page: Vec<String> = ids(list(None, 2, 0).await);
    assert_eq!(page, ["a", "c"]);
    let page: Vec<String> = ids(list(None, 2, 2).await);
    assert_eq!(page, ["d", "e"]);
    let page: Vec<String> = ids(list(None, 2, 4).await);
    assert_eq!(page, ["b"]);
    assert!(list(None, 2, 5).await.is_empty());

    let talk = list(Some("talk"), 0, 0).await;
    assert!(talk.iter().all(|s| s.platform.as_str() == "talk"));
    assert_eq!(ids(talk), vec!["a".to_owned(), "c".into(), "e".into()]);
    let board: Vec<String> = ids(list(Some("board"), 1, 1).await);
    assert_eq!(board, ["b"]);
    assert!(list(Some("room"), 0, 0).await.is_empty());
}

/// A routing key points at one session; setting it again replaces the target.
pub async fn routing_upserts(store: Arc<dyn Store>) {
    create(&*store, "r1", "talk", 1).await;
    create(&*store, "r2", "talk", 2).await;
    let key = SessionKey::from_raw("agent:main:talk:dm:42");
    let other = SessionKey::from_raw("agent:main:talk:dm:43");
    assert_eq!(store.route(&key).await.expect("route"), None);

    store
        .set_route(&key, &sid("r1"), 10)
        .await
        .expect("set_route");
    assert_eq!(store.route(&key).await.expect("route"), Some(sid("r1")));
    store
        .set_route(&key, &sid("r2"), 20)
        .await
        .expect("set_route again");
    assert_eq!(store.route(&key).await.expect("route"), Some(sid("r2")));
    store
        .set_route(&other, &sid("r1"), 30)
        .await
        .expect("set_route other");
    assert_eq!(store.route(&other).await.expect("route"), Some(sid("r1")));
    assert_eq!(store.route(&key).await.expect("route"), Some(sid("r2")));
}

/// A model override is set, replaced and cleared, and shows in every read.
pub async fn model_override_sets_and_clears(store: Arc<dyn Store>) {
    let created = store
        .create_session(new_session("mo", "talk", 1))
        .await
        .expect("create_session");
    assert_eq!(created.model_override, None);
    create(&*store, "other", "talk", 2).await;
    let read = |id: &'static str| {
        let store = Arc::clone(&store);
        async move {
            store
                .session(&sid(id))
                .await
                .expect("session")
                .expect("exists")
        }
    };

    store
        .set_model_override(&sid("mo"), Some("gpt-4o-mini"))
        .await
        .expect("set");
    assert_eq!(
        read("mo").await.model_override.as_deref(),
        Some("gpt-4o-mini")
    );
    store
        .set_model_override(&sid("mo"), Some("vendor/large-model:beta – ✓"))
        .await
        .expect("replace");
    let s = read("mo").await;
    assert_eq!(
        s.model_override.as_deref(),
        Some("vendor/large-model:beta – ✓")
    );
    assert_eq!(s.updated_at_ms, 1, "an override is not activity");
    let listed = store
        .list_sessions(ListSessions::default())
        .await
        .expect("list");
    let listed = listed.iter().find(|s| s.id == sid("mo")).expect("listed");
    assert_eq!(listed, &s);
    assert_eq!(read("other").await.model_override, None);

    store
        .set_model_override(&sid("mo"), None)
        .await
        .expect("clear");
    assert_eq!(read("mo").await.model_override, None);
}

/// A key's sessions, ended ones included, most recently updated first.
pub async fn sessions_for_key_newest_first(store: Arc<dyn Store>) {
    let key = SessionKey::from_raw("agent:main:talk:dm:7");
    let other = SessionKey::from_raw("agent:main:talk:dm:8");
    let under = |id: &str, key: &SessionKey, at_ms: i64| {
        let mut new = new_session(id, "talk", at_ms);
        new.key = key.clone();
        new
    };
    for (id, k, at_ms) in [
        ("k1", &key, 10),
        ("k2", &key, 20),
        ("x1", &other, 30),
        ("k3", &key, 40),
        ("k0", &key, 40),
    ] {
        store
            .create_session(under(id, k, at_ms))
            .await
            .expect("create_session");
    }
    // k1 becomes the most recently updated; k2 is ended but still listed.
    append(&*store, "k1", vec![at(ChatMessage::user("back"), 50)]).await;
    store
        .end_session(&sid("k2"), "idle", 60)
        .await
        .expect("end");

    let ids = |v: Vec<crate::SessionRecord>| -> Vec<String> {
        v.into_iter().map(|s| s.id.to_string()).collect()
    };
    let all = store.sessions_for_key(&key, 0).await.expect("for key");
    assert!(all.iter().all(|s| s.key == key));
    assert!(all.iter().any(|s| s.ended_at_ms == Some(60)));
    assert_eq!(ids(all), ["k1", "k0", "k3", "k2"], "ties by ascending id");
    let two = store.sessions_for_key(&key, 2).await.expect("for key");
    assert_eq!(ids(two), ["k1", "k0"]);
    let one = store.sessions_for_key(&other, 10).await.expect("for key");
    assert_eq!(ids(one), ["x1"]);

    // A limit of 0 means a default page of 50.
    let busy = SessionKey::from_raw("agent:main:talk:dm:busy");
    for i in 0..52 {
        store
            .create_session(under(&format!("b{i:02}"), &busy, i))
            .await
            .expect("create_session");
    }
    let page = store.sessions_for_key(&busy, 0).await.expect("for key");
    assert_eq!(page.len(), 50);
    assert_eq!(page[0].id, sid("b51"));
    assert_eq!(
        store.sessions_for_key(&busy, 100).await.expect("all").len(),
        52
    );
}

/// Reopening clears the end, so the session can be ended again later.
pub async fn reopen_clears_the_end(store: Arc<dyn Store>) {
    create(&*store, "ro", "talk", 100).await;
    store
        .reopen_session(&sid("ro"))
        .await
        .expect("reopening a live session is harmless");
    store
        .end_session(&sid("ro"), "idle", 200)
        .await
        .expect("end");
    store.reopen_session(&sid("ro")).await.expect("reopen");
    let s = store
        .session(&sid("ro"))
        .await
        .expect("session")
        .expect("exists");
    assert_eq!((s.ended_at_ms, s.end_reason.as_deref()), (None, None));
    assert_eq!(s.updated_at_ms, 100);

    store
        .end_session(&sid("ro"), "daily", 300)
        .await
        .expect("end again");
    let s = store
        .session(&sid("ro"))
        .await
        .expect("session")
        .expect("exists");
    assert_eq!(
        (s.ended_at_ms, s.end_reason.as_deref()),
        (Some(300), Some("daily")),
        "a reopened session ends anew"
    );
}
