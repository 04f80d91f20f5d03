//! The fake's records — users, channels, posts, files, typing
//! indicators and calls — and their JSON as the API answers it.

use serde_json::{Value, json};
use tokio::time::Instant;

/// A user (or bot) account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub is_bot: bool,
}

impl User {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "username": self.username,
            "first_name": "",
            "last_name": "",
            "nickname": "",
            "email": format!("{}@example.com", self.username),
            "roles": "system_user",
            "locale": "en",
            "is_bot": self.is_bot,
            "create_at": 1_600_000_000_000_i64,
            "update_at": 1_600_000_000_000_i64,
            "delete_at": 0,
        })
    }
}

/// A channel: `D` direct, `G` group, `O` open, `P` private.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub display_name: String,
    pub team_id: String,
    pub members: Vec<String>,
}

impl Channel {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "create_at": 1_600_000_000_000_i64,
            "update_at": 1_600_000_000_000_i64,
            "delete_at": 0,
            "team_id": self.team_id,
            "type": self.kind,
            "display_name": self.display_name,
            "name": self.name,
            "header": "",
            "purpose": "",
            "creator_id": "",
        })
    }
}

/// A post, as the server keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub id: String,
    pub create_at: i64,
    pub update_at: i64,
    pub edit_at: i64,
    pub delete_at: i64,
    pub user_id: String,
    pub channel_id: String,
    pub root_id: String,
    pub message: String,
    /// `type`: empty for a user's post, `system_*` for the server's.
    pub kind: String,
    pub props: Value,
    pub file_ids: Vec<String>,
    pub pending_post_id: String,
}

impl Post {
    /// A new post (the server sets id and times).
    pub fn new(user_id: &str, channel_id: &str, message: &str) -> Self {
        Self {
            id: String::new(),
            create_at: 0,
            update_at: 0,
            edit_at: 0,
            delete_at: 0,
            user_id: user_id.to_owned(),
            channel_id: channel_id.to_owned(),
            root_id: String::new(),
            message: message.to_owned(),
            kind: String::new(),
            props: json!({}),
            file_ids: Vec::new(),
            pending_post_id: String::new(),
        }
    }

    /// The post's JSON, as the API answers it and events carry it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "create_at": self.create_at,
            "update_at": self.update_at,
            "edit_at": self.edit_at,
            "delete_at": self.delete_at,
            "is_pinned": false,
            "user_id": self.user_id,
            "channel_id": self.channel_id,
            "root_id": self.root_id,
            "original_id": "",
            "message": self.message,
            "type": self.kind,
            "props": self.props,
            "hashtags": "",
            "file_ids": self.file_ids,
            "pending_post_id": self.pending_post_id,
            "reply_count": 0,
            "metadata": {},
        })
    }
}

/// An uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub id: String,
    pub user_id: String,
    pub channel_id: String,
    /// The post it is attached to (empty until one is created with it).
    pub post_id: String,
    pub name: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

impl FileInfo {
    pub fn to_json(&self) -> Value {
        let extension = self
            .name
            .rsplit_once('.')
            .map(|(_, e)| e.to_lowercase())
            .unwrap_or_default();
        json!({
            "id": self.id,
            "user_id": self.user_id,
            "post_id": self.post_id,
            "channel_id": self.channel_id,
            "create_at": 1_700_000_000_000_i64,
            "update_at": 1_700_000_000_000_i64,
            "delete_at": 0,
            "name": self.name,
            "extension": extension,
            "size": self.bytes.len(),
            "mime_type": self.mime_type,
            "has_preview_image": false,
        })
    }
}

/// A typing indicator the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typing {
    pub user_id: String,
    pub channel_id: String,
    pub parent_id: String,
    /// `rest` or `websocket`.
    pub via: &'static str,
}

/// A REST call the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The route's name (`create_post`, `channel_posts`, ...).
    pub route: &'static str,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    /// When it arrived (tokio clock).
    pub at: Instant,
}
