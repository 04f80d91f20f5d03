//! Conformance checks for the outbox: idempotent writes, replies stored with
//! their delivery in one step, state changes and the pending listing.

use super::{at, create, sid};
use crate::{
    AppendMessages, AttachmentProgress, NewOutbox, OutboxEntry, OutboxState, Store, StoreError,
};
use hermod_model::{Attachment, AttachmentKind, ChatMessage, ChatTarget, PlatformId, Usage};
use std::sync::Arc;

/// A delivery with key `key`, created at `at_ms`, to a chat without a thread.
fn delivery(key: &str, at_ms: i64) -> NewOutbox {
    NewOutbox {
        key: key.to_owned(),
        platform: PlatformId::new("talk"),
        target: ChatTarget {
            chat_id: "-100123".to_owned(),
            thread_id: None,
        },
        reply_to: None,
        text: format!("reply {key}"),
        session: None,
        message_ids: Vec::new(),
        attachments: Vec::new(),
        created_at_ms: at_ms,
    }
}

/// The entry `new` must read back as right after it was written with `id`.
fn fresh(id: i64, new: &NewOutbox) -> OutboxEntry {
    OutboxEntry {
        id,
        key: new.key.clone(),
        platform: new.platform.clone(),
        target: new.target.clone(),
        reply_to: new.reply_to.clone(),
        text: new.text.clone(),
        session: new.session.clone(),
        state: OutboxState::Pending,
        attempts: 0,
        message_ids: new.message_ids.clone(),
        attachments: new.attachments.clone(),
        attachment_progress: Vec::new(),
        error: None,
        created_at_ms: new.created_at_ms,
        updated_at_ms: new.created_at_ms,
        next_attempt_at_ms: new.created_at_ms,
        delivered_at_ms: None,
    }
}

async fn entry(store: &dyn Store, key: &str) -> OutboxEntry {
    store
        .outbox_entry(key)
        .await
        .expect("outbox_entry")
        .unwrap_or_else(|| panic!("outbox entry {key} exists"))
}

fn keys(entries: &[OutboxEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.key.as_str()).collect()
}

fn ids(raw: &[&str]) -> Vec<String> {
    raw.iter().map(|s| (*s).to_owned()).collect()
}

/// Entries read back exactly, with and without a thread, reply, session and
/// message ids; an unknown key has no entry.
pub async fn outbox_put_and_get_round_trip(store: Arc<dyn Store>) {
    let full = NewOutbox {
        key: "reply:s1:42".to_owned(),
        platform: PlatformId::new("board"),
        target: ChatTarget {
            chat_id: "chan-7".to_owned(),
            thread_id: Some("thread \"9\" ✈".to_owned()),
        },
        reply_to: Some("m-41".to_owned()),
        text: "**Zoë**, here it is:\n\n```\ncode\n```".to_owned(),
        session: Some(sid("s1")),
        message_ids: ids(&["preview-1", "preview-2"]),
        attachments: Vec::new(),
        created_at_ms: 1_000,
    };
    let plain = delivery("cron:daily:2024-05-01", 2_000);

    let put_full = store.outbox_put(full.clone()).await.expect("outbox_put");
    let put_plain = store.outbox_put(plain.clone()).await.expect("outbox_put");
    assert!(
        put_full.id < put_plain.id,
        "ids increase: {} then {}",
        put_full.id,
        put_plain.id
    );
    assert_eq!(put_full, fresh(put_full.id, &full));
    assert_eq!(put_plain, fresh(put_plain.id, &plain));
    assert_eq!(entry(&*store, &full.key).await, put_full);
    assert_eq!(entry(&*store, &plain.key).await, put_plain);

    assert_eq!(
        store.outbox_entry("nope").await.expect("outbox_entry"),
        None
    );
    assert_eq!(
        store
            .outbox_entry("REPLY:S1:42")
            .await
            .expect("outbox_entry"),
        None,
        "keys are exact"
    );
}

