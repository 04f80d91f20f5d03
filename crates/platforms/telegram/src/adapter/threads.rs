//! Threads for handed-off conversations: a new forum topic
//! (`createForumTopic`) when the home channel is a forum supergroup. A
//! private chat, or a group without topics, is used as it is.

use super::TelegramAdapter;
use crate::error::TelegramError;
use crate::outbound::Target;
use crate::types::ChatId;
use async_trait::async_trait;
use hermod_core::{AdapterError, Threads};
use hermod_model::{ChatTarget, ChatType, Source};
use serde::{Deserialize, Serialize};

/// The longest topic name, in UTF-16 code units.
const MAX_TOPIC_NAME: usize = 128;

/// Parameters of `createForumTopic`.
#[derive(Debug, Serialize)]
struct CreateForumTopic<'a> {
    chat_id: &'a ChatId,
    name: &'a str,
}

/// The `ForumTopic` it returns (the fields used).
#[derive(Debug, Deserialize)]
struct ForumTopic {
    message_thread_id: i64,
}

#[async_trait]
impl Threads for TelegramAdapter {
    async fn create_thread(&self, home: &ChatTarget, title: &str) -> Result<Source, AdapterError> {
        let target = Target::parse(home)?;
        let place = |chat_type, thread_id| Source {
            chat_type,
            thread_id,
            ..Source::dm(crate::PLATFORM, home.chat_id.clone())
        };
        // Private chats have positive ids; they have no topics.
        if matches!(target.chat_id, ChatId::Id(id) if id > 0) {
            return Ok(place(ChatType::Dm, None));
        }
        self.check_flood(&target)?;
        let name = topic_name(title);
        let params = CreateForumTopic {
            chat_id: &target.chat_id,
            name: &name,
        };
        match self
            .api()
            .call::<_, ForumTopic>("createForumTopic", &params)
            .await
        {
            Ok(topic) => Ok(place(
                ChatType::Group,
                Some(topic.message_thread_id.to_string()),
            )),
            // A group without topics: the conversation goes on in it.
            Err(TelegramError::BadRequest(text)) if text.contains("not a forum") => {
                Ok(place(ChatType::Group, home.thread_id.clone()))
            }
            Err(e) => Err(self.failed(&target, e)),
        }
    }
}

/// `title` within Telegram's 1–128 characters.
fn topic_name(title: &str) -> String {
    let title = title.trim();
    let mut name = String::new();
    for c in title.chars() {
        if name.encode_utf16().count() + c.len_utf16() > MAX_TOPIC_NAME {
            break;
        }
        name.push(c);
    }
    if name.is_empty() {
        "hermod".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_fit() {
        assert_eq!(topic_name("  trip "), "trip");
        assert_eq!(topic_name(""), "hermod");
        assert_eq!(topic_name(&"😀".repeat(100)).encode_utf16().count(), 128);
    }
}
