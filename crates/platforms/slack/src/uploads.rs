//! Sending files, and sending each exactly once across a crash.
//!
//! Slack's upload is two steps apart: `files.getUploadURLExternal` and
//! the bytes POSTed to the URL it gave make a file no one sees yet;
//! `files.completeUploadExternal` shares it in the channel or thread,
//! which is the message. A send with an idempotency key records its
//! progress between the two in the store ([`UploadLog`], the setting
//! `slack:uploads`): the file id once the bytes are up, then the share
//! once Slack answered. A send repeated under that key — core resends a
//! file a crash or a broken connection left in doubt — picks up there:
//!
//! - shared: nothing is sent; the recorded ts is the receipt;
//! - uploaded: `files.info` says whether the file is shared in the
//!   target already (Slack shared it, its answer was lost): that share's
//!   ts is the receipt. If not, the file is shared now, without sending
//!   its bytes again. If Slack does not have it (`file_not_found`: an
//!   upload never completed is discarded), it is uploaded anew — it was
//!   never shown, so this is still its only copy; a file deleted since
//!   (`file_deleted`) was shown, and is not sent again;
//! - nothing recorded: a plain upload. A crash before the file id was
//!   recorded left at most an unshared upload, which Slack discards.
//!
//! [`UPLOAD_WINDOW`] is the window core resends in. Slack documents no
//! lifetime for an upload that was never completed (only that it is
//! discarded), so the window rests on the records here, not on Slack: a
//! file id Slack has dropped reads as not found and is uploaded again,
//! never shown twice. An hour covers a restart or an outage; a file in
//! doubt for longer is reported to the chat rather than sent hours late.
//! Records hold ids and timestamps only, never a file's contents, and
//! are pruned once they are [`KEEP`] old.
//!
//! A link (a remote file) is posted as a message, and `chat.postMessage`
//! has no key: a keyed link marks the post as under way first, and a
//! repeat that finds it under way refuses rather than post it twice.

use crate::adapter::SlackAdapter;
use crate::api::{Completed, FileInfo, UploadUrl};
use crate::error::SlackError;
use crate::outbound::{self, Target};
use hermod_adapter_kit::{AdapterState, Call, KitError, StateKey};
use hermod_core::AdapterError;
use hermod_model::Attachment;
use hermod_store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, warn};

/// How long after a send core may repeat it under the same key
/// (`Capabilities::idempotency_window`); see the module's docs.
pub(crate) const UPLOAD_WINDOW: Duration = Duration::from_secs(60 * 60);

/// How long a record is kept: twice the window, so it outlives every
/// repeat core may ask for even when its clock and this one differ.
const KEEP: Duration = Duration::from_secs(2 * 60 * 60);

// Every repeat core may ask for finds its record.
const _: () = assert!(UPLOAD_WINDOW.as_secs() < KEEP.as_secs());

/// Slack's upload limit.
const MAX_UPLOAD_BYTES: u64 = 1024 * 1024 * 1024;

/// Where the records live: `slack:uploads`.
const UPLOADS: StateKey<BTreeMap<String, Upload>> = StateKey::new("uploads");

/// What is known of one keyed file send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Upload {
    /// When the send was first recorded (ms since the epoch), to prune.
    at_ms: i64,
    step: Step,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
enum Step {
    /// The bytes are up as `file_id`; not known to be shared.
    Uploaded { file_id: String },
    /// Shared: its message's ts, when Slack said it.
    Shared { file_id: String, ts: Option<String> },
    /// A link is being posted as a message.
    Posting,
    /// The link was posted.
    Posted { ts: Option<String> },
}

/// The records of keyed file sends, in the store.
pub(crate) struct UploadLog {
    state: AdapterState<BTreeMap<String, Upload>>,
    /// One read-modify-write at a time: sends to different chats run at
    /// once.
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for UploadLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadLog")
            .field("key", &self.state.key())
            .finish_non_exhaustive()
    }
}

