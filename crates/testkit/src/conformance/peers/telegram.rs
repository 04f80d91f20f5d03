//! [`TelegramPeer`]: the suite's user on a [`FakeTelegram`].

use super::{arrivals, shown, whole_seconds};
use crate::conformance::Peer;
use crate::telegram::{FakeMessage, FakeTelegram, FakeUser, Fault};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

/// The Telegram side of the suite: a user (id 4242) writing to the bot of
/// a [`FakeTelegram`]. Works for polling adapters, and for webhook ones:
/// once a webhook is set, what the peer queues is delivered to it.
#[derive(Debug)]
pub struct TelegramPeer {
    fake: FakeTelegram,
    user: FakeUser,
    extra_secrets: Vec<String>,
}

impl TelegramPeer {
    pub fn new(fake: FakeTelegram) -> Self {
        let user = fake.user(4242, "Conformance");
        Self {
            fake,
            user,
            extra_secrets: Vec::new(),
        }
    }

    /// Another string that must stay hidden (the bot token and a webhook's
    /// secret token are checked already).
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.extra_secrets.push(secret.into());
        self
    }

    pub fn fake(&self) -> &FakeTelegram {
        &self.fake
    }

    pub fn user(&self) -> &FakeUser {
        &self.user
    }

    /// Hands queued updates to the webhook, when one is set.
    async fn deliver(&self) {
        if self.fake.webhook().is_some() {
            self.fake.deliver_pending_webhook().await;
        }
    }
}

/// A chat id as the fake records it: a JSON number or string.
fn chat_id_of(params: &Value) -> String {
    match &params["chat_id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[async_trait]
impl Peer for TelegramPeer {
    async fn user_dm(&self, text: &str) -> String {
        self.user.dm(text);
        self.deliver().await;
        self.user.id().to_string()
    }

    async fn rate_limit_next_call(&self, retry_after: Duration) {
        let retry_after = whole_seconds(retry_after);
        self.fake
            .fail_next("sendMessage", Fault::TooManyRequests { retry_after });
    }

    async fn push_unknown_event(&self) {
        self.fake.push_raw_update(json!({
            "poll": {
                "id": "5123456789012345678",
                "question": "Lunch?",
                "options": [
                    {"text": "Yes", "voter_count": 1},
                    {"text": "No", "voter_count": 0},
                ],
                "total_voter_count": 1,
                "is_closed": false,
                "is_anonymous": true,
                "type": "regular",
                "allows_multiple_answers": false,
            }
        }));
        // A kind newer than any adapter.
        self.fake
            .push_raw_update(json!({"hermod_future_kind": {"id": 7, "note": "from the future"}}));
        self.deliver().await;
    }

    fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![self.fake.token()];
        secrets.extend(self.fake.webhook().and_then(|(_, secret)| secret));
        secrets.extend(self.extra_secrets.iter().cloned());
        secrets
    }

    async fn messages(&self, chat_id: &str) -> Vec<String> {
        let Ok(chat_id) = chat_id.parse() else {
            return Vec::new();
        };
        let messages = self.fake.bot_messages(chat_id);
        shown(&messages, |m| m.deleted, FakeMessage::current_text)
    }

    async fn edit_arrivals(&self, chat_id: &str) -> Option<Vec<Instant>> {
        arrivals(
            self.fake.calls_of("editMessageText"),
            |call| chat_id_of(&call.params) == chat_id,
            |call| call.at,
        )
    }

    async fn wait_until_receiving(&self) {
        self.fake.wait_for_receiver().await;
    }
}
