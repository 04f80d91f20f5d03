//! [`FlakyStore`]: the SQLite store with switchable failures, as when the
//! disk is full or the database read-only, for the paths an adapter sees:
//! recording inbound messages and saving settings (the update offset).
//! Everything else passes through.

use async_trait::async_trait;
use hermod_model::{PlatformId, SessionId, SessionKey};
use hermod_store::{
    AppendMessages, ApprovedUser, InboxEntry, InboxState, ListSessions, NewOutbox, NewSession,
    OutboxEntry, PendingPairing, Result, SearchHit, SessionRecord, SqliteStore, Store, StoreError,
    StoredMessage,
};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug)]
pub struct FlakyStore {
    inner: SqliteStore,
    fail_inbox: AtomicBool,
    fail_settings: AtomicBool,
}

impl FlakyStore {
    pub fn new(inner: SqliteStore) -> Self {
        Self {
            inner,
            fail_inbox: AtomicBool::new(false),
            fail_settings: AtomicBool::new(false),
        }
    }

    /// While on, recording an inbound message fails.
    pub fn fail_inbox_records(&self, on: bool) {
        self.fail_inbox.store(on, Ordering::SeqCst);
    }

    /// While on, writing a setting fails.
    pub fn fail_setting_writes(&self, on: bool) {
        self.fail_settings.store(on, Ordering::SeqCst);
    }

