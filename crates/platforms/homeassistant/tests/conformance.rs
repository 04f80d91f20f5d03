//! The shared adapter conformance suite, run against the Home Assistant
//! adapter and the fake Home Assistant of `fake/`.
//!
//! Home Assistant itself never answers 429; the rate-limit check runs
//! against a 429 with `Retry-After` as a reverse proxy in front of it
//! sends one, which the adapter honours like any platform's.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

#[path = "fake/mod.rs"]
mod fake;

use async_trait::async_trait;
use fake::{FakeHass, Fault, MESSAGE_EVENT, TOKEN};
use hermod_homeassistant::{EVENTS_CHAT, HomeAssistantAdapter, HomeAssistantConfig};
use hermod_model::Secret;
use hermod_testkit::conformance::{Peer, Subject, assert_debug_hides_secrets};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Home Assistant's side of the suite: an automation firing the message
/// event (whose text reaches the agent as it is).
#[derive(Debug)]
struct HassPeer {
    fake: FakeHass,
}

#[async_trait]
impl Peer for HassPeer {
    async fn user_dm(&self, text: &str) -> String {
        self.fake.fire(MESSAGE_EVENT, &json!({"text": text}));
        EVENTS_CHAT.to_owned()
    }

    async fn rate_limit_next_call(&self, retry_after: Duration) {
        self.fake
            .fail_next_call(Fault::RateLimited(retry_after.as_secs().max(1)));
    }

    async fn push_unknown_event(&self) {
        self.fake.push_frame(r#"{"type": "hermod_future_message"}"#);
        self.fake.push_event(&json!({
            "event_type": "call_service",
            "data": {"domain": "light", "service": "turn_on"},
            "origin": "LOCAL",
            "time_fired": "2025-04-30T12:00:00+00:00",
            "context": {"id": "01UNKNOWNEVENT", "parent_id": null, "user_id": null}
        }));
    }

    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.to_owned()]
    }

    /// Persistent notifications have no chat: all of them.
    async fn messages(&self, _chat_id: &str) -> Vec<String> {
        self.fake
            .notifications()
            .into_iter()
            .map(|n| n.message)
            .collect()
    }

    async fn wait_until_receiving(&self) {
        self.fake.wait_for_subscriptions(1).await;
    }
}

fn config(fake: &FakeHass) -> HomeAssistantConfig {
    HomeAssistantConfig {
        url: fake.base_url(),
        token: Some(Secret::new(TOKEN)),
        watch_domains: vec!["sensor".into()],
        cooldown_seconds: 0,
        request_timeout_secs: 5,
        ..HomeAssistantConfig::default()
    }
}

async fn subject() -> Subject {
    let fake = FakeHass::start().await;
    let adapter = HomeAssistantAdapter::new(config(&fake)).unwrap();
    Subject {
        adapter: Arc::new(adapter),
        peer: Arc::new(HassPeer { fake }),
    }
}

hermod_testkit::adapter_conformance_tests!(subject());

#[tokio::test]
async fn the_adapter_and_its_config_hide_the_token() {
    let fake = FakeHass::start().await;
    let config = config(&fake);
    let secrets = vec![TOKEN.to_owned()];
    assert_debug_hides_secrets(&config, &secrets);
    let adapter = HomeAssistantAdapter::new(config).unwrap();
    assert_debug_hides_secrets(&adapter, &secrets);
}
