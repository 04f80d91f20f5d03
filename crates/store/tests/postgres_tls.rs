//! [`PgStore`] over TLS, against a throwaway PostgreSQL server with a
//! certificate from a throwaway CA (the machine's `initdb`, `pg_ctl` and
//! `openssl`). Skips with a note outside CI when the machine has no
//! PostgreSQL programs, and fails under `CI=true`.
//!
//! Whether hermod's connections use TLS is asked of the server, through a
//! separate plain connection: `pg_stat_ssl` for the sessions whose
//! application name is `hermod`.

use hermod_store::{PgStore, StoreError};
use hermod_testkit::postgres::{PgServer, ROLE};
use std::path::PathBuf;

/// A server offering TLS and its CA's certificate, or `None` when skipped.
async fn tls_server() -> Option<(PgServer, PathBuf)> {
    let Some(bin) = PgServer::find_bin() else {
        hermod_testkit::real_peer::missing(
            "PostgreSQL's programs (HERMOD_PG_BIN, or Debian's postgresql package)",
        );
        return None;
    };
    let started = tokio::task::spawn_blocking(move || PgServer::start_tls(&bin))
        .await
        .expect("start task")
        .expect("a PostgreSQL server with TLS");
    Some(started)
}

/// `url` on `host` instead of 127.0.0.1, with `query`.
fn url(server: &PgServer, host: &str, query: &str) -> String {
    format!(
        "postgres://{ROLE}@{host}:{}/postgres?{query}",
        server.port()
    )
}

/// Whether each open session named `app` (hermod's sessions are named
/// `hermod` unless the URL says otherwise) uses TLS, as the server sees it.
async fn sessions_tls(server: &PgServer, app: &str) -> Vec<bool> {
    let monitor = format!(
        "{}?sslmode=disable&application_name=monitor",
        server.url("postgres")
    );
    let (client, connection) = tokio_postgres::connect(&monitor, tokio_postgres::NoTls)
        .await
        .expect("monitor connects");
    tokio::spawn(connection);
    client
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = $1",
            &[&app],
        )
        .await
        .expect("pg_stat_ssl")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Connects (and migrates) with `url`, then reports the sessions' TLS.
async fn connect(server: &PgServer, url: &str) -> (PgStore, Vec<bool>) {
    let store = PgStore::connect(url, 2).await.expect("connect");
    store.check().await.expect("check");
    let app = if url.contains("application_name=unchecked") {
        "unchecked"
    } else {
        "hermod"
    };
    let sessions = sessions_tls(server, app).await;
    assert!(!sessions.is_empty(), "hermod has an open session");
    (store, sessions)
}

fn ca_query(mode: &str, ca: &std::path::Path) -> String {
    format!("sslmode={mode}&sslrootcert={}", ca.display())
}

#[tokio::test]
async fn require_with_the_ca_uses_tls() {
    let Some((server, ca)) = tls_server().await else {
        return;
    };
    let (_store, sessions) = connect(
        &server,
        &url(&server, "127.0.0.1", &ca_query("require", &ca)),
    )
    .await;
    assert!(sessions.iter().all(|tls| *tls), "{sessions:?}");
}

#[tokio::test]
async fn verify_full_with_the_ca_on_localhost_uses_tls() {
    let Some((server, ca)) = tls_server().await else {
        return;
    };
    let (_store, sessions) = connect(
        &server,
        &url(&server, "localhost", &ca_query("verify-full", &ca)),
    )
    .await;
    assert!(sessions.iter().all(|tls| *tls), "{sessions:?}");
}

#[tokio::test]
async fn key_value_form_with_the_ca_uses_tls() {
    let Some((server, ca)) = tls_server().await else {
        return;
    };
    let url = format!(
        "host=localhost port={} user={ROLE} dbname=postgres sslmode=verify-ca sslrootcert='{}'",
        server.port(),
        ca.display()
    );
    let (_store, sessions) = connect(&server, &url).await;
    assert!(sessions.iter().all(|tls| *tls), "{sessions:?}");
}

#[tokio::test]
async fn require_without_the_ca_refuses_the_certificate() {
    let Some((server, _ca)) = tls_server().await else {
        return;
    };
    let e = PgStore::connect(&url(&server, "127.0.0.1", "sslmode=require"), 2)
        .await
        .expect_err("an unknown CA is refused");
    let StoreError::CannotOpen(message) = &e else {
        panic!("CannotOpen, not {e:?}");
    };
    assert!(message.contains("certificate"), "{message}");
    assert!(message.contains("sslrootcert"), "{message}");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let Some((server, ca)) = tls_server().await else {
        return;
    };
    // The certificate names localhost and 127.0.0.1, not db.example;
    // hostaddr makes the connection reach the server all the same.
    let query = format!("hostaddr=127.0.0.1&{}", ca_query("verify-full", &ca));
    let e = PgStore::connect(&url(&server, "db.example", &query), 2)
        .await
        .expect_err("a certificate for another name is refused");
    let StoreError::CannotOpen(message) = &e else {
        panic!("CannotOpen, not {e:?}");
    };
    assert!(message.contains("certificate"), "{message}");
    assert!(message.contains("db.example"), "{message}");
}

#[tokio::test]
async fn disable_connects_in_plain_text() {
    let Some((server, _ca)) = tls_server().await else {
        return;
    };
    let (_store, sessions) = connect(&server, &url(&server, "127.0.0.1", "sslmode=disable")).await;
    assert!(sessions.iter().all(|tls| !*tls), "{sessions:?}");
}

#[tokio::test]
async fn prefer_uses_tls_whether_or_not_the_certificate_checks_out() {
    let Some((server, ca)) = tls_server().await else {
        return;
    };
    // No sslmode: prefer. With the CA the certificate is checked: TLS.
    let with_ca = format!("sslrootcert={}", ca.display());
    let (store, sessions) = connect(&server, &url(&server, "127.0.0.1", &with_ca)).await;
    assert!(sessions.iter().all(|tls| *tls), "{sessions:?}");
    drop(store);
    // Without it the certificate cannot be checked: still encrypted, as
    // libpq's prefer is, never plain text (the sessions are named apart
    // from the first store's, which may linger).
    let unchecked = url(&server, "127.0.0.1", "application_name=unchecked");
    let (_store, sessions) = connect(&server, &unchecked).await;
    assert!(
        !sessions.is_empty() && sessions.iter().all(|tls| *tls),
        "{sessions:?}"
    );
}

#[tokio::test]
async fn require_against_a_server_without_tls_cannot_open() {
    let Some(server) = PgServer::for_test().await else {
        return;
    };
    let e = PgStore::connect(&url(&server, "127.0.0.1", "sslmode=require"), 2)
        .await
        .expect_err("no TLS on offer");
    assert!(matches!(e, StoreError::CannotOpen(_)), "{e:?}");
    assert!(e.to_string().contains("TLS"), "{e}");
}

#[tokio::test]
async fn a_missing_ca_file_is_named() {
    let e = PgStore::connect_unmigrated(
        "postgres://hermod@127.0.0.1:1/postgres?sslmode=require&sslrootcert=/nonexistent/ca.pem",
        2,
    )
    .expect_err("no such CA file");
    assert!(matches!(e, StoreError::CannotOpen(_)), "{e:?}");
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
}
