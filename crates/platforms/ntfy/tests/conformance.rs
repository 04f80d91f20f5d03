//! The shared adapter conformance suite, run against the ntfy adapter and
//! the fake ntfy server (with access control, so the token is a secret
//! the suite looks for).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use async_trait::async_trait;
use hermod_model::Secret;
use hermod_ntfy::{NtfyAdapter, NtfyConfig};
use hermod_store::SqliteStore;
use hermod_testkit::conformance::{Peer, Subject, assert_debug_hides_secrets};
use hermod_testkit::ntfy::FakeNtfy;
use hermod_testkit::ntfy::Fault;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const TOPIC: &str = "conformance_topic";
const TOKEN: &str = "tk_conformance0secret0token";

/// The ntfy side of the suite: a user publishing to the topic.
#[derive(Debug)]
struct NtfyPeer {
    fake: FakeNtfy,
}

#[async_trait]
impl Peer for NtfyPeer {
    async fn user_dm(&self, text: &str) -> String {
        self.fake.publish(TOPIC, text);
        TOPIC.to_owned()
    }

    async fn rate_limit_next_call(&self, retry_after: Duration) {
        let secs = hermod_http::whole_seconds(retry_after).max(1);
        self.fake.fail_next(
            "publish",
            Fault::RateLimited {
                retry_after: Some(secs),
            },
        );
    }

    async fn push_unknown_event(&self) {
        self.fake.push_line(
            TOPIC,
            &json!({"id": "pollreq001", "time": 1, "event": "poll_request", "topic": TOPIC}),
        );
        self.fake.push_line(
            TOPIC,
            &json!({"id": "future0001", "time": 1, "event": "hermod_future_kind", "topic": TOPIC}),
        );
    }

    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.to_owned()]
    }

    async fn messages(&self, chat_id: &str) -> Vec<String> {
        self.fake
            .published(chat_id)
            .into_iter()
            .map(|m| m.message)
            .collect()
    }

    async fn wait_until_receiving(&self) {
        self.fake.wait_for_subscriptions(1).await;
    }
}

fn config(fake: &FakeNtfy) -> NtfyConfig {
    NtfyConfig {
        server_url: fake.base_url(),
        topic: Some(TOPIC.into()),
        token: Some(Secret::new(TOKEN)),
        request_timeout_secs: 5,
        ..NtfyConfig::default()
    }
}

async fn subject() -> Subject {
    let fake = FakeNtfy::builder().with_token(TOKEN).start().await;
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let adapter = NtfyAdapter::new(config(&fake), store).unwrap();
    Subject {
        adapter: Arc::new(adapter),
        peer: Arc::new(NtfyPeer { fake }),
    }
}

hermod_testkit::adapter_conformance_tests!(subject());

#[tokio::test]
async fn the_adapter_and_its_config_hide_the_token() {
    let fake = FakeNtfy::builder().with_token(TOKEN).start().await;
    let config = config(&fake);
    let secrets = vec![TOKEN.to_owned()];
    assert_debug_hides_secrets(&config, &secrets);
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let adapter = NtfyAdapter::new(config, store).unwrap();
    assert_debug_hides_secrets(&adapter, &secrets);
}
