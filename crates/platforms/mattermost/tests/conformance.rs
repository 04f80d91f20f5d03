//! The shared adapter conformance suite, run against the Mattermost
//! adapter and the fake Mattermost server.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use async_trait::async_trait;
use hermod_mattermost::{MattermostAdapter, MattermostConfig};
use hermod_model::Secret;
use hermod_store::SqliteStore;
use hermod_testkit::conformance::{Peer, Subject, assert_debug_hides_secrets};
use hermod_testkit::mattermost::{FakeMattermost, Fault};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const TOKEN: &str = "mmconformance0secret0token";

/// The Mattermost side of the suite: alice writing to the bot.
#[derive(Debug)]
struct MattermostPeer {
    fake: FakeMattermost,
    alice: String,
}

#[async_trait]
impl Peer for MattermostPeer {
    async fn user_dm(&self, text: &str) -> String {
        let dm = self.fake.direct_channel(&self.alice);
        self.fake.post(&self.alice, &dm, text);
        dm
    }

    async fn rate_limit_next_call(&self, retry_after: Duration) {
        let secs = hermod_http::whole_seconds(retry_after).max(1);
        self.fake
            .fail_next("create_post", Fault::RateLimited { reset_secs: secs });
    }

    async fn push_unknown_event(&self) {
        self.fake.push_event("hermod_future_kind", &json!({"x": 1}));
        self.fake
            .push_event("channel_viewed", &json!({"channel_id": "x"}));
    }

    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.to_owned()]
    }

    async fn messages(&self, chat_id: &str) -> Vec<String> {
        self.fake
            .bot_posts(chat_id)
            .into_iter()
            .map(|p| p.message)
            .collect()
    }

    async fn edit_arrivals(&self, _chat_id: &str) -> Option<Vec<Instant>> {
        Some(self.fake.edits().into_iter().map(|(_, at)| at).collect())
    }

    async fn wait_until_receiving(&self) {
        self.fake.wait_for_connections(1).await;
    }
}

fn config(fake: &FakeMattermost) -> MattermostConfig {
    MattermostConfig {
        url: Some(fake.base_url()),
        token: Some(Secret::new(TOKEN)),
        request_timeout_secs: 5,
        max_reconnect_delay_secs: 1,
        ..MattermostConfig::default()
    }
}

async fn subject() -> Subject {
    let fake = FakeMattermost::builder().token(TOKEN).start().await;
    let alice = fake.add_user("alice").id;
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let adapter = MattermostAdapter::new(config(&fake), store).unwrap();
    Subject {
        adapter: Arc::new(adapter),
        peer: Arc::new(MattermostPeer { fake, alice }),
    }
}

hermod_testkit::adapter_conformance_tests!(subject());

#[tokio::test]
async fn the_adapter_and_its_config_hide_the_token() {
    let fake = FakeMattermost::builder().token(TOKEN).start().await;
    let config = config(&fake);
    let secrets = vec![TOKEN.to_owned()];
    assert_debug_hides_secrets(&config, &secrets);
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let adapter = MattermostAdapter::new(config, store).unwrap();
    assert_debug_hides_secrets(&adapter, &secrets);
}
