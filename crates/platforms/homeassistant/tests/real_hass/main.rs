//! The Home Assistant adapter against a real Home Assistant (2025.4.4,
//! from PyPI), end to end through a gateway with the scripted agent.
//! Skipped with a note when `HERMOD_HASS` is unset, failing under CI.
//!
//! One Home Assistant serves the whole binary (it takes 5-15 s to start),
//! and the scenarios run in order in one test: Home Assistant's event bus
//! and notification list are shared, so parallel gateways would answer
//! each other's events.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod hass;

use hass::RealHass;
use hermod_core::{Adapter, AdapterError, ComponentState, Messenger, PlatformConfig, ProbeContext};
use hermod_homeassistant::{HomeAssistantAdapter, HomeAssistantConfig};
use hermod_model::Secret;
use hermod_testkit::agent::Step;
use hermod_testkit::harness::{self, PlatformUnderTest, message_ref, outbound, within};
use hermod_testkit::{AgentStats, ScriptedAgent};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Where the gateway finds Home Assistant.
#[derive(Debug, Clone)]
struct Endpoint {
    url: String,
    token: String,
}

/// The real Home Assistant, as the harness drives it.
#[derive(Debug)]
struct Real;

impl PlatformUnderTest for Real {
    type Fake = Endpoint;
    type Config = HomeAssistantConfig;
    type Adapter = HomeAssistantAdapter;

    async fn start_fake() -> Endpoint {
        unreachable!("the worlds are made with World::on")
    }

    fn config(world: &World) -> HomeAssistantConfig {
        HomeAssistantConfig {
            url: world.fake.url.clone(),
            token: Some(Secret::new(world.fake.token.clone())),
            watch_entities: vec!["input_boolean.test_switch".into()],
            watch_domains: vec!["sensor".into()],
            cooldown_seconds: 0,
            request_timeout_secs: 10,
            max_reconnect_delay_secs: 1,
            ..HomeAssistantConfig::default()
        }
    }

    fn adapter(_world: &World, config: HomeAssistantConfig) -> HomeAssistantAdapter {
        HomeAssistantAdapter::new(config).unwrap()
    }
}

type World = harness::World<Real>;

/// Echoes like `ScriptedAgent::echo`; a request containing `long`
/// gets a long Markdown answer ending in `The end.`.
fn agent() -> ScriptedAgent {
    ScriptedAgent::scripted(|request| {
        let input = request.input.text();
        if input.contains("long") {
            let paragraph = "**Heating** is on in the *hall* 🔥 and the windows are closed. ";
            return vec![Step::Text(format!("{} The end.", paragraph.repeat(150)))];
        }
        vec![Step::Text(format!(
            "echo: {input} ({} earlier)",
            request.history.len()
        ))]
    })
}

