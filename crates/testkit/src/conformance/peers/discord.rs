//! [`DiscordPeer`]: the suite's user on a [`FakeDiscord`].

use super::{arrivals, shown};
use crate::conformance::Peer;
use crate::discord::{FakeDiscord, FakeUser, Fault, Route, SentMessage};
use async_trait::async_trait;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

/// The Discord side of the suite: a user writing DMs to the bot of a
/// [`FakeDiscord`], through its gateway websocket.
#[derive(Debug)]
pub struct DiscordPeer {
    fake: FakeDiscord,
    user: FakeUser,
}

impl DiscordPeer {
    pub fn new(fake: FakeDiscord) -> Self {
        let user = fake.user("conformance");
        Self { fake, user }
    }

    pub fn fake(&self) -> &FakeDiscord {
        &self.fake
    }
}

#[async_trait]
impl Peer for DiscordPeer {
    async fn user_dm(&self, text: &str) -> String {
        self.user.dm(text);
        self.user.dm_channel().to_string()
    }

    async fn rate_limit_next_call(&self, retry_after: Duration) {
        self.fake.fail_next(
            Route::CreateMessage,
            Fault::rate_limited(retry_after.as_secs_f64()),
        );
    }

    async fn push_unknown_event(&self) {
        self.fake.dispatch_raw(
            "HERMOD_FUTURE_EVENT",
            json!({"id": "7", "note": "from the future"}),
        );
        self.fake.dispatch_raw(
            "TYPING_START",
            json!({"channel_id": "1", "user_id": "2", "timestamp": 0}),
        );
    }

    fn secrets(&self) -> Vec<String> {
        vec![self.fake.token()]
    }

    async fn messages(&self, chat_id: &str) -> Vec<String> {
        let Ok(channel) = chat_id.parse() else {
            return Vec::new();
        };
        let messages = self.fake.bot_messages(channel);
        shown(&messages, |m| m.deleted, SentMessage::current_content)
    }

    async fn edit_arrivals(&self, chat_id: &str) -> Option<Vec<Instant>> {
        let prefix = format!("/channels/{chat_id}/");
        arrivals(
            self.fake.calls_of(Route::EditMessage),
            |call| call.path.starts_with(&prefix),
            |call| call.at,
        )
    }

    async fn wait_until_receiving(&self) {
        self.fake.wait_for_session().await;
    }
}
