//! Upgrading a database written at an older schema version in place.
//!
//! The old database is built by hand from the old migration files exactly as
//! the migrator of that version would have left it, filled with rows the way
//! that version wrote them, and then opened with the current code.

use hermod_model::{
    ChatMessage, ChatTarget, ChatType, PlatformId, Role, SessionId, SessionKey, Source, Usage,
};
use hermod_store::{
    AppendMessages, ApprovedUser, NewMessage, NewOutbox, OutboxState, PendingPairing, SqliteStore,
    Store,
};
use rusqlite::{Connection, params};
use std::path::Path;

/// `PRAGMA application_id` of hermod databases ("hmod").
const APPLICATION_ID: i32 = 0x686d_6f64;

fn sid(raw: &str) -> SessionId {
    SessionId::parse(raw).expect("valid id")
}

fn versions(conn: &Connection) -> Vec<i64> {
    conn.prepare("SELECT version FROM schema_migrations ORDER BY version")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// A database at schema version 1 holding one session with two exchanges,
/// a second empty session and a route.
fn version_1_database(path: &Path) {
    let conn = Connection::open(path).expect("open");
    conn.pragma_update(None, "foreign_keys", true)
        .expect("foreign keys");
    conn.execute_batch(
        "CREATE TABLE schema_migrations (
             version       INTEGER PRIMARY KEY,
             applied_at_ms INTEGER NOT NULL
         );",
    )
    .expect("migrations table");
    conn.execute_batch(include_str!("../migrations/0001_initial.sql"))
        .expect("apply 0001");
    conn.execute(
        "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (1, 5)",
        [],
    )
    .expect("record 0001");
    conn.pragma_update(None, "application_id", APPLICATION_ID)
        .expect("application id");

    let source = Source {
        user_id: Some("42".into()),
        ..Source::dm(PlatformId::new("telegram"), "42")
    };
    let source_json = serde_json::to_string(&source).expect("source json");
    let insert_session = "INSERT INTO sessions (id, session_key, platform, source_json, title, \
         created_at_ms, updated_at_ms, message_count, prompt_tokens, completion_tokens) \
         VALUES (?1, ?2, 'telegram', ?3, ?4, ?5, ?6, ?7, 30, 12)";
    conn.execute(
        insert_session,
        params![
            "old",
            "agent:main:telegram:dm:42",
            source_json,
            "Lighthouses",
            100,
            400,
            4
        ],
    )
    .expect("session");
    conn.execute(
        insert_session,
        params![
            "older",
            "agent:main:telegram:dm:42",
            source_json,
            None::<String>,
            10,
            20,
            0
        ],
    )
    .expect("second session");
    let insert_message = "INSERT INTO messages (session_id, role, content, at_ms) \
         VALUES ('old', ?1, ?2, ?3)";
    for (role, text, at_ms) in [
        ("user", "where is the ancient lighthouse", 100),
        ("assistant", "on the northern cape", 200),
        ("user", "who keeps the lighthouse", 300),
        ("assistant", "a keeper named Ola", 400),
    ] {
        conn.execute(insert_message, params![role, text, at_ms])
            .expect("message");
    }
    conn.execute(
        "INSERT INTO routing (session_key, session_id, updated_at_ms) \
         VALUES ('agent:main:telegram:dm:42', 'old', 400)",
        [],
    )
    .expect("route");
}

/// Every version from 1 up to the newest is recorded, each once (versions
/// increase but need not be consecutive; see the migration runner).
fn assert_all_applied(versions: &[i64]) {
    assert_eq!(versions.first(), Some(&1));
    assert_eq!(versions.last(), Some(&SqliteStore::schema_version()));
    assert!(versions.windows(2).all(|pair| pair[0] < pair[1]));
}

