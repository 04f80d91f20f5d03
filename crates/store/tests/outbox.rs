//! Outbox behaviour specific to [`SqliteStore`]: entries survive a restart,
//! a reply and its delivery commit or roll back together, the schema holds
//! the outbox's rules, and damaged rows read back as corrupt.

use hermod_model::{ChatMessage, ChatTarget, PlatformId, SessionId, SessionKey, Source, Usage};
use hermod_store::{
    AppendMessages, NewMessage, NewOutbox, NewSession, OutboxState, SqliteStore, Store, StoreError,
};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

fn sid(raw: &str) -> SessionId {
    SessionId::parse(raw).expect("valid id")
}

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("hermod.db")
}

fn raw(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("raw connection");
    conn.pragma_update(None, "foreign_keys", true)
        .expect("foreign keys");
    conn
}

fn delivery(key: &str, at_ms: i64) -> NewOutbox {
    NewOutbox {
        key: key.to_owned(),
        platform: PlatformId::new("telegram"),
        target: ChatTarget {
            chat_id: "42".to_owned(),
            thread_id: Some("7".to_owned()),
        },
        reply_to: Some("m-1".to_owned()),
        text: format!("text of {key}"),
        session: Some(sid("s")),
        message_ids: vec!["preview".to_owned()],
        attachments: Vec::new(),
        created_at_ms: at_ms,
    }
}

async fn create(store: &SqliteStore, id: &str) {
    let new = NewSession {
        id: sid(id),
        key: SessionKey::from_raw(format!("agent:main:telegram:dm:{id}")),
        source: Source::dm(PlatformId::new("telegram"), id),
        created_at_ms: 1,
    };
    store.create_session(new).await.expect("create_session");
}

fn reply(id: &str, text: &str) -> AppendMessages {
    AppendMessages {
        session: sid(id),
        messages: vec![NewMessage {
            message: ChatMessage::assistant(text),
            at_ms: 50,
            platform_message_id: None,
        }],
        usage: Usage {
            prompt_tokens: 5,
            completion_tokens: 6,
            total_tokens: 11,
        },
    }
}

#[tokio::test]
async fn entries_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let (pending, delivered) = {
        let store = SqliteStore::open(&path).expect("open");
        let pending = store
            .outbox_put(delivery("p", 10))
            .await
            .expect("outbox_put");
        let delivered = store
            .outbox_put(delivery("d", 20))
            .await
            .expect("outbox_put");
        store
            .outbox_set_message_ids(pending.id, &["m-1".to_owned()], 30)
            .await
            .expect("set ids");
        store
            .outbox_delivered(delivered.id, &["m-2".to_owned()], 40)
            .await
            .expect("delivered");
        (pending, delivered)
    };

    let store = SqliteStore::open(&path).expect("reopen");
    let left = store.outbox_pending(0, 0).await.expect("pending");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, pending.id);
    assert_eq!(left[0].message_ids, ["m-1"], "recorded ids survive");
    let done = store
        .outbox_entry("d")
        .await
        .expect("outbox_entry")
        .expect("kept");
    assert_eq!(done.state, OutboxState::Delivered);
    assert_eq!(done.delivered_at_ms, Some(40));
    // A write retried after the restart finds the entry already there.
    let again = store
        .outbox_put(delivery("d", 99))
        .await
        .expect("outbox_put");
    assert_eq!(
        (again.id, again.state),
        (delivered.id, OutboxState::Delivered)
    );
    let next = store
        .outbox_put(delivery("n", 50))
        .await
        .expect("outbox_put");
    assert!(next.id > delivered.id, "ids keep increasing");
}

#[tokio::test]
async fn append_reply_rolls_back_as_a_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).expect("open");
    create(&store, "s").await;
    let before = store.session(&sid("s")).await.expect("session");

    // Make the outbox insert fail after the messages went in.
    let conn = raw(&path);
    conn.execute_batch(
        "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox \
         BEGIN SELECT RAISE(ABORT, 'outbox refused'); END;",
    )
    .expect("trigger");
    let err = store
        .append_reply(reply("s", "walrus reply"), delivery("r", 50))
        .await
        .expect_err("the outbox insert fails");
    assert!(err.to_string().contains("outbox refused"), "{err}");
    assert!(
        store
            .messages(&sid("s"))
            .await
            .expect("messages")
            .is_empty(),
        "the messages were rolled back with the delivery"
    );
    assert_eq!(store.session(&sid("s")).await.expect("session"), before);
    assert!(store.search("walrus", 5).await.expect("search").is_empty());
    assert_eq!(store.outbox_entry("r").await.expect("outbox_entry"), None);

    conn.execute_batch("DROP TRIGGER refuse_outbox;")
        .expect("drop trigger");
    let (appended, entry) = store
        .append_reply(reply("s", "walrus reply"), delivery("r", 50))
        .await
        .expect("append_reply");
    assert_eq!(appended.len(), 1);
    assert_eq!(entry.state, OutboxState::Pending);
    let s = store
        .session(&sid("s"))
        .await
        .expect("session")
        .expect("exists");
    assert_eq!(
        (s.message_count, s.prompt_tokens, s.completion_tokens),
        (1, 5, 6)
    );
}

#[tokio::test]
async fn schema_holds_the_outbox_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).expect("open");
    store
        .outbox_put(delivery("k", 10))
        .await
        .expect("outbox_put");
    let conn = raw(&path);

    let duplicate = conn.execute(
        "INSERT INTO outbox (key, platform, chat_id, text, created_at_ms, updated_at_ms, \
         next_attempt_at_ms) VALUES ('k', 'telegram', '1', 't', 1, 1, 1)",
        [],
    );
    let err = duplicate.expect_err("keys are unique");
    assert!(err.to_string().contains("UNIQUE"), "{err}");
    let err = conn
        .execute("UPDATE outbox SET state = 'sent'", [])
        .expect_err("CHECK on state");
    assert!(err.to_string().contains("CHECK"), "{err}");
    let err = conn
        .execute("UPDATE outbox SET attempts = -1", [])
        .expect_err("CHECK on attempts");
    assert!(err.to_string().contains("CHECK"), "{err}");

    // The pending listing reads the (state, created_at_ms) index in order.
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT id FROM outbox WHERE state = 'pending' \
             ORDER BY created_at_ms, id LIMIT 100",
        )
        .expect("prepare")
        .query_map([], |r| r.get(3))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let plan = plan.join("; ");
    assert!(plan.contains("outbox_by_state"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}

#[tokio::test]
async fn bad_outbox_rows_read_back_as_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).expect("open");
    let entry = store
        .outbox_put(delivery("k", 10))
        .await
        .expect("outbox_put");
    let conn = raw(&path);
    conn.execute("UPDATE outbox SET message_ids_json = '[1,'", [])
        .expect("damage");
    let err = store.outbox_entry("k").await.expect_err("bad ids");
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("message id") && m.contains(&entry.id.to_string())),
        "{err:?}"
    );
    let err = store.outbox_pending(0, 0).await.expect_err("bad ids");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");

    conn.execute(
        "UPDATE outbox SET message_ids_json = '[]', attempts = 4294967296",
        [],
    )
    .expect("damage");
    let err = store.outbox_entry("k").await.expect_err("bad attempts");
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("attempt")),
        "{err:?}"
    );
}
