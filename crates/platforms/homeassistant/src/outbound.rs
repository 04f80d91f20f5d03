//! Replies → service calls (pure). A reply to any chat becomes a
//! persistent notification (`persistent_notification.create`), as in
//! Hermes; Home Assistant renders its message as Markdown. A chat id
//! naming a notify service (`notify.mobile_app_phone`) calls that
//! service instead, with plain text — what a phone shows.
//!
//! A notification's `notification_id` is derived from the reply itself
//! (chat, the message it answers, text, and the piece's place), so a
//! reply sent again — the outbox retrying after a crash or a timeout
//! whose call did arrive — replaces the notification instead of adding a
//! second one. The price: the same text sent again to the same chat in
//! answer to the same message also replaces it, which is what a reader
//! of notifications wants anyway.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Home Assistant's persistent notifications: no length limit of their
/// own; Hermes cut replies at 4096 characters, hermod splits there.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// The prefix of every notification id hermod creates.
pub(crate) const NOTIFICATION_PREFIX: &str = "hermod_";

/// Where a reply to a chat goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// A persistent notification (Markdown).
    Notification,
    /// `notify.<service>` (plain text).
    Notify(String),
}

impl Delivery {
    /// `notify.<service>` when the chat id names one (lowercase letters,
    /// digits and `_`, as Home Assistant's service names are), else a
    /// notification.
    pub(crate) fn for_chat(chat_id: &str) -> Self {
        match chat_id.strip_prefix("notify.") {
            Some(service)
                if !service.is_empty()
                    && service
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
            {
                Delivery::Notify(service.to_owned())
            }
            _ => Delivery::Notification,
        }
    }
}

/// The stable id of piece `index` of a reply: `hermod_` and 24 hex
/// digits of SHA-256 over the chat, the replied-to message and the text.
pub(crate) fn notification_id(
    chat: &str,
    reply_to: Option<&str>,
    text: &str,
    index: usize,
) -> String {
    let mut hash = Sha256::new();
    for part in [chat, reply_to.unwrap_or_default(), text] {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    hash.update(index.to_le_bytes());
    let digest = hash.finalize();
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("{NOTIFICATION_PREFIX}{hex}")
}

/// `persistent_notification.create`'s data.
pub(crate) fn notification(title: &str, message: &str, id: &str) -> Value {
    json!({"title": title, "message": message, "notification_id": id})
}

/// A `notify.<service>`'s data.
pub(crate) fn notify(title: &str, message: &str) -> Value {
    json!({"title": title, "message": message})
}

/// `persistent_notification.dismiss`'s data.
pub(crate) fn dismiss(id: &str) -> Value {
    json!({"notification_id": id})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chats_naming_a_notify_service_call_it_and_others_notify() {
        assert_eq!(Delivery::for_chat("ha_events"), Delivery::Notification);
        assert_eq!(
            Delivery::for_chat("notify.mobile_app_pixel_7"),
            Delivery::Notify("mobile_app_pixel_7".into())
        );
        assert_eq!(Delivery::for_chat("notify."), Delivery::Notification);
        assert_eq!(Delivery::for_chat("notify.../x"), Delivery::Notification);
    }

    #[test]
    fn notification_ids_are_stable_and_tell_replies_apart() {
        let id = notification_id("ha_events", Some("01J"), "hello", 0);
        assert_eq!(id, notification_id("ha_events", Some("01J"), "hello", 0));
        assert!(id.starts_with("hermod_") && id.len() == 7 + 24, "{id}");
        for other in [
            notification_id("ha_events", Some("01J"), "hello", 1),
            notification_id("ha_events", Some("01K"), "hello", 0),
            notification_id("ha_events", None, "hello", 0),
            notification_id("other", Some("01J"), "hello", 0),
            notification_id("ha_events", Some("01J"), "hello!", 0),
        ] {
            assert_ne!(id, other);
        }
        // The separators keep the parts apart.
        assert_ne!(
            notification_id("ab", None, "c", 0),
            notification_id("a", None, "bc", 0)
        );
    }

    #[test]
    fn payloads_are_home_assistants_service_data() {
        assert_eq!(
            notification("Hermes Agent", "**hi**", "hermod_1"),
            json!({"title": "Hermes Agent", "message": "**hi**", "notification_id": "hermod_1"})
        );
        assert_eq!(dismiss("hermod_1"), json!({"notification_id": "hermod_1"}));
        assert_eq!(
            notify("Hermes Agent", "hi"),
            json!({"title": "Hermes Agent", "message": "hi"})
        );
    }
}
