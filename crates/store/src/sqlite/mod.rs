//! [`SqliteStore`]: the [`Store`] on one SQLite database file.
//!
//! This module owns the connections and the threads operations run on; the
//! SQL lives in `ops`, the row mapping in `rows`, the schema in `migrate`.
//!
//! Connections: SQLite allows one writer at a time, and in WAL mode readers
//! never block it nor each other. So there is exactly one read-write
//! connection behind a mutex, used for every write, plus a few read-only
//! connections for reads. rusqlite is synchronous, so every operation runs on
//! tokio's blocking thread pool ([`tokio::task::spawn_blocking`]) and never
//! stalls the async workers. An in-memory database (tests) has only the one
//! connection, since separate connections would each see their own database.
//!
//! Closing: in WAL mode committed transactions sit in `hermod.db-wal` until a
//! checkpoint copies them into `hermod.db`. SQLite checkpoints when the last
//! connection to the file closes, but only if that connection may write; so
//! the readers close before the writer (see [`Inner`]). A store is shared
//! by clones that tasks hold, so when its last handle drops is not up to the
//! code that is done with it: [`SqliteStore::close`] checkpoints explicitly,
//! whoever still holds a clone. After either, `hermod.db` alone holds
//! everything.

mod backup;
mod check;
mod close;
mod error;
mod fts;
mod migrate;
mod ops;
mod rows;
mod snapshot;

use crate::{
    AppendMessages, ApprovedUser, Handoff, HandoffOutcome, HandoffState, InboxEntry, InboxState,
    ListSessions, NewHandoff, NewOutbox, NewSession, OutboxEntry, PendingPairing, Result,
    SearchHit, SessionRecord, SessionSummary, Store, StoreError, StoredMessage,
};
use crate::{ApprovalGrant, Lease, MemoryNote, Node, Owner, StoredResponse};
use crate::{CronClaim, CronFinish, CronJob, CronJobUpdate, CronRun, NewCronJob};
use async_trait::async_trait;
pub use backup::{BackupOptions, BackupReceipt};
pub use close::Checkpoint;
use error::classify_io;
pub(crate) use error::{DbError, DbResult};
use hermod_model::{PlatformId, SessionId, SessionKey};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a connection waits for another process's lock before the
/// operation fails with [`StoreError::Busy`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection (the store uses about fifty).
const STATEMENT_CACHE: usize = 64;

/// A [`Store`] on one SQLite database. Cloning is cheap and shares the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

/// Fields drop in declaration order: the read-only connections close before
/// the writer, so the writer is the last connection of this store and folds
/// the WAL into the main file as it closes (a read-only connection cannot).
struct Inner {
    /// The database's path (or `:memory:`), for error messages.
    name: String,
    /// Read-only connections; empty for in-memory databases, which read
    /// through the writer.
    readers: Vec<Mutex<Connection>>,
    writer: Mutex<Connection>,
    /// Where the next read starts looking for a free reader.
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.name)
            .field("readers", &self.inner.readers.len())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed, with its parent directories) the database at
    /// `path` and brings its schema up to date.
    ///
    /// This blocks while it opens and migrates; call it at startup or from
    /// blocking context. Fails with [`StoreError::Corrupt`] when the file is
    /// not a hermod database, is damaged, or was written by a newer hermod.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let name = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| classify_io(&e, &format!("cannot create {}", parent.display())))?;
        }
        let writer = open_writer(path, &name).map_err(|e| e.classify_open(&name))?;
        let readers = (0..reader_count())
            .map(|_| {
                open_reader(path)
                    .map(Mutex::new)
                    .map_err(|e| e.classify_open(&name))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::from_connections(name, writer, readers))
    }

    /// A private in-memory database, gone when the store is dropped. For tests.
    pub fn open_in_memory() -> Result<SqliteStore> {
        let name = ":memory:".to_owned();
        let setup = || -> DbResult<Connection> {
            let mut conn = Connection::open_in_memory()?;
            configure(&conn)?;
            migrate::migrate(&mut conn, &name, now_ms())?;
            Ok(conn)
        };
        let writer = setup().map_err(|e| e.classify(&name))?;
        Ok(Self::from_connections(name, writer, Vec::new()))
    }

    fn from_connections(name: String, writer: Connection, readers: Vec<Mutex<Connection>>) -> Self {
        let inner = Inner {
            name,
            writer: Mutex::new(writer),
            readers,
            next_reader: 0.into(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The newest schema version this build of hermod knows.
    pub fn schema_version() -> i64 {
        migrate::latest_version()
    }

    /// Runs `op` on the writer connection on the blocking pool.
    pub(crate) async fn write<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DbResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || {
            let mut conn = lock(&inner.writer);
            // A transaction left open (by a panic mid-operation) would swallow
            // every later write into it; roll it back first.
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK")
                    .map_err(|e| DbError::from(e).classify(&inner.name))?;
            }
            op(&mut conn).map_err(|e| e.classify(&inner.name))
        })
        .await
    }

    /// Runs `op` on a reader connection (the writer for in-memory databases)
    /// on the blocking pool.
    pub(crate) async fn read<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || {
            let conn = inner.reader();
            op(&conn).map_err(|e| e.classify(&inner.name))
        })
        .await
    }
}

