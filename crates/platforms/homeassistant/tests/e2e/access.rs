//! Who may talk: the token is the trust boundary, so Home Assistant's
//! events are answered with no allowlist at all; the live check.

use crate::fake::{FakeHass, MESSAGE_EVENT, TOKEN};
use crate::support::{World, notifications, subscribed};
use hermod_core::{GatewayConfig, PlatformConfig, ProbeContext};
use hermod_model::Secret;
use hermod_testkit::ScriptedAgent;
use serde_json::json;

#[tokio::test]
async fn events_are_answered_without_any_allowlist() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    // Core's defaults: no allowed users, strangers get a pairing code.
    let running = world
        .start_with(agent, GatewayConfig::default(), world.config())
        .await;
    subscribed(&world, 1).await;
    world.fake.fire(MESSAGE_EVENT, &json!({"text": "hi"}));
    let answered = notifications(&world, 1).await;
    assert_eq!(answered[0].message, "echo: hi (0 earlier)");
    assert_eq!(stats.inputs(), ["hi"]);
    running.stop().await;
}

#[tokio::test]
async fn the_live_check_accepts_the_token_and_names_a_refused_one() {
    let fake = FakeHass::start().await;
    let world = World::on(fake);
    let ctx = ProbeContext {
        http: hermod_http::HttpClient::new().unwrap(),
        timeout: std::time::Duration::from_secs(5),
    };
    let found = world.config().probe(&ctx).await.unwrap();
    assert!(found.contains("API running."), "{found}");
    let mut wrong = world.config();
    wrong.token = Some(Secret::new("eyJwrong.token"));
    let refused = wrong.probe(&ctx).await.unwrap_err();
    assert!(refused.contains("HASS_TOKEN"), "{refused}");
    assert!(
        !refused.contains("eyJwrong") && !refused.contains(TOKEN),
        "{refused}"
    );
}
