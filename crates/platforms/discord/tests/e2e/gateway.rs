//! The gateway connection end to end: resuming after RECONNECT, INVALID
//! SESSION and dropped sockets without answering twice, zombie
//! connections, fatal close codes, restarts.

use crate::support::{World, allow_all, settled, texts, within};
use hermod_core::GatewayConfig;
use hermod_testkit::FakeDiscord;
use hermod_testkit::discord::{SessionFault, intents};
use hermod_testkit::{ScriptedAgent, Step};
use std::time::Duration;

#[tokio::test]
async fn reconnect_invalid_session_and_drops_resume_without_answering_twice() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    running.connected().await;
    let gina = world.fake.user("gina");
    let channel = gina.dm_channel();
    gina.dm("one");
    settled(&world.fake, channel, 1).await;

    assert!(world.fake.send_reconnect());
    within("a resume", world.fake.wait_for_resumes(1)).await;
    gina.dm("two");
    settled(&world.fake, channel, 2).await;

    assert!(world.fake.drop_connection());
    // Sent while no connection is open: replayed on RESUME.
    gina.dm("three");
    within("a second resume", world.fake.wait_for_resumes(2)).await;
    settled(&world.fake, channel, 3).await;

    assert!(world.fake.invalidate_session(true));
    within("a third resume", world.fake.wait_for_resumes(3)).await;
    assert!(world.fake.invalidate_session(false));
    within("a new session", world.fake.wait_for_identifies(2)).await;
    gina.dm("four");
    let messages = settled(&world.fake, channel, 4).await;
    assert_eq!(messages.len(), 4, "{:?}", texts(&messages));
    assert_eq!(stats.inputs(), ["one", "two", "three", "four"]);
    running.stop().await;
}

#[tokio::test]
async fn a_malformed_frame_is_skipped_without_reconnecting() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    running.connected().await;
    assert!(world.fake.send_malformed_frame());
    let hana = world.fake.user("hana");
    let channel = hana.dm_channel();
    hana.dm("still there?");
    settled(&world.fake, channel, 1).await;
    assert_eq!(
        world.fake.connections().len(),
        1,
        "a malformed frame caused a reconnect"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_zombie_connection_is_replaced() {
    let fake = FakeDiscord::builder()
        .heartbeat_interval(std::time::Duration::from_millis(300))
        .enforce_heartbeats(false)
        .start()
        .await;
    let world = World::on(fake);
    let running = world.start(ScriptedAgent::echo()).await;
    running.connected().await;
    world.fake.set_heartbeat_acks(false);
    within("a new connection", world.fake.wait_for_connections(2)).await;
    world.fake.set_heartbeat_acks(true);
    within("a resume", world.fake.wait_for_resumes(1)).await;
    running.stop().await;
}

#[tokio::test]
async fn a_refused_token_fails_discord_naming_the_variable() {
    let world = World::new().await;
    world.fake.fail_next_session(SessionFault::Close(4004));
    let running = world.start(ScriptedAgent::echo()).await;
    let reason = running.failed().await;
    assert!(reason.contains("DISCORD_BOT_TOKEN"), "{reason}");
    // The gateway itself keeps running, and stops cleanly.
    running.stop().await;
}

#[tokio::test]
async fn a_missing_message_content_intent_says_where_to_enable_it() {
    let fake = FakeDiscord::builder()
        .privileged_intents(intents::GUILD_MEMBERS)
        .start()
        .await;
    let world = World::on(fake);
    let running = world.start(ScriptedAgent::echo()).await;
    let reason = running.failed().await;
    assert!(
        reason.contains("Message Content") && reason.contains("Privileged Gateway Intents"),
        "{reason}"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_restart_continues_without_answering_twice() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent.clone()).await;
    running.connected().await;
    let ivan = world.fake.user("ivan");
    let channel = ivan.dm_channel();
    ivan.dm("before");
    settled(&world.fake, channel, 1).await;
    running.stop().await;

    let running = world.start(agent).await;
    running.connected().await;
    ivan.dm("after");
    let messages = settled(&world.fake, channel, 2).await;
    assert_eq!(messages.len(), 2, "{:?}", texts(&messages));
    assert_eq!(stats.inputs(), ["before", "after"]);
    running.stop().await;
}

/// A gateway stopped in the middle of a turn and started again: the chat is
/// told, the message the turn was answering is answered once, after the
/// restart, and nothing is answered twice.
#[tokio::test]
async fn a_restart_mid_turn_delivers_the_reply_exactly_once() {
    let world = World::new().await;
    let judy = world.fake.user("judy");
    let channel = judy.dm_channel();

    // The model is still thinking when the gateway stops.
    let slow = ScriptedAgent::scripted(|_| vec![Step::Sleep(Duration::from_secs(3600))]);
    let slow_stats = slow.stats();
    let gateway = GatewayConfig {
        drain_timeout_secs: 1,
        ..allow_all()
    };
    let running = world.start_with(slow, gateway, world.config()).await;
    running.connected().await;
    judy.dm("hello");
    within("the turn to start", slow_stats.wait_started(1)).await;
    running.stop().await;
    let before = world.fake.bot_messages(channel);
    assert_eq!(
        before.len(),
        1,
        "only the stopping notice before the restart"
    );
    assert!(
        before[0].current_content().contains("gateway is stopping"),
        "{}",
        before[0].current_content()
    );

    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    running.connected().await;
    // The turn the stop cut short continues: a notice, then the reply.
    let answers = settled(&world.fake, channel, 3).await;
    assert!(
        answers[1]
            .current_content()
            .contains("continuing your last request"),
        "{}",
        answers[1].current_content()
    );
    assert_eq!(answers[2].current_content(), "echo: hello (0 earlier)");
    judy.dm("next");
    let answers = settled(&world.fake, channel, 4).await;
    assert_eq!(answers[3].current_content(), "echo: next (2 earlier)");
    assert_eq!(
        stats.inputs(),
        ["hello", "next"],
        "the agent saw each message once"
    );
    assert_eq!(
        world.fake.bot_messages(channel).len(),
        4,
        "one reply each, and the two notices"
    );
    running.stop().await;
}
