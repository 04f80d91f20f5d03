//! Receiving: watched changes answered once, as notifications; filters,
//! cooldown and the message event; a restart answers nothing twice (and
//! what changed while hermod was down is lost, as documented).

use crate::fake::MESSAGE_EVENT;
use crate::support::{World, notifications, subscribed, texts};
use hermod_testkit::ScriptedAgent;
use serde_json::json;

#[tokio::test]
async fn a_watched_change_is_answered_with_a_notification() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    subscribed(&world, 1).await;
    world.fake.set_state(
        "binary_sensor.front_door",
        "on",
        &json!({"friendly_name": "Front Door", "device_class": "door"}),
    );
    let answered = notifications(&world, 1).await;
    assert_eq!(
        texts(&answered),
        ["echo: [Home Assistant] Front Door: triggered (was cleared) (0 earlier)"]
    );
    assert_eq!(answered[0].title.as_deref(), Some("Hermes Agent"));
    assert!(answered[0].id.starts_with("hermod_"), "{}", answered[0].id);
    running.stop().await;
}

#[tokio::test]
async fn unwatched_ignored_and_unchanged_states_are_not_forwarded() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    subscribed(&world, 1).await;
    let name = json!({"friendly_name": "Temp", "unit_of_measurement": "°C"});
    world.fake.set_state("light.kitchen", "on", &json!({}));
    world.fake.set_state("sensor.ignored", "1", &json!({}));
    world.fake.set_state("sensor.temp", "20", &name);
    // Each answered before the next, so no turn interrupts another.
    notifications(&world, 1).await;
    world.drained().await;
    // The same state with other attributes: no change.
    world.fake.set_state(
        "sensor.temp",
        "20",
        &json!({"friendly_name": "Temp", "unit_of_measurement": "°C", "battery": 90}),
    );
    world
        .fake
        .set_state("binary_sensor.window", "off", &json!({}));
    let answered = notifications(&world, 2).await;
    assert_eq!(answered.len(), 2, "{:?}", texts(&answered));
    assert_eq!(
        stats.inputs(),
        [
            "[Home Assistant] Temp: changed from unknown°C to 20°C",
            "[Home Assistant] binary_sensor.window: cleared (was cleared)",
        ]
    );
    running.stop().await;
}

#[tokio::test]
async fn the_cooldown_keeps_one_change_per_entity() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let config = hermod_homeassistant::HomeAssistantConfig {
        cooldown_seconds: 3600,
        ..world.config()
    };
    let running = world
        .start_with(agent, hermod_testkit::harness::allow_all(), config)
        .await;
    subscribed(&world, 1).await;
    world.fake.set_state("sensor.power", "100", &json!({}));
    notifications(&world, 1).await;
    world.drained().await;
    world.fake.set_state("sensor.power", "250", &json!({}));
    world.fake.set_state("sensor.other", "5", &json!({}));
    notifications(&world, 2).await;
    assert_eq!(
        stats.inputs(),
        [
            "[Home Assistant] sensor.power: changed from unknown to 100",
            "[Home Assistant] sensor.other: changed from unknown to 5",
        ]
    );
    running.stop().await;
}

#[tokio::test]
async fn a_message_event_reaches_the_agent_as_written() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    subscribed(&world, 1).await;
    world
        .fake
        .fire(MESSAGE_EVENT, &json!({"text": "Is anyone home?"}));
    // Answered before the next, so no turn interrupts another.
    notifications(&world, 1).await;
    world.drained().await;
    world
        .fake
        .fire("some_other_event", &json!({"text": "not for us"}));
    world
        .fake
        .fire(MESSAGE_EVENT, &json!({"text": "And the **garage**?"}));
    let answered = notifications(&world, 2).await;
    assert_eq!(
        texts(&answered),
        [
            "echo: Is anyone home? (0 earlier)",
            "echo: And the **garage**? (2 earlier)"
        ]
    );
    running.stop().await;
}

/// A change's event as the fake would send it, with a fixed context id.
fn change(context: &str, entity: &str, from: &str, to: &str) -> serde_json::Value {
    json!({
        "event_type": "state_changed",
        "data": {
            "entity_id": entity,
            "old_state": {"entity_id": entity, "state": from, "attributes": {}},
            "new_state": {"entity_id": entity, "state": to, "attributes": {}}
        },
        "origin": "LOCAL",
        "time_fired": "2025-04-30T12:00:00+00:00",
        "context": {"id": context, "parent_id": null, "user_id": null}
    })
}

#[tokio::test]
async fn a_restart_answers_nothing_twice_and_loses_what_changed_while_down() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    subscribed(&world, 1).await;
    let first = change(
        "01JTRESTART000000000000001",
        "binary_sensor.door",
        "off",
        "on",
    );
    world.fake.push_event(&first);
    notifications(&world, 1).await;
    running.stop().await;

    // While hermod is down: Home Assistant keeps no backlog for it.
    world.fake.set_state("sensor.while_down", "1", &json!({}));

    let running = world.start(ScriptedAgent::echo()).await;
    subscribed(&world, 2).await;
    // The same change delivered again (same context id) is not answered
    // again; a new one is.
    world.fake.push_event(&first);
    world.fake.push_event(&change(
        "01JTRESTART000000000000002",
        "binary_sensor.door",
        "on",
        "off",
    ));
    let answered = notifications(&world, 2).await;
    assert_eq!(
        texts(&answered),
        [
            "echo: [Home Assistant] binary_sensor.door: triggered (was cleared) (0 earlier)",
            "echo: [Home Assistant] binary_sensor.door: cleared (was triggered) (2 earlier)",
        ]
    );
    assert!(
        !texts(&answered).iter().any(|t| t.contains("while_down")),
        "a change made while hermod was down is lost (Home Assistant has no backlog)"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_refused_message_subscription_leaves_the_state_changes() {
    let world = World::new().await;
    // A token of a user who is not an administrator.
    world.fake.refuse_subscriptions_to(MESSAGE_EVENT);
    let running = world.start(ScriptedAgent::echo()).await;
    running.connected().await;
    world.fake.set_state("sensor.door", "open", &json!({}));
    let answered = notifications(&world, 1).await;
    assert!(answered[0].message.contains("sensor.door"), "{answered:?}");
    assert_eq!(world.fake.connections(), 1, "not a reason to reconnect");
    running.stop().await;
}

#[tokio::test]
async fn without_a_message_event_only_state_changes_are_subscribed() {
    let world = World::new().await;
    let config = hermod_homeassistant::HomeAssistantConfig {
        message_event: String::new(),
        ..world.config()
    };
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    running.connected().await;
    assert_eq!(world.fake.subscribed_types(), ["state_changed"]);
    world.fake.fire(MESSAGE_EVENT, &json!({"text": "unheard"}));
    world.fake.set_state("sensor.door", "open", &json!({}));
    let answered = notifications(&world, 1).await;
    assert!(answered[0].message.contains("sensor.door"), "{answered:?}");
    running.stop().await;
}

#[tokio::test]
async fn a_change_before_the_last_subscription_is_answered_is_not_lost() {
    let world = World::new().await;
    world.fake.push_after_subscribing(&change(
        "01JTEARLY0000000000000001",
        "binary_sensor.early",
        "off",
        "on",
    ));
    let running = world.start(ScriptedAgent::echo()).await;
    let answered = notifications(&world, 1).await;
    assert_eq!(
        texts(&answered),
        ["echo: [Home Assistant] binary_sensor.early: triggered (was cleared) (0 earlier)"]
    );
    running.stop().await;
}
