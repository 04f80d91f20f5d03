//! TLS: the bot connects over TLS with the server's CA named in
//! `IRC_CA_FILE`; without it the certificate is not trusted and the
//! adapter says so and keeps trying.

use crate::support::{World, ngircd, user};
use hermod_core::ComponentState;
use hermod_testkit::ScriptedAgent;
use hermod_testkit::harness::wait_for_state;

#[tokio::test]
async fn over_tls_with_the_ca_file_the_bot_answers() {
    if ngircd().is_none() {
        return;
    }
    let world = World::new().await;
    let alice = user(&world, "alice").await;
    let mut config = world.config();
    config.use_tls = true;
    config.port = Some(world.fake.server.tls_port);
    config.ca_file = Some(world.fake.server.ca_file().display().to_string());
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    let bot = world.fake.nick.clone();
    alice.wait_online(&bot).await;
    alice.say(&bot, "secure?").await;
    let answered = alice.wait_messages(&bot, &alice.nick, 1).await;
    assert_eq!(answered, ["echo: secure? (0 earlier)"]);
    running.stop().await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_reported_and_retried() {
    if ngircd().is_none() {
        return;
    }
    let world = World::new().await;
    let mut config = world.config();
    config.use_tls = true;
    config.port = Some(world.fake.server.tls_port);
    let direct = world.direct(config);
    let run = direct.spawn();
    let reason = wait_for_state(
        direct.health(),
        "irc",
        "a degraded state",
        |state| match state {
            ComponentState::Degraded { reason } => Some(reason.clone()),
            _ => None,
        },
    )
    .await;
    assert!(reason.contains("TLS handshake"), "{reason}");
    assert!(
        !run.is_finished(),
        "a certificate problem is retried, not fatal"
    );
    direct.ctx.shutdown.cancel();
    assert_eq!(run.await.unwrap(), Ok(()));
}

#[tokio::test]
async fn the_live_check_registers_and_names_a_refused_password() {
    use hermod_core::{PlatformConfig, ProbeContext};
    if ngircd().is_none() {
        return;
    }
    let world = World::new().await;
    let ctx = ProbeContext {
        http: hermod_adapter_kit::http_client().unwrap(),
        timeout: std::time::Duration::from_secs(10),
    };
    let mut config = world.config();
    config.use_tls = true;
    config.port = Some(world.fake.server.tls_port);
    config.ca_file = Some(world.fake.server.ca_file().display().to_string());
    let found = config.probe(&ctx).await.unwrap();
    assert!(
        found.contains("registered") && found.contains("TLS"),
        "{found}"
    );

    config.server_password = Some(hermod_model::Secret::new("wrong-password-123"));
    let refused = config.probe(&ctx).await.unwrap_err();
    assert!(refused.contains("IRC_SERVER_PASSWORD"), "{refused}");
    assert!(!refused.contains("wrong-password-123"));
}