/// A key makes one entry: writing it again returns the first, unchanged,
/// even when the rest differs, and also after the entry moved on. Many
/// writers racing on one key all get the same entry.
pub async fn outbox_put_is_idempotent(store: Arc<dyn Store>) {
    let first = store
        .outbox_put(delivery("k", 10))
        .await
        .expect("outbox_put");
    let again = NewOutbox {
        text: "a different text".to_owned(),
        message_ids: ids(&["x"]),
        created_at_ms: 99,
        ..delivery("k", 10)
    };
    let second = store.outbox_put(again.clone()).await.expect("outbox_put");
    assert_eq!(second, first, "a repeated key returns the first entry");
    assert_eq!(entry(&*store, "k").await, first);
    assert_eq!(
        keys(&store.outbox_pending(0, 0).await.expect("pending")),
        ["k"]
    );

    store
        .outbox_delivered(first.id, &ids(&["m-1"]), 20)
        .await
        .expect("delivered");
    let after = store.outbox_put(again).await.expect("outbox_put");
    assert_eq!(after.state, OutboxState::Delivered, "not queued again");
    assert_eq!(after.message_ids, ["m-1"]);
    assert!(nothing_pending(store.as_ref()).await);

    let mut handles = Vec::new();
    for t in 0..8 {
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            let new = NewOutbox {
                text: format!("writer {t}"),
                ..delivery("raced", 30 + t)
            };
            store.outbox_put(new).await.expect("concurrent outbox_put")
        }));
    }
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.expect("put task panicked"));
    }
    assert!(
        results.iter().all(|e| *e == results[0]),
        "every writer got the same entry: {results:?}"
    );
    assert_eq!(entry(&*store, "raced").await, results[0]);
    assert_eq!(
        keys(&store.outbox_pending(0, 0).await.expect("pending")),
        ["raced"]
    );
}

/// A reply's messages and its delivery are stored together; replaying the
/// same key stores nothing more and returns the entry already there.
pub async fn append_reply_appends_once(store: Arc<dyn Store>) {
    create(&*store, "r", "talk", 1).await;
    let reply = || AppendMessages {
        session: sid("r"),
        messages: vec![
            at(ChatMessage::user("what time is it"), 100),
            at(ChatMessage::assistant("noon"), 200),
        ],
        usage: Usage {
            prompt_tokens: 10,
            completion_tokens: 4,
            total_tokens: 14,
        },
    };
    let out = NewOutbox {
        session: Some(sid("r")),
        text: "noon".to_owned(),
        message_ids: ids(&["preview"]),
        ..delivery("reply:r:1", 200)
    };
    let (appended, put) = store
        .append_reply(reply(), out.clone())
        .await
        .expect("append_reply");
    assert_eq!(appended.len(), 2);
    assert!(appended[0] < appended[1]);
    assert_eq!(put, fresh(put.id, &out));
    assert_eq!(entry(&*store, "reply:r:1").await, put);
    let stored = store.messages(&sid("r")).await.expect("messages");
    assert_eq!(stored.iter().map(|m| m.id).collect::<Vec<_>>(), appended);
    let s = store
        .session(&sid("r"))
        .await
        .expect("session")
        .expect("exists");
    assert_eq!(
        (s.message_count, s.prompt_tokens, s.completion_tokens),
        (2, 10, 4)
    );
    assert_eq!(s.updated_at_ms, 200);

    // The replay: a different text and later messages change nothing.
    let later = AppendMessages {
        messages: vec![at(ChatMessage::assistant("noon, again"), 900)],
        ..reply()
    };
    let replayed_out = NewOutbox {
        text: "noon, again".to_owned(),
        ..out.clone()
    };
    let (none, existing) = store
        .append_reply(later, replayed_out)
        .await
        .expect("replayed append_reply");
    assert!(none.is_empty(), "a replay appends nothing: {none:?}");
    assert_eq!(existing, put);
    assert_eq!(store.messages(&sid("r")).await.expect("messages"), stored);
    let again = store
        .session(&sid("r"))
        .await
        .expect("session")
        .expect("exists");
    assert_eq!(again, s, "counters, usage and updated_at unchanged");

    // A key written by outbox_put is a replay too.
    store
        .outbox_put(delivery("cron:1", 300))
        .await
        .expect("outbox_put");
    let (none, _) = store
        .append_reply(reply(), delivery("cron:1", 300))
        .await
        .expect("append_reply");
    assert!(none.is_empty());
    assert_eq!(store.messages(&sid("r")).await.expect("messages").len(), 2);
}

