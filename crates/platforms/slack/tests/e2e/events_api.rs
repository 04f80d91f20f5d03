//! The Events API over HTTP: signed requests answered, everything else
//! refused before it is read, the URL handshake, retries dropped.

use crate::support::{Running, World, allow_all, events_config, settled, within};
use hermod_testkit::ScriptedAgent;
use hermod_testkit::slack::{DeliveryOutcome, Signing};

/// Starts a gateway in Events API mode and points the fake at it.
async fn start(world: &World, agent: ScriptedAgent) -> (Running, String) {
    let running = world
        .start_with(agent, allow_all(), events_config(world))
        .await;
    let addr = within("the listener", async {
        loop {
            if let Some(addr) = running.adapter.webhooks().local_addr() {
                break addr;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    let url = format!("http://{addr}/slack/events");
    (running, url)
}

#[tokio::test]
async fn the_url_is_verified_and_signed_events_are_answered_once() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let (running, url) = start(&world, agent).await;
    let check = world.fake.verify_request_url(&url).await;
    assert!(check.passed, "{check:?}");
    world.fake.set_request_url(Some(&url));

    let general = world.fake.public_channel("general");
    let alice = world.fake.user("alice");
    let dm = alice.dm_channel();
    alice.dm("over http");
    alice.mention_bot_in(&general, "and in a channel");
    settled(&world.fake, &dm, 1).await;
    settled(&world.fake, &general, 1).await;
    assert_eq!(stats.inputs().len(), 2, "{:?}", stats.inputs());
    let deliveries = world.fake.http_deliveries();
    assert!(
        deliveries
            .iter()
            .all(|d| d.outcome == DeliveryOutcome::Status(200)),
        "{deliveries:?}"
    );
    assert_eq!(world.fake.connections_opened(), 0, "no Socket Mode");
    running.stop().await;
}

#[tokio::test]
async fn requests_without_a_valid_signature_are_refused_before_parsing() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let (running, url) = start(&world, agent).await;
    let alice = world.fake.user("alice");
    let event = serde_json::json!({
        "type": "event_callback",
        "team_id": world.fake.config().team_id,
        "event_id": "Ev0FORGED01",
        "event": {
            "type": "message",
            "channel": alice.dm_channel(),
            "channel_type": "im",
            "user": alice.id(),
            "text": "forged",
            "ts": "1700000000.000100"
        }
    })
    .to_string();
    for signing in [
        Signing::WrongSecret,
        Signing::Stale,
        Signing::Missing,
        Signing::Tampered,
    ] {
        let outcome = world.fake.post_to(&url, &event, signing).await;
        assert_eq!(outcome, DeliveryOutcome::Status(401), "{signing:?}");
    }
    // Not even JSON, but unsigned: 401, not a parse error.
    let outcome = world.fake.post_to(&url, "{{{", Signing::Missing).await;
    assert_eq!(outcome, DeliveryOutcome::Status(401));
    // Signed garbage is acknowledged and skipped.
    let outcome = world.fake.post_to(&url, "{{{", Signing::Valid).await;
    assert_eq!(outcome, DeliveryOutcome::Status(200));

    // The same event, signed, gets through — once, however often it comes.
    for _ in 0..2 {
        let outcome = world.fake.post_to(&url, &event, Signing::Valid).await;
        assert_eq!(outcome, DeliveryOutcome::Status(200));
    }
    settled(&world.fake, &alice.dm_channel(), 1).await;
    assert_eq!(stats.inputs(), ["forged"]);
    running.stop().await;
}

/// Without Socket Mode, a slash command comes as a signed form to the
/// request URL; it runs the gateway's command and never reaches the agent.
#[tokio::test]
async fn a_slash_command_over_http_runs_the_gateway_command() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let (running, url) = start(&world, agent).await;
    world.fake.set_request_url(Some(&url));
    let dave = world.fake.user("dave");
    let dm = dave.dm_channel();
    dave.slash_command(&dm, "/status", "");
    within(
        "/status",
        world.fake.wait_for(&dm, |m| {
            m.iter().any(|m| m.current_text().contains("Agent: idle"))
        }),
    )
    .await;
    assert!(
        stats.requests().is_empty(),
        "commands do not reach the agent"
    );
    let deliveries = world.fake.http_deliveries();
    assert!(
        deliveries
            .iter()
            .all(|d| d.outcome == DeliveryOutcome::Status(200)),
        "{deliveries:?}"
    );
    running.stop().await;
}