#[tokio::test]
async fn version_1_database_upgrades_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hermod.db");
    version_1_database(&path);

    let store = SqliteStore::open(&path).expect("open and upgrade");
    let raw = Connection::open(&path).expect("raw connection");
    assert_all_applied(&versions(&raw));
    let inactive: i64 = raw
        .query_row("SELECT count(*) FROM messages WHERE active <> 1", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(inactive, 0, "existing messages stay active");

    // Existing rows survived, with no model override.
    let old = store
        .session(&sid("old"))
        .await
        .expect("session")
        .expect("kept");
    assert_eq!(old.title.as_deref(), Some("Lighthouses"));
    assert_eq!(old.source.chat_type, ChatType::Dm);
    assert_eq!(old.source.user_id.as_deref(), Some("42"));
    assert_eq!(old.model_override, None);
    assert_eq!(
        (old.message_count, old.prompt_tokens, old.completion_tokens),
        (4, 30, 12)
    );
    assert_eq!((old.created_at_ms, old.updated_at_ms), (100, 400));
    let history = store.messages(&sid("old")).await.expect("messages");
    assert_eq!(history.len(), 4);
    assert_eq!(history[0].message.role, Role::User);
    assert_eq!(history[3].message.text(), "a keeper named Ola");
    let key = SessionKey::from_raw("agent:main:telegram:dm:42");
    assert_eq!(store.route(&key).await.expect("route"), Some(sid("old")));
    assert_eq!(
        store.search("lighthouse", 10).await.expect("search").len(),
        2
    );

    // The new operations work on the upgraded rows.
    let for_key = store.sessions_for_key(&key, 0).await.expect("for key");
    let ids: Vec<&str> = for_key.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["old", "older"]);
    store
        .set_model_override(&sid("old"), Some("small-model"))
        .await
        .expect("override");
    let undone = store.undo_exchanges(&sid("old"), 1).await.expect("undo");
    assert_eq!(undone.len(), 2);
    assert_eq!(undone[0].message.text(), "who keeps the lighthouse");
    let old = store
        .session(&sid("old"))
        .await
        .expect("session")
        .expect("kept");
    assert_eq!(old.model_override.as_deref(), Some("small-model"));
    assert_eq!(old.message_count, 2);
    assert_eq!(
        store.search("lighthouse", 10).await.expect("search").len(),
        1
    );
    raw.execute_batch(
        "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1);",
    )
    .expect("the index still matches the messages");

    store
        .set_setting("home_channel:telegram", "42", 500)
        .await
        .expect("set_setting");
    let telegram = PlatformId::new("telegram");
    let pending = PendingPairing {
        id: 0,
        platform: telegram.clone(),
        user_id: "7".into(),
        user_name: None,
        code_hash: "h".into(),
        salt: "s".into(),
        created_at_ms: 500,
        expires_at_ms: 600,
    };
    store.add_pending_pairing(pending).await.expect("pending");
    let user = ApprovedUser {
        platform: telegram.clone(),
        user_id: "7".into(),
        user_name: Some("Seven".into()),
        approved_at_ms: 550,
    };
    store.approve_user(user).await.expect("approve");
    drop(store);

    // Opening again applies nothing and keeps everything.
    let store = SqliteStore::open(&path).expect("reopen");
    assert_all_applied(&versions(&raw));
    assert_eq!(
        store
            .setting("home_channel:telegram")
            .await
            .expect("setting")
            .as_deref(),
        Some("42")
    );
    assert!(store.is_approved(&telegram, "7").await.expect("approved"));
    assert!(
        store
            .pending_pairings(None, 0)
            .await
            .expect("pending")
            .is_empty()
    );
    assert_eq!(
        store.messages(&sid("old")).await.expect("messages").len(),
        2
    );
}

