//! [`PgStore`]: the [`Store`] on PostgreSQL, for several gateways sharing
//! one database.
//!
//! This module owns the connection pool and the glue to the trait; the SQL
//! lives in `ops` (one submodule per subject, as for SQLite), the schema in
//! `migrate`. The row mapping is shared with SQLite (`crate::rows`): both
//! schemas use the same column names.
//!
//! Concurrency: PostgreSQL runs many writers at once, so where SQLite's one
//! writer made an operation atomic for free, the SQL here says what it
//! needs: a session's row is locked (`FOR UPDATE`) while messages are
//! appended to it or taken back, claims are single conditional `UPDATE`s,
//! and inserts that may race use `ON CONFLICT`. Transactions run at READ
//! COMMITTED, PostgreSQL's default.

mod error;
mod migrate;
mod ops;
mod pool;
mod tls;

use crate::{
    AppendMessages, ApprovedUser, Handoff, HandoffOutcome, HandoffState, InboxEntry, InboxState,
    ListSessions, NewHandoff, NewOutbox, NewSession, OutboxEntry, PendingPairing, Result,
    SearchHit, SessionRecord, SessionSummary, Store, StoreError, StoredMessage,
};
use crate::{ApprovalGrant, Lease, MemoryNote, Node, Owner, StoredResponse};
use crate::{CronClaim, CronFinish, CronJob, CronJobUpdate, CronRun, NewCronJob};
use async_trait::async_trait;
pub(crate) use error::{DbError, DbResult};
use hermod_model::{PlatformId, SessionId, SessionKey};
pub(crate) use ops::{Columns, search_text};
pub(crate) use pool::Db;
use pool::Pool;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Connections a store opens at most, unless told otherwise.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// How long connecting may take before it fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Store`] on one PostgreSQL database. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The database as `postgres://user@host:port/db`, never with a password.
    name: String,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("database", &self.inner.name)
            .finish_non_exhaustive()
    }
}

/// Runs an operation from `ops` on a pooled connection and classifies its failure.
macro_rules! pg {
    ($self:ident, |$db:ident| $op:expr) => {{
        let mut conn = $self.db().await?;
        let $db = &mut conn;
        let result = $op.await;
        result.map_err(|e| e.classify(&$self.inner.name))
    }};
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`,
    /// or the `key=value` form libpq takes) with at most `pool_size`
    /// connections, and brings its schema up to date.
    ///
    /// Fails with [`StoreError::CannotOpen`] when the URL is malformed or the
    /// server refuses the login or knows no such database, with
    /// [`StoreError::Busy`] when no server answers, and with
    /// [`StoreError::Corrupt`] when a newer hermod migrated the database.
    pub async fn connect(url: &str, pool_size: usize) -> Result<PgStore> {
        let store = Self::connect_unmigrated(url, pool_size)?;
        store.migrate().await?;
        Ok(store)
    }

    /// [`PgStore::connect`] without touching the schema (for `hermod store
    /// migrate`, which reports what it applies). Connects lazily: the first
    /// operation opens the first connection.
    ///
    /// TLS follows the URL's `sslmode` (`disable`, `prefer` — the default —,
    /// `require`; libpq's `verify-ca` and `verify-full` mean `require`).
    /// Whenever TLS is used, hermod checks the server's certificate and host
    /// name against the system's CA certificates and those of the PEM file
    /// `sslrootcert=<path>` names; a missing or unreadable file fails with
    /// [`StoreError::CannotOpen`], as does a refused certificate.
    pub fn connect_unmigrated(url: &str, pool_size: usize) -> Result<PgStore> {
        let prepared = tls::prepare_url(url)?;
        let tls = tls::MakeRustls::new(prepared.root_cert.as_deref())?;
        let mut config: tokio_postgres::Config = prepared.url.parse().map_err(|e| {
            StoreError::CannotOpen(format!(
                "the database URL is not a PostgreSQL URL ({e}); write it as \
                 postgres://user:password@host:5432/database"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("hermod");
        }
        let name = describe(&config);
        Ok(Self {
            inner: Arc::new(Inner {
                name,
                pool: Arc::new(Pool::new(config, tls, pool_size)),
            }),
        })
    }

    /// The database as `postgres://user@host:port/db` (no password), for messages.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The newest schema version this build of hermod knows.
    pub fn schema_version() -> i64 {
        migrate::latest_version()
    }

    /// Brings the schema up to date; returns the versions applied (none
    /// when it was up to date). Safe while other gateways run and migrate.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        pg!(self, |db| migrate::migrate(db, &self.inner.name, now_ms()))
    }

    /// The schema versions the database records (none when it is empty).
    pub async fn schema_versions(&self) -> Result<Vec<i64>> {
        pg!(self, |db| migrate::recorded(db))
    }

    /// Checks that the database answers and takes writes.
    pub async fn check(&self) -> Result<()> {
        pg!(self, |db| check(db))
    }

    /// Closes the idle connections; connections still in use close when
    /// their operation ends and the last clone of the store is dropped.
    pub async fn close(&self) {
        self.inner.pool.close_idle();
    }

    /// A pooled connection, for work spanning many statements (copying).
    pub(crate) async fn db(&self) -> Result<Db> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| e.classify(&self.inner.name))
    }
}