impl UploadLog {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            state: AdapterState::new(store, &crate::PLATFORM, UPLOADS),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Every record; an unreadable value counts as none (with a WARN), a
    /// failing store as a failure that may pass.
    async fn load(&self) -> Result<BTreeMap<String, Upload>, AdapterError> {
        match self.state.load().await {
            Ok(records) => Ok(records.unwrap_or_default()),
            Err(e @ KitError::Corrupt { .. }) => {
                warn!(error = %e, "the records of file sends are unreadable; starting afresh");
                Ok(BTreeMap::new())
            }
            Err(e) => Err(store_failed(&e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Step>, AdapterError> {
        let _guard = self.lock.lock().await;
        Ok(self.load().await?.remove(key).map(|upload| upload.step))
    }

    /// Records `step` for `key`, dropping records older than [`KEEP`].
    async fn put(&self, key: &str, step: Step) -> Result<(), AdapterError> {
        let _guard = self.lock.lock().await;
        let mut records = self.load().await?;
        let now = hermod_core::now_ms();
        let keep = i64::try_from(KEEP.as_millis()).unwrap_or(i64::MAX);
        records.retain(|_, upload| now.saturating_sub(upload.at_ms) < keep);
        let at_ms = records.get(key).map_or(now, |upload| upload.at_ms);
        records.insert(key.to_owned(), Upload { at_ms, step });
        self.state
            .save(&records)
            .await
            .map_err(|e| store_failed(&e))
    }
}

fn store_failed(error: &KitError) -> AdapterError {
    AdapterError::Transient(format!("cannot record a file's upload: {error}"))
}

/// Where a recorded file id stands on Slack.
enum Found {
    /// Shared in the target, by the message with this ts.
    Shared(String),
    /// Slack has it, not shared there.
    Unshared,
    /// Slack does not have it (an upload never completed is discarded).
    Gone,
    /// Deleted: it was shared, and someone took it down.
    Deleted,
}

fn is_link(location: &str) -> bool {
    location.starts_with("http://") || location.starts_with("https://")
}

impl SlackAdapter {
    /// Sends one file into `target`, with `comment` as its message text;
    /// under `key` at most once (see the module's docs). Returns the ts
    /// of the message that carries it, when Slack said it.
    pub(crate) async fn send_file(
        &self,
        target: &Target,
        attachment: &Attachment,
        comment: Option<&str>,
        key: Option<&str>,
    ) -> Result<Option<String>, AdapterError> {
        if is_link(&attachment.location) {
            return self
                .post_link(target, &attachment.location, comment, key)
                .await;
        }
        let Some(key) = key else {
            return self.upload(target, attachment, comment, None).await;
        };
        match self.uploads().get(key).await? {
            Some(Step::Shared { ts, .. } | Step::Posted { ts }) => {
                debug!(key, "this file was shared already; not sending it again");
                return Ok(ts);
            }
            Some(Step::Uploaded { file_id }) => match self.find(&file_id, target).await? {
                Found::Shared(ts) => {
                    debug!(key, %file_id, "Slack shared this file before; not sharing it again");
                    self.record_shared(key, &file_id, Some(ts.clone())).await;
                    return Ok(Some(ts));
                }
                Found::Unshared => {
                    debug!(key, %file_id, "sharing a file uploaded before");
                    self.pace(&target.channel, Call::Send { group: false })
                        .await?;
                    return self
                        .complete(target, &file_id, attachment, comment, Some(key))
                        .await;
                }
                Found::Deleted => {
                    debug!(key, %file_id, "this file was shared and deleted since; not sending it again");
                    self.record_shared(key, &file_id, None).await;
                    return Ok(None);
                }
                Found::Gone => {
                    debug!(key, %file_id, "Slack no longer has an upload; uploading anew");
                }
            },
            Some(Step::Posting) | None => {}
        }
        self.upload(target, attachment, comment, Some(key)).await
    }

    /// Uploads a file the current way: `files.getUploadURLExternal`, the
    /// bytes to the URL it gave, `files.completeUploadExternal` to share
    /// it in the target; the file id is recorded under `key` in between.
    async fn upload(
        &self,
        target: &Target,
        attachment: &Attachment,
        comment: Option<&str>,
        key: Option<&str>,
    ) -> Result<Option<String>, AdapterError> {
        let location = attachment.location.as_str();
        let bytes = tokio::fs::read(location).await.map_err(|e| {
            AdapterError::Rejected(format!("cannot read the attachment {location}: {e}"))
        })?;
        let size = bytes.len() as u64;
        if size == 0 || size > MAX_UPLOAD_BYTES {
            return Err(AdapterError::Rejected(format!(
                "the attachment {location} is empty or larger than Slack's 1 GB limit"
            )));
        }
        let filename = file_name(attachment);
        self.check_blocked("files.completeUploadExternal", &target.channel)?;
        self.pace(&target.channel, Call::Send { group: false })
            .await?;
        let args = outbound::upload_url(&filename, size);
        let url: UploadUrl = self
            .call("files.getUploadURLExternal", &target.channel, &args)
            .await?;
        self.api().upload(&url.upload_url, bytes, &filename).await?;
        if let Some(key) = key {
            // Without this record a crash from here on could share the
            // file twice: nothing is shared until it is written.
            let uploaded = Step::Uploaded {
                file_id: url.file_id.clone(),
            };
            self.uploads().put(key, uploaded).await?;
        }
        self.complete(target, &url.file_id, attachment, comment, key)
            .await
    }

    /// Shares the uploaded `file_id` in the target and records that under
    /// `key`.
    async fn complete(
        &self,
        target: &Target,
        file_id: &str,
        attachment: &Attachment,
        comment: Option<&str>,
        key: Option<&str>,
    ) -> Result<Option<String>, AdapterError> {
        self.check_blocked("files.completeUploadExternal", &target.channel)?;
        let args = outbound::complete_upload(file_id, &file_name(attachment), target, comment);
        let done: Completed = self
            .call("files.completeUploadExternal", &target.channel, &args)
            .await?;
        let ts = done
            .files
            .iter()
            .find(|file| file.id == file_id)
            .and_then(|file| file.shared_in(&target.channel, target.thread_ts.as_deref()));
        if let Some(key) = key {
            self.record_shared(key, file_id, ts.clone()).await;
        }
        Ok(ts)
    }

    /// Records that `file_id` is shared. A failure only costs a
    /// `files.info` on a repeat, which finds the share: a WARN.
    async fn record_shared(&self, key: &str, file_id: &str, ts: Option<String>) {
        let shared = Step::Shared {
            file_id: file_id.to_owned(),
            ts,
        };
        if let Err(e) = self.uploads().put(key, shared).await {
            warn!(key, error = %e, "could not record a shared file");
        }
    }

    /// Asks Slack (`files.info`) whether `file_id` is shared in the target.
    async fn find(&self, file_id: &str, target: &Target) -> Result<Found, AdapterError> {
        let args = outbound::file_info(file_id);
        match self
            .call::<FileInfo>("files.info", &target.channel, &args)
            .await
        {
            Ok(info) => Ok(
                match info
                    .file
                    .shared_in(&target.channel, target.thread_ts.as_deref())
                {
                    Some(ts) => Found::Shared(ts),
                    None => Found::Unshared,
                },
            ),
            Err(e) if e.code() == Some("file_not_found") => Ok(Found::Gone),
            Err(e) if e.code() == Some("file_deleted") => Ok(Found::Deleted),
            // Not knowing, the file is not sent again.
            Err(e @ SlackError::Api { .. }) => {
                let hint = if e.code() == Some("missing_scope") {
                    "; the bot token needs the files:read scope"
                } else {
                    ""
                };
                Err(AdapterError::Rejected(format!(
                    "Slack would not say whether the file arrived ({e}){hint}"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Posts a link as a message; under `key`, once: a post found under
    /// way may have arrived, and is refused rather than repeated.
    async fn post_link(
        &self,
        target: &Target,
        location: &str,
        comment: Option<&str>,
        key: Option<&str>,
    ) -> Result<Option<String>, AdapterError> {
        if let Some(key) = key {
            if self.uploads().get(key).await? == Some(Step::Posting) {
                return Err(AdapterError::Rejected(
                    "a post of this link broke off and may have arrived; it is not posted twice"
                        .into(),
                ));
            }
            self.uploads().put(key, Step::Posting).await?;
        }
        let text = match comment {
            Some(comment) => format!("{comment}\n{location}"),
            None => location.to_owned(),
        };
        let ts = self.post(target, &text).await?;
        if let Some(key) = key
            && let Err(e) = self
                .uploads()
                .put(key, Step::Posted { ts: ts.clone() })
                .await
        {
            warn!(key, error = %e, "could not record a posted link");
        }
        Ok(ts)
    }
}

/// The name a file is uploaded under.
fn file_name(attachment: &Attachment) -> String {
    std::path::Path::new(&attachment.location)
        .file_name()
        .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_store::SqliteStore;

    #[tokio::test]
    async fn records_hold_ids_and_are_pruned_after_they_are_kept() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let log = UploadLog::new(Arc::clone(&store));
        assert_eq!(log.get("k").await.unwrap(), None);
        let uploaded = Step::Uploaded {
            file_id: "F1".into(),
        };
        log.put("k", uploaded.clone()).await.unwrap();
        assert_eq!(log.get("k").await.unwrap(), Some(uploaded));
        let raw = store.setting("slack:uploads").await.unwrap().unwrap();
        assert!(raw.contains("\"F1\""), "{raw}");

        // A record older than KEEP goes with the next write.
        let old = hermod_core::now_ms() - i64::try_from(KEEP.as_millis()).unwrap() - 1;
        let mut records = BTreeMap::new();
        records.insert(
            "old".to_owned(),
            Upload {
                at_ms: old,
                step: Step::Posting,
            },
        );
        AdapterState::new(Arc::clone(&store), &crate::PLATFORM, UPLOADS)
            .save(&records)
            .await
            .unwrap();
        let shared = Step::Shared {
            file_id: "F2".into(),
            ts: Some("1.2".into()),
        };
        log.put("new", shared.clone()).await.unwrap();
        assert_eq!(log.get("old").await.unwrap(), None, "pruned");
        assert_eq!(log.get("new").await.unwrap(), Some(shared));

        // An unreadable value is no records, not a failure.
        store.set_setting("slack:uploads", "[", 0).await.unwrap();
        assert_eq!(log.get("new").await.unwrap(), None);
    }
}
