//! Telegram in the end-to-end harness (`hermod_testkit::harness`): the
//! fake Bot API server, the adapter's configuration pointing at it, and
//! helpers that read what the fake shows.

use hermod_model::Secret;
use hermod_telegram::{TelegramAdapter, TelegramConfig};
use hermod_testkit::FakeTelegram;
use hermod_testkit::harness::{self, PlatformUnderTest};
use hermod_testkit::telegram::FakeMessage;

pub use hermod_testkit::harness::{allow_all, within, within_for};

/// Telegram, as the harness drives it.
#[derive(Debug)]
pub struct Telegram;

impl PlatformUnderTest for Telegram {
    type Fake = FakeTelegram;
    type Config = TelegramConfig;
    type Adapter = TelegramAdapter;

    async fn start_fake() -> FakeTelegram {
        FakeTelegram::start().await
    }

    /// The fake's URL and token, short long polls, media under the home.
    fn config(world: &World) -> TelegramConfig {
        let mut config = TelegramConfig {
            bot_token: Some(Secret::new(world.fake.token())),
            api_base_url: world.fake.base_url(),
            poll_timeout_secs: 1,
            request_timeout_secs: 5,
            max_reconnect_delay_secs: 2,
            ..TelegramConfig::default()
        };
        config.set_media_dir(world.media_dir());
        config
    }

    fn adapter(world: &World, config: TelegramConfig) -> TelegramAdapter {
        TelegramAdapter::new(config, world.store.clone()).unwrap()
    }
}

pub type World = harness::World<Telegram>;
pub type Running = harness::Running<TelegramAdapter>;

/// Waits until `chat_id` has at least `n` messages from the bot and none
/// still shows the streaming cursor (every reply finished).
pub async fn settled(fake: &FakeTelegram, chat_id: i64, n: usize) -> Vec<FakeMessage> {
    let finished = harness::finished(n, FakeMessage::current_text);
    within("the replies to finish", fake.wait_for(chat_id, finished)).await
}

/// Waits for a bot message in `chat` whose text satisfies `ok`.
pub async fn bot_says(
    world: &World,
    chat: i64,
    what: &str,
    ok: impl Fn(&str) -> bool,
) -> FakeMessage {
    let messages = within(
        what,
        world
            .fake
            .wait_for(chat, |m| m.iter().any(|m| ok(m.current_text()))),
    )
    .await;
    messages
        .into_iter()
        .find(|m| ok(m.current_text()))
        .expect("the message waited for")
}

/// The text each message shows now.
pub fn texts(messages: &[FakeMessage]) -> Vec<String> {
    harness::texts(messages, FakeMessage::current_text)
}

/// The pairing code in a bot message (`<code>XXXX</code>` in its HTML).
pub fn pairing_code(message: &FakeMessage) -> String {
    let raw = message.current_raw_text();
    let start = raw.find("<code>").unwrap() + "<code>".len();
    let end = start + raw[start..].find("</code>").unwrap();
    raw[start..end].to_owned()
}
