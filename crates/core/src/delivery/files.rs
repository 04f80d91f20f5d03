//! Sending an outbox entry's files, each at most once.
//!
//! Every file is its own send after the entry's text, and its progress is
//! recorded around the upload: `sending` before the request goes out
//! (write-ahead), `sent` with the message id when the platform answered.
//! A crash between the platform accepting an upload and hermod recording
//! it leaves `sending`, and the file is *in doubt* on redelivery:
//!
//! - where the platform deduplicates repeated sends (its
//!   `Capabilities::idempotency_window`), the upload is repeated with the
//!   same idempotency key while the window lasts: it arrives exactly once;
//! - otherwise it is not sent again: it is recorded as not sent and the
//!   chat gets one short notice that it may be missing. A file is never
//!   sent twice and never lost without a word.
//!
//! A connection failure while uploading is in doubt in the same way (the
//! platform may have taken the file before the connection broke); a rate
//! limit is not (nothing was created), and the file waits for the next
//! attempt. A file the platform refuses (too large, bad type) or that is
//! gone from the disk is told to the chat once, with the reason, and the
//! other files still go.
//!
//! Captions: the entry's text goes as the first file's caption — instead
//! of as a message of its own — when the platform has captions, the text
//! fits one, nothing of the reply was shown yet (no streamed preview) and
//! the first file is not a sticker. The rule depends on the entry alone,
//! so a redelivery makes the same choice.

use super::media::display_name;
use super::outbox::{Patience, with_retries};
use crate::adapter::{AdapterError, Messenger};
use crate::error::CoreError;
use crate::session::WorkerDeps;
use hermod_model::{AttachmentKind, Capabilities, Outbound, Sent};
use hermod_store::{AttachmentProgress, OutboxEntry};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

/// Why a file whose upload was interrupted by a restart is not resent.
const RESTARTED: &str = "the gateway restarted while sending it";

/// Whether `entry`'s text goes as the caption of its first file.
pub(crate) fn captioned(entry: &OutboxEntry, caps: &Capabilities) -> bool {
    caps.caption_len > 0
        && !entry.text.trim().is_empty()
        && entry.message_ids.is_empty()
        && entry
            .attachments
            .first()
            .is_some_and(|a| a.kind != AttachmentKind::Sticker)
        && caps.length_unit.measure(&entry.text) <= caps.caption_len
}

/// The idempotency key of file `index` of `entry`: the same on every
/// redelivery, unique per entry and file, 21 ASCII characters (platforms
/// cap such keys, at 25 the shortest known).
pub(crate) fn idempotency_key(entry: &OutboxEntry, index: usize) -> String {
    part_key('f', entry, index)
}

/// The idempotency key of text part `index` of `entry`, as
/// [`idempotency_key`] is for files: a platform that deduplicates sends
/// by a key the client chooses (a transaction id, a nonce, a pending post
/// id) then shows a part sent just before a crash once, not twice.
pub(crate) fn text_idempotency_key(entry: &OutboxEntry, index: usize) -> String {
    part_key('t', entry, index)
}

fn part_key(kind: char, entry: &OutboxEntry, index: usize) -> String {
    // Files keep the hash input they always had, so a file in flight
    // across an upgrade keeps its key.
    let input = match kind {
        'f' => format!("{}\n{index}", entry.key),
        _ => format!("{}\n{kind}{index}", entry.key),
    };
    let digest = Sha256::digest(input.as_bytes());
    let hex: String = hermod_model::to_hex(&digest[..10]);
    format!("{kind}{hex}")
}

/// Sends the files of one entry.
pub(crate) struct FileSender<'a> {
    pub(crate) deps: &'a WorkerDeps,
    pub(crate) messenger: &'a dyn Messenger,
    pub(crate) caps: &'a Capabilities,
    pub(crate) entry: &'a OutboxEntry,
    pub(crate) captioned: bool,
    pub(crate) patience: Patience,
    pub(crate) limited: &'a (dyn Fn() + Sync),
}

/// What a send of one file came to.
enum Upload {
    Sent(Sent),
    /// The connection failed after the request may have reached the
    /// platform.
    InDoubt(String),
}