    fn check(&self, switch: &AtomicBool) -> Result<()> {
        if switch.load(Ordering::SeqCst) {
            Err(StoreError::Full("database or disk is full".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for FlakyStore {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord> {
        self.inner.create_session(new).await
    }

    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        self.inner.session(id).await
    }

    async fn list_sessions(&self, query: ListSessions) -> Result<Vec<SessionRecord>> {
        self.inner.list_sessions(query).await
    }

    async fn end_session(&self, id: &SessionId, reason: &str, at_ms: i64) -> Result<()> {
        self.inner.end_session(id, reason, at_ms).await
    }

    async fn set_title(&self, id: &SessionId, title: &str) -> Result<()> {
        self.inner.set_title(id, title).await
    }

    async fn append_messages(&self, append: AppendMessages) -> Result<Vec<i64>> {
        self.inner.append_messages(append).await
    }

    async fn messages(&self, id: &SessionId) -> Result<Vec<StoredMessage>> {
        self.inner.messages(id).await
    }

    async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        self.inner.search(query, limit).await
    }

    async fn route(&self, key: &SessionKey) -> Result<Option<SessionId>> {
        self.inner.route(key).await
    }

    async fn set_route(&self, key: &SessionKey, id: &SessionId, at_ms: i64) -> Result<()> {
        self.inner.set_route(key, id, at_ms).await
    }

    async fn set_model_override(&self, id: &SessionId, model: Option<&str>) -> Result<()> {
        self.inner.set_model_override(id, model).await
    }

    async fn sessions_for_key(&self, key: &SessionKey, limit: usize) -> Result<Vec<SessionRecord>> {
        self.inner.sessions_for_key(key, limit).await
    }

    async fn reopen_session(&self, id: &SessionId) -> Result<()> {
        self.inner.reopen_session(id).await
    }

    async fn undo_exchanges(&self, id: &SessionId, exchanges: usize) -> Result<Vec<StoredMessage>> {
        self.inner.undo_exchanges(id, exchanges).await
    }

    async fn inbox_record(
        &self,
        platform: &PlatformId,
        key: &str,
        event_json: &str,
        at_ms: i64,
    ) -> Result<bool> {
        self.check(&self.fail_inbox)?;
        self.inner
            .inbox_record(platform, key, event_json, at_ms)
            .await
    }

    async fn inbox_set_state(
        &self,
        platform: &PlatformId,
        key: &str,
        state: InboxState,
        at_ms: i64,
    ) -> Result<bool> {
        self.inner
            .inbox_set_state(platform, key, state, at_ms)
            .await
    }

    async fn inbox_entry(&self, platform: &PlatformId, key: &str) -> Result<Option<InboxEntry>> {
        self.inner.inbox_entry(platform, key).await
    }

    async fn inbox_start_turn(
        &self,
        append: AppendMessages,
        platform: &PlatformId,
        keys: &[String],
        at_ms: i64,
    ) -> Result<Vec<i64>> {
        self.inner
            .inbox_start_turn(append, platform, keys, at_ms)
            .await
    }

    async fn inbox_set_previews(
        &self,
        platform: &PlatformId,
        keys: &[String],
        preview_ids: &[String],
        at_ms: i64,
    ) -> Result<()> {
        self.inner
            .inbox_set_previews(platform, keys, preview_ids, at_ms)
            .await
    }

    async fn inbox_unfinished(&self, after_seq: i64, limit: usize) -> Result<Vec<InboxEntry>> {
        self.inner.inbox_unfinished(after_seq, limit).await
    }

    async fn inbox_prune(&self, before_ms: i64) -> Result<u64> {
        self.inner.inbox_prune(before_ms).await
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        self.inner.setting(key).await
    }

    async fn set_setting(&self, key: &str, value: &str, at_ms: i64) -> Result<()> {
        self.check(&self.fail_settings)?;
        self.inner.set_setting(key, value, at_ms).await
    }

    async fn delete_setting(&self, key: &str) -> Result<bool> {
        self.inner.delete_setting(key).await
    }

    async fn add_pending_pairing(&self, pending: PendingPairing) -> Result<i64> {
        self.inner.add_pending_pairing(pending).await
    }

    async fn pending_pairings(
        &self,
        platform: Option<&PlatformId>,
        now_ms: i64,
    ) -> Result<Vec<PendingPairing>> {
        self.inner.pending_pairings(platform, now_ms).await
    }

    async fn remove_pending_pairing(&self, id: i64) -> Result<bool> {
        self.inner.remove_pending_pairing(id).await
    }

    async fn purge_expired_pairings(&self, now_ms: i64) -> Result<u64> {
        self.inner.purge_expired_pairings(now_ms).await
    }

    async fn approve_user(&self, user: ApprovedUser) -> Result<()> {
        self.inner.approve_user(user).await
    }

    async fn revoke_user(&self, platform: &PlatformId, user_id: &str) -> Result<bool> {
        self.inner.revoke_user(platform, user_id).await
    }

    async fn is_approved(&self, platform: &PlatformId, user_id: &str) -> Result<bool> {
        self.inner.is_approved(platform, user_id).await
    }

    async fn approved_users(&self, platform: Option<&PlatformId>) -> Result<Vec<ApprovedUser>> {
        self.inner.approved_users(platform).await
    }

    async fn outbox_put(&self, new: NewOutbox) -> Result<OutboxEntry> {
        self.inner.outbox_put(new).await
    }

    async fn append_reply(
        &self,
        append: AppendMessages,
        outbox: NewOutbox,
    ) -> Result<(Vec<i64>, OutboxEntry)> {
        self.inner.append_reply(append, outbox).await
    }

    async fn outbox_entry(&self, key: &str) -> Result<Option<OutboxEntry>> {
        self.inner.outbox_entry(key).await
    }

    async fn outbox_set_message_ids(
        &self,
        id: i64,
        message_ids: &[String],
        at_ms: i64,
    ) -> Result<()> {
        self.inner
            .outbox_set_message_ids(id, message_ids, at_ms)
            .await
    }

    async fn outbox_delivered(&self, id: i64, message_ids: &[String], at_ms: i64) -> Result<()> {
        self.inner.outbox_delivered(id, message_ids, at_ms).await
    }

    async fn outbox_retry_later(
        &self,
        id: i64,
        error: &str,
        next_attempt_at_ms: i64,
        at_ms: i64,
    ) -> Result<()> {
        self.inner
            .outbox_retry_later(id, error, next_attempt_at_ms, at_ms)
            .await
    }

    async fn outbox_failed(&self, id: i64, error: &str, at_ms: i64) -> Result<()> {
        self.inner.outbox_failed(id, error, at_ms).await
    }

    async fn outbox_pending(&self, after_id: i64, limit: usize) -> Result<Vec<OutboxEntry>> {
        self.inner.outbox_pending(after_id, limit).await
    }
}