impl Inner {
    /// A free reader if there is one, else waits for the next in turn.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let n = self.readers.len();
        if n == 0 {
            return lock(&self.writer);
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            match self.readers[(start + i) % n].try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        lock(&self.readers[start])
    }
}

/// Locks a connection, recovering it if a panicking operation poisoned the
/// mutex: the connection itself stays usable (see [`SqliteStore::write`]).
fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn run_blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Other(format!("store operation did not complete: {e}")))?
}

fn reader_count() -> usize {
    std::thread::available_parallelism()
        .map_or(2, usize::from)
        .clamp(2, 4)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Settings every connection needs.
fn configure(conn: &Connection) -> DbResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

fn open_writer(path: &Path, name: &str) -> DbResult<Connection> {
    // No SQLITE_OPEN_URI: the path is a file name, never a `file:` URI.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)?;
    configure(&conn)?;
    // The first statement that reads the file: a non-database fails here
    // with SQLITE_NOTADB. The mode stays "delete" on filesystems without
    // shared memory; the store still works there, just with less concurrency.
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    // With WAL, NORMAL is durable across application crashes; only a power
    // loss can drop the last transactions, never corrupt the database.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    migrate::migrate(&mut conn, name, now_ms())?;
    Ok(conn)
}

fn open_reader(path: &Path) -> DbResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    configure(&conn)?;
    Ok(conn)
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord> {
        self.write(move |c| ops::create_session(c, &new)).await
    }

    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        let id = id.clone();
        self.read(move |c| ops::session(c, &id)).await
    }

    async fn list_sessions(&self, query: ListSessions) -> Result<Vec<SessionRecord>> {
        self.read(move |c| ops::list_sessions(c, &query)).await
    }

    async fn end_session(&self, id: &SessionId, reason: &str, at_ms: i64) -> Result<()> {
        let (id, reason) = (id.clone(), reason.to_owned());
        self.write(move |c| ops::end_session(c, &id, &reason, at_ms))
            .await
    }

    async fn set_title(&self, id: &SessionId, title: &str) -> Result<()> {
        let (id, title) = (id.clone(), title.to_owned());
        self.write(move |c| ops::set_title(c, &id, &title)).await
    }

    async fn delete_session(&self, id: &SessionId) -> Result<bool> {
        let id = id.clone();
        self.write(move |c| ops::delete_session(c, &id)).await
    }

    async fn append_messages(&self, append: AppendMessages) -> Result<Vec<i64>> {
        self.write(move |c| ops::append_messages(c, &append)).await
    }

    async fn messages(&self, id: &SessionId) -> Result<Vec<StoredMessage>> {
        let id = id.clone();
        self.read(move |c| ops::messages(c, &id)).await
    }

    async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let query = query.to_owned();
        self.read(move |c| ops::search(c, &query, limit)).await
    }

    async fn search_owned(
        &self,
        owner: &Owner,
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        let (owner, query) = (owner.clone(), query.to_owned());
        self.read(move |c| ops::search_owned(c, &owner, &query, limit))
            .await
    }

    async fn search_platform(
        &self,
        platform: &PlatformId,
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        let (platform, query) = (platform.clone(), query.to_owned());
        self.read(move |c| ops::search_platform(c, &platform, &query, limit))
            .await
    }

    async fn route(&self, key: &SessionKey) -> Result<Option<SessionId>> {
        let key = key.clone();
        self.read(move |c| ops::route(c, &key)).await
    }

    async fn set_route(&self, key: &SessionKey, id: &SessionId, at_ms: i64) -> Result<()> {
        let (key, id) = (key.clone(), id.clone());
        self.write(move |c| ops::set_route(c, &key, &id, at_ms))
            .await
    }

    async fn set_model_override(&self, id: &SessionId, model: Option<&str>) -> Result<()> {
        let (id, model) = (id.clone(), model.map(str::to_owned));
        self.write(move |c| ops::set_model_override(c, &id, model.as_deref()))
            .await
    }

    async fn sessions_for_key(&self, key: &SessionKey, limit: usize) -> Result<Vec<SessionRecord>> {
        let key = key.clone();
        self.read(move |c| ops::sessions_for_key(c, &key, limit))
            .await
    }

    async fn reopen_session(&self, id: &SessionId) -> Result<()> {
        let id = id.clone();
        self.write(move |c| ops::reopen_session(c, &id)).await
    }

    async fn undo_exchanges(&self, id: &SessionId, exchanges: usize) -> Result<Vec<StoredMessage>> {
        let id = id.clone();
        self.write(move |c| ops::undo_exchanges(c, &id, exchanges))
            .await
    }

    async fn session_summary(&self, id: &SessionId) -> Result<Option<SessionSummary>> {
        let id = id.clone();
        self.read(move |c| ops::session_summary(c, &id)).await
    }

    async fn set_session_summary(&self, summary: SessionSummary) -> Result<()> {
        self.write(move |c| ops::set_session_summary(c, &summary))
            .await
    }

    async fn inbox_record(
        &self,
        platform: &PlatformId,
        key: &str,
        event_json: &str,
        at_ms: i64,
    ) -> Result<bool> {
        let (platform, key, json) = (platform.clone(), key.to_owned(), event_json.to_owned());
        self.write(move |c| ops::inbox_record(c, &platform, &key, &json, at_ms))
            .await
    }

    async fn inbox_set_state(
        &self,
        platform: &PlatformId,
        key: &str,
        state: InboxState,
        at_ms: i64,
    ) -> Result<bool> {
        let (platform, key) = (platform.clone(), key.to_owned());
        self.write(move |c| ops::inbox_set_state(c, &platform, &key, state, at_ms))
            .await
    }

    async fn inbox_entry(&self, platform: &PlatformId, key: &str) -> Result<Option<InboxEntry>> {
        let (platform, key) = (platform.clone(), key.to_owned());
        self.read(move |c| ops::inbox_entry(c, &platform, &key))
            .await
    }

    async fn inbox_start_turn(
        &self,
        append: AppendMessages,
        platform: &PlatformId,
        keys: &[String],
        at_ms: i64,
    ) -> Result<Vec<i64>> {
        let (platform, keys) = (platform.clone(), keys.to_vec());
        self.write(move |c| ops::inbox_start_turn(c, &append, &platform, &keys, at_ms))
            .await
    }

    async fn inbox_set_previews(
        &self,
        platform: &PlatformId,
        keys: &[String],
        preview_ids: &[String],
        at_ms: i64,
    ) -> Result<()> {
        let (platform, keys, ids) = (platform.clone(), keys.to_vec(), preview_ids.to_vec());
        self.write(move |c| ops::inbox_set_previews(c, &platform, &keys, &ids, at_ms))
            .await
    }

    async fn inbox_unfinished(&self, after_seq: i64, limit: usize) -> Result<Vec<InboxEntry>> {
        self.read(move |c| ops::inbox_unfinished(c, after_seq, limit))
            .await
    }

    async fn inbox_prune(&self, before_ms: i64) -> Result<u64> {
        self.write(move |c| ops::inbox_prune(c, before_ms)).await
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        self.read(move |c| ops::setting(c, &key)).await
    }

    async fn set_setting(&self, key: &str, value: &str, at_ms: i64) -> Result<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |c| ops::set_setting(c, &key, &value, at_ms))
            .await
    }

    async fn delete_setting(&self, key: &str) -> Result<bool> {
        let key = key.to_owned();
        self.write(move |c| ops::delete_setting(c, &key)).await
    }

    async fn add_pending_pairing(&self, pending: PendingPairing) -> Result<i64> {
        self.write(move |c| ops::add_pending_pairing(c, &pending))
            .await
    }

    async fn pending_pairings(
        &self,
        platform: Option<&PlatformId>,
        now_ms: i64,
    ) -> Result<Vec<PendingPairing>> {
        let platform = platform.cloned();
        self.read(move |c| ops::pending_pairings(c, platform.as_ref(), now_ms))
            .await
    }

    async fn remove_pending_pairing(&self, id: i64) -> Result<bool> {
        self.write(move |c| ops::remove_pending_pairing(c, id))
            .await
    }

    async fn purge_expired_pairings(&self, now_ms: i64) -> Result<u64> {
        self.write(move |c| ops::purge_expired_pairings(c, now_ms))
            .await
    }

    async fn approve_user(&self, user: ApprovedUser) -> Result<()> {
        self.write(move |c| ops::approve_user(c, &user)).await
    }

    async fn revoke_user(&self, platform: &PlatformId, user_id: &str) -> Result<bool> {
        let (platform, user_id) = (platform.clone(), user_id.to_owned());
        self.write(move |c| ops::revoke_user(c, &platform, &user_id))
            .await
    }

    async fn is_approved(&self, platform: &PlatformId, user_id: &str) -> Result<bool> {
        let (platform, user_id) = (platform.clone(), user_id.to_owned());
        self.read(move |c| ops::is_approved(c, &platform, &user_id))
            .await
    }

    async fn approved_users(&self, platform: Option<&PlatformId>) -> Result<Vec<ApprovedUser>> {
        let platform = platform.cloned();
        self.read(move |c| ops::approved_users(c, platform.as_ref()))
            .await
    }

    async fn outbox_put(&self, new: NewOutbox) -> Result<OutboxEntry> {
        self.write(move |c| ops::outbox_put(c, &new)).await
    }

    async fn append_reply(
        &self,
        append: AppendMessages,
        outbox: NewOutbox,
    ) -> Result<(Vec<i64>, OutboxEntry)> {
        self.write(move |c| ops::append_reply(c, &append, &outbox))
            .await
    }

    async fn outbox_entry(&self, key: &str) -> Result<Option<OutboxEntry>> {
        let key = key.to_owned();
        self.read(move |c| ops::outbox_entry(c, &key)).await
    }

    async fn outbox_set_message_ids(
        &self,
        id: i64,
        message_ids: &[String],
        at_ms: i64,
    ) -> Result<()> {
        let message_ids = message_ids.to_vec();
        self.write(move |c| ops::outbox_set_message_ids(c, id, &message_ids, at_ms))
            .await
    }

    async fn outbox_set_attachment_progress(
        &self,
        id: i64,
        progress: &[crate::AttachmentProgress],
        at_ms: i64,
    ) -> Result<()> {
        let progress = progress.to_vec();
        self.write(move |c| ops::outbox_set_attachment_progress(c, id, &progress, at_ms))
            .await
    }

    async fn outbox_delivered(&self, id: i64, message_ids: &[String], at_ms: i64) -> Result<()> {
        let message_ids = message_ids.to_vec();
        self.write(move |c| ops::outbox_delivered(c, id, &message_ids, at_ms))
            .await
    }

    async fn outbox_retry_later(
        &self,
        id: i64,
        error: &str,
        next_attempt_at_ms: i64,
        at_ms: i64,
    ) -> Result<()> {
        let error = error.to_owned();
        self.write(move |c| ops::outbox_retry_later(c, id, &error, next_attempt_at_ms, at_ms))
            .await
    }

    async fn outbox_failed(&self, id: i64, error: &str, at_ms: i64) -> Result<()> {
        let error = error.to_owned();
        self.write(move |c| ops::outbox_failed(c, id, &error, at_ms))
            .await
    }

    async fn outbox_pending(&self, after_id: i64, limit: usize) -> Result<Vec<OutboxEntry>> {
        self.read(move |c| ops::outbox_pending(c, after_id, limit))
            .await
    }

    async fn handoff_request(&self, new: NewHandoff) -> Result<Handoff> {
        self.write(move |c| ops::handoff_request(c, &new)).await
    }

    async fn handoff(&self, session: &SessionId) -> Result<Option<Handoff>> {
        let session = session.clone();
        self.read(move |c| ops::handoff(c, &session)).await
    }

    async fn handoffs_in(&self, state: HandoffState, limit: usize) -> Result<Vec<Handoff>> {
        self.read(move |c| ops::handoffs_in(c, state, limit)).await
    }

    async fn handoff_claim(&self, session: &SessionId, at_ms: i64) -> Result<bool> {
        let session = session.clone();
        self.write(move |c| ops::handoff_claim(c, &session, at_ms))
            .await
    }

    async fn handoff_finish(
        &self,
        session: &SessionId,
        outcome: HandoffOutcome,
        at_ms: i64,
    ) -> Result<bool> {
        let session = session.clone();
        self.write(move |c| ops::handoff_finish(c, &session, &outcome, at_ms))
            .await
    }

    async fn cron_add(&self, new: NewCronJob) -> Result<CronJob> {
        self.write(move |c| ops::cron_add(c, &new)).await
    }

    async fn cron_job(&self, id: &str) -> Result<Option<CronJob>> {
        let id = id.to_owned();
        self.read(move |c| ops::cron_job(c, &id)).await
    }

    async fn cron_jobs(&self) -> Result<Vec<CronJob>> {
        self.read(ops::cron_jobs).await
    }

    async fn cron_update(&self, id: &str, update: CronJobUpdate, at_ms: i64) -> Result<CronJob> {
        let id = id.to_owned();
        self.write(move |c| ops::cron_update(c, &id, &update, at_ms))
            .await
    }

    async fn cron_remove(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.write(move |c| ops::cron_remove(c, &id)).await
    }

    async fn cron_claim(&self, claim: CronClaim) -> Result<Option<CronRun>> {
        self.write(move |c| ops::cron_claim(c, &claim)).await
    }

    async fn cron_expire(&self, job_id: &str, now_ms: i64) -> Result<bool> {
        let job_id = job_id.to_owned();
        self.write(move |c| ops::cron_expire(c, &job_id, now_ms))
            .await
    }

    async fn cron_renew(&self, job_id: &str, owner: &str, until_ms: i64) -> Result<bool> {
        let (job_id, owner) = (job_id.to_owned(), owner.to_owned());
        self.write(move |c| ops::cron_renew(c, &job_id, &owner, until_ms))
            .await
    }

    async fn cron_finish(&self, finish: CronFinish) -> Result<()> {
        self.write(move |c| ops::cron_finish(c, &finish)).await
    }

    async fn cron_runs(&self, job_id: &str, limit: usize) -> Result<Vec<CronRun>> {
        let job_id = job_id.to_owned();
        self.read(move |c| ops::cron_runs(c, &job_id, limit)).await
    }

    async fn cron_changes(&self) -> Result<i64> {
        self.read(ops::cron_changes).await
    }

    async fn memory_notes(&self, owner: &Owner) -> Result<Vec<MemoryNote>> {
        let owner = owner.clone();
        self.read(move |c| ops::memory_notes(c, &owner)).await
    }

    async fn memory_add(&self, owner: &Owner, text: &str, at_ms: i64) -> Result<MemoryNote> {
        let (owner, text) = (owner.clone(), text.to_owned());
        self.write(move |c| ops::memory_add(c, &owner, &text, at_ms))
            .await
    }

    async fn memory_replace(&self, owner: &Owner, id: i64, text: &str, at_ms: i64) -> Result<bool> {
        let (owner, text) = (owner.clone(), text.to_owned());
        self.write(move |c| ops::memory_replace(c, &owner, id, &text, at_ms))
            .await
    }

    async fn memory_remove(&self, owner: &Owner, id: i64) -> Result<bool> {
        let owner = owner.clone();
        self.write(move |c| ops::memory_remove(c, &owner, id)).await
    }

    async fn approval_grant(&self, owner: &Owner, key: &str, at_ms: i64) -> Result<bool> {
        let (owner, key) = (owner.clone(), key.to_owned());
        self.write(move |c| ops::approval_grant(c, &owner, &key, at_ms))
            .await
    }

    async fn approval_granted(&self, owner: &Owner, key: &str) -> Result<bool> {
        let (owner, key) = (owner.clone(), key.to_owned());
        self.read(move |c| ops::approval_granted(c, &owner, &key))
            .await
    }

    async fn approval_grants(&self, owner: &Owner, limit: usize) -> Result<Vec<ApprovalGrant>> {
        let owner = owner.clone();
        self.read(move |c| ops::approval_grants(c, &owner, limit))
            .await
    }

    async fn approval_revoke(&self, owner: &Owner, key: &str) -> Result<bool> {
        let (owner, key) = (owner.clone(), key.to_owned());
        self.write(move |c| ops::approval_revoke(c, &owner, &key))
            .await
    }

    async fn response_put(&self, response: StoredResponse, keep: usize, at_ms: i64) -> Result<()> {
        self.write(move |c| ops::response_put(c, &response, keep, at_ms))
            .await
    }

    async fn response(&self, id: &str, at_ms: i64) -> Result<Option<StoredResponse>> {
        let id = id.to_owned();
        self.write(move |c| ops::response(c, &id, at_ms)).await
    }

    async fn latest_response(&self, conversation: &str) -> Result<Option<StoredResponse>> {
        let conversation = conversation.to_owned();
        self.read(move |c| ops::latest_response(c, &conversation))
            .await
    }

    async fn response_delete(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.write(move |c| ops::response_delete(c, &id)).await
    }

    async fn lease_acquire(
        &self,
        name: &str,
        owner: &str,
        until_ms: i64,
        now_ms: i64,
    ) -> Result<bool> {
        let (name, owner) = (name.to_owned(), owner.to_owned());
        self.write(move |c| ops::lease_acquire(c, &name, &owner, until_ms, now_ms))
            .await
    }

    async fn lease_renew_all(&self, owner: &str, until_ms: i64) -> Result<u64> {
        let owner = owner.to_owned();
        self.write(move |c| ops::lease_renew_all(c, &owner, until_ms))
            .await
    }

    async fn lease_release(&self, name: &str, owner: &str) -> Result<bool> {
        let (name, owner) = (name.to_owned(), owner.to_owned());
        self.write(move |c| ops::lease_release(c, &name, &owner))
            .await
    }

    async fn lease_release_all(&self, owner: &str) -> Result<u64> {
        let owner = owner.to_owned();
        self.write(move |c| ops::lease_release_all(c, &owner)).await
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>> {
        let name = name.to_owned();
        self.read(move |c| ops::lease(c, &name)).await
    }

    async fn leases(&self, prefix: &str, now_ms: i64) -> Result<Vec<Lease>> {
        let prefix = prefix.to_owned();
        self.read(move |c| ops::leases(c, &prefix, now_ms)).await
    }

    async fn lease_purge(&self, before_ms: i64) -> Result<u64> {
        self.write(move |c| ops::lease_purge(c, before_ms)).await
    }

    async fn node_beat(&self, node: &Node) -> Result<()> {
        let node = node.clone();
        self.write(move |c| ops::node_beat(c, &node)).await
    }

    async fn nodes(&self) -> Result<Vec<Node>> {
        self.read(ops::nodes).await
    }

    async fn node_purge(&self, before_ms: i64) -> Result<u64> {
        self.write(move |c| ops::node_purge(c, before_ms)).await
    }

    async fn node_remove(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.write(move |c| ops::node_remove(c, &id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::{PlatformId, Source};

    fn new_session(id: &str) -> NewSession {
        NewSession {
            id: SessionId::parse(id).expect("id"),
            key: SessionKey::from_raw(id),
            source: Source::dm(PlatformId::from_static("cli"), id),
            created_at_ms: 1,
        }
    }

    #[tokio::test]
    async fn recovers_from_a_panic_holding_the_writer() {
        let store = SqliteStore::open_in_memory().expect("open");
        let inner = Arc::clone(&store.inner);
        let crashed = std::thread::spawn(move || {
            let conn = lock(&inner.writer);
            conn.execute_batch("BEGIN").expect("begin");
            ops::create_session(&conn, &new_session("lost")).expect("insert");
            panic!("an operation panicked mid-transaction");
        })
        .join();
        assert!(crashed.is_err());
        assert!(store.inner.writer.is_poisoned());

        store
            .create_session(new_session("kept"))
            .await
            .expect("the store still writes");
        assert!(
            store
                .session(&SessionId::parse("lost").expect("id"))
                .await
                .expect("read")
                .is_none()
        );
        let kept = SessionId::parse("kept").expect("id");
        assert!(store.session(&kept).await.expect("read").is_some());
    }
}
