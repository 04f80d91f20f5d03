//! `createForumTopic`, as the Bot API reference describes it: a topic in a
//! forum supergroup (1–128 characters of name; `icon_color` optional),
//! announced by its `forum_topic_created` service message, whose id is the
//! topic's `message_thread_id`; returned as a `ForumTopic`. A chat that is
//! not a forum is refused with Telegram's "the chat is not a forum".

use super::faults::ApiError;
use super::methods::chat;
use super::server::Params;
use super::state::{Shared, State};
use serde_json::{Value, json};

/// The icon colour Telegram picks when none is given (the first allowed).
const DEFAULT_ICON: i64 = 7_322_096;

pub(crate) fn create_forum_topic(
    shared: &Shared,
    s: &mut State,
    p: &Params,
) -> Result<Value, ApiError> {
    let chat_id = p.chat_id()?;
    let name = p.str("name").unwrap_or_default();
    let length = name.encode_utf16().count();
    if name.trim().is_empty() || length > 128 {
        return Err(ApiError::bad_request("TOPIC_NAME_INVALID"));
    }
    let icon_color = p.i64("icon_color")?.unwrap_or(DEFAULT_ICON);
    let date = shared.date();
    let bot = shared.bot.user_json();
    let chat = chat(s, chat_id)?;
    if !chat.is_forum() {
        return Err(ApiError::bad_request("the chat is not a forum"));
    }
    let thread = chat.next_message_id();
    let created = json!({
        "message_id": thread,
        "from": bot,
        "chat": chat.json,
        "date": date,
        "message_thread_id": thread,
        "is_topic_message": true,
        "forum_topic_created": {"name": name, "icon_color": icon_color},
    });
    chat.topics.insert(thread, created.clone());
    chat.messages.insert(thread, created);
    s.topics_created.push((chat_id, thread, name.clone()));
    Ok(json!({"message_thread_id": thread, "name": name, "icon_color": icon_color}))
}
