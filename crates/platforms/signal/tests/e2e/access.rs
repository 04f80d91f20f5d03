//! Who may talk: `SIGNAL_ALLOWED_USERS` names numbers or uuids, strangers
//! get a pairing code; groups only when listed in
//! `SIGNAL_GROUP_ALLOWED_USERS`, and with `SIGNAL_REQUIRE_MENTION` only
//! when the account is mentioned.

use crate::support::{USER, World, listening, replies, texts};
use hermod_core::{GatewayConfig, PlatformPolicy};
use hermod_testkit::ScriptedAgent;
use hermod_testkit::signal::{Mention, User};

fn allowing(users: &[&str]) -> GatewayConfig {
    let mut gateway = GatewayConfig::default();
    gateway.platforms.insert(
        "signal".into(),
        PlatformPolicy {
            allowed_users: users.iter().map(|u| (*u).to_owned()).collect(),
            ..Default::default()
        },
    );
    gateway
}

#[tokio::test]
async fn a_stranger_gets_a_pairing_code_and_no_turn() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world
        .start_with(agent, GatewayConfig::default(), world.config())
        .await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "let me in");
    let sent = replies(&world, 1).await;
    assert!(
        sent[0].message.contains("pairing code"),
        "{}",
        sent[0].message
    );
    assert!(
        stats.inputs().is_empty(),
        "the agent saw {:?}",
        stats.inputs()
    );
    assert!(
        world.fake.reactions().is_empty(),
        "no 👀 for a stranger: {:?}",
        world.fake.reactions()
    );
    running.stop().await;
}

#[tokio::test]
async fn signal_allowed_users_may_name_the_uuid() {
    let world = World::new().await;
    let user = User::number(USER);
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            allowing(&[&user.uuid]),
            world.config(),
        )
        .await;
    listening(&world, 1).await;
    world.fake.user_says_as(&user, "by uuid");
    let sent = replies(&world, 1).await;
    assert_eq!(texts(&sent), ["echo: by uuid (0 earlier)"]);
    running.stop().await;
}

const GROUP: &str = "R1JPVVAtaWQtMQ==";

#[tokio::test]
async fn groups_are_answered_only_when_listed_and_mentioned() {
    let world = World::new().await;
    let config = hermod_signal::SignalConfig {
        group_allowed_users: vec![GROUP.into()],
        require_mention: true,
        ..world.config()
    };
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start_with(agent, allowing(&[USER]), config).await;
    listening(&world, 1).await;
    world.fake.group_says(
        "T1RIRVI=",
        USER,
        "\u{fffc} another group",
        &[Mention::of_account(0)],
    );
    world.fake.group_says(GROUP, USER, "not for the bot", &[]);
    let asked = world.fake.group_says(
        GROUP,
        USER,
        "\u{fffc} what time is it?",
        &[Mention::of_account(0)],
    );
    let sent = replies(&world, 1).await;
    assert_eq!(sent[0].group_id.as_deref(), Some(GROUP));
    assert!(sent[0].recipients.is_empty());
    // The reply quotes the question.
    assert_eq!(sent[0].quote_timestamp, Some(asked));
    assert_eq!(sent[0].quote_author.as_deref(), Some(USER));
    assert_eq!(stats.inputs().len(), 1, "{:?}", stats.inputs());
    assert!(
        stats.inputs()[0].contains("what time is it?"),
        "{:?}",
        stats.inputs()
    );
    assert!(
        !stats.inputs()[0].contains(&world.fake.account()),
        "the account's own mention is taken out: {:?}",
        stats.inputs()
    );
    running.stop().await;
}

#[tokio::test]
async fn a_star_in_the_group_list_lets_every_member_talk() {
    let world = World::new().await;
    let config = hermod_signal::SignalConfig {
        group_allowed_users: vec!["*".into()],
        ..world.config()
    };
    // Nobody is in SIGNAL_ALLOWED_USERS: the group list vouches.
    let running = world
        .start_with(ScriptedAgent::echo(), GatewayConfig::default(), config)
        .await;
    listening(&world, 1).await;
    world.fake.group_says(GROUP, "+15550000077", "hi all", &[]);
    let sent = replies(&world, 1).await;
    assert_eq!(sent[0].group_id.as_deref(), Some(GROUP));
    assert!(
        sent[0].message.starts_with("echo: hi all"),
        "{}",
        sent[0].message
    );
    running.stop().await;
}
