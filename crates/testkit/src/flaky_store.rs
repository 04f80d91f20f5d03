//! [`FlakyStore`]: a store whose operations can be made to fail, as when
//! the disk is full or the database read-only, to test that nothing is
//! lost and everything resumes once storage works again.

use async_trait::async_trait;
use hermod_model::{PlatformId, SessionId, SessionKey};
use hermod_store::{
    AppendMessages, ApprovedUser, Handoff, HandoffOutcome, HandoffState, InboxEntry, InboxState,
    ListSessions, NewHandoff, NewOutbox, NewSession, OutboxEntry, PendingPairing, Result,
    SearchHit, SessionRecord, SessionSummary, Store, StoreError, StoredMessage,
};
use hermod_store::{ApprovalGrant, Lease, MemoryNote, Node, Owner, StoredResponse};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Wraps a store; [`FlakyStore::fail`] makes named operations fail with
/// [`StoreError::Full`] a number of times (or until [`FlakyStore::heal`]).
pub struct FlakyStore {
    inner: Arc<dyn Store>,
    /// Operation name → failures left (`u32::MAX`: until healed).
    failing: Mutex<HashMap<&'static str, u32>>,
    /// Operation name → failures served.
    failed: Mutex<HashMap<&'static str, u32>>,
}

impl std::fmt::Debug for FlakyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlakyStore").finish_non_exhaustive()
    }
}

impl FlakyStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            failing: Mutex::default(),
            failed: Mutex::default(),
        }
    }

    /// Makes `operation` (a [`Store`] method's name) fail its next `times`
    /// calls; `u32::MAX` means until [`FlakyStore::heal`].
    pub fn fail(&self, operation: &'static str, times: u32) {
        self.failing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(operation, times);
    }

    /// Every operation works again.
    pub fn heal(&self) {
        self.failing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// How many calls of `operation` have failed.
    pub fn failures(&self, operation: &str) -> u32 {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    fn check(&self, operation: &'static str) -> Result<()> {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        match failing.get_mut(operation) {
            Some(0) | None => Ok(()),
            Some(left) => {
                if *left != u32::MAX {
                    *left -= 1;
                }
                *self
                    .failed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(operation)
                    .or_default() += 1;
                Err(StoreError::Full("database or disk is full".into()))
            }
        }
    }
}

