//! Faults: a rate-limited reply is waited out and sent once; a token the
//! homeserver no longer knows stops the adapter with a hint instead of
//! retrying in a loop, unless it came from a password login, which is
//! done again on the same device.

use crate::support::{within, world};
use hermod_testkit::ScriptedAgent;
use std::time::Duration;

#[tokio::test]
async fn a_rate_limited_reply_is_waited_out_and_sent_once() {
    let Some(world) = world().await else { return };
    let running = world.start(ScriptedAgent::echo()).await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let room = world.fake.dm().await;
    world
        .fake
        .proxy
        .rate_limit_next_send(Duration::from_secs(2));
    world.fake.alice.say(&room, "hi").await;
    let replies = world.fake.replies(&room, 1).await;
    assert_eq!(replies, ["echo: hi (0 earlier)"]);
    running.stop().await;
    assert_eq!(
        world.fake.alice.texts(&room, &world.fake.bot.user_id).await,
        ["echo: hi (0 earlier)"]
    );
}

#[tokio::test]
async fn a_logged_out_token_stops_the_adapter_with_a_hint() {
    let Some(world) = world().await else { return };
    world
        .fake
        .bot
        .call(reqwest::Method::POST, "logout", Some(serde_json::json!({})))
        .await;
    let running = world.start(ScriptedAgent::echo()).await;
    let reason = running.failed().await;
    assert!(reason.contains("MATRIX_ACCESS_TOKEN"), "{reason}");
    assert!(
        !reason.contains(&world.fake.bot.token),
        "the token stays hidden"
    );
    let syncs = world.fake.proxy.syncs().len();
    assert_eq!(syncs, 0, "whoami failed first: no sync was tried");
    running.stop().await;
}

#[tokio::test]
async fn a_logged_out_password_session_logs_in_again_on_its_device() {
    use hermod_store::Store;
    let Some(world) = world().await else { return };
    let config = hermod_matrix::MatrixConfig {
        access_token: None,
        user_id: Some(world.fake.bot.user_id.clone()),
        password: Some(hermod_model::Secret::new(world.fake.bot.password.clone())),
        ..world.config()
    };
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let room = world.fake.dm().await;
    world.fake.alice.say(&room, "one").await;
    world.fake.replies(&room, 1).await;
    let key = format!("matrix:session:{}", world.fake.bot.user_id);
    let stored: serde_json::Value =
        serde_json::from_str(&world.store.setting(&key).await.unwrap().unwrap()).unwrap();
    let device = stored["device_id"].as_str().unwrap().to_owned();
    // Someone logs the bot's session out.
    let session = world
        .fake
        .bot
        .with_token(stored["access_token"].as_str().unwrap());
    session
        .call(reqwest::Method::POST, "logout", Some(serde_json::json!({})))
        .await;
    world.fake.alice.say(&room, "two").await;
    let replies = world.fake.replies(&room, 2).await;
    assert!(replies[1].starts_with("echo: two"), "{replies:?}");
    let stored: serde_json::Value =
        serde_json::from_str(&world.store.setting(&key).await.unwrap().unwrap()).unwrap();
    assert_eq!(stored["device_id"], device.as_str(), "the same device");
    assert_ne!(
        stored["access_token"],
        session.token.as_str(),
        "a new token"
    );
    running.stop().await;
}

#[tokio::test]
async fn the_live_check_names_the_account_or_a_refused_token() {
    use hermod_core::{PlatformConfig, ProbeContext};
    let Some(world) = world().await else { return };
    let ctx = ProbeContext {
        http: hermod_adapter_kit::http_client().unwrap(),
        timeout: Duration::from_secs(10),
    };
    let config = world.config();
    let answer = config.probe(&ctx).await.unwrap();
    assert!(answer.contains(&world.fake.bot.user_id), "{answer}");
    let password = hermod_matrix::MatrixConfig {
        access_token: None,
        user_id: Some(world.fake.bot.user_id.clone()),
        password: Some(hermod_model::Secret::new("not checked")),
        ..world.config()
    };
    let answer = password.probe(&ctx).await.unwrap();
    assert!(answer.contains("homeserver answers"), "{answer}");
    let wrong = hermod_matrix::MatrixConfig {
        access_token: Some(hermod_model::Secret::new("syt_wrong_token")),
        ..world.config()
    };
    let refused = wrong.probe(&ctx).await.unwrap_err();
    assert!(refused.contains("MATRIX_ACCESS_TOKEN"), "{refused}");
    assert!(!refused.contains("syt_wrong_token"));
}
