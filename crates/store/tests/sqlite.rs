//! Behaviour specific to [`SqliteStore`]: the file, its schema versions,
//! damaged or foreign files, and the full-text index.

use hermod_model::{ChatMessage, ChatType, PlatformId, SessionId, SessionKey, Source, ToolCall};
use hermod_store::{AppendMessages, NewMessage, NewSession, SqliteStore, Store, StoreError};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

fn sid(raw: &str) -> SessionId {
    SessionId::parse(raw).expect("valid id")
}

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("nested").join("dirs").join("hermod.db")
}

async fn seed(store: &SqliteStore, id: &str, text: &str) {
    let source = Source {
        chat_type: ChatType::Dm,
        ..Source::dm(PlatformId::new("cli"), id)
    };
    let new = NewSession {
        id: sid(id),
        key: SessionKey::from_raw(format!("agent:main:cli:dm:{id}")),
        source,
        created_at_ms: 1,
    };
    store.create_session(new).await.expect("create_session");
    let append = AppendMessages {
        session: sid(id),
        messages: vec![NewMessage {
            message: ChatMessage::user(text),
            at_ms: 2,
            platform_message_id: None,
        }],
        usage: Default::default(),
    };
    store
        .append_messages(append)
        .await
        .expect("append_messages");
}

fn raw(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("raw connection");
    conn.pragma_update(None, "foreign_keys", true)
        .expect("foreign keys");
    conn
}

fn expect_corrupt(result: Result<SqliteStore, StoreError>) -> String {
    match result {
        Err(StoreError::Corrupt(msg)) => msg,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn fts5_is_compiled_in() {
    let conn = Connection::open_in_memory().expect("open");
    conn.execute_batch(
        "CREATE VIRTUAL TABLE t USING fts5(x); INSERT INTO t VALUES ('hello fts five');",
    )
    .expect("FTS5 is available in the bundled SQLite");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t WHERE t MATCH 'five'", [], |r| {
            r.get(0)
        })
        .expect("match");
    assert_eq!(n, 1);
}

#[tokio::test]
async fn creates_parent_dirs_and_uses_wal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let _store = SqliteStore::open(&path).expect("open");
    assert!(path.is_file());
    let conn = raw(&path);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn reopening_keeps_data_and_applies_migrations_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    {
        let store = SqliteStore::open(&path).expect("first open");
        seed(&store, "persist", "remember the lighthouse").await;
        let key = SessionKey::from_raw("k");
        store
            .set_route(&key, &sid("persist"), 3)
            .await
            .expect("set_route");
    }
    let store = SqliteStore::open(&path).expect("second open");
    let again = SqliteStore::open(&path).expect("a second store on the same file");
    let session = store
        .session(&sid("persist"))
        .await
        .expect("session")
        .expect("persisted");
    assert_eq!(session.message_count, 1);
    assert_eq!(
        store
            .messages(&sid("persist"))
            .await
            .expect("messages")
            .len(),
        1
    );
    assert_eq!(
        again
            .route(&SessionKey::from_raw("k"))
            .await
            .expect("route"),
        Some(sid("persist"))
    );
    assert_eq!(
        store.search("lighthouse", 5).await.expect("search").len(),
        1
    );

    let conn = raw(&path);
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    // Each version once, from 1 up to the newest (versions need not be
    // consecutive; see the migration runner).
    assert_eq!(versions.first(), Some(&1));
    assert_eq!(versions.last(), Some(&SqliteStore::schema_version()));
    assert!(versions.windows(2).all(|pair| pair[0] < pair[1]));
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    drop(SqliteStore::open(&path).expect("open"));
    let newer = SqliteStore::schema_version() + 1;
    raw(&path)
        .execute(
            "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, 0)",
            [newer],
        )
        .expect("pretend a newer hermod migrated");
    let msg = expect_corrupt(SqliteStore::open(&path));
    assert!(msg.contains("newer hermod"), "{msg}");
}

#[test]
fn garbage_file_is_corrupt_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("garbage.db");
    let junk: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, junk).expect("write garbage");
    let msg = expect_corrupt(SqliteStore::open(&path));
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("not a hermod database"), "{msg}");
}

#[test]
fn foreign_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other.db");
    let conn = Connection::open(&path).expect("open");
    conn.pragma_update(None, "application_id", 0x1234)
        .expect("set application id");
    conn.execute_batch("CREATE TABLE mine (x);")
        .expect("their table");
    drop(conn);
    let msg = expect_corrupt(SqliteStore::open(&path));
    assert!(msg.contains("not a hermod database"), "{msg}");
}

#[test]
fn unusable_path_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let err = SqliteStore::open(&file.join("under-a-file.db")).expect_err("cannot open");
    assert!(err.to_string().contains("a-file"), "{err}");
}

