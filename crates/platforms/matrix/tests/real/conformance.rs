//! The shared adapter conformance suite against Synapse, through the
//! test's proxy (which answers the send the suite wants rate-limited with
//! Synapse's 429 body). The checks are called one by one rather than
//! through `adapter_conformance_tests!`, so each can skip when there is no
//! Synapse.

use crate::proxy::Proxy;
use crate::synapse::{User, synapse};
use async_trait::async_trait;
use hermod_matrix::{MatrixAdapter, MatrixConfig};
use hermod_model::Secret;
use hermod_store::SqliteStore;
use hermod_testkit::conformance::{self as suite, Peer, Subject, assert_debug_hides_secrets};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Alice, in a direct chat with the bot.
#[derive(Debug)]
struct MatrixPeer {
    proxy: Proxy,
    bot: User,
    alice: User,
    room: OnceCell<String>,
}

impl MatrixPeer {
    async fn room(&self) -> &str {
        self.room
            .get_or_init(|| async {
                let room = self.alice.open_room().await;
                self.bot.join(&room).await;
                room
            })
            .await
    }
}

#[async_trait]
impl Peer for MatrixPeer {
    async fn user_dm(&self, text: &str) -> String {
        let room = self.room().await.to_owned();
        self.alice.say(&room, text).await;
        room
    }

    async fn rate_limit_next_call(&self, retry_after: Duration) {
        self.proxy.rate_limit_next_send(retry_after);
    }

    async fn push_unknown_event(&self) {
        let room = self.room().await.to_owned();
        self.alice
            .send_event(&room, "org.hermod.future_kind", json!({"what": "unknown"}))
            .await;
        self.alice
            .send_event(
                &room,
                "m.room.message",
                json!({"msgtype": "org.hermod.future", "body": "x"}),
            )
            .await;
    }

    fn secrets(&self) -> Vec<String> {
        vec![self.bot.token.clone()]
    }

    async fn messages(&self, chat_id: &str) -> Vec<String> {
        self.alice.texts(chat_id, &self.bot.user_id).await
    }

    async fn wait_until_receiving(&self) {
        self.proxy.wait_until_polling().await;
    }
}

fn config(proxy: &Proxy, bot: &User) -> MatrixConfig {
    MatrixConfig {
        homeserver: proxy.base_url.clone(),
        access_token: Some(Secret::new(bot.token.clone())),
        sync_timeout_secs: 5,
        request_timeout_secs: 10,
        ..MatrixConfig::default()
    }
}

async fn subject() -> Subject {
    let synapse = synapse().expect("a Synapse");
    let proxy = Proxy::start(&synapse.base_url).await;
    let bot = synapse.user("bot").await;
    let alice = synapse.user("alice").await;
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let adapter = MatrixAdapter::new(config(&proxy, &bot), store).unwrap();
    Subject {
        adapter: Arc::new(adapter),
        peer: Arc::new(MatrixPeer {
            proxy,
            bot,
            alice,
            room: OnceCell::new(),
        }),
    }
}

macro_rules! checks {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            if synapse().is_none() {
                return;
            }
            suite::$check(subject()).await;
        }
    )*};
}

checks!(
    sends_report_every_message_id,
    long_texts_are_split_within_the_limit,
    edits_keep_the_minimum_interval,
    run_stops_within_a_second_of_shutdown,
    rate_limits_are_surfaced,
    unknown_events_are_ignored,
    secrets_stay_hidden,
);

#[tokio::test]
async fn the_adapter_and_its_config_hide_the_token_and_password() {
    let config = MatrixConfig {
        homeserver: "http://127.0.0.1:1".into(),
        access_token: Some(Secret::new("syt_conformance_secret_token")),
        user_id: Some("@bot:localhost".into()),
        password: Some(Secret::new("conformance-password")),
        ..MatrixConfig::default()
    };
    let secrets = vec![
        "syt_conformance_secret_token".to_owned(),
        "conformance-password".to_owned(),
    ];
    assert_debug_hides_secrets(&config, &secrets);
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let adapter = MatrixAdapter::new(config, store).unwrap();
    assert_debug_hides_secrets(&adapter, &secrets);
}
