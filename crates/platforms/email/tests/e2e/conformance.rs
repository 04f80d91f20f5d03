//! The shared adapter conformance suite against real Dovecot and
//! aiosmtpd. Each check is called on its own (not through
//! `adapter_conformance_tests!`) so that it can be skipped where the
//! servers are not installed; all seven apply. The rate-limit check is
//! met by aiosmtpd answering DATA with `421 4.7.0 Try again in N
//! seconds`, which the adapter surfaces as `RateLimited`.

use crate::support::{Mail, PASSWORD, Servers};
use async_trait::async_trait;
use hermod_email::{EmailAdapter, EmailConfig, Security};
use hermod_store::SqliteStore;
use hermod_testkit::conformance::{self, Peer, Subject};
use std::sync::Arc;
use std::time::Duration;

/// The correspondent of the suite.
const USER: &str = "user@example.org";

/// The mail side of the suite: a person writing to the bot.
#[derive(Debug)]
struct MailPeer {
    servers: Servers,
}

#[async_trait]
impl Peer for MailPeer {
    async fn user_dm(&self, text: &str) -> String {
        // A reply's subject, so the text reaches the agent as it is.
        self.servers
            .deliver(&Mail::new(USER, "Re: conformance", text))
            .await;
        USER.to_owned()
    }

    async fn rate_limit_next_call(&self, retry_after: Duration) {
        self.servers.fail_next_send(&format!(
            "421 4.7.0 Try again in {} seconds",
            retry_after.as_secs().max(1)
        ));
    }

    /// Mail the adapter must leave alone: a bounce and an auto-reply.
    async fn push_unknown_event(&self) {
        let bounce = Mail::new(
            "MAILER-DAEMON@example.org",
            "Undelivered Mail Returned to Sender",
            "bounced",
        )
        .header("Auto-Submitted: auto-replied");
        let away = Mail::new(USER, "Re: conformance", "I am on holiday").header("X-Autoreply: yes");
        self.servers.deliver(&bounce).await;
        self.servers.deliver(&away).await;
    }

    fn secrets(&self) -> Vec<String> {
        vec![PASSWORD.to_owned()]
    }

    async fn messages(&self, chat_id: &str) -> Vec<String> {
        self.servers
            .sent_to(chat_id)
            .into_iter()
            .map(|m| m.text)
            .collect()
    }
}

async fn subject(servers: Servers) -> Subject {
    let config = EmailConfig {
        address: Some(crate::support::BOT.into()),
        password: Some(hermod_model::Secret::new(PASSWORD)),
        imap_host: Some("127.0.0.1".into()),
        imap_port: servers.imap_port,
        imap_security: Security::None,
        smtp_host: Some("127.0.0.1".into()),
        smtp_port: servers.smtp_port,
        smtp_security: Security::None,
        timeout_secs: 5,
        max_reconnect_delay_secs: 1,
        media_dir: Some(servers.path().join("media")),
        ..EmailConfig::default()
    };
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    Subject {
        adapter: Arc::new(EmailAdapter::new(config, store).unwrap()),
        peer: Arc::new(MailPeer { servers }),
    }
}

/// Runs `check` on new servers, unless they are not installed.
macro_rules! check {
    ($name:ident) => {
        #[tokio::test]
        async fn $name() {
            let Some(servers) = Servers::start().await else {
                return;
            };
            conformance::$name(subject(servers)).await;
        }
    };
}

check!(sends_report_every_message_id);
check!(long_texts_are_split_within_the_limit);
check!(edits_keep_the_minimum_interval);
check!(run_stops_within_a_second_of_shutdown);
check!(rate_limits_are_surfaced);
check!(unknown_events_are_ignored);
check!(secrets_stay_hidden);

#[tokio::test]
async fn the_adapter_and_its_config_hide_the_password() {
    let config = EmailConfig {
        address: Some(crate::support::BOT.into()),
        password: Some(hermod_model::Secret::new(PASSWORD)),
        imap_host: Some("imap.example.org".into()),
        smtp_host: Some("smtp.example.org".into()),
        ..EmailConfig::default()
    };
    let secrets = vec![PASSWORD.to_owned()];
    conformance::assert_debug_hides_secrets(&config, &secrets);
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let adapter = EmailAdapter::new(config, store).unwrap();
    conformance::assert_debug_hides_secrets(&adapter, &secrets);
}
