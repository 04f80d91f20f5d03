//! Receiving through a gateway: private messages answered, channel
//! messages only when addressed, strangers refused, a taken nick, and
//! exactly once across a restart.

use crate::support::{CHANNEL, World, ngircd, user, within};
use hermod_core::{GatewayConfig, PlatformPolicy};
use hermod_testkit::ScriptedAgent;

/// A gateway where only `nick` may talk on IRC.
fn only(nick: &str) -> GatewayConfig {
    let mut config = GatewayConfig::default();
    config.platforms.insert(
        "irc".into(),
        PlatformPolicy {
            allowed_users: vec![nick.to_owned()],
            ..PlatformPolicy::default()
        },
    );
    config
}

#[tokio::test]
async fn a_private_message_is_answered_and_a_stranger_gets_no_turn() {
    if ngircd().is_none() {
        return;
    }
    let world = World::new().await;
    let alice = user(&world, "alice").await;
    let mallory = user(&world, "mallory").await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world
        .start_with(agent, only(&alice.nick), world.config())
        .await;
    let bot = world.fake.nick.clone();
    alice.wait_online(&bot).await;

    mallory.say(&bot, "let me in").await;
    alice.say(&bot, "\u{2}hello\u{2} there").await;
    let answered = alice.wait_messages(&bot, &alice.nick, 1).await;
    assert_eq!(answered, ["echo: hello there (0 earlier)"]);
    mallory.sync().await;
    assert_eq!(stats.inputs(), ["hello there"], "mallory got no turn");
    running.stop().await;
}

#[tokio::test]
async fn in_a_channel_only_messages_addressed_to_the_bot_are_answered_to_their_sender() {
    if ngircd().is_none() {
        return;
    }
    let world = World::new().await;
    let alice = user(&world, "alice").await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    // Alice is in the channel first, so she sees the bot join.
    alice.join(CHANNEL).await;
    let running = world.start(agent).await;
    let bot = world.fake.nick.clone();
    alice
        .wait_for("the bot in the channel", |h| {
            h.command == "JOIN" && h.nick.eq_ignore_ascii_case(&bot)
        })
        .await;

    alice.say(CHANNEL, "just chatting").await;
    alice
        .say(CHANNEL, &format!("{}: what is up?", bot.to_uppercase()))
        .await;
    let answered = alice.wait_messages(&bot, CHANNEL, 1).await;
    assert_eq!(
        answered,
        [format!("{}: echo: what is up? (0 earlier)", alice.nick)]
    );
    assert_eq!(stats.inputs(), ["what is up?"]);
    running.stop().await;
}

#[tokio::test]
async fn a_taken_nick_gets_an_underscore_and_is_taken_back_when_freed() {
    if ngircd().is_none() {
        return;
    }
    let world = World::new().await;
    let squatter = crate::support::User::connect(world.fake.server.port, &world.fake.nick).await;
    let running = world.start(ScriptedAgent::echo()).await;
    let taken = format!("{}_", world.fake.nick);
    squatter.wait_online(&taken).await;
    squatter.say(&taken, "who are you").await;
    let answered = squatter.wait_messages(&taken, &squatter.nick, 1).await;
    assert_eq!(answered, ["echo: who are you (0 earlier)"]);

    // The squatter leaves where the bot sees it: the bot takes its nick back.
    let witness = user(&world, "witness").await;
    squatter.join(CHANNEL).await;
    squatter
        .wait_for("the bot in the channel", |h| {
            h.command == "JOIN" && h.nick.eq_ignore_ascii_case(&taken)
                || h.command == "353" && h.params.last().is_some_and(|names| names.contains(&taken))
        })
        .await;
    squatter.send("QUIT :bye").await;
    squatter
        .wait_for("the squatter gone", |h| {
            h.command == "ERROR" || h.raw == "CLOSED"
        })
        .await;
    witness.wait_online(&world.fake.nick).await;
    witness.say(&world.fake.nick, "back?").await;
    let answered = witness
        .wait_messages(&world.fake.nick, &witness.nick, 1)
        .await;
    assert_eq!(answered, ["echo: back? (0 earlier)"]);
    running.stop().await;
}

#[tokio::test]
async fn a_restart_answers_nothing_twice_and_what_was_said_meanwhile_is_not_seen() {
    if ngircd().is_none() {
        return;
    }
    let world = World::new().await;
    let alice = user(&world, "alice").await;
    let bot = world.fake.nick.clone();
    let agent = ScriptedAgent::echo();
    let running = world.start(agent).await;
    alice.wait_online(&bot).await;
    alice.say(&bot, "one").await;
    alice.wait_messages(&bot, &alice.nick, 1).await;
    running.stop().await;

    // While the bot is away the server refuses the message: IRC keeps
    // nothing for later.
    alice.say(&bot, "while away").await;
    alice.wait_for("no such nick", |h| h.command == "401").await;

    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    alice.wait_online(&bot).await;
    alice.say(&bot, "two").await;
    let answered = alice.wait_messages(&bot, &alice.nick, 2).await;
    assert_eq!(answered[1], "echo: two (2 earlier)", "{answered:?}");
    alice.sync().await;
    assert_eq!(
        alice.messages_from(&bot, &alice.nick).len(),
        2,
        "nothing answered twice"
    );
    assert_eq!(stats.inputs(), ["two"]);
    within("the stop", running.stop()).await;
}

#[tokio::test]
async fn a_sender_matching_an_allowed_mask_is_let_in_without_an_allowlist() {
    if ngircd().is_none() {
        return;
    }
    let world = World::new().await;
    let alice = user(&world, "alice").await;
    let mut config = world.config();
    config.allowed_masks = vec![format!("{}!*@127.0.0.1", alice.nick)];
    let running = world
        .start_with(ScriptedAgent::echo(), GatewayConfig::default(), config)
        .await;
    let bot = world.fake.nick.clone();
    alice.wait_online(&bot).await;
    alice.say(&bot, "by mask").await;
    let answered = alice.wait_messages(&bot, &alice.nick, 1).await;
    assert_eq!(answered, ["echo: by mask (0 earlier)"]);
    running.stop().await;
}
