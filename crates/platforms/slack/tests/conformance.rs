//! The shared adapter conformance suite, run against the Slack adapter
//! (Socket Mode) and the fake Slack.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_model::Secret;
use hermod_slack::{SlackAdapter, SlackConfig};
use hermod_store::{SqliteStore, Store};
use hermod_testkit::FakeSlack;
use hermod_testkit::conformance::{SlackPeer, Subject, assert_debug_hides_secrets};
use std::sync::Arc;

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

fn store() -> Arc<dyn Store> {
    Arc::new(SqliteStore::open_in_memory().unwrap())
}

async fn subject() -> Subject {
    let fake = FakeSlack::start().await;
    let adapter = SlackAdapter::new(config(&fake), store()).unwrap();
    Subject {
        adapter: Arc::new(adapter),
        peer: Arc::new(SlackPeer::new(fake)),
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
    let adapter = SlackAdapter::new(config, store()).unwrap();
    assert_debug_hides_secrets(&adapter, &secrets);
}
