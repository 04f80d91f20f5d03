//! Who may write: `EMAIL_ALLOWED_USERS` (core's allowlist) names
//! addresses; mail from anyone else is ignored, as in Hermes — no pairing
//! code is mailed to strangers. Commands work as on every platform.

use crate::support::{JANE, Mail, replies, world};
use hermod_core::{GatewayConfig, PlatformPolicy};
use hermod_testkit::ScriptedAgent;

#[tokio::test]
async fn a_stranger_is_ignored_and_an_allowed_sender_answered() {
    let Some(world) = world().await else { return };
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let mut gateway = GatewayConfig::default();
    gateway.platforms.insert(
        "email".into(),
        PlatformPolicy {
            allowed_users: vec![JANE.into()],
            ..PlatformPolicy::default()
        },
    );
    let running = world.start_with(agent, gateway, world.config()).await;
    world
        .fake
        .deliver(&Mail::new("stranger@example.net", "Hi", "let me in"))
        .await;
    world
        .fake
        .deliver(&Mail::new("Jane <Jane@Example.org>", "Hi", "it is me"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(sent[0].text, "echo: [Subject: Hi]\n\nit is me (0 earlier)");
    assert_eq!(stats.inputs(), ["[Subject: Hi]\n\nit is me"]);
    assert!(
        world.fake.sent_to("stranger@example.net").is_empty(),
        "no pairing code is mailed to a stranger"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_command_is_answered_by_the_gateway_not_the_agent() {
    let Some(world) = world().await else { return };
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: help", "/help"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert!(sent[0].text.contains("/new"), "{}", sent[0].text);
    assert!(
        stats.inputs().is_empty(),
        "the agent saw {:?}",
        stats.inputs()
    );
    running.stop().await;
}