#[async_trait]
impl Store for FlakyStore {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord> {
        self.check("create_session")?;
        self.inner.create_session(new).await
    }

    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        self.check("session")?;
        self.inner.session(id).await
    }

    async fn list_sessions(&self, query: ListSessions) -> Result<Vec<SessionRecord>> {
        self.check("list_sessions")?;
        self.inner.list_sessions(query).await
    }

    async fn end_session(&self, id: &SessionId, reason: &str, at_ms: i64) -> Result<()> {
        self.check("end_session")?;
        self.inner.end_session(id, reason, at_ms).await
    }

    async fn set_title(&self, id: &SessionId, title: &str) -> Result<()> {
        self.check("set_title")?;
        self.inner.set_title(id, title).await
    }

    async fn delete_session(&self, id: &SessionId) -> Result<bool> {
        self.check("delete_session")?;
        self.inner.delete_session(id).await
    }

    async fn append_messages(&self, append: AppendMessages) -> Result<Vec<i64>> {
        self.check("append_messages")?;
        self.inner.append_messages(append).await
    }

    async fn messages(&self, id: &SessionId) -> Result<Vec<StoredMessage>> {
        self.check("messages")?;
        self.inner.messages(id).await
    }

    async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        self.check("search")?;
        self.inner.search(query, limit).await
    }

    async fn route(&self, key: &SessionKey) -> Result<Option<SessionId>> {
        self.check("route")?;
        self.inner.route(key).await
    }

    async fn set_route(&self, key: &SessionKey, id: &SessionId, at_ms: i64) -> Result<()> {
        self.check("set_route")?;
        self.inner.set_route(key, id, at_ms).await
    }

    async fn set_model_override(&self, id: &SessionId, model: Option<&str>) -> Result<()> {
        self.check("set_model_override")?;
        self.inner.set_model_override(id, model).await
    }

    async fn sessions_for_key(&self, key: &SessionKey, limit: usize) -> Result<Vec<SessionRecord>> {
        self.check("sessions_for_key")?;
        self.inner.sessions_for_key(key, limit).await
    }

    async fn reopen_session(&self, id: &SessionId) -> Result<()> {
        self.check("reopen_session")?;
        self.inner.reopen_session(id).await
    }

    async fn undo_exchanges(&self, id: &SessionId, exchanges: usize) -> Result<Vec<StoredMessage>> {
        self.check("undo_exchanges")?;
        self.inner.undo_exchanges(id, exchanges).await
    }

    async fn session_summary(&self, id: &SessionId) -> Result<Option<SessionSummary>> {
        self.check("session_summary")?;
        self.inner.session_summary(id).await
    }

    async fn set_session_summary(&self, summary: SessionSummary) -> Result<()> {
        self.check("set_session_summary")?;
        self.inner.set_session_summary(summary).await
    }

    async fn inbox_record(
        &self,
        platform: &PlatformId,
        key: &str,
        event_json: &str,
        at_ms: i64,
    ) -> Result<bool> {
        self.check("inbox_record")?;
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
        self.check("inbox_set_state")?;
        self.inner
            .inbox_set_state(platform, key, state, at_ms)
            .await
    }

    async fn inbox_entry(&self, platform: &PlatformId, key: &str) -> Result<Option<InboxEntry>> {
        self.check("inbox_entry")?;
        self.inner.inbox_entry(platform, key).await
    }

    async fn inbox_start_turn(
        &self,
        append: AppendMessages,
        platform: &PlatformId,
        keys: &[String],
        at_ms: i64,
    ) -> Result<Vec<i64>> {
        self.check("inbox_start_turn")?;
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
        self.check("inbox_set_previews")?;
        self.inner
            .inbox_set_previews(platform, keys, preview_ids, at_ms)
            .await
    }

    async fn inbox_unfinished(&self, after_seq: i64, limit: usize) -> Result<Vec<InboxEntry>> {
        self.check("inbox_unfinished")?;
        self.inner.inbox_unfinished(after_seq, limit).await
    }

    async fn inbox_prune(&self, before_ms: i64) -> Result<u64> {
        self.check("inbox_prune")?;
        self.inner.inbox_prune(before_ms).await
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        self.check("setting")?;
        self.inner.setting(key).await
    }

    async fn set_setting(&self, key: &str, value: &str, at_ms: i64) -> Result<()> {
        self.check("set_setting")?;
        self.inner.set_setting(key, value, at_ms).await
    }

    async fn delete_setting(&self, key: &str) -> Result<bool> {
        self.check("delete_setting")?;
        self.inner.delete_setting(key).await
    }

    async fn add_pending_pairing(&self, pending: PendingPairing) -> Result<i64> {
        self.check("add_pending_pairing")?;
        self.inner.add_pending_pairing(pending).await
    }

    async fn pending_pairings(
        &self,
        platform: Option<&PlatformId>,
        now_ms: i64,
    ) -> Result<Vec<PendingPairing>> {
        self.check("pending_pairings")?;
        self.inner.pending_pairings(platform, now_ms).await
    }

    async fn remove_pending_pairing(&self, id: i64) -> Result<bool> {
        self.check("remove_pending_pairing")?;
        self.inner.remove_pending_pairing(id).await
    }

    async fn purge_expired_pairings(&self, now_ms: i64) -> Result<u64> {
        self.check("purge_expired_pairings")?;
        self.inner.purge_expired_pairings(now_ms).await
    }

    async fn approve_user(&self, user: ApprovedUser) -> Result<()> {
        self.check("approve_user")?;
        self.inner.approve_user(user).await
    }

    async fn revoke_user(&self, platform: &PlatformId, user_id: &str) -> Result<bool> {
        self.check("revoke_user")?;
        self.inner.revoke_user(platform, user_id).await
    }

    async fn is_approved(&self, platform: &PlatformId, user_id: &str) -> Result<bool> {
        self.check("is_approved")?;
        self.inner.is_approved(platform, user_id).await
    }

    async fn approved_users(&self, platform: Option<&PlatformId>) -> Result<Vec<ApprovedUser>> {
        self.check("approved_users")?;
        self.inner.approved_users(platform).await
    }

    async fn outbox_put(&self, new: NewOutbox) -> Result<OutboxEntry> {
        self.check("outbox_put")?;
        self.inner.outbox_put(new).await
    }

    async fn append_reply(
        &self,
        append: AppendMessages,
        outbox: NewOutbox,
    ) -> Result<(Vec<i64>, OutboxEntry)> {
        self.check("append_reply")?;
        self.inner.append_reply(append, outbox).await
    }

    async fn outbox_entry(&self, key: &str) -> Result<Option<OutboxEntry>> {
        self.check("outbox_entry")?;
        self.inner.outbox_entry(key).await
    }

    async fn outbox_set_message_ids(
        &self,
        id: i64,
        message_ids: &[String],
        at_ms: i64,
    ) -> Result<()> {
        self.check("outbox_set_message_ids")?;
        self.inner
            .outbox_set_message_ids(id, message_ids, at_ms)
            .await
    }

    async fn outbox_set_attachment_progress(
        &self,
        id: i64,
        progress: &[hermod_store::AttachmentProgress],
        at_ms: i64,
    ) -> Result<()> {
        self.check("outbox_set_attachment_progress")?;
        self.inner
            .outbox_set_attachment_progress(id, progress, at_ms)
            .await
    }

    async fn outbox_delivered(&self, id: i64, message_ids: &[String], at_ms: i64) -> Result<()> {
        self.check("outbox_delivered")?;
        self.inner.outbox_delivered(id, message_ids, at_ms).await
    }

    async fn outbox_retry_later(
        &self,
        id: i64,
        error: &str,
        next_attempt_at_ms: i64,
        at_ms: i64,
    ) -> Result<()> {
        self.check("outbox_retry_later")?;
        self.inner
            .outbox_retry_later(id, error, next_attempt_at_ms, at_ms)
            .await
    }

    async fn outbox_failed(&self, id: i64, error: &str, at_ms: i64) -> Result<()> {
        self.check("outbox_failed")?;
        self.inner.outbox_failed(id, error, at_ms).await
    }

    async fn outbox_pending(&self, after_id: i64, limit: usize) -> Result<Vec<OutboxEntry>> {
        self.check("outbox_pending")?;
        self.inner.outbox_pending(after_id, limit).await
    }

    async fn handoff_request(&self, new: NewHandoff) -> Result<Handoff> {
        self.check("handoff_request")?;
        self.inner.handoff_request(new).await
    }

    async fn handoff(&self, session: &SessionId) -> Result<Option<Handoff>> {
        self.check("handoff")?;
        self.inner.handoff(session).await
    }

    async fn handoffs_in(&self, state: HandoffState, limit: usize) -> Result<Vec<Handoff>> {
        self.check("handoffs_in")?;
        self.inner.handoffs_in(state, limit).await
    }

    async fn handoff_claim(&self, session: &SessionId, at_ms: i64) -> Result<bool> {
        self.check("handoff_claim")?;
        self.inner.handoff_claim(session, at_ms).await
    }

    async fn handoff_finish(
        &self,
        session: &SessionId,
        outcome: HandoffOutcome,
        at_ms: i64,
    ) -> Result<bool> {
        self.check("handoff_finish")?;
        self.inner.handoff_finish(session, outcome, at_ms).await
    }

    async fn cron_add(&self, new: hermod_store::NewCronJob) -> Result<hermod_store::CronJob> {
        self.check("cron_add")?;
        self.inner.cron_add(new).await
    }

    async fn cron_job(&self, id: &str) -> Result<Option<hermod_store::CronJob>> {
        self.check("cron_job")?;
        self.inner.cron_job(id).await
    }

    async fn cron_jobs(&self) -> Result<Vec<hermod_store::CronJob>> {
        self.check("cron_jobs")?;
        self.inner.cron_jobs().await
    }

    async fn cron_update(
        &self,
        id: &str,
        update: hermod_store::CronJobUpdate,
        at_ms: i64,
    ) -> Result<hermod_store::CronJob> {
        self.check("cron_update")?;
        self.inner.cron_update(id, update, at_ms).await
    }

    async fn cron_remove(&self, id: &str) -> Result<bool> {
        self.check("cron_remove")?;
        self.inner.cron_remove(id).await
    }

    async fn cron_claim(
        &self,
        claim: hermod_store::CronClaim,
    ) -> Result<Option<hermod_store::CronRun>> {
        self.check("cron_claim")?;
        self.inner.cron_claim(claim).await
    }

    async fn cron_expire(&self, job_id: &str, now_ms: i64) -> Result<bool> {
        self.check("cron_expire")?;
        self.inner.cron_expire(job_id, now_ms).await
    }

    async fn cron_renew(&self, job_id: &str, owner: &str, until_ms: i64) -> Result<bool> {
        self.check("cron_renew")?;
        self.inner.cron_renew(job_id, owner, until_ms).await
    }

    async fn cron_finish(&self, finish: hermod_store::CronFinish) -> Result<()> {
        self.check("cron_finish")?;
        self.inner.cron_finish(finish).await
    }

    async fn cron_runs(&self, job_id: &str, limit: usize) -> Result<Vec<hermod_store::CronRun>> {
        self.check("cron_runs")?;
        self.inner.cron_runs(job_id, limit).await
    }

    async fn cron_changes(&self) -> Result<i64> {
        self.check("cron_changes")?;
        self.inner.cron_changes().await
    }

    async fn search_owned(
        &self,
        owner: &Owner,
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        self.check("search_owned")?;
        self.inner.search_owned(owner, query, limit).await
    }

    async fn search_platform(
        &self,
        platform: &PlatformId,
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        self.check("search_platform")?;
        self.inner.search_platform(platform, query, limit).await
    }

    async fn memory_notes(&self, owner: &Owner) -> Result<Vec<MemoryNote>> {
        self.check("memory_notes")?;
        self.inner.memory_notes(owner).await
    }

    async fn memory_add(&self, owner: &Owner, text: &str, at_ms: i64) -> Result<MemoryNote> {
        self.check("memory_add")?;
        self.inner.memory_add(owner, text, at_ms).await
    }

    async fn memory_replace(&self, owner: &Owner, id: i64, text: &str, at_ms: i64) -> Result<bool> {
        self.check("memory_replace")?;
        self.inner.memory_replace(owner, id, text, at_ms).await
    }

    async fn memory_remove(&self, owner: &Owner, id: i64) -> Result<bool> {
        self.check("memory_remove")?;
        self.inner.memory_remove(owner, id).await
    }

    async fn approval_grant(&self, owner: &Owner, key: &str, at_ms: i64) -> Result<bool> {
        self.check("approval_grant")?;
        self.inner.approval_grant(owner, key, at_ms).await
    }

    async fn approval_granted(&self, owner: &Owner, key: &str) -> Result<bool> {
        self.check("approval_granted")?;
        self.inner.approval_granted(owner, key).await
    }

    async fn approval_grants(&self, owner: &Owner, limit: usize) -> Result<Vec<ApprovalGrant>> {
        self.check("approval_grants")?;
        self.inner.approval_grants(owner, limit).await
    }

    async fn approval_revoke(&self, owner: &Owner, key: &str) -> Result<bool> {
        self.check("approval_revoke")?;
        self.inner.approval_revoke(owner, key).await
    }

    async fn response_put(&self, response: StoredResponse, keep: usize, at_ms: i64) -> Result<()> {
        self.check("response_put")?;
        self.inner.response_put(response, keep, at_ms).await
    }

    async fn response(&self, id: &str, at_ms: i64) -> Result<Option<StoredResponse>> {
        self.check("response")?;
        self.inner.response(id, at_ms).await
    }

    async fn latest_response(&self, conversation: &str) -> Result<Option<StoredResponse>> {
        self.check("latest_response")?;
        self.inner.latest_response(conversation).await
    }

    async fn response_delete(&self, id: &str) -> Result<bool> {
        self.check("response_delete")?;
        self.inner.response_delete(id).await
    }

    async fn lease_acquire(
        &self,
        name: &str,
        owner: &str,
        until_ms: i64,
        now_ms: i64,
    ) -> Result<bool> {
        self.check("lease_acquire")?;
        self.inner
            .lease_acquire(name, owner, until_ms, now_ms)
            .await
    }

    async fn lease_renew_all(&self, owner: &str, until_ms: i64) -> Result<u64> {
        self.check("lease_renew_all")?;
        self.inner.lease_renew_all(owner, until_ms).await
    }

    async fn lease_release(&self, name: &str, owner: &str) -> Result<bool> {
        self.check("lease_release")?;
        self.inner.lease_release(name, owner).await
    }

    async fn lease_release_all(&self, owner: &str) -> Result<u64> {
        self.check("lease_release_all")?;
        self.inner.lease_release_all(owner).await
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>> {
        self.check("lease")?;
        self.inner.lease(name).await
    }

    async fn leases(&self, prefix: &str, now_ms: i64) -> Result<Vec<Lease>> {
        self.check("leases")?;
        self.inner.leases(prefix, now_ms).await
    }

    async fn lease_purge(&self, before_ms: i64) -> Result<u64> {
        self.check("lease_purge")?;
        self.inner.lease_purge(before_ms).await
    }

    async fn node_beat(&self, node: &Node) -> Result<()> {
        self.check("node_beat")?;
        self.inner.node_beat(node).await
    }

    async fn nodes(&self) -> Result<Vec<Node>> {
        self.check("nodes")?;
        self.inner.nodes().await
    }

    async fn node_purge(&self, before_ms: i64) -> Result<u64> {
        self.check("node_purge")?;
        self.inner.node_purge(before_ms).await
    }

    async fn node_remove(&self, id: &str) -> Result<bool> {
        self.check("node_remove")?;
        self.inner.node_remove(id).await
    }
}
