//! Upgrading a database written at an older schema version in place.
//!
//! The old database is built by hand from the old migration files exactly as
//! the migrator of that version would have left it, filled with rows the way
//! that version wrote them, and then opened with the current code.

use hermod_model::{ChatType, PlatformId, Role, SessionId, SessionKey, Source};
use hermod_store::{ApprovedUser, PendingPairing, SqliteStore, Store};
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

#[tokio::test]
async fn version_1_database_upgrades_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hermod.db");
    version_1_database(&path);

    let store = SqliteStore::open(&path).expect("open and upgrade");
    let raw = Connection::open(&path).expect("raw connection");
    assert_eq!(
        versions(&raw),
        (1..=SqliteStore::schema_version()).collect::<Vec<_>>()
    );
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
    assert_eq!(
        versions(&raw),
        (1..=SqliteStore::schema_version()).collect::<Vec<_>>()
    );
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
