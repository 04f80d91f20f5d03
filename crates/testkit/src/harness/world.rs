//! [`World`]: a platform's fake beside a [`TestHome`], and
//! [`PlatformUnderTest`], what a platform tells the harness about itself.

use super::allow_all;
use super::home::TestHome;
use super::running::{Direct, Running};
use crate::ScriptedAgent;
use hermod_agent::Agent;
use hermod_core::{Adapter, GatewayConfig, MediaReader};
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

/// A platform as its end-to-end tests drive it: its fake, its
/// configuration pointing at that fake, and its adapter. Implemented once
/// per platform in its tests' support module; everything else about
/// starting gateways is [`World`]'s.
pub trait PlatformUnderTest: Sized + 'static {
    /// The fake of the platform's service (from this kit).
    type Fake;
    /// The adapter's configuration (its `platforms.<name>` section).
    type Config;
    /// The adapter, cloned for the gateway and for the test.
    type Adapter: Adapter + Clone;

    /// Starts a fake with its default settings.
    fn start_fake() -> impl Future<Output = Self::Fake>;

    /// The adapter's configuration against `world`'s fake, with short
    /// timeouts and reconnect delays, and media under `world`'s home.
    fn config(world: &World<Self>) -> Self::Config;

    /// Builds the adapter from `config` (on `world`'s store, where the
    /// adapter keeps state in it).
    ///
    /// # Panics
    /// When the adapter cannot be built.
    fn adapter(world: &World<Self>, config: Self::Config) -> Self::Adapter;
}

/// A fake of platform `P` and a home that outlive the gateways started on
/// them, so a test can stop one gateway and start another on the same
/// state. It is the home too (`world.store`, `world.media_dir()`, ...).
pub struct World<P: PlatformUnderTest> {
    /// The platform's side of every test.
    pub fake: P::Fake,
    home: TestHome,
}

impl<P: PlatformUnderTest> std::fmt::Debug for World<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

impl<P: PlatformUnderTest> Deref for World<P> {
    type Target = TestHome;

    fn deref(&self) -> &TestHome {
        &self.home
    }
}

impl<P: PlatformUnderTest> World<P> {
    /// A new home and a fake with its default settings.
    pub async fn new() -> Self {
        Self::on(P::start_fake().await)
    }

    /// A new home beside `fake` (a fake with other settings).
    pub fn on(fake: P::Fake) -> Self {
        Self {
            fake,
            home: TestHome::new(),
        }
    }

    /// The adapter's configuration for this world (see
    /// [`PlatformUnderTest::config`]).
    pub fn config(&self) -> P::Config {
        P::config(self)
    }

    /// The adapter built from `config`, to call on its own.
    pub fn adapter(&self, config: P::Config) -> P::Adapter {
        P::adapter(self, config)
    }

    /// Starts a gateway anyone may talk to, streaming on, with the
    /// adapter configured by [`World::config`].
    pub async fn start(&self, agent: impl Agent + 'static) -> Running<P::Adapter> {
        self.start_with(agent, allow_all(), self.config()).await
    }

    /// Starts a gateway like [`World::start`] whose files are read by
    /// `media`.
    pub async fn start_reading(
        &self,
        agent: impl Agent + 'static,
        media: impl MediaReader,
    ) -> Running<P::Adapter> {
        self.gateway(agent)
            .media(Arc::new(media))
            .start(self.adapter(self.config()))
            .await
    }

    /// Starts a gateway with core's settings `gateway` and the adapter
    /// configured by `config`.
    pub async fn start_with(
        &self,
        agent: impl Agent + 'static,
        gateway: GatewayConfig,
        config: P::Config,
    ) -> Running<P::Adapter> {
        let adapter = self.adapter(config);
        self.gateway(agent).config(gateway).start(adapter).await
    }

    /// The adapter configured by `config`, to call `run` on directly, with
    /// a context from a gateway anyone may talk to that is never run (its
    /// router takes submissions; an echo agent answers them).
    pub fn direct(&self, config: P::Config) -> Direct<P::Adapter> {
        let adapter = self.adapter(config);
        self.gateway(ScriptedAgent::echo()).direct(adapter)
    }
}
