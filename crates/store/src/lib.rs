//! hermod's durable state.
//!
//! [`Store`] is the one interface the rest of hermod uses; [`SqliteStore`]
//! implements it on one SQLite database (WAL, FTS5, numbered migrations).
//! Every implementation must pass the conformance suite in `conformance`
//! (enabled by the `conformance` feature), run with the
//! `store_conformance_tests!` macro.

mod cluster;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod copy;
mod cron;
mod database;
mod error;
mod handoff;
mod memory;
#[cfg(feature = "postgres")]
mod pg;
mod response;
mod rows;
mod sqlite;
mod summary;
mod types;

pub use cluster::{Lease, Node};
pub use copy::{CopyReport, copy_database};
pub use cron::{
    CRON_OUTPUT_MAX_CHARS, CRON_RUNS_KEPT, CronClaim, CronClaimHeld, CronCreator, CronFinish,
    CronJob, CronJobUpdate, CronRun, CronRunStatus, NewCronJob, ScheduleKind,
};
pub use database::{Database, Location, is_postgres_url};
pub use error::StoreError;
pub use handoff::{Handoff, HandoffOutcome, HandoffState, NewHandoff};
pub use memory::{ApprovalGrant, MemoryNote, Owner};
#[cfg(feature = "postgres")]
pub use pg::{DEFAULT_POOL_SIZE, PgStore};
pub use response::StoredResponse;
pub use sqlite::{BackupOptions, BackupReceipt, Checkpoint, SqliteStore};
pub use summary::SessionSummary;
pub use types::{
    AppendMessages, ApprovedUser, AttachmentProgress, InboxEntry, InboxState, InboxTurn,
    ListSessions, NewMessage, NewOutbox, NewSession, OutboxEntry, OutboxState, PendingPairing,
    SearchHit, SessionRecord, StoredMessage,
};

use async_trait::async_trait;
use hermod_model::{PlatformId, SessionId, SessionKey};

