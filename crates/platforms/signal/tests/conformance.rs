//! The shared adapter conformance suite, run against the Signal adapter
//! and the fake signal-cli daemon. signal-cli's HTTP daemon has no
//! credentials; the account's phone number is what must stay out of
//! `Debug` output and logs.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use async_trait::async_trait;
use hermod_signal::{SignalAdapter, SignalConfig};
use hermod_store::SqliteStore;
use hermod_testkit::conformance::{Peer, Subject, assert_debug_hides_secrets};
use hermod_testkit::signal::{FakeSignal, Fault};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const USER: &str = "+15550000002";

/// The Signal side of the suite: a user writing to the account.
#[derive(Debug)]
struct SignalPeer {
    fake: FakeSignal,
}

#[async_trait]
impl Peer for SignalPeer {
    async fn user_dm(&self, text: &str) -> String {
        self.fake.user_says(USER, text);
        USER.to_owned()
    }

    async fn rate_limit_next_call(&self, retry_after: Duration) {
        let secs = hermod_http::whole_seconds(retry_after).max(1);
        self.fake.fail_next(
            "send",
            Fault::RateLimited {
                retry_after: Some(secs),
            },
        );
    }

    async fn push_unknown_event(&self) {
        // An event kind signal-cli may add, and an envelope of a kind the
        // adapter does not read (a call).
        self.fake.push_raw("event:hermod-future\ndata:{}\n\n");
        self.fake.push_envelope(json!({
            "source": USER, "sourceNumber": USER, "sourceUuid": "u-2", "sourceName": "U",
            "sourceDevice": 1, "timestamp": 1,
            "callMessage": {"offerMessage": {"id": 1, "type": "AUDIO_CALL"}},
        }));
    }

    fn secrets(&self) -> Vec<String> {
        vec![self.fake.account()]
    }

    async fn messages(&self, chat_id: &str) -> Vec<String> {
        self.fake
            .sent_to(chat_id)
            .into_iter()
            .filter(|m| !m.deleted)
            .map(|m| m.message)
            .collect()
    }

    async fn wait_until_receiving(&self) {
        self.fake.wait_for_connections(1).await;
    }
}

fn config(fake: &FakeSignal) -> SignalConfig {
    SignalConfig {
        http_url: Some(fake.base_url()),
        account: Some(fake.account()),
        request_timeout_secs: 5,
        ..SignalConfig::default()
    }
}

async fn subject() -> Subject {
    let fake = FakeSignal::start().await;
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let adapter = SignalAdapter::new(config(&fake), store).unwrap();
    Subject {
        adapter: Arc::new(adapter),
        peer: Arc::new(SignalPeer { fake }),
    }
}

hermod_testkit::adapter_conformance_tests!(subject());

#[tokio::test]
async fn the_adapter_and_its_config_hide_the_accounts_number() {
    let fake = FakeSignal::start().await;
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    assert_debug_hides_secrets(&config(&fake), &[fake.account()]);
    let adapter = SignalAdapter::new(config(&fake), store).unwrap();
    assert_debug_hides_secrets(&adapter, &[fake.account()]);
}
