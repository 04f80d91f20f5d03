//! The shared adapter conformance checks, against ngircd.
//!
//! `rate_limits_are_surfaced` is left out: IRC servers never answer a
//! line with "slow down, retry after N s" — they queue what comes too
//! fast and, past their limit, close the connection ("Excess Flood").
//! The adapter paces itself below that instead (`flood.rs`, tested on
//! paused time). The other checks run one by one.

use crate::support::{Irc, Ngircd, SERVER_PASSWORD, User, config_for, ngircd, unique};
use async_trait::async_trait;
use hermod_irc::IrcAdapter;
use hermod_testkit::conformance::{self, Peer, Subject, assert_debug_hides_secrets};
use std::sync::Arc;
use std::time::Duration;

/// A user talking to the bot in private.
struct IrcPeer {
    _server: Arc<Ngircd>,
    user: User,
    bot: String,
}

#[async_trait]
impl Peer for IrcPeer {
    async fn user_dm(&self, text: &str) -> String {
        self.user.say(&self.bot, text).await;
        self.user.nick.to_ascii_lowercase()
    }

    /// IRC has no rate-limit answer (see the module docs).
    async fn rate_limit_next_call(&self, _retry_after: Duration) {}

    /// What reaches the bot that is no message for the gateway: a
    /// NOTICE, a CTCP request it does not answer, an invitation, a
    /// numeric nobody asked for.
    async fn push_unknown_event(&self) {
        self.user
            .send(&format!("NOTICE {} :just a notice", self.bot))
            .await;
        self.user
            .send(&format!(
                "PRIVMSG {} :\u{1}DCC SEND file 1 2 3\u{1}",
                self.bot
            ))
            .await;
        self.user.join("#elsewhere").await;
        self.user
            .send(&format!("INVITE {} #elsewhere", self.bot))
            .await;
    }

    fn secrets(&self) -> Vec<String> {
        vec![SERVER_PASSWORD.to_owned()]
    }

    async fn messages(&self, chat_id: &str) -> Vec<String> {
        self.user.sync().await;
        assert_eq!(chat_id, self.user.nick.to_ascii_lowercase());
        self.user.messages_from(&self.bot, &self.user.nick)
    }

    async fn wait_until_receiving(&self) {
        self.user.wait_online(&self.bot).await;
    }
}

async fn subject(binary: String) -> Subject {
    let server = Ngircd::shared(&binary);
    let bot = format!("cbot{}", unique());
    let adapter = IrcAdapter::new(config_for(server.port, &bot)).unwrap();
    let user = User::connect(server.port, &format!("cuser{}", unique())).await;
    Subject {
        adapter: Arc::new(adapter),
        peer: Arc::new(IrcPeer {
            _server: server,
            user,
            bot,
        }),
    }
}

macro_rules! check {
    ($name:ident) => {
        #[tokio::test]
        async fn $name() {
            let Some(binary) = ngircd() else { return };
            conformance::$name(subject(binary)).await;
        }
    };
}

check!(sends_report_every_message_id);
check!(long_texts_are_split_within_the_limit);
check!(edits_keep_the_minimum_interval);
check!(run_stops_within_a_second_of_shutdown);
check!(unknown_events_are_ignored);
check!(secrets_stay_hidden);

#[tokio::test]
async fn the_adapter_and_its_config_hide_the_passwords() {
    let Some(binary) = ngircd() else { return };
    let server = Ngircd::shared(&binary);
    let mut config = config_for(server.port, "hidden");
    config.nickserv_password = Some(hermod_model::Secret::new("nickserv-secret-42"));
    config.channels = vec!["#keyed channel-key-secret".into()];
    let secrets = vec![
        SERVER_PASSWORD.to_owned(),
        "nickserv-secret-42".to_owned(),
        "channel-key-secret".to_owned(),
    ];
    assert_debug_hides_secrets(&config, &secrets);
    let adapter = IrcAdapter::new(config).unwrap();
    assert_debug_hides_secrets(&adapter, &secrets);
    let _: Option<Irc> = None;
}
