//! Socket Mode: acknowledgements, redelivery, disconnects and malformed
//! frames — each message answered once, no reconnect loops.

use crate::support::{World, settled, texts, within};
use hermod_testkit::slack::{DisconnectReason, SlackConfig as FakeConfig};
use hermod_testkit::{FakeSlack, ScriptedAgent};
use std::time::Duration;

/// A fake that times out acks and closes sockets quickly.
fn quick() -> FakeConfig {
    FakeConfig {
        ack_timeout: Duration::from_millis(500),
        disconnect_grace: Duration::from_millis(300),
        ..FakeConfig::default()
    }
}

#[tokio::test]
async fn every_envelope_is_acknowledged_at_once() {
    let world = World::new().await;
    let running = world
        .start(ScriptedAgent::with_delay(Duration::from_secs(2)))
        .await;
    let alice = world.fake.user("alice");
    let dm = alice.dm_channel();
    alice.dm("take your time");
    let envelopes = within("the envelope", world.fake.wait_for_envelopes(1)).await;
    let ack = within(
        "the ack",
        world.fake.wait_for_ack(&envelopes[0].envelope_id),
    )
    .await;
    // Acknowledged long before the answer (two seconds of agent work).
    assert!(
        ack.latency.unwrap() < Duration::from_secs(1),
        "{:?}",
        ack.latency
    );
    assert!(ack.payload.is_none());
    settled(&world.fake, &dm, 1).await;
    assert_eq!(world.fake.redeliveries(), 0);
    running.stop().await;
}

#[tokio::test]
async fn an_envelope_whose_ack_was_lost_comes_again_and_is_answered_once() {
    let world = World::on(FakeSlack::with_config(quick()).await);
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    within("the socket", world.fake.wait_for_connections(1)).await;
    world.fake.lose_next_acks(1);
    let bob = world.fake.user("bob");
    let dm = bob.dm_channel();
    bob.dm("only once please");
    within("the redelivery", async {
        while world.fake.redeliveries() == 0 {
            world
                .fake
                .wait_for_envelopes(world.fake.envelopes().len() + 1)
                .await;
        }
    })
    .await;
    let envelopes = world.fake.envelopes();
    let id = &envelopes[0].envelope_id;
    assert!(envelopes.iter().filter(|e| &e.envelope_id == id).count() >= 2);
    within("the redelivery's ack", world.fake.wait_for_ack(id)).await;
    settled(&world.fake, &dm, 1).await;
    // And once more, as at-least-once delivery may.
    assert!(world.fake.redeliver(id));
    within("the ack", async {
        while world
            .fake
            .acks()
            .iter()
            .filter(|a| &a.envelope_id == id)
            .count()
            < 3
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let canary = bob.dm("next");
    let messages = settled(&world.fake, &dm, 2).await;
    assert_eq!(
        stats.inputs(),
        ["only once please", "next"],
        "{:?}",
        texts(&messages)
    );
    assert_eq!(messages.len(), 2, "{:?}", texts(&messages));
    assert!(!canary.ts.is_empty());
    running.stop().await;
}

#[tokio::test]
async fn a_disconnect_message_reconnects_without_answering_twice() {
    let world = World::on(FakeSlack::with_config(quick()).await);
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let carol = world.fake.user("carol");
    let dm = carol.dm_channel();
    carol.dm("before");
    settled(&world.fake, &dm, 1).await;
    assert_eq!(world.fake.connections_opened(), 1);

    assert_eq!(world.fake.disconnect(DisconnectReason::RefreshRequested), 1);
    within("a new connection", async {
        while world.fake.connections_opened() < 2 {
            world.fake.wait_for_connections(1).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    carol.dm("after");
    let messages = settled(&world.fake, &dm, 2).await;
    assert_eq!(
        stats.inputs(),
        ["before", "after"],
        "{:?}",
        texts(&messages)
    );
    within(
        "the old socket to close",
        world.fake.wait_for_open_connections(1),
    )
    .await;
    assert_eq!(world.fake.connections_opened(), 2, "one reconnect, no loop");
    assert_eq!(
        running.adapter.connection_state(),
        hermod_slack::ConnectionState::Connected
    );
    running.stop().await;
}

#[tokio::test]
async fn a_dropped_socket_reconnects_and_nothing_is_lost() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    within("the socket", world.fake.wait_for_connections(1)).await;
    assert_eq!(world.fake.drop_connections(), 1);
    let dave = world.fake.user("dave");
    let dm = dave.dm_channel();
    dave.dm("are you back?");
    settled(&world.fake, &dm, 1).await;
    assert_eq!(stats.inputs(), ["are you back?"]);
    assert_eq!(world.fake.connections_opened(), 2);
    running.stop().await;
}

#[tokio::test]
async fn malformed_frames_are_skipped_without_reconnecting() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    within("the socket", world.fake.wait_for_connections(1)).await;
    world.fake.send_raw_frame("not json at all");
    world.fake.send_raw_frame("[1, 2, 3]");
    world
        .fake
        .send_raw_frame(r#"{"type":"events_api","payload":{}}"#);
    world.fake.send_raw_frame(r#"{"envelope_id":"x-1","type":"events_api","payload":{"type":"event_callback","event":{"type":"message","channel":7}}}"#);
    world
        .fake
        .send_raw_frame(r#"{"type":"from_the_future","x":1}"#);
    world.fake.send_binary_frame(&[0, 159, 146, 150]);
    world.fake.push_event(serde_json::json!({
        "type": "reaction_added",
        "user": "U0SOMEONE",
        "reaction": "thumbsup",
        "item": {"type": "message", "channel": "C0X", "ts": "1.2"},
        "event_ts": "1.3"
    }));
    let erin = world.fake.user("erin");
    let dm = erin.dm_channel();
    erin.dm("still fine?");
    settled(&world.fake, &dm, 1).await;
    assert_eq!(stats.inputs(), ["still fine?"]);
    assert_eq!(
        world.fake.connections_opened(),
        1,
        "a bad frame made it reconnect"
    );
    running.stop().await;
}
