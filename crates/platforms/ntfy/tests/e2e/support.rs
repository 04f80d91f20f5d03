//! ntfy in the end-to-end harness (`hermod_testkit::harness`): the fake
//! server, the adapter's configuration pointing at it, and helpers that
//! read what the fake shows.

use hermod_ntfy::{NtfyAdapter, NtfyConfig};
use hermod_testkit::harness::{self, PlatformUnderTest};
use hermod_testkit::ntfy::FakeNtfy;
use hermod_testkit::ntfy::NtfyMessage;

pub use hermod_testkit::harness::within;

/// The topic every test talks on.
pub const TOPIC: &str = "hermod_e2e";

/// ntfy, as the harness drives it.
#[derive(Debug)]
pub struct Ntfy;

impl PlatformUnderTest for Ntfy {
    type Fake = FakeNtfy;
    type Config = NtfyConfig;
    type Adapter = NtfyAdapter;

    async fn start_fake() -> FakeNtfy {
        FakeNtfy::start().await
    }

    /// The fake's URL, short timeouts and reconnect delays.
    fn config(world: &World) -> NtfyConfig {
        NtfyConfig {
            server_url: world.fake.base_url(),
            topic: Some(TOPIC.into()),
            token: world.fake.token().map(hermod_model::Secret::new),
            request_timeout_secs: 5,
            max_reconnect_delay_secs: 1,
            media_dir: Some(world.media_dir()),
            ..NtfyConfig::default()
        }
    }

    fn adapter(world: &World, config: NtfyConfig) -> NtfyAdapter {
        NtfyAdapter::new(config, world.store.clone()).unwrap()
    }
}

pub type World = harness::World<Ntfy>;

/// Waits until the bot published at least `n` messages to the topic.
pub async fn replies(world: &World, n: usize) -> Vec<NtfyMessage> {
    within("the bot's replies", world.fake.wait_for_published(TOPIC, n)).await
}

/// The texts of `messages`.
pub fn texts(messages: &[NtfyMessage]) -> Vec<String> {
    messages.iter().map(|m| m.message.clone()).collect()
}
