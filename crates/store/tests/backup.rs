//! [`SqliteStore::backup`]: a complete, checked copy of a database in use.

use hermod_model::{ChatMessage, PlatformId, SessionId, SessionKey, Source};
use hermod_store::{
    AppendMessages, BackupOptions, ListSessions, NewMessage, NewSession, SqliteStore, Store,
    StoreError,
};
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

const SESSIONS: usize = 30;

async fn write_session(store: &SqliteStore, id: &str) {
    let new = NewSession {
        id: SessionId::parse(id).expect("id"),
        key: SessionKey::from_raw(format!("agent:main:cli:dm:{id}")),
        source: Source::dm(PlatformId::from_static("cli"), id),
        created_at_ms: 1,
    };
    store.create_session(new).await.expect("create");
    let append = AppendMessages {
        session: SessionId::parse(id).expect("id"),
        messages: ["question", "answer"]
            .into_iter()
            .map(|text| NewMessage {
                message: ChatMessage::user(text),
                at_ms: 2,
                platform_message_id: None,
            })
            .collect(),
        usage: Default::default(),
    };
    store.append_messages(append).await.expect("append");
}

/// A database in use: sessions written and still in its WAL, the store
/// open as a gateway holds it.
async fn live(dir: &Path) -> SqliteStore {
    let store = SqliteStore::open(&dir.join("hermod.db")).expect("open");
    for n in 0..SESSIONS {
        write_session(&store, &format!("s{n}")).await;
    }
    store
}

/// The sessions in the database at `path`, each checked to hold the
/// messages its counter says it has (they are written in one transaction).
async fn sessions_in(path: &Path) -> Vec<(String, u64)> {
    let store = SqliteStore::open(path).expect("open the backup");
    let sessions = store
        .list_sessions(ListSessions {
            limit: 1000,
            ..ListSessions::default()
        })
        .await
        .expect("list");
    let mut found = Vec::new();
    for s in sessions {
        let messages = store.messages(&s.id).await.expect("messages").len();
        assert_eq!(messages as u64, s.message_count, "{}", s.id);
        found.push((s.id.to_string(), s.message_count));
    }
    found
}

/// Whether `sessions` are the ones [`live`] wrote, each whole.
fn all_written(sessions: &[(String, u64)]) -> bool {
    let written: Vec<_> = sessions
        .iter()
        .filter(|(id, _)| id.starts_with('s'))
        .collect();
    written.len() == SESSIONS && written.iter().all(|(_, n)| *n == 2)
}

/// Files in `dir` other than the database's own.
fn others(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("hermod.db"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_backup_of_a_database_in_use_holds_every_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = live(dir.path()).await;
    assert!(
        std::fs::metadata(dir.path().join("hermod.db-wal"))
            .expect("wal")
            .len()
            > 0,
        "the sessions are still in the WAL"
    );
    let dest = dir.path().join("backup.db");
    let receipt = SqliteStore::backup(
        &dir.path().join("hermod.db"),
        &dest,
        BackupOptions::default(),
    )
    .await
    .expect("backup");
    assert_eq!(receipt.path, dest);
    assert_eq!(receipt.sessions, SESSIONS as u64);
    assert_eq!(receipt.messages, 2 * SESSIONS as u64);
    assert_eq!(receipt.bytes, std::fs::metadata(&dest).expect("size").len());
    assert_eq!(others(dir.path()), ["backup.db"], "no partial file is left");
    assert!(all_written(&sessions_in(&dest).await));
    write_session(&store, "after").await;
}

#[tokio::test]
async fn an_existing_file_is_replaced_only_when_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _store = live(dir.path()).await;
    let source = dir.path().join("hermod.db");
    let dest = dir.path().join("backup.db");
    std::fs::write(&dest, "keep me").expect("write");
    let refused = SqliteStore::backup(&source, &dest, BackupOptions::default()).await;
    assert!(
        matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("already exists")),
        "{refused:?}"
    );
    assert_eq!(std::fs::read_to_string(&dest).expect("read"), "keep me");
    assert_eq!(others(dir.path()), ["backup.db"]);

    let replace = BackupOptions {
        replace: true,
        ..BackupOptions::default()
    };
    SqliteStore::backup(&source, &dest, replace)
        .await
        .expect("replaced");
    assert!(all_written(&sessions_in(&dest).await));
}

#[tokio::test]
async fn the_database_itself_is_never_a_destination() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = live(dir.path()).await;
    let source = dir.path().join("hermod.db");
    let replace = BackupOptions {
        replace: true,
        ..BackupOptions::default()
    };
    let nested = dir.path().join(".").join("hermod.db-wal");
    for dest in [source.clone(), nested] {
        let refused = SqliteStore::backup(&source, &dest, replace).await;
        assert!(
            matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("the database itself")),
            "{}: {refused:?}",
            dest.display()
        );
    }
    write_session(&store, "still-fine").await;
    assert_eq!(sessions_in(&source).await.len(), SESSIONS + 1);
}

#[tokio::test]
async fn a_missing_or_foreign_database_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("backup.db");
    let missing = dir.path().join("hermod.db");
    let result = SqliteStore::backup(&missing, &dest, BackupOptions::default()).await;
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");

    let foreign = dir.path().join("other.db");
    rusqlite::Connection::open(&foreign)
        .expect("open")
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .expect("write");
    let result = SqliteStore::backup(&foreign, &dest, BackupOptions::default()).await;
    assert!(
        matches!(&result, Err(StoreError::Corrupt(m)) if m.contains("not a hermod database")),
        "{result:?}"
    );
    assert!(!dest.exists());
    assert_eq!(others(dir.path()), ["other.db"]);
}

#[tokio::test(start_paused = true)]
async fn it_pauses_between_steps_on_tokios_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _store = live(dir.path()).await;
    let options = BackupOptions {
        pages_per_step: 1,
        pause: Duration::from_secs(2),
        replace: false,
    };
    let started = Instant::now();
    let receipt = SqliteStore::backup(
        &dir.path().join("hermod.db"),
        &dir.path().join("backup.db"),
        options,
    )
    .await
    .expect("backup");
    let pages = receipt.bytes / 4096;
    assert_eq!(u64::from(receipt.steps), pages, "one page a step");
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(2) * (receipt.steps - 1),
        "a pause after every step but the last"
    );
}

/// Writes land while the backup copies (they do not wait for it), and the
/// backup still finishes with a whole snapshot instead of starting over at
/// each write.
#[tokio::test(start_paused = true)]
async fn writes_go_on_while_a_backup_copies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = live(dir.path()).await;
    let options = BackupOptions {
        pages_per_step: 1,
        pause: Duration::from_secs(1),
        replace: false,
    };
    let dest = dir.path().join("backup.db");
    let backup = async {
        let receipt = SqliteStore::backup(&dir.path().join("hermod.db"), &dest, options).await;
        (receipt, Instant::now())
    };
    let writes = async {
        for n in 0..20 {
            write_session(&store, &format!("w{n}")).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Instant::now()
    };
    let ((receipt, backup_done), writes_done) = tokio::join!(backup, writes);
    let receipt = receipt.expect("backup");
    assert!(writes_done < backup_done, "the writes did not wait");
    let pages = receipt.bytes / 4096;
    assert_eq!(u64::from(receipt.steps), pages, "never started over");
    // A snapshot: whatever it caught of the writes is as consistent as
    // the database was at that moment.
    let sessions = sessions_in(&dest).await;
    assert!(all_written(&sessions), "{sessions:?}");
    assert_eq!(sessions.len() as u64, receipt.sessions);
}