/// A reply to an unknown session fails as [`StoreError::NotFound`] and
/// leaves neither messages nor a delivery behind.
pub async fn append_reply_to_unknown_session_writes_nothing(store: Arc<dyn Store>) {
    let append = AppendMessages {
        session: sid("ghost"),
        messages: vec![at(ChatMessage::assistant("boo"), 5)],
        usage: Usage::default(),
    };
    let out = NewOutbox {
        session: Some(sid("ghost")),
        ..delivery("reply:ghost", 5)
    };
    match store.append_reply(append, out).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("append_reply to an unknown session: expected NotFound, got {other:?}"),
    }
    assert_eq!(
        store
            .outbox_entry("reply:ghost")
            .await
            .expect("outbox_entry"),
        None
    );
    assert!(nothing_pending(store.as_ref()).await);
    assert!(store.search("boo", 5).await.expect("search").is_empty());

    // The key is still free for a successful write.
    create(&*store, "ghost", "talk", 1).await;
    let append = AppendMessages {
        session: sid("ghost"),
        messages: vec![at(ChatMessage::assistant("boo"), 5)],
        usage: Usage::default(),
    };
    let (appended, _) = store
        .append_reply(append, delivery("reply:ghost", 5))
        .await
        .expect("append_reply");
    assert_eq!(appended.len(), 1);
}

