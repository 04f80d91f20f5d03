//! Email in the end-to-end harness (`hermod_testkit::harness`): real
//! Dovecot and aiosmtpd ([`servers`]), the adapter's configuration
//! pointing at them, and the mail the test sends and reads ([`mailbox`]).

pub mod mailbox;
pub mod servers;

use hermod_email::{EmailAdapter, EmailConfig, Security};
use hermod_testkit::harness::{self, PlatformUnderTest};

pub use hermod_testkit::harness::within;
pub use mailbox::{Mail, SentMail};
pub use servers::{BOT, PASSWORD, Servers};

/// A correspondent every test may use.
pub const JANE: &str = "jane@example.org";

/// Email, as the harness drives it.
#[derive(Debug)]
pub struct Email;

impl PlatformUnderTest for Email {
    type Fake = Servers;
    type Config = EmailConfig;
    type Adapter = EmailAdapter;

    async fn start_fake() -> Servers {
        Servers::start()
            .await
            .expect("start the world with support::world(), which skips without servers")
    }

    /// Plain connections to both servers, short timeouts and delays.
    fn config(world: &World) -> EmailConfig {
        let mut config = EmailConfig {
            address: Some(BOT.into()),
            password: Some(hermod_model::Secret::new(PASSWORD)),
            imap_host: Some("127.0.0.1".into()),
            imap_port: world.fake.imap_port,
            imap_security: Security::None,
            smtp_host: Some("127.0.0.1".into()),
            smtp_port: world.fake.smtp_port,
            smtp_security: Security::None,
            poll_interval_secs: 1,
            timeout_secs: 5,
            max_reconnect_delay_secs: 1,
            ..EmailConfig::default()
        };
        config.set_media_dir(world.media_dir());
        config
    }

    fn adapter(world: &World, config: EmailConfig) -> EmailAdapter {
        EmailAdapter::new(config, world.store.clone()).unwrap()
    }
}

pub type World = harness::World<Email>;

/// A world on new servers, or `None` (the test returns) when they are
/// not installed outside CI.
pub async fn world() -> Option<World> {
    Some(World::on(Servers::start().await?))
}

/// Waits until `n` mails were sent to `to`.
pub async fn replies(world: &World, to: &str, n: usize) -> Vec<SentMail> {
    let wait = async {
        loop {
            let sent = world.fake.sent_to(to);
            if sent.len() >= n {
                return sent;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    };
    within(&format!("{n} replies to {to}"), wait).await
}

/// Waits until the adapter is reported degraded; returns the reason.
pub async fn degraded(running: &harness::Running<EmailAdapter>) -> String {
    harness::wait_for_state(
        &running.health,
        "email",
        "email to be degraded",
        |state| match state {
            hermod_core::ComponentState::Degraded { reason } => Some(reason.clone()),
            _ => None,
        },
    )
    .await
}
