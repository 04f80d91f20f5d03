//! What the fake's users are and what it records of the adapter's calls.

use super::{ACCOUNT, ACCOUNT_UUID};
use serde_json::{Value, json};

/// A user of the fake: a number, its uuid, a profile name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub number: Option<String>,
    pub uuid: String,
    pub name: String,
}

impl User {
    /// A user with `number`, a uuid made from it, and a name.
    pub fn number(number: &str) -> Self {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        let n = digits.parse::<u64>().unwrap_or(0) % 1_000_000_000_000;
        Self {
            number: Some(number.to_owned()),
            uuid: format!("00000000-0000-4000-8000-{n:012}"),
            name: format!("User {number}"),
        }
    }

    /// The id a send to this user names: the number, else the uuid.
    pub fn id(&self) -> &str {
        self.number.as_deref().unwrap_or(&self.uuid)
    }

    pub(super) fn source(&self) -> Value {
        json!({
            "source": self.id(),
            "sourceNumber": self.number,
            "sourceUuid": self.uuid,
            "sourceName": self.name,
            "sourceDevice": 1,
        })
    }
}

/// A mention in a group message: `length` UTF-16 units at `start` (the
/// text holds U+FFFC there) name the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub start: usize,
    pub length: usize,
    pub number: Option<String>,
    pub uuid: String,
}

impl Mention {
    /// A mention of the fake's own account at `start`.
    pub fn of_account(start: usize) -> Self {
        Self {
            start,
            length: 1,
            number: Some(ACCOUNT.into()),
            uuid: ACCOUNT_UUID.into(),
        }
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "name": self.number.as_deref().unwrap_or(&self.uuid),
            "number": self.number,
            "uuid": self.uuid,
            "start": self.start,
            "length": self.length,
        })
    }
}

/// A file the adapter sent, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentFile {
    pub content_type: Option<String>,
    pub filename: Option<String>,
    pub data: Vec<u8>,
}

/// A message the adapter sent with `send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The result's timestamp: the message's id.
    pub timestamp: u64,
    /// `recipient` values (numbers or uuids); empty for a group.
    pub recipients: Vec<String>,
    pub group_id: Option<String>,
    pub message: String,
    /// `start:length:STYLE`, as given.
    pub text_styles: Vec<String>,
    pub attachments: Vec<SentFile>,
    pub quote_timestamp: Option<u64>,
    pub quote_author: Option<String>,
    /// Remotely deleted since.
    pub deleted: bool,
}

impl Sent {
    /// Where it went: `group.<id>`-free — the group id or the first recipient.
    pub fn chat(&self) -> String {
        match &self.group_id {
            Some(group) => group.clone(),
            None => self.recipients.first().cloned().unwrap_or_default(),
        }
    }
}

/// A reaction the adapter sent (or removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub recipients: Vec<String>,
    pub group_id: Option<String>,
    pub emoji: String,
    pub target_author: String,
    pub target_timestamp: u64,
    pub remove: bool,
}

/// A typing indicator the adapter sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typing {
    pub recipients: Vec<String>,
    pub group_id: Option<String>,
    pub stop: bool,
}

/// An events stream the adapter opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The `account` query parameter.
    pub account: Option<String>,
    /// The `Last-Event-ID` header.
    pub last_event_id: Option<String>,
}

/// A failure scripted for the next call of a JSON-RPC method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// signal-cli's rate-limit error (`-5`), with `retryAfterSeconds` in
    /// the results when given.
    RateLimited { retry_after: Option<u64> },
    /// An error object with this code and message.
    Error { code: i64, message: String },
    /// The HTTP answer itself is this status, with no body.
    Http(u16),
}