/// Retries count attempts and stay pending; delivery is final and keeps its
/// first ids; failure is permanent; unknown ids are not found.
pub async fn outbox_state_transitions(store: Arc<dyn Store>) {
    let e = store
        .outbox_put(delivery("t", 100))
        .await
        .expect("outbox_put");

    store
        .outbox_retry_later(e.id, "timeout", 500, 110)
        .await
        .expect("retry_later");
    store
        .outbox_retry_later(e.id, "rate limited", 900, 120)
        .await
        .expect("retry_later");
    let retried = entry(&*store, "t").await;
    assert_eq!(retried.state, OutboxState::Pending);
    assert_eq!(retried.attempts, 2);
    assert_eq!(retried.error.as_deref(), Some("rate limited"));
    assert_eq!(
        (retried.next_attempt_at_ms, retried.updated_at_ms),
        (900, 120)
    );
    assert_eq!(retried.created_at_ms, 100);

    store
        .outbox_set_message_ids(e.id, &ids(&["m-1"]), 130)
        .await
        .expect("set_message_ids");
    store
        .outbox_set_message_ids(e.id, &ids(&["m-1", "m-2"]), 140)
        .await
        .expect("set_message_ids");
    let recorded = entry(&*store, "t").await;
    assert_eq!(recorded.message_ids, ["m-1", "m-2"], "ids are replaced");
    assert_eq!(recorded.updated_at_ms, 140);
    assert_eq!(recorded.state, OutboxState::Pending);

    store
        .outbox_delivered(e.id, &ids(&["m-1", "m-2", "m-3"]), 150)
        .await
        .expect("delivered");
    let delivered = entry(&*store, "t").await;
    let want = OutboxEntry {
        state: OutboxState::Delivered,
        message_ids: ids(&["m-1", "m-2", "m-3"]),
        error: None,
        delivered_at_ms: Some(150),
        updated_at_ms: 150,
        ..retried
    };
    assert_eq!(delivered, want);

    // Delivered is final: nothing moves it or its ids.
    store
        .outbox_delivered(e.id, &ids(&["other"]), 160)
        .await
        .expect("delivered twice is a no-op");
    store
        .outbox_set_message_ids(e.id, &ids(&["other"]), 170)
        .await
        .expect("set ids on a delivered entry is a no-op");
    store
        .outbox_retry_later(e.id, "late", 2_000, 180)
        .await
        .expect("retry_later on a delivered entry is a no-op");
    store
        .outbox_failed(e.id, "late", 190)
        .await
        .expect("failed on a delivered entry is a no-op");
    assert_eq!(entry(&*store, "t").await, want);

    // Failure is permanent: counted, kept, and off the pending list.
    let f = store
        .outbox_put(delivery("f", 200))
        .await
        .expect("outbox_put");
    store
        .outbox_retry_later(f.id, "timeout", 300, 210)
        .await
        .expect("retry_later");
    store
        .outbox_failed(f.id, "chat not found", 220)
        .await
        .expect("failed");
    let failed = entry(&*store, "f").await;
    assert_eq!(failed.state, OutboxState::Failed);
    assert_eq!(failed.attempts, 2);
    assert_eq!(failed.error.as_deref(), Some("chat not found"));
    assert_eq!((failed.updated_at_ms, failed.delivered_at_ms), (220, None));
    store
        .outbox_retry_later(f.id, "again", 400, 230)
        .await
        .expect("retry_later on a failed entry is a no-op");
    store
        .outbox_failed(f.id, "again", 240)
        .await
        .expect("failed twice is a no-op");
    assert_eq!(entry(&*store, "f").await, failed);
    assert!(nothing_pending(store.as_ref()).await);

    // A late success report is still recorded.
    store
        .outbox_delivered(f.id, &ids(&["m-9"]), 250)
        .await
        .expect("delivered after failed");
    let late = entry(&*store, "f").await;
    assert_eq!(late.state, OutboxState::Delivered);
    assert_eq!((late.error, late.delivered_at_ms), (None, Some(250)));

    let ghost = f.id.max(e.id) + 1_000;
    let not_found = |what: &str, r: Result<(), StoreError>| match r {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("{what} on an unknown entry: expected NotFound, got {other:?}"),
    };
    not_found(
        "outbox_set_message_ids",
        store.outbox_set_message_ids(ghost, &[], 1).await,
    );
    not_found(
        "outbox_delivered",
        store.outbox_delivered(ghost, &[], 1).await,
    );
    not_found(
        "outbox_retry_later",
        store.outbox_retry_later(ghost, "e", 1, 1).await,
    );
    not_found("outbox_failed", store.outbox_failed(ghost, "e", 1).await);
}

/// Pending entries list by ascending id (creation order) whatever their
/// next attempt time, page from a given id, honour the limit (0 = 100), and
/// leave out delivered and failed ones.
pub async fn outbox_pending_order_and_limit(store: Arc<dyn Store>) {
    let mut by_key = std::collections::HashMap::new();
    for (key, at_ms) in [("a", 10), ("b2", 20), ("b1", 20), ("c", 30), ("d", 40)] {
        let e = store
            .outbox_put(delivery(key, at_ms))
            .await
            .expect("outbox_put");
        by_key.insert(key, e.id);
    }
    let all = store.outbox_pending(0, 0).await.expect("pending");
    assert_eq!(keys(&all), ["a", "b2", "b1", "c", "d"]);
    assert!(all.iter().all(|e| e.state == OutboxState::Pending));
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let first = store.outbox_pending(0, 2).await.expect("pending");
    assert_eq!(keys(&first), ["a", "b2"]);
    assert_eq!(
        keys(
            &store
                .outbox_pending(first[1].id, 2)
                .await
                .expect("next page")
        ),
        ["b1", "c"],
        "a page starts after the id passed"
    );

    // A retry planned far ahead still lists; the caller decides when.
    store
        .outbox_retry_later(by_key["a"], "busy", i64::MAX, 50)
        .await
        .expect("retry_later");
    store
        .outbox_delivered(by_key["b2"], &[], 60)
        .await
        .expect("delivered");
    store
        .outbox_failed(by_key["c"], "gone", 70)
        .await
        .expect("failed");
    let left = store.outbox_pending(0, 10).await.expect("pending");
    assert_eq!(keys(&left), ["a", "b1", "d"]);
    assert_eq!(left[0].attempts, 1);

    // The default page is 100; paging reaches every entry.
    for i in 0..100 {
        store
            .outbox_put(delivery(&format!("bulk-{i:03}"), 1_000 + i))
            .await
            .expect("outbox_put");
    }
    let page = store.outbox_pending(0, 0).await.expect("pending");
    assert_eq!(page.len(), 100);
    assert_eq!(keys(&page[..4]), ["a", "b1", "d", "bulk-000"]);
    assert_eq!(page[99].key, "bulk-096");
    let rest = store
        .outbox_pending(page[99].id, 0)
        .await
        .expect("next page");
    assert_eq!(keys(&rest), ["bulk-097", "bulk-098", "bulk-099"]);
    assert_eq!(
        store.outbox_pending(0, 500).await.expect("pending").len(),
        103
    );
}

