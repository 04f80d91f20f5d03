//! Who may talk, and where: invites from allowed users joined, others
//! declined; a stranger's direct message gets a pairing code and no turn;
//! in group rooms only mentions are answered, in a thread at the message,
//! and follow-ups in that thread need no mention; `!` commands are the
//! gateway's.

use crate::support::{World, within, world};
use hermod_core::GatewayConfig;
use hermod_testkit::ScriptedAgent;
use serde_json::json;
use std::time::Duration;

/// Only Alice is allowed.
fn only_alice(world: &World) -> GatewayConfig {
    GatewayConfig {
        allowed_users: vec![world.fake.alice.user_id.clone()],
        ..GatewayConfig::default()
    }
}

/// The bot's membership in `room`, as `user` (a member) sees it.
async fn membership(user: &crate::synapse::User, room: &str, bot: &str) -> String {
    let path = format!(
        "rooms/{}/state/m.room.member/{}",
        urlencode(room),
        urlencode(bot)
    );
    user.call(reqwest::Method::GET, &path, None).await["membership"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn urlencode(segment: &str) -> String {
    let mut url = reqwest::Url::parse("http://x/").unwrap();
    url.path_segments_mut().unwrap().push(segment);
    url.path().trim_start_matches('/').to_owned()
}

async fn wait_membership(user: &crate::synapse::User, room: &str, bot: &str, want: &str) {
    within("the bot's membership", async {
        while membership(user, room, bot).await != want {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_invite_from_an_allowed_user_is_joined_and_answered() {
    let Some(world) = world().await else { return };
    let running = world
        .start_with(ScriptedAgent::echo(), only_alice(&world), world.config())
        .await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let bot = world.fake.bot.user_id.clone();
    let room = world.fake.alice.create_room(&[&bot], true, json!({})).await;
    wait_membership(&world.fake.alice, &room, &bot, "join").await;
    world.fake.alice.say(&room, "hi").await;
    assert_eq!(world.fake.replies(&room, 1).await, ["echo: hi (0 earlier)"]);
    running.stop().await;
}

#[tokio::test]
async fn an_invite_from_a_stranger_is_declined() {
    let Some(world) = world().await else { return };
    let mallory = crate::synapse::synapse().unwrap().user("mallory").await;
    let running = world
        .start_with(ScriptedAgent::echo(), only_alice(&world), world.config())
        .await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let bot = world.fake.bot.user_id.clone();
    let room = mallory.create_room(&[&bot], true, json!({})).await;
    wait_membership(&mallory, &room, &bot, "leave").await;
    running.stop().await;
}

#[tokio::test]
async fn a_strangers_direct_message_is_ignored_when_an_allowlist_is_set() {
    let Some(world) = world().await else { return };
    let mallory = crate::synapse::synapse().unwrap().user("mallory").await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world
        .start_with(agent, only_alice(&world), world.config())
        .await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let bot = world.fake.bot.user_id.clone();
    let strangers = mallory.open_room().await;
    world.fake.bot.join(&strangers).await;
    let alices = world.fake.dm().await;
    let before = world.fake.proxy.syncs().len();
    mallory.say(&strangers, "let me in").await;
    // The sync under way returns Mallory's message (or the next one does);
    // the adapter asks for the one after only once it handled it.
    within(
        "two more syncs",
        world.fake.proxy.wait_for_syncs(before + 2),
    )
    .await;
    world.fake.alice.say(&alices, "hi").await;
    world.fake.replies(&alices, 1).await;
    assert_eq!(stats.inputs(), ["hi"]);
    assert!(mallory.texts(&strangers, &bot).await.is_empty());
    running.stop().await;
}

#[tokio::test]
async fn without_an_allowlist_a_stranger_gets_a_pairing_code_and_no_turn() {
    let Some(world) = world().await else { return };
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world
        .start_with(agent, GatewayConfig::default(), world.config())
        .await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let room = world.fake.dm().await;
    world.fake.alice.say(&room, "let me in").await;
    let replies = world.fake.replies(&room, 1).await;
    assert!(replies[0].contains("pairing code"), "{replies:?}");
    assert!(stats.inputs().is_empty(), "{:?}", stats.inputs());
    running.stop().await;
}

#[tokio::test]
async fn in_a_group_room_only_mentions_are_answered_in_their_thread() {
    let Some(world) = world().await else { return };
    let bob = crate::synapse::synapse().unwrap().user("bob").await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let bot = world.fake.bot.user_id.clone();
    let alice = &world.fake.alice;
    let room = alice.open_room().await;
    world.fake.bot.join(&room).await;
    bob.join(&room).await;
    alice.say(&room, "just chatting").await;
    let asked = alice
        .send_event(
            &room,
            "m.room.message",
            json!({"msgtype": "m.text",
            "body": format!("{bot}: what is up?"), "m.mentions": {"user_ids": [bot]}}),
        )
        .await;
    let replies = world.fake.replies(&room, 1).await;
    assert_eq!(replies, ["echo: what is up? (0 earlier)"]);
    assert_eq!(
        stats.inputs(),
        ["what is up?"],
        "the unmentioned message was not a turn"
    );
    let shown = alice.shown(&room, &bot).await;
    let relation = &shown[0].1["m.relates_to"];
    assert_eq!(relation["rel_type"], "m.thread", "{relation}");
    assert_eq!(relation["event_id"], asked.as_str());

    // A follow-up in the bot's thread needs no mention.
    alice
        .send_event(
            &room,
            "m.room.message",
            json!({"msgtype": "m.text", "body": "and?",
            "m.relates_to": {"rel_type": "m.thread", "event_id": asked,
                "is_falling_back": true, "m.in_reply_to": {"event_id": shown[0].0}}}),
        )
        .await;
    let replies = world.fake.replies(&room, 2).await;
    assert!(replies[1].starts_with("echo: and?"), "{replies:?}");
    let shown = alice.shown(&room, &bot).await;
    assert_eq!(shown[1].1["m.relates_to"]["event_id"], asked.as_str());
    running.stop().await;
}

#[tokio::test]
async fn a_bang_command_is_answered_by_the_gateway_not_the_agent() {
    let Some(world) = world().await else { return };
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let room = world.fake.dm().await;
    world.fake.alice.say(&room, "!help").await;
    let replies = world.fake.replies(&room, 1).await;
    assert!(replies[0].contains("!new"), "{replies:?}");
    assert!(stats.inputs().is_empty(), "{:?}", stats.inputs());
    running.stop().await;
}
