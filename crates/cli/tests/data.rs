//! The `hermod` binary and its data end to end: what `hermod.db` holds,
//! backups, the home directory and the first run.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]
mod support;

use hermod_store::{ListSessions, SqliteStore, Store};
use hermod_testkit::FakeLlm;
use std::path::Path;
use support::{chat, finish, hermod, start, terminate};

/// The sessions in a copy of `db` alone (without its `-wal` and `-shm`),
/// with their message counts, as someone copying `hermod.db` gets them.
async fn sessions_in_a_copy_of(db: &Path) -> Vec<(String, u64)> {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    std::fs::copy(db, &copy).unwrap();
    sessions_in(&copy).await
}

async fn sessions_in(db: &Path) -> Vec<(String, u64)> {
    let store = SqliteStore::open(db).unwrap();
    let mut sessions: Vec<_> = store
        .list_sessions(ListSessions::default())
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.id.to_string(), s.message_count))
        .collect();
    sessions.sort();
    sessions
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn after_a_clean_stop_hermod_db_alone_holds_every_session() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let running = start(home.path(), &llm).await;
    let key = running.key.clone().unwrap();
    for session in ["one", "two", "three"] {
        chat(&running.base, &key, session, "hello").await;
    }
    assert_eq!(terminate(running.child).await, 0);
    let expected: Vec<(String, u64)> = ["one", "three", "two"]
        .iter()
        .map(|s| ((*s).to_owned(), 2))
        .collect();
    assert_eq!(
        sessions_in_a_copy_of(&home.path().join("hermod.db")).await,
        expected
    );
}

#[tokio::test]
async fn after_a_pairing_command_hermod_db_alone_holds_the_change() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("hermod.db");
    let platform = hermod_model::PlatformId::from_static("telegram");
    let code = {
        let store = SqliteStore::open(&db).unwrap();
        let pairing = hermod_core::Pairing::new(&store);
        let now = hermod_core::now_ms();
        match pairing.request(&platform, "4242", None, now).await.unwrap() {
            hermod_core::PairingRequest::Code(code) => code,
            other => panic!("{other:?}"),
        }
    };
    let out = finish(hermod(home.path()).args(["pairing", "approve", "telegram", &code])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    std::fs::copy(&db, &copy).unwrap();
    let store = SqliteStore::open(&copy).unwrap();
    assert!(store.is_approved(&platform, "4242").await.unwrap());
}