/// A database at schema version 2: the version 1 database upgraded by
/// migration 0002 as that version's migrator did, then used the way version 2
/// did (a model override, a taken-back exchange, a setting, a pending request
/// and an approved user).
fn version_2_database(path: &Path) {
    version_1_database(path);
    let conn = Connection::open(path).expect("open");
    conn.pragma_update(None, "foreign_keys", true)
        .expect("foreign keys");
    conn.execute_batch(include_str!("../migrations/0002_conversation_engine.sql"))
        .expect("apply 0002");
    conn.execute(
        "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (2, 6)",
        [],
    )
    .expect("record 0002");
    conn.execute_batch(
        "UPDATE sessions SET model_override = 'small-model' WHERE id = 'old';
         UPDATE messages SET active = 0 WHERE session_id = 'old' AND at_ms >= 300;
         UPDATE sessions SET message_count = 2 WHERE id = 'old';
         INSERT INTO settings (key, value, updated_at_ms) VALUES ('home_channel:telegram', '42', 500);
         INSERT INTO pairing_pending (platform, user_id, user_name, code_hash, salt, \
             created_at_ms, expires_at_ms) VALUES ('telegram', '8', NULL, 'h', 's', 500, 600);
         INSERT INTO pairing_approved (platform, user_id, user_name, approved_at_ms) \
             VALUES ('telegram', '7', 'Seven', 550);",
    )
    .expect("version 2 rows");
}

#[tokio::test]
async fn version_2_database_upgrades_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hermod.db");
    version_2_database(&path);
    let before = Connection::open(&path).expect("raw connection");
    assert_eq!(versions(&before), [1, 2]);
    drop(before);

    let store = SqliteStore::open(&path).expect("open and upgrade");
    let raw = Connection::open(&path).expect("raw connection");
    assert_all_applied(&versions(&raw));
    let app_id: i32 = raw
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .expect("application id");
    assert_eq!(app_id, APPLICATION_ID);
    let outbox_rows: i64 = raw
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .expect("the outbox table exists");
    assert_eq!(outbox_rows, 0);

    // Version 2's rows survived as they were.
    let old = store
        .session(&sid("old"))
        .await
        .expect("session")
        .expect("kept");
    assert_eq!(old.model_override.as_deref(), Some("small-model"));
    assert_eq!(old.message_count, 2);
    let history = store.messages(&sid("old")).await.expect("messages");
    let texts: Vec<String> = history.iter().map(|m| m.message.text()).collect();
    assert_eq!(
        texts,
        ["where is the ancient lighthouse", "on the northern cape"]
    );
    assert_eq!(
        store
            .setting("home_channel:telegram")
            .await
            .expect("setting")
            .as_deref(),
        Some("42")
    );
    let telegram = PlatformId::new("telegram");
    assert!(store.is_approved(&telegram, "7").await.expect("approved"));
    let pending = store.pending_pairings(None, 0).await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].user_id, "8");

    // The outbox works on the upgraded database, beside the old sessions.
    let target = ChatTarget {
        chat_id: "42".into(),
        thread_id: None,
    };
    let out = NewOutbox {
        key: "reply:old:5".into(),
        platform: telegram.clone(),
        target,
        reply_to: None,
        text: "the keeper retired".into(),
        session: Some(sid("old")),
        message_ids: Vec::new(),
        attachments: Vec::new(),
        created_at_ms: 700,
    };
    let append = AppendMessages {
        session: sid("old"),
        messages: vec![NewMessage {
            message: ChatMessage::assistant("the keeper retired"),
            at_ms: 700,
            platform_message_id: None,
        }],
        usage: Usage::default(),
    };
    let (appended, entry) = store.append_reply(append, out).await.expect("append_reply");
    assert_eq!(appended.len(), 1);
    assert_eq!(entry.state, OutboxState::Pending);
    store
        .outbox_delivered(entry.id, &["m-700".to_owned()], 710)
        .await
        .expect("delivered");
    drop(store);

    // Opening again applies nothing and keeps everything.
    let store = SqliteStore::open(&path).expect("reopen");
    assert_all_applied(&versions(&raw));
    let kept = store
        .outbox_entry("reply:old:5")
        .await
        .expect("outbox_entry")
        .expect("kept");
    assert_eq!(kept.state, OutboxState::Delivered);
    assert_eq!(kept.message_ids, ["m-700"]);
    assert_eq!(
        store.messages(&sid("old")).await.expect("messages").len(),
        3
    );
    assert_eq!(
        store.search("keeper", 10).await.expect("search").len(),
        1,
        "the taken-back message stays out of search; the new one is in"
    );
}
