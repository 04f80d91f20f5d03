//! The `hermod` binary on PostgreSQL (`HERMOD_DATABASE_URL`): the gateway
//! keeps its sessions there and the commands read them back, `hermod store
//! migrate` and `hermod store copy`, and the failures an operator meets
//! (an unreachable server, `hermod backup`), never showing the password.
//!
//! Each test that needs a server starts its own throwaway one (the
//! machine's `initdb` and `pg_ctl`); without them a test skips with a note
//! outside CI and fails under `CI=true`. These tests also prove that the
//! binary `cargo test` builds has PostgreSQL support: the crate's
//! dev-dependency turns hermod-store's `postgres` feature on for it.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]
mod support;

use hermod_testkit::FakeLlm;
use hermod_testkit::postgres::PgServer;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{finish, hermod};

const URL: &str = "HERMOD_DATABASE_URL";

/// A new PostgreSQL server, or `None` (skip) on a machine without one.
async fn server() -> Option<PgServer> {
    PgServer::for_test().await
}

/// Runs `hermod <args>` in `home` with `url` as the database; returns the
/// exit code, stdout and stderr.
async fn run(home: &Path, url: Option<&str>, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = hermod(home);
    cmd.args(args);
    if let Some(url) = url {
        cmd.env(URL, url);
    }
    let out = finish(&mut cmd).await;
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The ids `hermod sessions list --json` shows.
async fn session_ids(home: &Path, url: Option<&str>) -> Vec<String> {
    let (code, stdout, stderr) = run(home, url, &["sessions", "list", "--json"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    let mut ids: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Runs a gateway on `home` (on `url`'s database, or its SQLite file),
/// has one chat per session through the API server, and stops it.
async fn chat_through_gateway(home: &Path, url: Option<&str>, sessions: &[&str]) {
    let llm = FakeLlm::start().await;
    let mut cmd = support::gateway(home, &llm);
    if let Some(url) = url {
        cmd.env(URL, url);
    }
    let running = support::start_with(cmd).await;
    let key = running.key.clone().expect("a first run prints its key");
    for session in sessions {
        let reply = support::chat(&running.base, &key, session, "hello").await;
        assert_eq!(reply["choices"][0]["message"]["content"], "echo: hello");
    }
    assert_eq!(support::terminate(running.child).await, 0);
}

#[tokio::test]
async fn the_gateway_keeps_its_sessions_in_postgresql() {
    let Some(server) = server().await else {
        return;
    };
    let url = server.url("postgres");
    let home = tempfile::tempdir().unwrap();
    chat_through_gateway(home.path(), Some(&url), &["pg-kept"]).await;
    assert!(
        !home.path().join("hermod.db").exists(),
        "no SQLite file is made beside a PostgreSQL database"
    );
    assert_eq!(session_ids(home.path(), Some(&url)).await, ["pg-kept"]);
    let (code, stdout, stderr) =
        run(home.path(), Some(&url), &["sessions", "show", "pg-kept"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("echo: hello"), "{stdout}");

    // The home's .env names the database as well as the environment does.
    let dotenv = home.path().join(".env");
    let mut text = std::fs::read_to_string(&dotenv).unwrap();
    text.push_str(&format!("{URL}={url}\n"));
    std::fs::write(&dotenv, text).unwrap();
    assert_eq!(session_ids(home.path(), None).await, ["pg-kept"]);

    // `hermod doctor` says which database it checked.
    let (_, stdout, _) = run(home.path(), None, &["doctor"]).await;
    let line = stdout
        .lines()
        .find(|l| l.contains("database:"))
        .unwrap_or_default();
    assert!(
        line.starts_with("✔ database: PostgreSQL postgres://hermod@127.0.0.1:"),
        "{stdout}"
    );
    assert!(!home.path().join("hermod.db").exists());
}

#[tokio::test]
async fn store_migrate_applies_the_schema_once() {
    let Some(server) = server().await else {
        return;
    };
    let url = server.url("postgres");
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(home.path(), Some(&url), &["store", "migrate"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    // The user, then the server (a password would show as `***`).
    let server_part = format!("@127.0.0.1:{}/postgres", server.port());
    let line = stdout.trim();
    assert!(
        line.starts_with("applied schema version 1 to postgres://hermod")
            && line.ends_with(&server_part),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(home.path(), Some(&url), &["store", "migrate"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let line = stdout.trim();
    assert!(
        line.starts_with("postgres://hermod")
            && line.ends_with(&format!("{server_part}: schema up to date (version 1)")),
        "{stdout}"
    );
    assert!(!home.path().join("hermod.db").exists());
}

/// A port on 127.0.0.1 with nothing listening (free a moment ago).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_unreachable_server_fails_fast_naming_it_without_the_password() {
    let port = free_port();
    let url = format!("postgres://bot:s3cret@127.0.0.1:{port}/hermod");
    let shown = format!("postgres://bot:***@127.0.0.1:{port}/hermod");
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["sessions", "list"][..],
        &["store", "migrate"][..],
        &["gateway", "run"][..],
    ] {
        let started = Instant::now();
        let mut cmd = if args[0] == "gateway" {
            support::gateway_run(home.path())
        } else {
            let mut cmd = hermod(home.path());
            cmd.args(args);
            cmd
        };
        let out = finish(cmd.env(URL, &url)).await;
        let (code, stdout, stderr) = (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{args:?} took {:?}",
            started.elapsed()
        );
        assert!(code.is_some_and(|c| c != 0), "{args:?}: {code:?}");
        assert!(
            stderr.contains(&format!(
                "cannot reach the PostgreSQL server at {shown}: is it running, and is \
                 HERMOD_DATABASE_URL right?"
            )),
            "{args:?}: {stderr}"
        );
        assert!(
            !stderr.contains("s3cret") && !stdout.contains("s3cret"),
            "{args:?}: {stderr}"
        );
    }
    assert!(!home.path().join("hermod.db").exists());
}

#[tokio::test]
async fn backup_on_postgresql_says_to_use_pg_dump() {
    let home = tempfile::tempdir().unwrap();
    let url = "postgres://bot:s3cret@127.0.0.1:1/hermod";
    let file = home.path().join("backup.db");
    let (code, _, stderr) = run(home.path(), Some(url), &["backup", file.to_str().unwrap()]).await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("the database is PostgreSQL (postgres://bot:***@127.0.0.1:1/hermod): back it up with pg_dump"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(!file.exists());
}

#[tokio::test]
async fn a_sqlite_home_copied_into_postgresql_keeps_its_sessions() {
    let Some(server) = server().await else {
        return;
    };
    let url = server.url("postgres");
    let home = tempfile::tempdir().unwrap();
    chat_through_gateway(home.path(), None, &["first", "second"]).await;
    let before = session_ids(home.path(), None).await;
    assert_eq!(before, ["first", "second"]);

    let (code, stdout, stderr) = run(home.path(), None, &["store", "copy", "--to", &url]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "Copied {} to postgres://hermod",
            home.path().join("hermod.db").display()
        )) && first.ends_with(&format!("@127.0.0.1:{}/postgres:", server.port())),
        "{stdout}"
    );
    let rows = |table: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(table)?.trim().parse::<u64>().ok())
    };
    assert_eq!(rows("sessions"), Some(2), "{stdout}");
    assert_eq!(rows("messages"), Some(4), "{stdout}");
    let total = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("total"))
        .unwrap_or_else(|| panic!("a total line: {stdout}"));
    assert!(total.trim().ends_with("rows"), "{stdout}");

    assert_eq!(session_ids(home.path(), Some(&url)).await, before);
    let (code, stdout, stderr) =
        run(home.path(), Some(&url), &["sessions", "show", "second"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("echo: hello"), "{stdout}");

    // The destination is no longer empty: a second copy is refused.
    let (code, _, stderr) = run(home.path(), None, &["store", "copy", "--to", &url]).await;
    assert_ne!(code, Some(0), "{stderr}");
}
