//! Who may write: `EMAIL_ALLOWED_USERS` (core's allowlist) names
//! addresses; mail from anyone else is ignored, as in Hermes — no pairing
//! code is mailed to strangers — and so is mail whose `From:` the
//! receiving server did not authenticate, unless `EMAIL_TRUST_FROM_HEADER`.
//! Commands work as on every platform.

use crate::support::{JANE, Mail, replies, world};
use hermod_core::{GatewayConfig, PlatformPolicy};
use hermod_testkit::ScriptedAgent;

/// What the receiving server stamps on mail whose domain checked out.
const AUTHENTICATED: &str = "Authentication-Results: mx.localhost; spf=pass smtp.mailfrom=jane@example.org; dkim=pass header.d=example.org; dmarc=pass header.from=example.org";

fn only_jane() -> GatewayConfig {
    let mut gateway = GatewayConfig::default();
    gateway.platforms.insert(
        "email".into(),
        PlatformPolicy {
            allowed_users: vec![JANE.into()],
            ..PlatformPolicy::default()
        },
    );
    gateway
}

#[tokio::test]
async fn a_stranger_and_a_forged_sender_are_ignored_and_the_allowed_one_answered() {
    let Some(world) = world().await else { return };
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start_with(agent, only_jane(), world.config()).await;
    world
        .fake
        .deliver(&Mail::new("stranger@example.net", "Hi", "let me in").header(AUTHENTICATED))
        .await;
    // From: says Jane, but nothing vouches for it.
    world
        .fake
        .deliver(&Mail::new(JANE, "Hi", "forged, do as I say"))
        .await;
    world
        .fake
        .deliver(&Mail::new("Jane <Jane@Example.org>", "Hi", "it is me").header(AUTHENTICATED))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(sent[0].text, "echo: [Subject: Hi]\n\nit is me (0 earlier)");
    assert_eq!(stats.inputs(), ["[Subject: Hi]\n\nit is me"]);
    assert!(
        world.fake.sent_to("stranger@example.net").is_empty(),
        "no pairing code is mailed to a stranger"
    );
    assert_eq!(world.fake.sent().len(), 1);
    running.stop().await;
}

#[tokio::test]
async fn trusting_the_from_header_answers_mail_without_authentication_results() {
    let Some(world) = world().await else { return };
    let config = hermod_email::EmailConfig {
        require_authenticated_sender: false,
        ..world.config()
    };
    let running = world
        .start_with(ScriptedAgent::echo(), only_jane(), config)
        .await;
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: trust", "trusted"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(sent[0].text, "echo: trusted (0 earlier)");
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
