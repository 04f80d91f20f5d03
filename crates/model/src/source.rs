//! Where a message came from: platform, chat, user, thread.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// A platform's stable name as used in session keys, config and the store
/// (`telegram`, `api_server`, ...). Core treats it as opaque data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlatformId(Cow<'static, str>);

impl PlatformId {
    pub const fn from_static(name: &'static str) -> Self {
        Self(Cow::Borrowed(name))
    }

    pub fn new(name: impl Into<String>) -> Self {
        Self(Cow::Owned(name.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PlatformId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kind of conversation a message belongs to. The names are the ones
/// that appear in session keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatType {
    Dm,
    Group,
    Channel,
    Thread,
    Forum,
    Webhook,
}

impl ChatType {
    pub fn as_str(&self) -> &'static str {
        match self {
            ChatType::Dm => "dm",
            ChatType::Group => "group",
            ChatType::Channel => "channel",
            ChatType::Thread => "thread",
            ChatType::Forum => "forum",
            ChatType::Webhook => "webhook",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "dm" | "direct" | "private" => ChatType::Dm,
            "group" | "supergroup" => ChatType::Group,
            "channel" => ChatType::Channel,
            "thread" => ChatType::Thread,
            "forum" => ChatType::Forum,
            "webhook" => ChatType::Webhook,
            _ => return None,
        })
    }

    pub fn is_dm(&self) -> bool {
        matches!(self, ChatType::Dm)
    }
}

/// Who sent a message and where. Built by adapters; read by the router for
/// session keys and authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub platform: PlatformId,
    pub chat_type: ChatType,
    /// The chat (conversation, room, channel) id on the platform.
    pub chat_id: Option<String>,
    pub chat_name: Option<String>,
    pub user_id: Option<String>,
    /// A second, more stable user id some platforms give (it wins in session keys).
    pub user_id_alt: Option<String>,
    pub user_name: Option<String>,
    pub thread_id: Option<String>,
    pub is_bot: bool,
}

impl Source {
    /// A direct conversation with one user.
    pub fn dm(platform: PlatformId, chat_id: impl Into<String>) -> Self {
        Self {
            platform,
            chat_type: ChatType::Dm,
            chat_id: Some(chat_id.into()),
            chat_name: None,
            user_id: None,
            user_id_alt: None,
            user_name: None,
            thread_id: None,
            is_bot: false,
        }
    }

    /// The id that identifies the sender in keys and allowlists.
    pub fn participant(&self) -> Option<&str> {
        self.user_id_alt.as_deref().or(self.user_id.as_deref())
    }
}
