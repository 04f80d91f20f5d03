//! Slack in the end-to-end harness (`hermod_testkit::harness`): the fake
//! Slack, the adapter's configurations pointing at it (Socket Mode and the
//! Events API), and helpers that read what the fake shows.

use hermod_adapter_kit::WebhookConfig;
use hermod_model::Secret;
use hermod_slack::{SlackAdapter, SlackConfig};
use hermod_testkit::FakeSlack;
use hermod_testkit::harness::{self, PlatformUnderTest};
use hermod_testkit::slack::BotMessage;

pub use hermod_testkit::harness::{allow_all, within};

/// Slack, as the harness drives it.
#[derive(Debug)]
pub struct Slack;

impl PlatformUnderTest for Slack {
    type Fake = FakeSlack;
    type Config = SlackConfig;
    type Adapter = SlackAdapter;

    async fn start_fake() -> FakeSlack {
        FakeSlack::start().await
    }

    /// Socket Mode against the fake, media under the home.
    fn config(world: &World) -> SlackConfig {
        let fake = world.fake.config();
        let mut config = SlackConfig {
            bot_token: Some(Secret::new(&fake.bot_token)),
            app_token: Some(Secret::new(&fake.app_token)),
            api_base_url: world.fake.api_base_url(),
            request_timeout_secs: 5,
            max_reconnect_delay_secs: 2,
            ..SlackConfig::default()
        };
        config.set_media_dir(world.media_dir());
        config
    }

    fn adapter(world: &World, config: SlackConfig) -> SlackAdapter {
        SlackAdapter::new(config, world.store.clone()).unwrap()
    }
}

pub type World = harness::World<Slack>;
pub type Running = harness::Running<SlackAdapter>;

/// The Events API: no app token, the signing secret, a listener on a free
/// local port.
pub fn events_config(world: &World) -> SlackConfig {
    SlackConfig {
        app_token: None,
        signing_secret: Some(Secret::new(&world.fake.config().signing_secret)),
        webhooks: WebhookConfig {
            host: Some("127.0.0.1".into()),
            port: Some(0),
            ..WebhookConfig::default()
        },
        ..world.config()
    }
}

/// Every secret of the app, for checks that none is shown.
pub fn secrets(world: &World) -> Vec<String> {
    let fake = world.fake.config();
    vec![
        fake.bot_token.clone(),
        fake.app_token.clone(),
        fake.signing_secret.clone(),
    ]
}

/// Waits until `channel` has at least `n` bot messages and none still
/// shows the streaming cursor.
pub async fn settled(fake: &FakeSlack, channel: &str, n: usize) -> Vec<BotMessage> {
    let finished = harness::finished(n, BotMessage::current_text);
    within("the replies to finish", fake.wait_for(channel, finished)).await
}

/// The text each message shows now.
pub fn texts(messages: &[BotMessage]) -> Vec<String> {
    harness::texts(messages, BotMessage::current_text)
}
