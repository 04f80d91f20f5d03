//! Matrix in the end-to-end harness (`hermod_testkit::harness`): the
//! shared Synapse behind a proxy of the test's own, a bot account and a
//! user, Alice, and the adapter's configuration pointing at the proxy.

use crate::proxy::Proxy;
use crate::synapse::{User, synapse};
use hermod_matrix::{MatrixAdapter, MatrixConfig};
use hermod_model::Secret;
use hermod_testkit::harness::{self, PlatformUnderTest};

pub use hermod_testkit::harness::within;

/// What a test talks to: the proxy, the bot's account and Alice's.
#[derive(Debug)]
pub struct Peer {
    pub proxy: Proxy,
    pub bot: User,
    pub alice: User,
}

/// Matrix, as the harness drives it.
#[derive(Debug)]
pub struct Matrix;

impl PlatformUnderTest for Matrix {
    type Fake = Peer;
    type Config = MatrixConfig;
    type Adapter = MatrixAdapter;

    /// Registers a bot and Alice; panics when there is no Synapse (tests
    /// check [`world`] first).
    async fn start_fake() -> Peer {
        let synapse = synapse().expect("a Synapse");
        let proxy = Proxy::start(&synapse.base_url).await;
        Peer {
            proxy,
            bot: synapse.user("bot").await,
            alice: synapse.user("alice").await,
        }
    }

    /// The proxy's URL, the bot's token, short timeouts and delays.
    fn config(world: &World) -> MatrixConfig {
        let mut config = MatrixConfig {
            homeserver: world.fake.proxy.base_url.clone(),
            access_token: Some(Secret::new(world.fake.bot.token.clone())),
            sync_timeout_secs: 5,
            request_timeout_secs: 10,
            max_reconnect_delay_secs: 1,
            ..MatrixConfig::default()
        };
        config.set_media_dir(world.media_dir());
        config
    }

    fn adapter(world: &World, config: MatrixConfig) -> MatrixAdapter {
        MatrixAdapter::new(config, world.store.clone()).unwrap()
    }
}

pub type World = harness::World<Matrix>;

/// A new world on the shared Synapse; `None` when the tests skip.
pub async fn world() -> Option<World> {
    synapse()?;
    Some(World::new().await)
}

impl Peer {
    /// A room of Alice's that the bot joined: two members, so a direct
    /// chat. (Invites are tested on their own: the adapter answers them.)
    pub async fn dm(&self) -> String {
        let room = self.alice.open_room().await;
        self.bot.join(&room).await;
        room
    }

    /// The bot's messages in `room`, once it shows `n` finished ones (no
    /// streaming cursor left).
    pub async fn replies(&self, room: &str, n: usize) -> Vec<String> {
        self.alice
            .wait_for(room, &self.bot.user_id, finished(n))
            .await
    }
}

/// At least `n` messages, none of them still streaming.
pub fn finished(n: usize) -> impl Fn(&[String]) -> bool {
    move |texts: &[String]| texts.len() >= n && !texts.iter().any(|t| t.ends_with(CURSOR))
}

/// The cursor core shows at the end of a streaming preview.
const CURSOR: &str = "\u{2589}";

impl Peer {}
