//! The shared adapter conformance suite, run against the Discord adapter
//! and `FakeDiscord`, and the token kept out of `Debug` and logs.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_discord::{DiscordAdapter, DiscordConfig};
use hermod_model::Secret;
use hermod_testkit::FakeDiscord;
use hermod_testkit::conformance::{DiscordPeer, Subject, assert_debug_hides_secrets};
use std::sync::Arc;

fn config(fake: &FakeDiscord) -> DiscordConfig {
    DiscordConfig {
        bot_token: Some(Secret::new(fake.token())),
        api_base_url: fake.api_base_url(),
        request_timeout_secs: 5,
        ..DiscordConfig::default()
    }
}

async fn subject() -> Subject {
    let fake = FakeDiscord::start().await;
    let adapter = DiscordAdapter::new(config(&fake)).unwrap();
    Subject {
        adapter: Arc::new(adapter),
        peer: Arc::new(DiscordPeer::new(fake)),
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