impl FileSender<'_> {
    /// Sends every file not settled yet. `Ok(Some(error))`: a failure that
    /// may pass (rate limit, outage) stopped it; the entry is retried later
    /// and picks up where this left off.
    pub(crate) async fn send_all(&self) -> Result<Option<AdapterError>, CoreError> {
        let entry = self.entry;
        let mut progress: Vec<AttachmentProgress> = (0..entry.attachments.len())
            .map(|i| entry.progress(i))
            .collect();
        for index in 0..progress.len() {
            if let AttachmentProgress::Sending { since_ms } = progress[index]
                && !self.may_resend(since_ms)
            {
                info!(platform = %entry.platform, key = %entry.key, index, "a file's upload was interrupted; telling the chat instead of sending it twice");
                progress[index] = failed(RESTARTED, true);
                self.record(&progress).await?;
            }
            if matches!(
                progress[index],
                AttachmentProgress::Pending | AttachmentProgress::Sending { .. }
            ) && let Some(error) = self.upload(index, &mut progress).await?
            {
                return Ok(Some(error));
            }
            if let AttachmentProgress::Failed { told: false, .. } = progress[index]
                && let Some(error) = self.tell(index, &mut progress).await?
            {
                return Ok(Some(error));
            }
        }
        Ok(None)
    }

    /// An interrupted upload may be repeated: the platform deduplicates by
    /// key, and its window has not passed.
    fn may_resend(&self, since_ms: i64) -> bool {
        let elapsed = self.deps.clock.now_ms().saturating_sub(since_ms);
        self.caps
            .idempotency_window
            .is_some_and(|window| u128::try_from(elapsed).unwrap_or(0) < window.as_millis())
    }

    /// Uploads file `index` (pending, or interrupted and safe to repeat).
    async fn upload(
        &self,
        index: usize,
        progress: &mut [AttachmentProgress],
    ) -> Result<Option<AdapterError>, CoreError> {
        let entry = self.entry;
        let attachment = &entry.attachments[index];
        if !is_url(&attachment.location) && !std::path::Path::new(&attachment.location).is_file() {
            warn!(platform = %entry.platform, path = %attachment.location, "a file to send is gone");
            progress[index] = failed("the file is no longer there", false);
            self.record(progress).await?;
            return Ok(None);
        }
        if progress[index] == AttachmentProgress::Pending {
            // Write-ahead: from here on a crash leaves the file in doubt.
            progress[index] = AttachmentProgress::Sending {
                since_ms: self.deps.clock.now_ms(),
            };
            self.record(progress).await?;
        }
        let outbound = Outbound {
            target: entry.target.clone(),
            text: if self.captioned && index == 0 {
                entry.text.clone()
            } else {
                String::new()
            },
            reply_to: entry.reply_to.clone(),
            attachments: vec![attachment.clone()],
            idempotency_key: Some(idempotency_key(entry, index)),
        };
        match self.send(&outbound).await {
            Ok(Upload::Sent(sent)) => {
                progress[index] = AttachmentProgress::Sent {
                    message_id: sent.message_ids.into_iter().next().unwrap_or_default(),
                };
            }
            Ok(Upload::InDoubt(reason)) => {
                warn!(platform = %entry.platform, key = %entry.key, %reason, "a file's upload broke off; it is not sent again");
                progress[index] = failed(&format!("the connection failed ({reason})"), true);
            }
            Err(AdapterError::RateLimited { retry_after }) => {
                // Refused before anything was created: try again later.
                progress[index] = AttachmentProgress::Pending;
                self.record(progress).await?;
                return Ok(Some(AdapterError::RateLimited { retry_after }));
            }
            // Only with idempotent sends: stays `sending`, repeated later
            // under the same key.
            Err(AdapterError::Transient(e)) => return Ok(Some(AdapterError::Transient(e))),
            Err(error) => {
                warn!(platform = %entry.platform, key = %entry.key, %error, "the platform refused a file");
                progress[index] = failed(&error.to_string(), false);
            }
        }
        self.record(progress).await?;
        Ok(None)
    }

    /// One send of a file: repeated on connection failures only where the
    /// platform deduplicates; otherwise such a failure is in doubt.
    async fn send(&self, outbound: &Outbound) -> Result<Upload, AdapterError> {
        let idempotent = self.caps.idempotency_window.is_some();
        with_retries(self.patience, self.limited, || async {
            match self.messenger.send(outbound.clone()).await {
                Ok(sent) => Ok(Upload::Sent(sent)),
                Err(AdapterError::Transient(e)) if !idempotent => Ok(Upload::InDoubt(e)),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Tells the chat, once, that file `index` did not (or may not have)
    /// come; with the reply's text when it was to be the file's caption.
    async fn tell(
        &self,
        index: usize,
        progress: &mut [AttachmentProgress],
    ) -> Result<Option<AdapterError>, CoreError> {
        let AttachmentProgress::Failed {
            reason, in_doubt, ..
        } = progress[index].clone()
        else {
            return Ok(None);
        };
        let name = display_name(&self.entry.attachments[index]);
        let notice = if in_doubt {
            format!(
                "📎 {name} may not have arrived: {reason}. Ask me to send it again if it's missing."
            )
        } else {
            format!("⚠️ I couldn't send {name}: {reason}")
        };
        let text = if self.captioned && index == 0 {
            format!("{}\n\n{notice}", self.entry.text)
        } else {
            notice
        };
        let outbound = Outbound {
            reply_to: self.entry.reply_to.clone(),
            ..Outbound::text(self.entry.target.clone(), text)
        };
        match with_retries(self.patience, self.limited, || {
            self.messenger.send(outbound.clone())
        })
        .await
        {
            Ok(_) => {}
            Err(e @ (AdapterError::RateLimited { .. } | AdapterError::Transient(_))) => {
                return Ok(Some(e));
            }
            Err(e) => {
                warn!(platform = %self.entry.platform, error = %e, "could not tell the chat a file is missing");
            }
        }
        progress[index] = AttachmentProgress::Failed {
            reason,
            in_doubt,
            told: true,
        };
        self.record(progress).await?;
        Ok(None)
    }

    async fn record(&self, progress: &[AttachmentProgress]) -> Result<(), CoreError> {
        let deps = self.deps;
        let at = deps.clock.now_ms();
        deps.persist("record a file's progress", || {
            deps.store
                .outbox_set_attachment_progress(self.entry.id, progress, at)
        })
        .await
    }
}

fn failed(reason: &str, in_doubt: bool) -> AttachmentProgress {
    AttachmentProgress::Failed {
        reason: reason.to_owned(),
        in_doubt,
        told: false,
    }
}

fn is_url(location: &str) -> bool {
    location.starts_with("http://") || location.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::{Attachment, ChatTarget, PlatformId};
    use hermod_store::OutboxState;

    fn entry(text: &str, ids: Vec<String>, kind: AttachmentKind) -> OutboxEntry {
        OutboxEntry {
            id: 1,
            key: "reply:s:1".into(),
            platform: PlatformId::new("talk"),
            target: ChatTarget {
                chat_id: "1".into(),
                thread_id: None,
            },
            reply_to: None,
            text: text.into(),
            session: None,
            state: OutboxState::Pending,
            attempts: 0,
            message_ids: ids,
            attachments: vec![Attachment::new(kind, "/m/a")],
            attachment_progress: Vec::new(),
            error: None,
            created_at_ms: 0,
            updated_at_ms: 0,
            next_attempt_at_ms: 0,
            delivered_at_ms: None,
        }
    }

    #[test]
    fn the_text_is_a_caption_only_when_short_unshown_and_captionable() {
        let caps = Capabilities {
            caption_len: 10,
            ..Capabilities::default()
        };
        let photo = AttachmentKind::Photo;
        assert!(captioned(&entry("short", vec![], photo), &caps));
        assert!(!captioned(
            &entry("far too long here", vec![], photo),
            &caps
        ));
        assert!(!captioned(&entry("short", vec!["9".into()], photo), &caps));
        assert!(!captioned(
            &entry("short", vec![], AttachmentKind::Sticker),
            &caps
        ));
        assert!(!captioned(&entry("  ", vec![], photo), &caps));
        assert!(!captioned(
            &entry("short", vec![], photo),
            &Capabilities::default()
        ));
    }

    #[test]
    fn idempotency_keys_are_stable_short_and_distinct() {
        let e = entry("x", vec![], AttachmentKind::Photo);
        let key = idempotency_key(&e, 0);
        assert_eq!(key, idempotency_key(&e, 0));
        assert_ne!(key, idempotency_key(&e, 1));
        let text = text_idempotency_key(&e, 0);
        assert_eq!(text, text_idempotency_key(&e, 0));
        assert_ne!(text, text_idempotency_key(&e, 1));
        assert_ne!(
            text[1..],
            key[1..],
            "a text part and a file never share a key"
        );
        assert!(text.starts_with('t') && text.len() == key.len());
        assert!(key.len() <= 25 && key.is_ascii(), "{key}");
    }
}
