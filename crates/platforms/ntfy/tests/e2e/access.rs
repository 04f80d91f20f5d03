//! Who may talk: the topic is the user, so core's allowlist names topics;
//! a topic not allowed gets a pairing code and no turn. Commands work as
//! on every platform.

use crate::support::{TOPIC, World, replies, within};
use hermod_core::GatewayConfig;
use hermod_testkit::ScriptedAgent;

#[tokio::test]
async fn a_topic_not_allowed_gets_a_pairing_code_and_no_turn() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world
        .start_with(agent, GatewayConfig::default(), world.config())
        .await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world.fake.publish(TOPIC, "let me in");
    let answered = replies(&world, 1).await;
    assert!(
        answered[0].message.contains("pairing code"),
        "{}",
        answered[0].message
    );
    assert!(
        stats.inputs().is_empty(),
        "the agent saw {:?}",
        stats.inputs()
    );
    running.stop().await;
}

#[tokio::test]
async fn a_command_is_answered_by_the_gateway_not_the_agent() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world.fake.publish(TOPIC, "/help");
    let answered = replies(&world, 1).await;
    assert!(
        answered[0].message.contains("/new"),
        "{}",
        answered[0].message
    );
    assert!(
        stats.inputs().is_empty(),
        "the agent saw {:?}",
        stats.inputs()
    );
    running.stop().await;
}

#[tokio::test]
async fn the_live_check_reads_the_topic_and_names_a_refused_token() {
    use hermod_core::{PlatformConfig, ProbeContext};
    let fake = hermod_testkit::ntfy::FakeNtfy::builder()
        .with_token("tk_right")
        .start()
        .await;
    let world = World::on(fake);
    let ctx = ProbeContext {
        http: hermod_http::HttpClient::new().unwrap(),
        timeout: std::time::Duration::from_secs(5),
    };
    let found = world.config().probe(&ctx).await.unwrap();
    assert!(found.contains(TOPIC), "{found}");
    let mut wrong = world.config();
    wrong.token = Some(hermod_model::Secret::new("tk_wrong"));
    let refused = wrong.probe(&ctx).await.unwrap_err();
    assert!(refused.contains("NTFY_TOKEN"), "{refused}");
    assert!(!refused.contains("tk_wrong"), "{refused}");
    assert!(
        world.fake.subscriptions().is_empty(),
        "a poll is no subscription"
    );
}

#[tokio::test]
async fn ntfy_allowed_users_names_the_topic() {
    let world = World::new().await;
    let mut gateway = GatewayConfig::default();
    gateway.platforms.insert(
        "ntfy".into(),
        hermod_core::PlatformPolicy {
            allowed_users: vec![TOPIC.into()],
            ..Default::default()
        },
    );
    let running = world
        .start_with(ScriptedAgent::echo(), gateway, world.config())
        .await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world.fake.publish(TOPIC, "allowed");
    let answered = replies(&world, 1).await;
    assert_eq!(answered[0].message, "echo: allowed (0 earlier)");
    running.stop().await;
}