#[tokio::test]
async fn bad_rows_read_back_as_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).expect("open");
    seed(&store, "bad", "hello").await;
    let conn = raw(&path);
    conn.execute("UPDATE sessions SET source_json = '{not json'", [])
        .expect("damage source");
    conn.execute("UPDATE messages SET role = 'wizard'", [])
        .expect("damage role");

    let err = store.session(&sid("bad")).await.expect_err("bad source");
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("bad")),
        "{err:?}"
    );
    let err = store.messages(&sid("bad")).await.expect_err("bad role");
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("role")),
        "{err:?}"
    );
    let err = store
        .search("hello", 5)
        .await
        .expect_err("bad role in a hit");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");

    conn.execute(
        "UPDATE messages SET role = 'user', tool_calls_json = '[{]'",
        [],
    )
    .expect("damage");
    let err = store
        .messages(&sid("bad"))
        .await
        .expect_err("bad tool calls");
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("tool call")),
        "{err:?}"
    );
    conn.execute(
        "UPDATE sessions SET message_count = -1, source_json = '{}'",
        [],
    )
    .expect("damage");
    let err = store
        .list_sessions(Default::default())
        .await
        .expect_err("bad counter");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

#[tokio::test]
async fn index_follows_deletes_and_indexes_tool_calls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).expect("open");
    seed(&store, "keep", "orchard apples").await;
    seed(&store, "drop", "orchard pears").await;
    let call = ToolCall {
        id: "call_9".into(),
        name: "lookup_tides".into(),
        arguments: r#"{"port":"Bergen"}"#.into(),
    };
    let assistant = ChatMessage {
        content: None,
        tool_calls: vec![call],
        ..ChatMessage::assistant("")
    };
    let append = AppendMessages {
        session: sid("keep"),
        messages: vec![NewMessage {
            message: assistant,
            at_ms: 5,
            platform_message_id: None,
        }],
        usage: Default::default(),
    };
    store.append_messages(append).await.expect("append");
    assert_eq!(store.search("bergen", 5).await.expect("search").len(), 1);
    assert_eq!(
        store.search("lookup_tides", 5).await.expect("search").len(),
        1
    );
    assert!(
        store
            .search("function", 5)
            .await
            .expect("search")
            .is_empty(),
        "JSON keys indexed"
    );

    // Deleting a session cascades to its messages and their index entries.
    let conn = raw(&path);
    conn.execute("DELETE FROM sessions WHERE id = 'drop'", [])
        .expect("delete");
    let hits = store.search("orchard", 5).await.expect("search");
    assert_eq!(
        hits.iter().map(|h| h.session.as_str()).collect::<Vec<_>>(),
        ["keep"]
    );
    conn.execute(
        "UPDATE messages SET content = 'orchard plums' WHERE content = 'orchard apples'",
        [],
    )
    .expect("update");
    assert_eq!(store.search("plums", 5).await.expect("search").len(), 1);
    assert!(store.search("apples", 5).await.expect("search").is_empty());
    let check = "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1);";
    conn.execute_batch(check)
        .expect("the index matches the messages");
    conn.execute_batch("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');")
        .expect("the index can be rebuilt from the messages");
    conn.execute_batch(check)
        .expect("the rebuilt index matches the messages");
    assert_eq!(store.search("bergen", 5).await.expect("search").len(), 1);
}

#[tokio::test]
async fn two_stores_on_one_file_share_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let a = SqliteStore::open(&path).expect("open a");
    let b = SqliteStore::open(&path).expect("open b");
    let (ra, rb) = tokio::join!(
        async {
            for i in 0..20 {
                seed(&a, &format!("a{i}"), "from a").await;
            }
        },
        async {
            for i in 0..20 {
                seed(&b, &format!("b{i}"), "from b").await;
            }
        }
    );
    let ((), ()) = (ra, rb);
    let all = a.list_sessions(hermod_store::ListSessions {
        limit: 100,
        ..Default::default()
    });
    assert_eq!(all.await.expect("list").len(), 40);
}

#[tokio::test]
async fn undo_keeps_the_index_consistent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).expect("open");
    seed(&store, "u", "first walrus").await;
    let append = AppendMessages {
        session: sid("u"),
        messages: vec![
            NewMessage {
                message: ChatMessage::assistant("walrus facts"),
                at_ms: 3,
                platform_message_id: None,
            },
            NewMessage {
                message: ChatMessage::user("second walrus"),
                at_ms: 4,
                platform_message_id: None,
            },
        ],
        usage: Default::default(),
    };
    store.append_messages(append).await.expect("append");
    let undone = store.undo_exchanges(&sid("u"), 1).await.expect("undo");
    assert_eq!(undone.len(), 1);

    let conn = raw(&path);
    let active: Vec<i64> = conn
        .prepare("SELECT active FROM messages ORDER BY id")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(active, [1, 1, 0], "taken back, not deleted");
    let check = "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1);";
    conn.execute_batch(check)
        .expect("the index matches the messages");
    conn.execute_batch("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');")
        .expect("rebuild");
    conn.execute_batch(check)
        .expect("the rebuilt index matches");
    let hits = store.search("walrus", 10).await.expect("search");
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits.iter().all(|h| h.message_id != undone[0].id));

    // A value outside 0/1 is refused by the schema.
    let err = conn
        .execute("UPDATE messages SET active = 2", [])
        .expect_err("CHECK constraint");
    assert!(err.to_string().contains("CHECK"), "{err}");
}
