//! The throwaway PostgreSQL server: it starts on a free loopback port and
//! answers as PostgreSQL, two run side by side, and a dropped one is gone.
//! Skips with a note outside CI when the machine has no PostgreSQL
//! programs, and fails under `CI=true` (`.ci/run` installs them).

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use hermod_testkit::postgres::{PgServer, answers_on};
use std::path::PathBuf;

fn bin() -> Option<PathBuf> {
    let found = PgServer::find_bin();
    if found.is_none() {
        hermod_testkit::real_peer::missing(
            "PostgreSQL's programs (HERMOD_PG_BIN, or Debian's postgresql package)",
        );
    }
    found
}

#[test]
fn a_server_starts_answers_and_is_gone_once_dropped() {
    let Some(bin) = bin() else {
        return;
    };
    let first = PgServer::start(&bin).unwrap();
    let second = PgServer::start(&bin).unwrap();
    assert_ne!(first.port(), second.port());
    assert!(first.answers() && second.answers());
    assert_eq!(
        first.url("postgres"),
        format!("postgres://hermod@127.0.0.1:{}/postgres", first.port())
    );
    let port = first.port();
    drop(first);
    assert!(!answers_on(port), "a dropped server is stopped");
    assert!(second.answers(), "the other one runs on");
}