async fn nothing_pending(store: &dyn Store) -> bool {
    store
        .outbox_pending(0, 0)
        .await
        .expect("pending")
        .is_empty()
}

/// Attachments are stored with their entry and their progress is recorded
/// durably, replaced whole, kept once delivered and read back in order.
pub async fn outbox_attachments_keep_their_progress(store: Arc<dyn Store>) {
    let mut photo = Attachment::new(AttachmentKind::Photo, "/media/a.png").with_mime("image/png");
    photo.file_name = Some("a.png".into());
    let voice = Attachment::new(AttachmentKind::Voice, "/media/b.ogg");
    let new = NewOutbox {
        attachments: vec![photo, voice],
        ..delivery("files", 100)
    };
    let e = store.outbox_put(new.clone()).await.expect("outbox_put");
    assert_eq!(e, fresh(e.id, &new));
    assert_eq!(entry(&*store, "files").await, fresh(e.id, &new));
    assert_eq!(
        e.progress(1),
        AttachmentProgress::Pending,
        "missing means pending"
    );

    let sending = vec![AttachmentProgress::Sending { since_ms: 110 }];
    store
        .outbox_set_attachment_progress(e.id, &sending, 110)
        .await
        .expect("set progress");
    let read = entry(&*store, "files").await;
    assert_eq!(read.attachment_progress, sending);
    assert_eq!(read.updated_at_ms, 110);
    assert_eq!(
        read.progress(0),
        AttachmentProgress::Sending { since_ms: 110 }
    );
    assert_eq!(read.progress(1), AttachmentProgress::Pending);

    let done = vec![
        AttachmentProgress::Sent {
            message_id: "m-9".into(),
        },
        AttachmentProgress::Failed {
            reason: "too large".into(),
            in_doubt: false,
            told: true,
        },
    ];
    store
        .outbox_set_attachment_progress(e.id, &done, 120)
        .await
        .expect("set progress");
    assert_eq!(entry(&*store, "files").await.attachment_progress, done);
    assert_eq!(
        store.outbox_pending(0, 0).await.expect("pending")[0].attachment_progress,
        done,
        "the pending listing carries the progress"
    );

    store
        .outbox_delivered(e.id, &[], 130)
        .await
        .expect("delivered");
    store
        .outbox_set_attachment_progress(e.id, &[], 140)
        .await
        .expect("no-op on a delivered entry");
    let delivered = entry(&*store, "files").await;
    assert_eq!(
        delivered.attachment_progress, done,
        "a delivered entry keeps its progress"
    );
    assert_eq!(delivered.attachments, new.attachments);

    let err = store
        .outbox_set_attachment_progress(e.id + 1000, &done, 150)
        .await
        .expect_err("unknown id");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}