/// Waits until the agent saw `n` inputs.
async fn inputs(stats: &Arc<AgentStats>, n: usize) -> Vec<String> {
    within("the agent's inputs", async {
        loop {
            let seen = stats.inputs();
            if seen.len() >= n {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

#[tokio::test]
async fn against_a_real_home_assistant() {
    let Some(executable) = hass::executable() else {
        return;
    };
    let started = tokio::time::Instant::now();
    let mut hass = RealHass::start(&executable).await;
    eprintln!("Home Assistant ready in {:?}", started.elapsed());
    let world = World::on(Endpoint {
        url: hass.url.clone(),
        token: hass.token.clone(),
    });

    the_live_check_accepts_the_token_and_names_a_refused_one(&world).await;
    a_refused_token_stops_the_adapter(&world).await;
    let stats = changes_and_messages_are_answered_once_as_notifications(&hass, &world).await;
    a_restart_answers_nothing_twice(&hass, &world, &stats).await;
    replies_are_split_resent_in_place_pushed_and_dismissed(&hass, &world).await;
    // Last: a restart empties Home Assistant's notification list.
    a_restarted_home_assistant_is_connected_to_again(&mut hass, &world).await;
    eprintln!("all scenarios done in {:?}", started.elapsed());
}

async fn the_live_check_accepts_the_token_and_names_a_refused_one(world: &World) {
    let ctx = ProbeContext {
        http: hermod_http::HttpClient::new().unwrap(),
        timeout: Duration::from_secs(10),
    };
    let found = world.config().probe(&ctx).await.unwrap();
    assert!(found.contains("API running"), "{found}");
    let mut wrong = world.config();
    wrong.token = Some(Secret::new("not-a-token"));
    let refused = wrong.probe(&ctx).await.unwrap_err();
    assert!(refused.contains("HASS_TOKEN"), "{refused}");
}

async fn a_refused_token_stops_the_adapter(world: &World) {
    let mut wrong = world.config();
    wrong.token = Some(Secret::new("not-a-token"));
    let direct = world.direct(wrong);
    let ended = within("run to give up", direct.spawn()).await.unwrap();
    assert!(
        matches!(&ended, Err(AdapterError::Auth(m)) if m.contains("HASS_TOKEN")),
        "auth_invalid is an authentication error: {ended:?}"
    );
}

async fn changes_and_messages_are_answered_once_as_notifications(
    hass: &RealHass,
    world: &World,
) -> Arc<AgentStats> {
    let agent = agent();
    let stats = agent.stats();
    let running = world.start(agent).await;
    running.connected().await;

    // A service call changes the input_boolean: state_changed.
    let status = hass
        .post(
            "/api/services/input_boolean/turn_on",
            &json!({"entity_id": "input_boolean.test_switch"}),
        )
        .await;
    assert_eq!(status, 200);
    let expected = "echo: [Home Assistant] Test (input_boolean.test_switch): changed from 'off' to 'on' (0 earlier)";
    let answer = hass
        .wait_for_notification("answering the switch", |m| m == expected)
        .await;
    assert_eq!(answer["title"], "Hermes Agent");
    assert!(
        answer["notification_id"]
            .as_str()
            .unwrap()
            .starts_with("hermod_")
    );
    world.drained().await;

    // An unwatched entity is not forwarded; a sensor set over REST is.
    assert_eq!(
        hass.post("/api/states/light.unwatched", &json!({"state": "on"}))
            .await,
        201
    );
    let sensor = json!({"state": "21", "attributes": {"friendly_name": "Hall", "unit_of_measurement": "°C"}});
    assert_eq!(hass.post("/api/states/sensor.hall", &sensor).await, 201);
    hass.wait_for_notification("answering the sensor", |m| {
        m.starts_with("echo: [Home Assistant] Hall: changed from unknown°C to 21°C")
    })
    .await;
    world.drained().await;

    // An automation's message event, as written.
    let fired = hass
        .post(
            "/api/events/hermod_message",
            &json!({"text": "Is anyone home?"}),
        )
        .await;
    assert_eq!(fired, 200);
    hass.wait_for_notification("answering the message event", |m| {
        m == "echo: Is anyone home? (4 earlier)"
    })
    .await;
    world.drained().await;

    // Three inputs and no more: the notifications hermod created did not
    // come back as events.
    assert_eq!(
        inputs(&stats, 3).await,
        [
            "[Home Assistant] Test (input_boolean.test_switch): changed from 'off' to 'on'",
            "[Home Assistant] Hall: changed from unknown°C to 21°C",
            "Is anyone home?",
        ]
    );
    running.stop().await;
    stats
}

async fn a_restart_answers_nothing_twice(hass: &RealHass, world: &World, before: &Arc<AgentStats>) {
    assert_eq!(before.inputs().len(), 3);
    // While hermod is down: lost, as Home Assistant keeps no backlog.
    hass.post("/api/events/hermod_message", &json!({"text": "while down"}))
        .await;
    let agent = agent();
    let stats = agent.stats();
    let running = world.start(agent).await;
    running.connected().await;
    hass.post(
        "/api/events/hermod_message",
        &json!({"text": "after the restart"}),
    )
    .await;
    hass.wait_for_notification("answering after the restart", |m| {
        m.starts_with("echo: after the restart")
    })
    .await;
    world.drained().await;
    assert_eq!(
        stats.inputs(),
        ["after the restart"],
        "nothing answered twice, and what came while down is lost"
    );
    running.stop().await;
}

async fn replies_are_split_resent_in_place_pushed_and_dismissed(hass: &RealHass, world: &World) {
    let adapter = world.adapter(world.config());
    let messenger: &dyn Messenger = &adapter;
    assert!(!adapter.capabilities().can_edit);

    let text = format!(
        "{} The end.",
        "**Heating** is on in the *hall* 🔥 and the windows are closed. ".repeat(150)
    );
    let before = hass.notifications().await.len();
    let sent = messenger.send(outbound("ha_events", &text)).await.unwrap();
    assert!(sent.message_ids.len() >= 2, "{sent:?}");
    let after = hass.notifications().await;
    let pieces = &after[before..];
    assert_eq!(pieces.len(), sent.message_ids.len());
    for piece in pieces {
        let message = piece["message"].as_str().unwrap();
        assert!(
            message.chars().count() <= 4096,
            "{} characters",
            message.chars().count()
        );
        assert!(
            message.contains("**Heating**"),
            "Markdown as Home Assistant renders it"
        );
    }

    // Sent again (the outbox after a crash): replaced, not added.
    let again = messenger.send(outbound("ha_events", &text)).await.unwrap();
    assert_eq!(again, sent);
    assert_eq!(hass.notifications().await.len(), after.len());

    // Dismissed.
    for id in &sent.message_ids {
        messenger
            .delete(message_ref("ha_events", id))
            .await
            .unwrap();
    }
    assert_eq!(hass.notifications().await.len(), before);

    // Through a notify service: Home Assistant's own
    // notify.persistent_notification, which takes plain text.
    messenger
        .send(outbound(
            "notify.persistent_notification",
            "**Dinner** is ready",
        ))
        .await
        .unwrap();
    hass.wait_for_notification("from the notify service", |m| m == "Dinner is ready")
        .await;
    let missing = messenger
        .send(outbound("notify.no_such_phone", "hello"))
        .await;
    assert!(
        matches!(missing, Err(AdapterError::Rejected(_))),
        "{missing:?}"
    );
}

#[allow(
    clippy::print_stderr,
    reason = "the test reports how long reconnecting took"
)]
async fn a_restarted_home_assistant_is_connected_to_again(hass: &mut RealHass, world: &World) {
    let running = world.start(agent()).await;
    running.connected().await;
    hass.stop().await;
    let reason = harness::wait_for_state(
        &running.health,
        "homeassistant",
        "the adapter to notice",
        |state| match state {
            ComponentState::Degraded { reason } => Some(reason.clone()),
            _ => None,
        },
    )
    .await;
    eprintln!("degraded: {reason}");
    let restarted = tokio::time::Instant::now();
    hass.start_again().await;
    running.connected().await;
    eprintln!(
        "reconnected {:?} after Home Assistant was started again",
        restarted.elapsed()
    );
    hass.post(
        "/api/events/hermod_message",
        &json!({"text": "back again?"}),
    )
    .await;
    hass.wait_for_notification("after Home Assistant restarted", |m| {
        m.starts_with("echo: back again?")
    })
    .await;
    running.stop().await;
}