/// The result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Durable storage for sessions, messages, routing, settings, DM pairing and
/// the outbox.
///
/// Timestamps are Unix milliseconds (UTC) supplied by the caller, so callers
/// decide what "now" is (and tests can pin it).
///
/// Messages are *active* until [`Store::undo_exchanges`] takes them back;
/// inactive messages are kept but no longer read, searched or counted.
///
/// The outbox holds every reply and scheduled delivery, written before it is
/// sent, keyed by an idempotency key: a write retried after a crash finds the
/// entry already there instead of making a second delivery, and the consumer
/// records the platform messages it creates, so a delivery interrupted midway
/// can resume rather than start over. An entry is [`OutboxState::Pending`]
/// until it is marked [`OutboxState::Delivered`] (final) or
/// [`OutboxState::Failed`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates a session. Fails with [`StoreError::Conflict`] when the id exists.
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord>;

    /// The session with this id, if there is one.
    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>>;

    /// Most recently updated first (ties broken by ascending id), optionally
    /// only one platform's. A limit of 0 means a default page (50).
    async fn list_sessions(&self, query: ListSessions) -> Result<Vec<SessionRecord>>;

    /// Marks a session ended with a reason (`idle`, `daily`, `new_session`, ...).
    /// Ending an ended session keeps the first end. Does not change
    /// `updated_at_ms`. Unknown id: [`StoreError::NotFound`].
    async fn end_session(&self, id: &SessionId, reason: &str, at_ms: i64) -> Result<()>;

    /// Sets a session's title. Unknown id: [`StoreError::NotFound`].
    async fn set_title(&self, id: &SessionId, title: &str) -> Result<()>;

    /// Deletes a session and what is recorded under it: its messages (and
    /// their search entries), its summary, its hand-off, the routes that
    /// point at it. Replies already in the outbox are still delivered.
    /// `false` when there was no such session.
    async fn delete_session(&self, id: &SessionId) -> Result<bool>;

    /// Appends messages to a session in one transaction and adds the usage to
    /// its token counters; returns the new messages' ids in order (ids only
    /// ever increase). Bumps `message_count`, and moves `updated_at_ms` up to
    /// the latest message's `at_ms` (never back). Either everything is stored
    /// or nothing. Unknown session: [`StoreError::NotFound`].
    async fn append_messages(&self, append: AppendMessages) -> Result<Vec<i64>>;

    /// A session's active messages in the order they were appended.
    /// Unknown session: [`StoreError::NotFound`].
    async fn messages(&self, id: &SessionId) -> Result<Vec<StoredMessage>>;

    /// Full-text search over active messages' content, best match first.
    ///
    /// `query` is free text, never query syntax: every whitespace-separated
    /// word must occur (as a phrase, split at punctuation like the indexed
    /// text), so no input is a syntax error. A query with no words finds
    /// nothing. A limit of 0 means a default (20).
    async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>>;

    /// [`Store::search`] over `owner`'s sessions only: those whose source
    /// has the owner's platform and user id. Another user's messages never
    /// appear, and never take a place under the limit.
    async fn search_owned(
        &self,
        owner: &Owner,
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>>;

    /// [`Store::search`] over the sessions of one platform only. The
    /// platform is part of the query, so other platforms' hits never take
    /// a place under the limit.
    async fn search_platform(
        &self,
        platform: &PlatformId,
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>>;

    /// The current session for a routing key.
    async fn route(&self, key: &SessionKey) -> Result<Option<SessionId>>;

    /// Points a routing key at a session (insert or replace).
    /// Unknown session: [`StoreError::NotFound`].
    async fn set_route(&self, key: &SessionKey, id: &SessionId, at_ms: i64) -> Result<()>;

    /// Sets (`Some`) or clears (`None`) the model a session uses instead of
    /// the configured default. Unknown id: [`StoreError::NotFound`].
    async fn set_model_override(&self, id: &SessionId, model: Option<&str>) -> Result<()>;

    /// The sessions created under a routing key, ended ones included, most
    /// recently updated first (ties broken by ascending id). A limit of 0
    /// means a default page (50). An unknown key has none.
    async fn sessions_for_key(&self, key: &SessionKey, limit: usize) -> Result<Vec<SessionRecord>>;

    /// Makes an ended session current again: clears `ended_at_ms` and
    /// `end_reason` (a session that never ended is left as it is). Does not
    /// change `updated_at_ms`. Unknown id: [`StoreError::NotFound`].
    async fn reopen_session(&self, id: &SessionId) -> Result<()>;

    /// Takes back a session's last `exchanges` exchanges (for `/undo` and
    /// `/retry`), in one transaction, and returns the messages taken back in
    /// order, so the first one is the user message that began them.
    ///
    /// An exchange is an active user message and every active message after
    /// it up to the next user message; messages before the first user
    /// message belong to none and are never taken back. When fewer exchanges
    /// exist than asked, all of them are taken back; when none do (or
    /// `exchanges` is 0), nothing is and the result is empty. Taken-back
    /// messages are no longer returned by [`Store::messages`] or
    /// [`Store::search`] and no longer counted in `message_count`; the token
    /// counters and `updated_at_ms` stay as they were. A session summary
    /// covering a message taken back is removed in the same transaction.
    /// Unknown session: [`StoreError::NotFound`].
    async fn undo_exchanges(&self, id: &SessionId, exchanges: usize) -> Result<Vec<StoredMessage>>;

    /// The session's summary of its older messages, if it has one.
    async fn session_summary(&self, id: &SessionId) -> Result<Option<SessionSummary>>;

    /// Stores `summary` as its session's summary, replacing the one it
    /// had. Unknown session: [`StoreError::NotFound`].
    async fn set_session_summary(&self, summary: SessionSummary) -> Result<()>;

    /// Records an inbound message under `key` (unique per platform) unless
    /// it was recorded before; returns whether it is new. Recording happens
    /// before the platform is acknowledged, so nothing is lost or handled twice.
    async fn inbox_record(
        &self,
        platform: &PlatformId,
        key: &str,
        event_json: &str,
        at_ms: i64,
    ) -> Result<bool>;

    /// Moves an inbound message on; returns false when it is unknown.
    async fn inbox_set_state(
        &self,
        platform: &PlatformId,
        key: &str,
        state: InboxState,
        at_ms: i64,
    ) -> Result<bool>;

    /// The inbox entry recorded under `key`, if there is one.
    async fn inbox_entry(&self, platform: &PlatformId, key: &str) -> Result<Option<InboxEntry>>;

    /// Starts the turn answering inbound messages: appends `append` exactly
    /// as [`Store::append_messages`] does and, in the same transaction,
    /// marks each of `keys` [`InboxState::Started`] with the turn
    /// ([`InboxEntry::turn`]: the session and the id of the last appended
    /// message, the user message). Either both happen or neither. Returns
    /// the new messages' ids. Keys that are not recorded are skipped. An
    /// empty append fails with [`StoreError::Invalid`]; an unknown session
    /// with [`StoreError::NotFound`].
    async fn inbox_start_turn(
        &self,
        append: AppendMessages,
        platform: &PlatformId,
        keys: &[String],
        at_ms: i64,
    ) -> Result<Vec<i64>>;

    /// Records the preview messages shown for the reply to `keys` (replacing
    /// what was recorded). Keys that are not recorded are skipped.
    async fn inbox_set_previews(
        &self,
        platform: &PlatformId,
        keys: &[String],
        preview_ids: &[String],
        at_ms: i64,
    ) -> Result<()>;

    /// Inbound messages not yet done whose [`InboxEntry::seq`] is greater
    /// than `after_seq`, in `seq` order (oldest first); pass the last
    /// entry's `seq` to read the next page. A limit of 0 means 1000.
    async fn inbox_unfinished(&self, after_seq: i64, limit: usize) -> Result<Vec<InboxEntry>>;

    /// Forgets done messages last touched before `before_ms`; returns how many.
    async fn inbox_prune(&self, before_ms: i64) -> Result<u64>;

    /// The value of a setting, if it is set.
    async fn setting(&self, key: &str) -> Result<Option<String>>;

    /// Sets a setting (insert or replace), stamped with `at_ms`.
    async fn set_setting(&self, key: &str, value: &str, at_ms: i64) -> Result<()>;

    /// Removes a setting; returns whether it was set.
    async fn delete_setting(&self, key: &str) -> Result<bool>;

    /// Stores a pairing request and returns the id the store gave it
    /// (`pending.id` is ignored). Ids are unique and only ever increase.
    async fn add_pending_pairing(&self, pending: PendingPairing) -> Result<i64>;

    /// The pairing requests that have not expired by `now_ms`
    /// (`expires_at_ms > now_ms`), oldest first (ties broken by ascending
    /// id), of one platform or (`None`) of all.
    async fn pending_pairings(
        &self,
        platform: Option<&PlatformId>,
        now_ms: i64,
    ) -> Result<Vec<PendingPairing>>;

    /// Removes a pairing request; returns whether it existed.
    async fn remove_pending_pairing(&self, id: i64) -> Result<bool>;

    /// Removes every pairing request expired by `now_ms`
    /// (`expires_at_ms <= now_ms`); returns how many were removed.
    async fn purge_expired_pairings(&self, now_ms: i64) -> Result<u64>;

    /// Approves a user (insert, or replace the name and time of an existing
    /// approval) and, in the same transaction, removes that user's pending
    /// requests on that platform.
    async fn approve_user(&self, user: ApprovedUser) -> Result<()>;

    /// Withdraws a user's approval; returns whether the user was approved.
    async fn revoke_user(&self, platform: &PlatformId, user_id: &str) -> Result<bool>;

    /// Whether a user is approved on a platform.
    async fn is_approved(&self, platform: &PlatformId, user_id: &str) -> Result<bool>;

    /// Approved users of one platform or (`None`) of all, ordered by
    /// platform, then approval time (ties broken by user id).
    async fn approved_users(&self, platform: Option<&PlatformId>) -> Result<Vec<ApprovedUser>>;

    /// Writes a delivery to the outbox as [`OutboxState::Pending`], with no
    /// attempts, due at once (`next_attempt_at_ms` and `updated_at_ms` are
    /// `created_at_ms`), and returns it.
    ///
    /// Idempotent: when an entry with the same key exists, it is returned
    /// unchanged, whatever its state and whatever `new` says otherwise.
    async fn outbox_put(&self, new: NewOutbox) -> Result<OutboxEntry>;

    /// Appends a reply's messages exactly as [`Store::append_messages`] does
    /// and writes its delivery as [`Store::outbox_put`] does, in one
    /// transaction: both are stored or neither. Returns the new messages' ids
    /// and the entry.
    ///
    /// Idempotent replay: when an entry with `outbox.key` exists, nothing is
    /// written (neither messages nor usage) and the result is no ids and the
    /// existing entry, unchanged. Otherwise an unknown session fails with
    /// [`StoreError::NotFound`] and writes nothing. `outbox.session` is stored
    /// as given; it is not required to be `append.session`.
    async fn append_reply(
        &self,
        append: AppendMessages,
        outbox: NewOutbox,
    ) -> Result<(Vec<i64>, OutboxEntry)>;

    /// The outbox entry with this idempotency key, if there is one.
    async fn outbox_entry(&self, key: &str) -> Result<Option<OutboxEntry>>;

    /// Replaces the platform message ids recorded for a delivery (the
    /// consumer records them as it creates messages) and stamps `at_ms`. A
    /// delivered entry keeps the ids it was delivered with (no-op).
    /// Unknown id: [`StoreError::NotFound`].
    async fn outbox_set_message_ids(
        &self,
        id: i64,
        message_ids: &[String],
        at_ms: i64,
    ) -> Result<()>;

    /// Replaces the progress recorded for a delivery's attachments (one per
    /// attachment, by index; see [`AttachmentProgress`]) and stamps `at_ms`.
    /// Written before each upload starts and after it ends, so it must be
    /// durable when this returns. A delivered entry keeps its progress
    /// (no-op). Unknown id: [`StoreError::NotFound`].
    async fn outbox_set_attachment_progress(
        &self,
        id: i64,
        progress: &[AttachmentProgress],
        at_ms: i64,
    ) -> Result<()>;

    /// Marks a delivery [`OutboxState::Delivered`] at `at_ms` with the ids of
    /// the messages it created, and clears its error. Marking a delivered
    /// entry again is a no-op that keeps the first delivery's ids and time; a
    /// failed entry may still be marked delivered (the record says what
    /// happened). Unknown id: [`StoreError::NotFound`].
    async fn outbox_delivered(&self, id: i64, message_ids: &[String], at_ms: i64) -> Result<()>;

    /// Records a failed attempt at a pending delivery that may succeed later:
    /// counts the attempt, keeps the error and the time of the next attempt;
    /// the entry stays [`OutboxState::Pending`]. An entry no longer pending
    /// (delivered or failed) is left as it is. Unknown id:
    /// [`StoreError::NotFound`].
    async fn outbox_retry_later(
        &self,
        id: i64,
        error: &str,
        next_attempt_at_ms: i64,
        at_ms: i64,
    ) -> Result<()>;

    /// Gives up on a pending delivery for good: counts the attempt, keeps the
    /// error and makes it [`OutboxState::Failed`]. An entry no longer pending
    /// is left as it is (a delivered one is never failed afterwards).
    /// Unknown id: [`StoreError::NotFound`].
    async fn outbox_failed(&self, id: i64, error: &str, at_ms: i64) -> Result<()>;

    /// Pending deliveries whose id is greater than `after_id`, by ascending
    /// id (ids only increase, so oldest first), whatever their
    /// `next_attempt_at_ms`: the caller decides when to retry. Pass the last
    /// entry's id to read the next page. A limit of 0 means a default page
    /// (100).
    async fn outbox_pending(&self, after_id: i64, limit: usize) -> Result<Vec<OutboxEntry>>;

    /// Asks for a handoff of `new.session` to `new.platform`: its row
    /// becomes [`HandoffState::Pending`], replacing a completed or failed
    /// one. Fails with [`StoreError::Conflict`] while one is pending or
    /// running, and with [`StoreError::NotFound`] for an unknown session.
    async fn handoff_request(&self, new: NewHandoff) -> Result<Handoff>;

    /// A session's latest handoff, if it ever had one.
    async fn handoff(&self, session: &SessionId) -> Result<Option<Handoff>>;

    /// The handoffs in `state`, oldest request first (ties broken by
    /// session id). A limit of 0 means a default page (100).
    async fn handoffs_in(&self, state: HandoffState, limit: usize) -> Result<Vec<Handoff>>;

    /// Moves a pending handoff to [`HandoffState::Running`]; returns whether
    /// this call did (false when it is not pending: another claimed it, or
    /// there is none), so of two claimants exactly one goes on.
    async fn handoff_claim(&self, session: &SessionId, at_ms: i64) -> Result<bool>;

    /// Ends a running handoff as `outcome` says; returns false, changing
    /// nothing, when it is not running.
    async fn handoff_finish(
        &self,
        session: &SessionId,
        outcome: HandoffOutcome,
        at_ms: i64,
    ) -> Result<bool>;

    /// Adds a scheduled job. Fails with [`StoreError::Conflict`] when the
    /// id exists. The job starts at revision 1, with no runs.
    async fn cron_add(&self, new: NewCronJob) -> Result<CronJob>;

    /// The job with this id, if there is one.
    async fn cron_job(&self, id: &str) -> Result<Option<CronJob>>;

    /// Every job, oldest first (ties broken by ascending id).
    async fn cron_jobs(&self) -> Result<Vec<CronJob>>;

    /// Applies the fields `update` sets, stamps `updated_at_ms` and raises
    /// the revision; returns the job as stored. Unknown id:
    /// [`StoreError::NotFound`].
    async fn cron_update(&self, id: &str, update: CronJobUpdate, at_ms: i64) -> Result<CronJob>;

    /// Removes a job and its runs; returns whether it existed.
    async fn cron_remove(&self, id: &str) -> Result<bool>;

    /// Claims one scheduled time of a job, atomically: only when the job
    /// exists, is enabled, is still at `claim.revision` and no claim on it
    /// is live (`until_ms > now_ms`). Then, in one transaction, the job's
    /// next run becomes `claim.next_run_at_ms`, a requested run is cleared,
    /// the revision goes up, and a run is recorded with `claim.status`:
    /// [`CronRunStatus::Running`] also takes the claim until
    /// `now_ms + ttl_ms` (the caller runs the job and calls
    /// [`Store::cron_finish`]); [`CronRunStatus::Missed`] records the time
    /// as missed (finished, last status `missed`) and takes no claim. A
    /// claim that has run out is taken over, and the run it covered ends
    /// [`CronRunStatus::Interrupted`]. Only the newest
    /// [`CRON_RUNS_KEPT`] runs of a job are kept. Returns the run, or
    /// `None` when the claim was refused.
    async fn cron_claim(&self, claim: CronClaim) -> Result<Option<CronRun>>;

    /// Ends a claim on a job that ran out by `now_ms` (its holder stopped
    /// mid-run): the run it covered ends [`CronRunStatus::Interrupted`]
    /// and the claim is released. Returns false, changing nothing, when
    /// the job has no claim or its claim is still live.
    async fn cron_expire(&self, job_id: &str, now_ms: i64) -> Result<bool>;

    /// Extends `owner`'s claim on a job to `until_ms`; returns false when
    /// `owner` does not hold it (any more).
    async fn cron_renew(&self, job_id: &str, owner: &str, until_ms: i64) -> Result<bool>;

    /// Ends a running run: records its status, output (cut to
    /// [`CRON_OUTPUT_MAX_CHARS`] characters) and error, makes them the
    /// job's last run, and releases the claim if `owner` still holds it.
    /// A run that already ended, or that `owner` does not own, is left as
    /// it is. Unknown run: [`StoreError::NotFound`].
    async fn cron_finish(&self, finish: CronFinish) -> Result<()>;

    /// A job's runs, newest first. A limit of 0 means a default page (20).
    async fn cron_runs(&self, job_id: &str, limit: usize) -> Result<Vec<CronRun>>;

    /// A counter that goes up with every change to any job (added, changed,
    /// claimed, finished, removed): one cheap read tells a scheduler
    /// whether to read the jobs again.
    async fn cron_changes(&self) -> Result<i64>;

    /// `owner`'s notes, oldest first.
    async fn memory_notes(&self, owner: &Owner) -> Result<Vec<MemoryNote>>;

    /// Adds a note for `owner`; returns it with its id. How many and how
    /// long is the caller's rule.
    async fn memory_add(&self, owner: &Owner, text: &str, at_ms: i64) -> Result<MemoryNote>;

    /// Replaces the text of `owner`'s note `id`; false (changing nothing)
    /// when `owner` has no such note.
    async fn memory_replace(&self, owner: &Owner, id: i64, text: &str, at_ms: i64) -> Result<bool>;

    /// Removes `owner`'s note `id`; false when `owner` has no such note.
    async fn memory_remove(&self, owner: &Owner, id: i64) -> Result<bool>;

    /// Records that `owner` approved requests with `key` for good; returns
    /// false (keeping the first grant's time) when it was granted already.
    async fn approval_grant(&self, owner: &Owner, key: &str, at_ms: i64) -> Result<bool>;

    /// Whether `owner` approved requests with `key` for good.
    async fn approval_granted(&self, owner: &Owner, key: &str) -> Result<bool>;

    /// `owner`'s grants, oldest first (ties by key). A limit of 0 means a
    /// default page (50).
    async fn approval_grants(&self, owner: &Owner, limit: usize) -> Result<Vec<ApprovalGrant>>;

    /// Withdraws `owner`'s grant of `key`; false when there was none.
    async fn approval_revoke(&self, owner: &Owner, key: &str) -> Result<bool>;

    /// Stores a response (replacing one with the same id) as used at
    /// `at_ms`, then drops all but the `keep` most recently used.
    async fn response_put(&self, response: StoredResponse, keep: usize, at_ms: i64) -> Result<()>;

    /// The response with this id, marked used at `at_ms`.
    async fn response(&self, id: &str, at_ms: i64) -> Result<Option<StoredResponse>>;

    /// The newest response of a named conversation.
    async fn latest_response(&self, conversation: &str) -> Result<Option<StoredResponse>>;

    /// Deletes a response; `false` when there was none.
    async fn response_delete(&self, id: &str) -> Result<bool>;

    /// Takes the lease `name` for `owner` until `until_ms`, atomically:
    /// when nobody holds it, when its holder let it run out
    /// (`until_ms <= now_ms`: taken over, `acquired_at_ms` becomes
    /// `now_ms`), or when `owner` holds it already (extended). Returns
    /// false, changing nothing, while another owner holds it; of several
    /// owners asking at once exactly one gets it.
    async fn lease_acquire(
        &self,
        name: &str,
        owner: &str,
        until_ms: i64,
        now_ms: i64,
    ) -> Result<bool>;

    /// Extends every lease `owner` still holds to `until_ms` (leases
    /// another owner took over are not); returns how many. A node's
    /// heartbeat keeps all its leases with one write.
    async fn lease_renew_all(&self, owner: &str, until_ms: i64) -> Result<u64>;

    /// Gives up `owner`'s lease `name`; false when `owner` does not hold it.
    async fn lease_release(&self, name: &str, owner: &str) -> Result<bool>;

    /// Gives up every lease `owner` holds (a node shutting down); returns how many.
    async fn lease_release_all(&self, owner: &str) -> Result<u64>;

    /// The lease `name`, live or run out, if anyone took it and did not
    /// give it up.
    async fn lease(&self, name: &str) -> Result<Option<Lease>>;

    /// The leases whose name starts with `prefix` and that are live at
    /// `now_ms` (`until_ms > now_ms`), by name.
    async fn leases(&self, prefix: &str, now_ms: i64) -> Result<Vec<Lease>>;

    /// Forgets leases that ran out before `before_ms`; returns how many.
    async fn lease_purge(&self, before_ms: i64) -> Result<u64>;

    /// Records a node's heartbeat: inserts or replaces the node by id.
    async fn node_beat(&self, node: &Node) -> Result<()>;

    /// Every node recorded, by id.
    async fn nodes(&self) -> Result<Vec<Node>>;

    /// Forgets nodes last heard from before `before_ms` (and nothing they
    /// hold: their leases run out on their own); returns how many.
    async fn node_purge(&self, before_ms: i64) -> Result<u64>;

    /// Forgets a node (one shutting down); false when it was not recorded.
    async fn node_remove(&self, id: &str) -> Result<bool>;
}
