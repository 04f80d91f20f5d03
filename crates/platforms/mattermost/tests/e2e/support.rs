//! Mattermost in the end-to-end harness (`hermod_testkit::harness`): the
//! fake server, the adapter's configuration pointing at it, and helpers
//! that read what the fake shows.

use hermod_mattermost::{MattermostAdapter, MattermostConfig};
use hermod_model::Secret;
use hermod_testkit::harness::{self, PlatformUnderTest};
use hermod_testkit::mattermost::{FakeMattermost, Post};

pub use hermod_testkit::harness::within;

/// Mattermost, as the harness drives it.
#[derive(Debug)]
pub struct Mattermost;

impl PlatformUnderTest for Mattermost {
    type Fake = FakeMattermost;
    type Config = MattermostConfig;
    type Adapter = MattermostAdapter;

    async fn start_fake() -> FakeMattermost {
        FakeMattermost::start().await
    }

    /// The fake's URL and token, short timeouts and reconnect delays,
    /// media under the home.
    fn config(world: &World) -> MattermostConfig {
        let mut config = MattermostConfig {
            url: Some(world.fake.base_url()),
            token: Some(Secret::new(world.fake.token())),
            request_timeout_secs: 5,
            max_reconnect_delay_secs: 1,
            ..MattermostConfig::default()
        };
        config.set_media_dir(world.media_dir());
        config
    }

    fn adapter(world: &World, config: MattermostConfig) -> MattermostAdapter {
        MattermostAdapter::new(config, world.store.clone()).unwrap()
    }
}

pub type World = harness::World<Mattermost>;

/// A user and their direct channel with the bot.
pub fn alice(world: &World) -> (String, String) {
    let alice = world.fake.add_user("alice");
    let dm = world.fake.direct_channel(&alice.id);
    (alice.id, dm)
}

/// Waits until the websocket has authenticated `n` times.
pub async fn connected(world: &World, n: usize) {
    within("the websocket", world.fake.wait_for_connections(n)).await;
}

/// Waits until the bot has at least `n` posts in `channel`, none still
/// showing the streaming cursor.
pub async fn settled(world: &World, channel: &str, n: usize) -> Vec<Post> {
    let finished = harness::finished(n, |p: &Post| p.message.as_str());
    within(
        "the replies to finish",
        world.fake.wait_for(channel, finished),
    )
    .await
}

/// The messages of `posts`.
pub fn texts(posts: &[Post]) -> Vec<String> {
    posts.iter().map(|p| p.message.clone()).collect()
}
