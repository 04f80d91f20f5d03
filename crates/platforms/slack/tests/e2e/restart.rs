//! A gateway stopped in the middle of a turn and started again: the chat
//! is told, the turn continues, the message is not handled twice and the
//! reply arrives once.

use crate::support::{World, allow_all, settled, within};
use hermod_core::GatewayConfig;
use hermod_testkit::{ScriptedAgent, Step};
use std::time::Duration;

#[tokio::test]
async fn a_restart_mid_turn_delivers_the_reply_exactly_once() {
    let world = World::new().await;
    let alice = world.fake.user("alice");
    let dm = alice.dm_channel();

    // The model is still thinking when the gateway stops.
    let slow = ScriptedAgent::scripted(|_| vec![Step::Sleep(Duration::from_secs(3600))]);
    let slow_stats = slow.stats();
    // Stopping gives the running turn a second, then cancels it.
    let gateway = GatewayConfig {
        drain_timeout_secs: 1,
        ..allow_all()
    };
    let running = world.start_with(slow, gateway, world.config()).await;
    alice.dm("hello");
    within("the turn to start", slow_stats.wait_started(1)).await;
    let envelopes = world.fake.envelopes();
    within(
        "the ack",
        world.fake.wait_for_ack(&envelopes[0].envelope_id),
    )
    .await;
    running.stop().await;
    let before = world.fake.bot_messages(&dm);
    assert_eq!(
        before.len(),
        1,
        "only the stopping notice before the restart"
    );
    assert!(
        before[0].current_text().contains("gateway is stopping"),
        "{}",
        before[0].current_text()
    );

    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    // The turn the stop cut short continues: a notice, then the reply.
    let answers = settled(&world.fake, &dm, 3).await;
    assert!(
        answers[1]
            .current_text()
            .contains("continuing your last request"),
        "{}",
        answers[1].current_text()
    );
    assert_eq!(answers[2].current_text(), "echo: hello (0 earlier)");
    world.drained().await;
    // The envelope comes again (as after an ack lost in the restart).
    assert!(world.fake.redeliver(&envelopes[0].envelope_id));
    alice.dm("next");
    let answers = settled(&world.fake, &dm, 4).await;
    assert_eq!(answers[3].current_text(), "echo: next (2 earlier)");
    assert_eq!(
        stats.inputs(),
        ["hello", "next"],
        "the agent saw each message once"
    );
    assert_eq!(
        world.fake.bot_messages(&dm).len(),
        4,
        "one reply each, and the two notices"
    );
    running.stop().await;
}
