//! The shared adapter conformance suite, run against the Slack adapter
//! (Socket Mode) and the fake Slack.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use async_trait::async_trait;
use hermod_model::Secret;
use hermod_slack::{SlackAdapter, SlackConfig};
use hermod_testkit::FakeSlack;
use hermod_testkit::conformance::{Peer, Subject, assert_debug_hides_secrets};
use hermod_testkit::slack::{Fault, SlackUser};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The Slack side: a user writing DMs to the bot of a [`FakeSlack`].
struct SlackPeer {
    fake: FakeSlack,
    user: SlackUser,
}

#[async_trait]
impl Peer for SlackPeer {
    async fn user_dm(&self, text: &str) -> String {
        self.user.dm(text);
        self.user.dm_channel()
    }

    async fn rate_limit_next_call(&self, retry_after: Duration) {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        self.fake.fail_next(
            "chat.postMessage",
            Fault::RateLimited {
                retry_after: secs.max(1),
            },
        );
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
        self.fake
            .bot_messages(chat_id)
            .iter()
            .filter(|m| !m.deleted)
            .map(|m| m.current_text().to_owned())
            .collect()
    }

    async fn edit_arrivals(&self, chat_id: &str) -> Option<Vec<Instant>> {
        let arrivals = self
            .fake
            .calls_of("chat.update")
            .into_iter()
            .filter(|call| call.params["channel"] == chat_id)
            .map(|call| call.at)
            .collect();
        Some(arrivals)
    }

    async fn wait_until_receiving(&self) {
        self.fake.wait_for_connections(1).await;
    }
}

fn config(fake: &FakeSlack) -> SlackConfig {
    let c = fake.config();
    SlackConfig {
        bot_token: Some(Secret::new(&c.bot_token)),
        app_token: Some(Secret::new(&c.app_token)),
        signing_secret: Some(Secret::new(&c.signing_secret)),
        api_base_url: fake.api_base_url(),
        request_timeout_secs: 5,
        ..SlackConfig::default()
    }
}

async fn subject() -> Subject {
    let fake = FakeSlack::start().await;
    let adapter = SlackAdapter::new(config(&fake)).unwrap();
    let user = fake.user("conformance");
    Subject {
        adapter: Arc::new(adapter),
        peer: Arc::new(SlackPeer { fake, user }),
    }
}

hermod_testkit::adapter_conformance_tests!(subject());

#[tokio::test]
async fn the_adapter_and_its_config_hide_the_secrets() {
    let fake = FakeSlack::start().await;
    let config = config(&fake);
    let c = fake.config();
    let secrets = vec![
        c.bot_token.clone(),
        c.app_token.clone(),
        c.signing_secret.clone(),
    ];
    assert_debug_hides_secrets(&config, &secrets);
    let adapter = SlackAdapter::new(config).unwrap();
    assert_debug_hides_secrets(&adapter, &secrets);
}
