//! The shared adapter conformance suite, run against the Telegram adapter
//! and the fake Bot API server.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_model::Secret;
use hermod_store::SqliteStore;
use hermod_telegram::{TelegramAdapter, TelegramConfig};
use hermod_testkit::FakeTelegram;
use hermod_testkit::conformance::{Subject, TelegramPeer, assert_debug_hides_secrets};
use std::sync::Arc;

fn config(fake: &FakeTelegram) -> TelegramConfig {
    TelegramConfig {
        bot_token: Some(Secret::new(fake.token())),
        api_base_url: fake.base_url(),
        poll_timeout_secs: 1,
        request_timeout_secs: 5,
        ..TelegramConfig::default()
    }
}

async fn subject() -> Subject {
    let fake = FakeTelegram::start().await;
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let adapter = TelegramAdapter::new(config(&fake), store).unwrap();
    Subject {
        adapter: Arc::new(adapter),
        peer: Arc::new(TelegramPeer::new(fake)),
    }
}

hermod_testkit::adapter_conformance_tests!(subject());

#[tokio::test]
async fn the_adapter_and_its_config_hide_the_token() {
    let fake = FakeTelegram::start().await;
    let config = config(&fake);
    let secrets = vec![fake.token(), "TEST-TOKEN".to_owned()];
    assert_debug_hides_secrets(&config, &secrets);
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let adapter = TelegramAdapter::new(config, store).unwrap();
    assert_debug_hides_secrets(&adapter, &secrets);
}
