//! The store conformance suite run against [`SqliteStore`], in memory and on disk.

use hermod_store::SqliteStore;

mod in_memory {
    hermod_store::store_conformance_tests!(
        hermod_store::SqliteStore::open_in_memory().expect("open an in-memory store")
    );
}

mod on_disk {
    hermod_store::store_conformance_tests!(guarded: super::on_disk());
}

/// A store in a fresh temporary directory; the directory lives as long as the guard.
fn on_disk() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(&dir.path().join("state").join("hermod.db")).expect("open");
    (store, dir)
}
