//! Faults: Dovecot going away and coming back, a refused password, an
//! SMTP server asking to wait (421), TLS with and without the CA.

use crate::support::{JANE, Mail, replies, world};
use hermod_email::Security;
use hermod_testkit::ScriptedAgent;
use hermod_testkit::harness::allow_all;

#[tokio::test]
async fn the_adapter_reconnects_when_the_imap_server_comes_back() {
    let Some(mut world) = world().await else {
        return;
    };
    let running = world.start(ScriptedAgent::echo()).await;
    running.connected().await;
    world.fake.stop_imap();
    let reason = crate::support::degraded(&running).await;
    assert!(!reason.contains(crate::support::PASSWORD), "{reason}");
    world.fake.start_imap().await;
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: back", "are you back?"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(sent[0].text, "echo: are you back? (0 earlier)");
    running.stop().await;
}

#[tokio::test]
async fn a_refused_password_stops_the_adapter_with_a_clear_error() {
    let Some(world) = world().await else { return };
    let config = hermod_email::EmailConfig {
        password: Some(hermod_model::Secret::new("wrong-password-123")),
        ..world.config()
    };
    let running = world
        .start_with(ScriptedAgent::echo(), allow_all(), config)
        .await;
    let failed = running.failed().await;
    assert!(failed.contains("refused the login"), "{failed}");
    assert!(!failed.contains("wrong-password-123"), "{failed}");
    running.stop().await;
}

#[tokio::test]
async fn a_send_the_smtp_server_defers_is_retried_and_mailed_once() {
    let Some(world) = world().await else { return };
    world
        .fake
        .fail_next_send("421 4.7.0 Try again in 1 seconds");
    let running = world.start(ScriptedAgent::echo()).await;
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: later", "take your time"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(sent[0].text, "echo: take your time (0 earlier)");
    // Give a duplicate every chance to show: the outbox is done once the
    // reply is recorded as delivered.
    world.drained().await;
    assert_eq!(world.fake.sent().len(), 1);
    running.stop().await;
}

#[tokio::test]
async fn tls_and_starttls_work_with_the_ca_file() {
    let Some(world) = world().await else { return };
    let config = hermod_email::EmailConfig {
        imap_host: Some("localhost".into()),
        imap_port: world.fake.imaps_port,
        imap_security: Security::Tls,
        smtp_host: Some("localhost".into()),
        smtp_security: Security::Starttls,
        ca_file: Some(world.fake.ca_file().display().to_string()),
        ..world.config()
    };
    let running = world
        .start_with(ScriptedAgent::echo(), allow_all(), config)
        .await;
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: secure", "over TLS"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(sent[0].text, "echo: over TLS (0 earlier)");
    running.stop().await;
}

#[tokio::test]
async fn smtp_over_tls_from_the_first_byte_works() {
    let Some(world) = world().await else { return };
    let config = hermod_email::EmailConfig {
        smtp_host: Some("localhost".into()),
        smtp_port: world.fake.smtps_port,
        smtp_security: Security::Tls,
        ca_file: Some(world.fake.ca_file().display().to_string()),
        ..world.config()
    };
    let running = world
        .start_with(ScriptedAgent::echo(), allow_all(), config)
        .await;
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: smtps", "implicit"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(sent[0].text, "echo: implicit (0 earlier)");
    running.stop().await;
}

#[tokio::test]
async fn starttls_on_the_imap_port_works_too() {
    let Some(world) = world().await else { return };
    let config = hermod_email::EmailConfig {
        imap_host: Some("localhost".into()),
        imap_security: Security::Starttls,
        ca_file: Some(world.fake.ca_file().display().to_string()),
        ..world.config()
    };
    let running = world
        .start_with(ScriptedAgent::echo(), allow_all(), config)
        .await;
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: upgrade", "upgraded"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(sent[0].text, "echo: upgraded (0 earlier)");
    running.stop().await;
}

#[tokio::test]
async fn a_certificate_not_trusted_is_refused() {
    let Some(world) = world().await else { return };
    let config = hermod_email::EmailConfig {
        imap_host: Some("localhost".into()),
        imap_port: world.fake.imaps_port,
        imap_security: Security::Tls,
        ..world.config()
    };
    let running = world
        .start_with(ScriptedAgent::echo(), allow_all(), config)
        .await;
    let reason = crate::support::degraded(&running).await;
    assert!(reason.contains("certificate"), "{reason}");
    running.stop().await;
}

#[tokio::test]
async fn the_live_check_logs_in_and_names_a_refused_password() {
    use hermod_core::{PlatformConfig, ProbeContext};
    let Some(world) = world().await else { return };
    let ctx = ProbeContext {
        http: hermod_http::HttpClient::new().unwrap(),
        timeout: std::time::Duration::from_secs(5),
    };
    let found = world.config().probe(&ctx).await.unwrap();
    assert!(found.contains("INBOX readable"), "{found}");
    let wrong = hermod_email::EmailConfig {
        password: Some(hermod_model::Secret::new("wrong-password-456")),
        ..world.config()
    };
    let refused = wrong.probe(&ctx).await.unwrap_err();
    assert!(refused.contains("EMAIL_PASSWORD"), "{refused}");
    assert!(!refused.contains("wrong-password-456"), "{refused}");
}
