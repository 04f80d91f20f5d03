//! Faults: a rate-limited reply is waited out and sent once; a token the
//! homeserver no longer knows stops the adapter with a hint instead of
//! retrying in a loop.

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
