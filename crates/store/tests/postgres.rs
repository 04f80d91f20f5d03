//! The store conformance suite run against [`PgStore`], each test on its
//! own throwaway PostgreSQL server (the machine's `initdb` and `pg_ctl`).
//! Skips with a note outside CI when the machine has no PostgreSQL
//! programs, and fails under `CI=true` (`.ci/run` installs them).

use hermod_store::PgStore;
use hermod_testkit::postgres::PgServer;

mod conformance {
    hermod_store::store_conformance_tests!(maybe: super::fresh().await);
}

/// A migrated store on a new server; the server lives as long as the guard.
async fn fresh() -> Option<(PgStore, PgServer)> {
    let server = PgServer::for_test().await?;
    let store = PgStore::connect(&server.url("postgres"), 4)
        .await
        .expect("connect and migrate");
    Some((store, server))
}
