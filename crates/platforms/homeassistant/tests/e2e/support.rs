//! Home Assistant in the end-to-end harness (`hermod_testkit::harness`):
//! the fake, the adapter's configuration pointing at it, and helpers that
//! read what the fake shows.

use crate::fake::{FakeHass, Notification, TOKEN};
use hermod_homeassistant::{HomeAssistantAdapter, HomeAssistantConfig};
use hermod_model::Secret;
use hermod_testkit::harness::{self, PlatformUnderTest};

pub use hermod_testkit::harness::within;

/// Home Assistant, as the harness drives it.
#[derive(Debug)]
pub struct Hass;

impl PlatformUnderTest for Hass {
    type Fake = FakeHass;
    type Config = HomeAssistantConfig;
    type Adapter = HomeAssistantAdapter;

    async fn start_fake() -> FakeHass {
        FakeHass::start().await
    }

    /// The fake's URL; sensors and binary sensors watched, one sensor
    /// ignored; no cooldown; short timeouts and reconnect delays.
    fn config(world: &World) -> HomeAssistantConfig {
        HomeAssistantConfig {
            url: world.fake.base_url(),
            token: Some(Secret::new(TOKEN)),
            watch_domains: vec!["sensor".into(), "binary_sensor".into()],
            ignore_entities: vec!["sensor.ignored".into()],
            cooldown_seconds: 0,
            request_timeout_secs: 5,
            max_reconnect_delay_secs: 1,
            ..HomeAssistantConfig::default()
        }
    }

    fn adapter(_world: &World, config: HomeAssistantConfig) -> HomeAssistantAdapter {
        HomeAssistantAdapter::new(config).unwrap()
    }
}

pub type World = harness::World<Hass>;

/// Waits until at least `n` notifications exist.
pub async fn notifications(world: &World, n: usize) -> Vec<Notification> {
    within(
        "the bot's notifications",
        world.fake.wait_for_notifications(n),
    )
    .await
}

/// Waits until the adapter is subscribed (`n` connections so far).
pub async fn subscribed(world: &World, n: usize) {
    within("the subscriptions", world.fake.wait_for_subscriptions(n)).await;
}

/// The messages of `notifications`.
pub fn texts(notifications: &[Notification]) -> Vec<String> {
    notifications.iter().map(|n| n.message.clone()).collect()
}
