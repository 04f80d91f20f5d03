//! [`SlackPeer`]: the suite's user on a [`FakeSlack`].

use super::{arrivals, shown, whole_seconds};
use crate::conformance::Peer;
use crate::slack::{BotMessage, FakeSlack, Fault, SlackUser};
use async_trait::async_trait;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

/// The Slack side of the suite: a user writing DMs to the bot of a
/// [`FakeSlack`], delivered over Socket Mode.
#[derive(Debug)]
pub struct SlackPeer {
    fake: FakeSlack,
    user: SlackUser,
}

impl SlackPeer {
    pub fn new(fake: FakeSlack) -> Self {
        let user = fake.user("conformance");
        Self { fake, user }
    }

    pub fn fake(&self) -> &FakeSlack {
        &self.fake
    }
}

#[async_trait]
impl Peer for SlackPeer {
    async fn user_dm(&self, text: &str) -> String {
        self.user.dm(text);
        self.user.dm_channel()
    }

    async fn rate_limit_next_call(&self, retry_after: Duration) {
        let retry_after = whole_seconds(retry_after);
        self.fake
            .fail_next("chat.postMessage", Fault::RateLimited { retry_after });
    }

    async fn push_unknown_event(&self) {
        self.fake.push_event(json!({
            "type": "reaction_added",
            "user": self.user.id(),
            "reaction": "thumbsup",
            "item": {"type": "message", "channel": self.user.dm_channel(), "ts": "1.2"},
            "event_ts": "1360782804.083113"
        }));
        // A kind newer than any adapter.
        self.fake
            .push_event(json!({"type": "hermod_future_kind", "note": "from the future"}));
    }

    fn secrets(&self) -> Vec<String> {
        let config = self.fake.config();
        vec![
            config.bot_token.clone(),
            config.app_token.clone(),
            config.signing_secret.clone(),
        ]
    }

    async fn messages(&self, chat_id: &str) -> Vec<String> {
        let messages = self.fake.bot_messages(chat_id);
        shown(&messages, |m| m.deleted, BotMessage::current_text)
    }

    async fn edit_arrivals(&self, chat_id: &str) -> Option<Vec<Instant>> {
        arrivals(
            self.fake.calls_of("chat.update"),
            |call| call.params["channel"] == chat_id,
            |call| call.at,
        )
    }

    async fn wait_until_receiving(&self) {
        self.fake.wait_for_connections(1).await;
    }
}
