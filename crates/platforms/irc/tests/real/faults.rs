//! Faults: the connection killed by an operator is opened again, the
//! channels joined again and the bot answers again; a wrong password stops it.

use crate::support::{CHANNEL, World, ngircd, user};
use hermod_testkit::ScriptedAgent;

#[tokio::test]
async fn a_killed_connection_is_opened_again_with_backoff() {
    if ngircd().is_none() {
        return;
    }
    let world = World::new().await;
    let alice = user(&world, "alice").await;
    alice.join(CHANNEL).await;
    let running = world.start(ScriptedAgent::echo()).await;
    let bot = world.fake.nick.clone();
    alice.wait_online(&bot).await;
    alice.say(&bot, "before").await;
    alice.wait_messages(&bot, &alice.nick, 1).await;

    alice.oper().await;
    alice.send(&format!("KILL {bot} :testing reconnects")).await;
    alice.sync().await;
    alice.wait_online(&bot).await;
    alice.say(&bot, "after").await;
    let answered = alice.wait_messages(&bot, &alice.nick, 2).await;
    assert!(answered[1].starts_with("echo: after"), "{answered:?}");
    // And the channel is joined again.
    let joins = |heard: &[crate::support::Heard]| {
        heard
            .iter()
            .filter(|h| h.command == "JOIN" && h.nick.eq_ignore_ascii_case(&bot))
            .count()
    };
    alice
        .wait_for("the bot's second JOIN", |_| joins(&alice.heard()) >= 2)
        .await;
    running.stop().await;
}

#[tokio::test]
async fn a_wrong_server_password_stops_the_adapter_and_says_which_setting() {
    if ngircd().is_none() {
        return;
    }
    let world = World::new().await;
    let mut config = world.config();
    config.server_password = Some(hermod_model::Secret::new("not-the-password-42"));
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    let reason = running.failed().await;
    assert!(reason.contains("IRC_SERVER_PASSWORD"), "{reason}");
    assert!(!reason.contains("not-the-password-42"));
    running.stop().await;
}