async fn check(db: &mut Db) -> error::DbResult<()> {
    db.begin().await?;
    db.execute(
        "UPDATE cron_changes SET counter = counter WHERE id = 1",
        &[],
    )
    .await?;
    db.rollback().await
}

/// `postgres://user@host:port/db` for a parsed configuration, without the password.
fn describe(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let user = config.get_user().unwrap_or("");
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let host = match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let db = config.get_dbname().unwrap_or(user);
    let at = if user.is_empty() { "" } else { "@" };
    format!("postgres://{user}{at}{}/{db}", hosts.join(","))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[async_trait]
impl Store for PgStore {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord> {
        pg!(self, |db| ops::create_session(db, &new))
    }

    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        let id = id.clone();
        pg!(self, |db| ops::session(db, &id))
    }

    async fn list_sessions(&self, query: ListSessions) -> Result<Vec<SessionRecord>> {
        pg!(self, |db| ops::list_sessions(db, &query))
    }

    async fn end_session(&self, id: &SessionId, reason: &str, at_ms: i64) -> Result<()> {
        let (id, reason) = (id.clone(), reason.to_owned());
        pg!(self, |db| ops::end_session(db, &id, &reason, at_ms))
    }

    async fn set_title(&self, id: &SessionId, title: &str) -> Result<()> {
        let (id, title) = (id.clone(), title.to_owned());
        pg!(self, |db| ops::set_title(db, &id, &title))
    }

    async fn delete_session(&self, id: &SessionId) -> Result<bool> {
        let id = id.clone();
        pg!(self, |db| ops::delete_session(db, &id))
    }

    async fn append_messages(&self, append: AppendMessages) -> Result<Vec<i64>> {
        pg!(self, |db| ops::append_messages(db, &append))
    }

    async fn messages(&self, id: &SessionId) -> Result<Vec<StoredMessage>> {
        let id = id.clone();
        pg!(self, |db| ops::messages(db, &id))
    }

    async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let query = query.to_owned();
        pg!(self, |db| ops::search(db, &query, limit))
    }

    async fn search_owned(
        &self,
        owner: &Owner,
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        let (owner, query) = (owner.clone(), query.to_owned());
        pg!(self, |db| ops::search_owned(db, &owner, &query, limit))
    }

    async fn search_platform(
        &self,
        platform: &PlatformId,
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        let (platform, query) = (platform.clone(), query.to_owned());
        pg!(self, |db| ops::search_platform(
            db, &platform, &query, limit
        ))
    }

    async fn route(&self, key: &SessionKey) -> Result<Option<SessionId>> {
        let key = key.clone();
        pg!(self, |db| ops::route(db, &key))
    }

    async fn set_route(&self, key: &SessionKey, id: &SessionId, at_ms: i64) -> Result<()> {
        let (key, id) = (key.clone(), id.clone());
        pg!(self, |db| ops::set_route(db, &key, &id, at_ms))
    }

    async fn set_model_override(&self, id: &SessionId, model: Option<&str>) -> Result<()> {
        let (id, model) = (id.clone(), model.map(str::to_owned));
        pg!(self, |db| ops::set_model_override(
            db,
            &id,
            model.as_deref()
        ))
    }

    async fn sessions_for_key(&self, key: &SessionKey, limit: usize) -> Result<Vec<SessionRecord>> {
        let key = key.clone();
        pg!(self, |db| ops::sessions_for_key(db, &key, limit))
    }

    async fn reopen_session(&self, id: &SessionId) -> Result<()> {
        let id = id.clone();
        pg!(self, |db| ops::reopen_session(db, &id))
    }

    async fn undo_exchanges(&self, id: &SessionId, exchanges: usize) -> Result<Vec<StoredMessage>> {
        let id = id.clone();
        pg!(self, |db| ops::undo_exchanges(db, &id, exchanges))
    }

    async fn session_summary(&self, id: &SessionId) -> Result<Option<SessionSummary>> {
        let id = id.clone();
        pg!(self, |db| ops::session_summary(db, &id))
    }

    async fn set_session_summary(&self, summary: SessionSummary) -> Result<()> {
        pg!(self, |db| ops::set_session_summary(db, &summary))
    }

    async fn inbox_record(
        &self,
        platform: &PlatformId,
        key: &str,
        event_json: &str,
        at_ms: i64,
    ) -> Result<bool> {
        let (platform, key, json) = (platform.clone(), key.to_owned(), event_json.to_owned());
        pg!(self, |db| ops::inbox_record(
            db, &platform, &key, &json, at_ms
        ))
    }

    async fn inbox_set_state(
        &self,
        platform: &PlatformId,
        key: &str,
        state: InboxState,
        at_ms: i64,
    ) -> Result<bool> {
        let (platform, key) = (platform.clone(), key.to_owned());
        pg!(self, |db| ops::inbox_set_state(
            db, &platform, &key, state, at_ms
        ))
    }

    async fn inbox_entry(&self, platform: &PlatformId, key: &str) -> Result<Option<InboxEntry>> {
        let (platform, key) = (platform.clone(), key.to_owned());
        pg!(self, |db| ops::inbox_entry(db, &platform, &key))
    }

    async fn inbox_start_turn(
        &self,
        append: AppendMessages,
        platform: &PlatformId,
        keys: &[String],
        at_ms: i64,
    ) -> Result<Vec<i64>> {
        let (platform, keys) = (platform.clone(), keys.to_vec());
        pg!(self, |db| ops::inbox_start_turn(
            db, &append, &platform, &keys, at_ms
        ))
    }

    async fn inbox_set_previews(
        &self,
        platform: &PlatformId,
        keys: &[String],
        preview_ids: &[String],
        at_ms: i64,
    ) -> Result<()> {
        let (platform, keys, ids) = (platform.clone(), keys.to_vec(), preview_ids.to_vec());
        pg!(self, |db| ops::inbox_set_previews(
            db, &platform, &keys, &ids, at_ms
        ))
    }

    async fn inbox_unfinished(&self, after_seq: i64, limit: usize) -> Result<Vec<InboxEntry>> {
        pg!(self, |db| ops::inbox_unfinished(db, after_seq, limit))
    }

    async fn inbox_prune(&self, before_ms: i64) -> Result<u64> {
        pg!(self, |db| ops::inbox_prune(db, before_ms))
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        pg!(self, |db| ops::setting(db, &key))
    }

    async fn set_setting(&self, key: &str, value: &str, at_ms: i64) -> Result<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        pg!(self, |db| ops::set_setting(db, &key, &value, at_ms))
    }

    async fn delete_setting(&self, key: &str) -> Result<bool> {
        let key = key.to_owned();
        pg!(self, |db| ops::delete_setting(db, &key))
    }

    async fn add_pending_pairing(&self, pending: PendingPairing) -> Result<i64> {
        pg!(self, |db| ops::add_pending_pairing(db, &pending))
    }

    async fn pending_pairings(
        &self,
        platform: Option<&PlatformId>,
        now_ms: i64,
    ) -> Result<Vec<PendingPairing>> {
        let platform = platform.cloned();
        pg!(self, |db| ops::pending_pairings(
            db,
            platform.as_ref(),
            now_ms
        ))
    }

    async fn remove_pending_pairing(&self, id: i64) -> Result<bool> {
        pg!(self, |db| ops::remove_pending_pairing(db, id))
    }

    async fn purge_expired_pairings(&self, now_ms: i64) -> Result<u64> {
        pg!(self, |db| ops::purge_expired_pairings(db, now_ms))
    }

    async fn approve_user(&self, user: ApprovedUser) -> Result<()> {
        pg!(self, |db| ops::approve_user(db, &user))
    }

    async fn revoke_user(&self, platform: &PlatformId, user_id: &str) -> Result<bool> {
        let (platform, user_id) = (platform.clone(), user_id.to_owned());
        pg!(self, |db| ops::revoke_user(db, &platform, &user_id))
    }

    async fn is_approved(&self, platform: &PlatformId, user_id: &str) -> Result<bool> {
        let (platform, user_id) = (platform.clone(), user_id.to_owned());
        pg!(self, |db| ops::is_approved(db, &platform, &user_id))
    }

    async fn approved_users(&self, platform: Option<&PlatformId>) -> Result<Vec<ApprovedUser>> {
        let platform = platform.cloned();
        pg!(self, |db| ops::approved_users(db, platform.as_ref()))
    }

    async fn outbox_put(&self, new: NewOutbox) -> Result<OutboxEntry> {
        pg!(self, |db| ops::outbox_put(db, &new))
    }

    async fn append_reply(
        &self,
        append: AppendMessages,
        outbox: NewOutbox,
    ) -> Result<(Vec<i64>, OutboxEntry)> {
        pg!(self, |db| ops::append_reply(db, &append, &outbox))
    }

    async fn outbox_entry(&self, key: &str) -> Result<Option<OutboxEntry>> {
        let key = key.to_owned();
        pg!(self, |db| ops::outbox_entry(db, &key))
    }

    async fn outbox_set_message_ids(
        &self,
        id: i64,
        message_ids: &[String],
        at_ms: i64,
    ) -> Result<()> {
        let message_ids = message_ids.to_vec();
        pg!(self, |db| ops::outbox_set_message_ids(
            db,
            id,
            &message_ids,
            at_ms
        ))
    }

    async fn outbox_set_attachment_progress(
        &self,
        id: i64,
        progress: &[crate::AttachmentProgress],
        at_ms: i64,
    ) -> Result<()> {
        let progress = progress.to_vec();
        pg!(self, |db| ops::outbox_set_attachment_progress(
            db, id, &progress, at_ms
        ))
    }

    async fn outbox_delivered(&self, id: i64, message_ids: &[String], at_ms: i64) -> Result<()> {
        let message_ids = message_ids.to_vec();
        pg!(self, |db| ops::outbox_delivered(
            db,
            id,
            &message_ids,
            at_ms
        ))
    }

    async fn outbox_retry_later(
        &self,
        id: i64,
        error: &str,
        next_attempt_at_ms: i64,
        at_ms: i64,
    ) -> Result<()> {
        let error = error.to_owned();
        pg!(self, |db| ops::outbox_retry_later(
            db,
            id,
            &error,
            next_attempt_at_ms,
            at_ms
        ))
    }

    async fn outbox_failed(&self, id: i64, error: &str, at_ms: i64) -> Result<()> {
        let error = error.to_owned();
        pg!(self, |db| ops::outbox_failed(db, id, &error, at_ms))
    }

    async fn outbox_pending(&self, after_id: i64, limit: usize) -> Result<Vec<OutboxEntry>> {
        pg!(self, |db| ops::outbox_pending(db, after_id, limit))
    }

    async fn handoff_request(&self, new: NewHandoff) -> Result<Handoff> {
        pg!(self, |db| ops::handoff_request(db, &new))
    }

    async fn handoff(&self, session: &SessionId) -> Result<Option<Handoff>> {
        let session = session.clone();
        pg!(self, |db| ops::handoff(db, &session))
    }

    async fn handoffs_in(&self, state: HandoffState, limit: usize) -> Result<Vec<Handoff>> {
        pg!(self, |db| ops::handoffs_in(db, state, limit))
    }

    async fn handoff_claim(&self, session: &SessionId, at_ms: i64) -> Result<bool> {
        let session = session.clone();
        pg!(self, |db| ops::handoff_claim(db, &session, at_ms))
    }

    async fn handoff_finish(
        &self,
        session: &SessionId,
        outcome: HandoffOutcome,
        at_ms: i64,
    ) -> Result<bool> {
        let session = session.clone();
        pg!(self, |db| ops::handoff_finish(
            db, &session, &outcome, at_ms
        ))
    }

    async fn cron_add(&self, new: NewCronJob) -> Result<CronJob> {
        pg!(self, |db| ops::cron_add(db, &new))
    }

    async fn cron_job(&self, id: &str) -> Result<Option<CronJob>> {
        let id = id.to_owned();
        pg!(self, |db| ops::cron_job(db, &id))
    }

    async fn cron_jobs(&self) -> Result<Vec<CronJob>> {
        pg!(self, |db| ops::cron_jobs(db))
    }

    async fn cron_update(&self, id: &str, update: CronJobUpdate, at_ms: i64) -> Result<CronJob> {
        let id = id.to_owned();
        pg!(self, |db| ops::cron_update(db, &id, &update, at_ms))
    }

    async fn cron_remove(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        pg!(self, |db| ops::cron_remove(db, &id))
    }

    async fn cron_claim(&self, claim: CronClaim) -> Result<Option<CronRun>> {
        pg!(self, |db| ops::cron_claim(db, &claim))
    }

    async fn cron_expire(&self, job_id: &str, now_ms: i64) -> Result<bool> {
        let job_id = job_id.to_owned();
        pg!(self, |db| ops::cron_expire(db, &job_id, now_ms))
    }

    async fn cron_renew(&self, job_id: &str, owner: &str, until_ms: i64) -> Result<bool> {
        let (job_id, owner) = (job_id.to_owned(), owner.to_owned());
        pg!(self, |db| ops::cron_renew(db, &job_id, &owner, until_ms))
    }

    async fn cron_finish(&self, finish: CronFinish) -> Result<()> {
        pg!(self, |db| ops::cron_finish(db, &finish))
    }

    async fn cron_runs(&self, job_id: &str, limit: usize) -> Result<Vec<CronRun>> {
        let job_id = job_id.to_owned();
        pg!(self, |db| ops::cron_runs(db, &job_id, limit))
    }

    async fn cron_changes(&self) -> Result<i64> {
        pg!(self, |db| ops::cron_changes(db))
    }

    async fn memory_notes(&self, owner: &Owner) -> Result<Vec<MemoryNote>> {
        let owner = owner.clone();
        pg!(self, |db| ops::memory_notes(db, &owner))
    }

    async fn memory_add(&self, owner: &Owner, text: &str, at_ms: i64) -> Result<MemoryNote> {
        let (owner, text) = (owner.clone(), text.to_owned());
        pg!(self, |db| ops::memory_add(db, &owner, &text, at_ms))
    }

    async fn memory_replace(&self, owner: &Owner, id: i64, text: &str, at_ms: i64) -> Result<bool> {
        let (owner, text) = (owner.clone(), text.to_owned());
        pg!(self, |db| ops::memory_replace(db, &owner, id, &text, at_ms))
    }

    async fn memory_remove(&self, owner: &Owner, id: i64) -> Result<bool> {
        let owner = owner.clone();
        pg!(self, |db| ops::memory_remove(db, &owner, id))
    }

    async fn approval_grant(&self, owner: &Owner, key: &str, at_ms: i64) -> Result<bool> {
        let (owner, key) = (owner.clone(), key.to_owned());
        pg!(self, |db| ops::approval_grant(db, &owner, &key, at_ms))
    }

    async fn approval_granted(&self, owner: &Owner, key: &str) -> Result<bool> {
        let (owner, key) = (owner.clone(), key.to_owned());
        pg!(self, |db| ops::approval_granted(db, &owner, &key))
    }

    async fn approval_grants(&self, owner: &Owner, limit: usize) -> Result<Vec<ApprovalGrant>> {
        let owner = owner.clone();
        pg!(self, |db| ops::approval_grants(db, &owner, limit))
    }

    async fn approval_revoke(&self, owner: &Owner, key: &str) -> Result<bool> {
        let (owner, key) = (owner.clone(), key.to_owned());
        pg!(self, |db| ops::approval_revoke(db, &owner, &key))
    }

    async fn response_put(&self, response: StoredResponse, keep: usize, at_ms: i64) -> Result<()> {
        pg!(self, |db| ops::response_put(db, &response, keep, at_ms))
    }

    async fn response(&self, id: &str, at_ms: i64) -> Result<Option<StoredResponse>> {
        let id = id.to_owned();
        pg!(self, |db| ops::response(db, &id, at_ms))
    }

    async fn latest_response(&self, conversation: &str) -> Result<Option<StoredResponse>> {
        let conversation = conversation.to_owned();
        pg!(self, |db| ops::latest_response(db, &conversation))
    }

    async fn response_delete(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        pg!(self, |db| ops::response_delete(db, &id))
    }

    async fn lease_acquire(
        &self,
        name: &str,
        owner: &str,
        until_ms: i64,
        now_ms: i64,
    ) -> Result<bool> {
        pg!(self, |db| ops::lease_acquire(
            db, name, owner, until_ms, now_ms
        ))
    }

    async fn lease_renew_all(&self, owner: &str, until_ms: i64) -> Result<u64> {
        pg!(self, |db| ops::lease_renew_all(db, owner, until_ms))
    }

    async fn lease_release(&self, name: &str, owner: &str) -> Result<bool> {
        pg!(self, |db| ops::lease_release(db, name, owner))
    }

    async fn lease_release_all(&self, owner: &str) -> Result<u64> {
        pg!(self, |db| ops::lease_release_all(db, owner))
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>> {
        pg!(self, |db| ops::lease(db, name))
    }

    async fn leases(&self, prefix: &str, now_ms: i64) -> Result<Vec<Lease>> {
        pg!(self, |db| ops::leases(db, prefix, now_ms))
    }

    async fn lease_purge(&self, before_ms: i64) -> Result<u64> {
        pg!(self, |db| ops::lease_purge(db, before_ms))
    }

    async fn node_beat(&self, node: &Node) -> Result<()> {
        pg!(self, |db| ops::node_beat(db, node))
    }

    async fn nodes(&self) -> Result<Vec<Node>> {
        pg!(self, |db| ops::nodes(db))
    }

    async fn node_purge(&self, before_ms: i64) -> Result<u64> {
        pg!(self, |db| ops::node_purge(db, before_ms))
    }

    async fn node_remove(&self, id: &str) -> Result<bool> {
        pg!(self, |db| ops::node_remove(db, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_never_shows_the_password() {
        let store = PgStore::connect_unmigrated("postgres://bot:s3cret@db.example:6543/hermod", 2)
            .expect("parse");
        assert_eq!(store.name(), "postgres://bot@db.example:6543/hermod");
        assert!(!format!("{store:?}").contains("s3cret"));
    }

    #[test]
    fn a_malformed_url_says_how_to_write_one() {
        let e = PgStore::connect_unmigrated("postgres://db.example:port/hermod", 2)
            .expect_err("bad URL");
        assert!(matches!(e, StoreError::CannotOpen(_)), "{e:?}");
        assert!(
            e.to_string().contains("postgres://user:password@host"),
            "{e}"
        );
    }
}
