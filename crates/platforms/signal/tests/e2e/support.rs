//! Signal in the end-to-end harness (`hermod_testkit::harness`): the fake
//! daemon, the adapter's configuration pointing at it, and helpers that
//! read what the fake recorded.

use hermod_signal::{SignalAdapter, SignalConfig};
use hermod_testkit::harness::{self, PlatformUnderTest};
use hermod_testkit::signal::{FakeSignal, Sent};

pub use hermod_testkit::harness::within;

/// The user most tests talk as.
pub const USER: &str = "+15550000002";

/// Signal, as the harness drives it.
#[derive(Debug)]
pub struct Signal;

impl PlatformUnderTest for Signal {
    type Fake = FakeSignal;
    type Config = SignalConfig;
    type Adapter = SignalAdapter;

    async fn start_fake() -> FakeSignal {
        FakeSignal::start().await
    }

    /// The fake's URL, short timeouts and reconnect delays.
    fn config(world: &World) -> SignalConfig {
        SignalConfig {
            http_url: Some(world.fake.base_url()),
            account: Some(world.fake.account()),
            request_timeout_secs: 5,
            max_reconnect_delay_secs: 1,
            media_dir: Some(world.media_dir()),
            ..SignalConfig::default()
        }
    }

    fn adapter(world: &World, config: SignalConfig) -> SignalAdapter {
        SignalAdapter::new(config, world.store.clone()).unwrap()
    }
}

pub type World = harness::World<Signal>;

/// Waits until the bot sent at least `n` messages.
pub async fn replies(world: &World, n: usize) -> Vec<Sent> {
    within("the bot's replies", world.fake.wait_for_sent(n)).await
}

/// Waits until the event stream was opened `n` times.
pub async fn listening(world: &World, n: usize) {
    within("the event stream", world.fake.wait_for_connections(n)).await;
}

/// The texts of `messages`.
pub fn texts(messages: &[Sent]) -> Vec<String> {
    messages.iter().map(|m| m.message.clone()).collect()
}
