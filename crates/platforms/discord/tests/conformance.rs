//! The shared adapter conformance suite, run against the Discord adapter
//! and `FakeDiscord`, and the token kept out of `Debug` and logs.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use async_trait::async_trait;
use hermod_discord::{DiscordAdapter, DiscordConfig};
use hermod_model::Secret;
use hermod_testkit::FakeDiscord;
use hermod_testkit::conformance::{Peer, Subject, assert_debug_hides_secrets};
use hermod_testkit::discord::{FakeUser, Fault, Route};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

fn config(fake: &FakeDiscord) -> DiscordConfig {
    DiscordConfig {
        bot_token: Some(Secret::new(fake.token())),
        api_base_url: fake.api_base_url(),
        request_timeout_secs: 5,
        ..DiscordConfig::default()
    }
}

/// The Discord side of the suite: a user writing DMs to the bot.
struct DiscordPeer {
    fake: FakeDiscord,
    user: FakeUser,
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
        self.fake
            .bot_messages(channel)
            .iter()
            .filter(|m| !m.deleted)
            .map(|m| m.current_content().to_owned())
            .collect()
    }

    async fn edit_arrivals(&self, chat_id: &str) -> Option<Vec<Instant>> {
        Some(
            self.fake
                .calls_of(Route::EditMessage)
                .into_iter()
                .filter(|c| c.path.starts_with(&format!("/channels/{chat_id}/")))
                .map(|c| c.at)
                .collect(),
        )
    }

    async fn wait_until_receiving(&self) {
        self.fake.wait_for_session().await;
    }
}

async fn subject() -> Subject {
    let fake = FakeDiscord::start().await;
    let adapter = DiscordAdapter::new(config(&fake)).unwrap();
    let user = fake.user("conformance");
    Subject {
        adapter: Arc::new(adapter),
        peer: Arc::new(DiscordPeer { fake, user }),
    }
}

hermod_testkit::adapter_conformance_tests!(subject());

#[tokio::test]
async fn the_adapter_and_its_config_hide_the_token() {
    let fake = FakeDiscord::start().await;
    let config = config(&fake);
    let secrets = vec![fake.token()];
    assert_debug_hides_secrets(&config, &secrets);
    let adapter = DiscordAdapter::new(config).unwrap();
    assert_debug_hides_secrets(&adapter, &secrets);
}
