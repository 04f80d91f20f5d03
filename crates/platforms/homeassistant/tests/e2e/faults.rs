//! Faults: a refused token stops the adapter (no reconnect loop); a
//! dropped websocket is opened again; frames that cannot be read are
//! skipped; failed replies are classified for the outbox.

use crate::fake::{Fault, MESSAGE_EVENT, TOKEN};
use crate::support::{World, notifications, subscribed, within};
use hermod_core::{AdapterError, Messenger};
use hermod_testkit::ScriptedAgent;
use hermod_testkit::harness::outbound;
use serde_json::json;

#[tokio::test]
async fn a_refused_token_stops_the_adapter_with_an_auth_error() {
    let world = World::new().await;
    world.fake.refuse_tokens();
    let direct = world.direct(world.config());
    let ended = within("run to give up", direct.spawn()).await.unwrap();
    match ended {
        Err(AdapterError::Auth(message)) => {
            assert!(message.contains("HASS_TOKEN"), "{message}");
            assert!(!message.contains(TOKEN), "{message}");
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert_eq!(world.fake.connections(), 1, "no reconnect loop");
    assert_eq!(
        direct.adapter.connection_state(),
        hermod_homeassistant::ConnectionState::Failed
    );
}

#[tokio::test]
async fn a_dropped_connection_is_opened_again_and_subscribed_again() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    subscribed(&world, 1).await;
    world.fake.drop_connections();
    subscribed(&world, 2).await;
    assert_eq!(
        world.fake.subscribed_types(),
        [
            "state_changed",
            MESSAGE_EVENT,
            "state_changed",
            MESSAGE_EVENT
        ]
    );
    world
        .fake
        .fire(MESSAGE_EVENT, &json!({"text": "still there?"}));
    let answered = notifications(&world, 1).await;
    assert_eq!(answered[0].message, "echo: still there? (0 earlier)");
    running.stop().await;
}

#[tokio::test]
async fn frames_that_cannot_be_read_are_skipped() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    subscribed(&world, 1).await;
    world.fake.push_frame("{not json");
    world.fake.push_frame("[1, 2, 3]");
    world
        .fake
        .push_frame(r#"{"id": 1, "type": "event", "event": "broken"}"#);
    world.fake.push_frame(
        r#"{"id": 1, "type": "event", "event": {"event_type": "state_changed", "data": 7}}"#,
    );
    world.fake.push_frame(r#"{"id": 2, "type": "event", "event": {"event_type": "hermod_message", "data": {"text": 42}}}"#);
    world
        .fake
        .fire(MESSAGE_EVENT, &json!({"text": "after the noise"}));
    let answered = notifications(&world, 1).await;
    assert_eq!(answered[0].message, "echo: after the noise (0 earlier)");
    assert_eq!(stats.inputs(), ["after the noise"]);
    assert_eq!(world.fake.connections(), 1, "the connection was kept");
    running.stop().await;
}

#[tokio::test]
async fn failed_replies_are_classified_for_the_outbox() {
    let world = World::new().await;
    let adapter = world.adapter(world.config());
    let messenger: &dyn Messenger = &adapter;
    world.fake.fail_next_call(Fault::Status(502));
    let sent = messenger.send(outbound("ha_events", "x")).await;
    assert!(matches!(sent, Err(AdapterError::Transient(_))), "{sent:?}");
    world.fake.fail_next_call(Fault::Status(400));
    let sent = messenger.send(outbound("ha_events", "x")).await;
    assert!(matches!(sent, Err(AdapterError::Rejected(_))), "{sent:?}");
    world.fake.fail_next_call(Fault::Status(401));
    let sent = messenger.send(outbound("ha_events", "x")).await;
    match sent {
        Err(AdapterError::Auth(message)) => assert!(message.contains("HASS_TOKEN"), "{message}"),
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert!(world.fake.notifications().is_empty());
}
