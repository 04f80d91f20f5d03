//! Discord in the end-to-end harness (`hermod_testkit::harness`): the
//! fake REST API and gateway websocket, the adapter's configuration
//! pointing at it, and helpers that read what the fake shows.

use hermod_discord::{DiscordAdapter, DiscordConfig};
use hermod_model::Secret;
use hermod_testkit::FakeDiscord;
use hermod_testkit::discord::SentMessage;
use hermod_testkit::harness::{self, PlatformUnderTest};

pub use hermod_testkit::harness::{allow_all, within};

/// Discord, as the harness drives it.
#[derive(Debug)]
pub struct Discord;

impl PlatformUnderTest for Discord {
    type Fake = FakeDiscord;
    type Config = DiscordConfig;
    type Adapter = DiscordAdapter;

    async fn start_fake() -> FakeDiscord {
        FakeDiscord::start().await
    }

    /// The fake's URL and token, short timeouts, media under the home.
    fn config(world: &World) -> DiscordConfig {
        let mut config = DiscordConfig {
            bot_token: Some(Secret::new(world.fake.token())),
            api_base_url: world.fake.api_base_url(),
            request_timeout_secs: 5,
            max_reconnect_delay_secs: 2,
            ..DiscordConfig::default()
        };
        config.set_media_dir(world.media_dir());
        config
    }

    fn adapter(_world: &World, config: DiscordConfig) -> DiscordAdapter {
        DiscordAdapter::new(config).unwrap()
    }
}

pub type World = harness::World<Discord>;

/// Waits until `channel` has at least `n` bot messages and none still
/// shows the streaming cursor.
pub async fn settled(fake: &FakeDiscord, channel: u64, n: usize) -> Vec<SentMessage> {
    let finished = harness::finished(n, SentMessage::current_content);
    within("the replies to finish", fake.wait_for(channel, finished)).await
}

/// The text each message shows now.
pub fn texts(messages: &[SentMessage]) -> Vec<String> {
    harness::texts(messages, SentMessage::current_content)
}
