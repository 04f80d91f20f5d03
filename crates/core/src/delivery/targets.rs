//! Delivering text to a [`DeliveryTarget`]: the chat a message came from,
//! a platform's home channel, an explicit chat, or a local file. Scheduled
//! output goes through here and through the outbox, so it is delivered
//! exactly once.

use crate::delivery::outbox::{Outcome, deliver_entry};
use crate::error::CoreError;
use crate::router::Shared;
use hermod_model::text::cut;
use hermod_model::{ChatTarget, DeliveryTarget, PlatformId, Source};
use hermod_store::NewOutbox;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The resolved target, as `platform:chat[:thread]` or `local`.
    pub target: String,
    pub message_ids: Vec<String>,
    /// The file written, for local deliveries and for the full text of
    /// truncated ones.
    pub local_path: Option<PathBuf>,
    pub truncated: bool,
}

/// Delivers text to targets. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Deliveries {
    shared: Arc<Shared>,
}

/// The settings key of a platform's home channel (written by `/sethome`).
pub(crate) fn home_key(platform: &PlatformId) -> String {
    format!("home_channel:{platform}")
}

impl Deliveries {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Delivers `text` to `target`. `origin` is the chat a job was created
    /// from (for `origin`); `key` makes the delivery idempotent: the same
    /// key is never delivered twice.
    pub async fn deliver(
        &self,
        target: &DeliveryTarget,
        origin: Option<&Source>,
        text: &str,
        key: &str,
    ) -> Result<DeliveryReceipt, CoreError> {
        let deps = self.shared.deps();
        let (platform, chat) = match target {
            DeliveryTarget::Local => {
                return self.write_local(text, key).map(|p| local_receipt(p, false));
            }
            DeliveryTarget::Origin => match origin
                .and_then(|o| Some((o.platform.clone(), o.chat_id.clone()?, o.thread_id.clone())))
            {
                Some((platform, chat_id, thread_id)) => {
                    (platform, ChatTarget { chat_id, thread_id })
                }
                None => return self.write_local(text, key).map(|p| local_receipt(p, false)),
            },
            DeliveryTarget::Home { platform } => {
                (platform.clone(), self.home_channel(platform).await?)
            }
            DeliveryTarget::Chat {
                platform,
                chat_id,
                thread_id,
            } => (
                platform.clone(),
                ChatTarget {
                    chat_id: chat_id.clone(),
                    thread_id: thread_id.clone(),
                },
            ),
        };
        let Some(adapter) = deps.adapters.get(&platform) else {
            return Err(CoreError::Delivery(format!(
                "cannot deliver to {platform}: that platform is not running (configure and enable it)"
            )));
        };
        let caps = adapter.capabilities();
        let mut body = text.to_owned();
        let mut local_path = None;
        let mut truncated = false;
        if !caps.multi_message && caps.length_unit.measure(text) > caps.max_message_len {
            let path = self.write_local(text, key)?;
            let note = format!("\n\n… [truncated; full output saved to {}]", path.display());
            let budget = caps
                .max_message_len
                .saturating_sub(caps.length_unit.measure(&note));
            body = format!("{}{note}", cut(text, budget, caps.length_unit).head);
            local_path = Some(path);
            truncated = true;
        }
        let entry = deps
            .store
            .outbox_put(NewOutbox {
                key: key.to_owned(),
                platform: platform.clone(),
                target: chat.clone(),
                reply_to: None,
                text: body,
                session: None,
                message_ids: Vec::new(),
                attachments: Vec::new(),
                created_at_ms: deps.clock.now_ms(),
            })
            .await?;
        let described = match &chat.thread_id {
            Some(thread) => format!("{platform}:{}:{thread}", chat.chat_id),
            None => format!("{platform}:{}", chat.chat_id),
        };
        let message_ids = if entry.state == hermod_store::OutboxState::Delivered {
            entry.message_ids.clone()
        } else {
            match deliver_entry(deps, &entry).await? {
                // Parts shown without an id have none to report.
                Outcome::Delivered(ids) => ids.into_iter().filter(|id| !id.is_empty()).collect(),
                Outcome::Deferred(reason) => {
                    return Err(CoreError::Delivery(format!(
                        "delivery to {described} deferred: {reason}"
                    )));
                }
                Outcome::Failed(reason) => {
                    return Err(CoreError::Delivery(format!(
                        "delivery to {described} failed: {reason}"
                    )));
                }
            }
        };
        Ok(DeliveryReceipt {
            target: described,
            message_ids,
            local_path,
            truncated,
        })
    }

    /// The home channel of a platform: `/sethome`, else `<PLATFORM>_HOME_CHANNEL`.
    pub(crate) async fn home_channel(
        &self,
        platform: &PlatformId,
    ) -> Result<ChatTarget, CoreError> {
        let deps = self.shared.deps();
        if let Some(raw) = deps.store.setting(&home_key(platform)).await? {
            return serde_json::from_str(&raw).map_err(|e| {
                CoreError::Store(format!(
                    "the stored home channel of {platform} is unreadable: {e}"
                ))
            });
        }
        let policy = deps.config.platform(platform);
        match &policy.home_channel {
            Some(chat_id) => Ok(ChatTarget {
                chat_id: chat_id.clone(),
                thread_id: policy.home_channel_thread_id.clone(),
            }),
            None => Err(CoreError::Delivery(format!(
                "{platform} has no home channel: send /sethome in the chat to use, or set {}_HOME_CHANNEL",
                platform.as_str().to_ascii_uppercase()
            ))),
        }
    }

    fn write_local(&self, text: &str, key: &str) -> Result<PathBuf, CoreError> {
        let deps = self.shared.deps();
        let dir = deps.output_dir.clone();
        let stamp = jiff::Timestamp::from_millisecond(deps.clock.now_ms())
            .map(|t| t.strftime("%Y%m%d_%H%M%S").to_string())
            .unwrap_or_default();
        let safe: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(80)
            .collect();
        let path = dir.join(format!("{stamp}_{safe}.md"));
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, text))
            .map_err(|e| {
                CoreError::Delivery(format!(
                    "cannot write {}: {e} (check the disk and HERMOD_HOME)",
                    path.display()
                ))
            })?;
        Ok(path)
    }
}

fn local_receipt(path: PathBuf, truncated: bool) -> DeliveryReceipt {
    DeliveryReceipt {
        target: "local".into(),
        message_ids: Vec::new(),
        local_path: Some(path),
        truncated,
    }
}
