//! Faults: a rate-limited send waited out and sent once; a stream refused
//! with a 5xx retried; an account the daemon does not serve stops the
//! adapter with a hint; a refused send is not retried in a loop.

use crate::support::{USER, World, listening, replies, texts, within};
use hermod_testkit::ScriptedAgent;
use hermod_testkit::signal::Fault;

#[tokio::test]
async fn a_rate_limited_send_is_sent_once_after_the_wait() {
    let world = World::new().await;
    world.fake.fail_next(
        "send",
        Fault::RateLimited {
            retry_after: Some(1),
        },
    );
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "hi");
    let sent = replies(&world, 1).await;
    assert!(sent[0].message.starts_with("echo: hi"));
    let attempts = world
        .fake
        .calls()
        .iter()
        .filter(|(method, _)| method == "send")
        .count();
    assert_eq!(attempts, 2, "refused once, then sent");
    world.fake.user_says(USER, "and then");
    let sent = replies(&world, 2).await;
    assert_eq!(sent.len(), 2, "the reply was sent once: {:?}", texts(&sent));
    running.stop().await;
}

#[tokio::test]
async fn a_refused_stream_is_opened_again_after_the_backoff() {
    let world = World::new().await;
    world.fake.fail_next("events", Fault::Http(503));
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "after the outage");
    let sent = replies(&world, 1).await;
    assert!(sent[0].message.starts_with("echo: after the outage"));
    running.stop().await;
}

#[tokio::test]
async fn an_account_the_daemon_does_not_serve_stops_the_adapter() {
    let world = World::new().await;
    let config = hermod_signal::SignalConfig {
        account: Some("+15559999999".into()),
        ..world.config()
    };
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    let reason = running.failed().await;
    assert!(reason.contains("SIGNAL_ACCOUNT"), "{reason}");
    assert!(
        !reason.contains("+15559999999"),
        "the number is redacted: {reason}"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_send_signal_cli_refuses_is_not_retried_in_a_loop() {
    let world = World::new().await;
    world.fake.fail_next(
        "send",
        Fault::Error {
            code: -1,
            message: "The user +15550000002 is not registered.".into(),
        },
    );
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "first");
    world.fake.user_says(USER, "second");
    let sent = replies(&world, 1).await;
    assert!(
        sent[0].message.starts_with("echo: second"),
        "{:?}",
        texts(&sent)
    );
    let attempts = within("the calls", async {
        world
            .fake
            .calls()
            .iter()
            .filter(|(method, _)| method == "send")
            .count()
    })
    .await;
    assert_eq!(attempts, 2, "the refused send was not repeated");
    running.stop().await;
}

#[tokio::test]
async fn the_accounts_number_never_reaches_the_logs() {
    let logs = hermod_testkit::logs::Logs::capture();
    let world = World::new().await;
    world.fake.fail_next("events", Fault::Http(503));
    world.fake.fail_next(
        "send",
        Fault::RateLimited {
            retry_after: Some(1),
        },
    );
    let config = hermod_signal::SignalConfig {
        group_allowed_users: vec!["*".into()],
        ..world.config()
    };
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "hi");
    world.fake.group_says(
        "R1JPVVA=",
        USER,
        "\u{fffc} hello",
        &[hermod_testkit::signal::Mention::of_account(0)],
    );
    world.fake.push_raw("event:receive\ndata:{broken\n\n");
    replies(&world, 2).await;
    running.stop().await;
    assert!(!logs.lines().is_empty(), "nothing was captured");
    logs.assert_never_shows(&world.fake.account());
    assert_debug_hides(&world);
}

/// The adapter's and its configuration's `Debug` output.
fn assert_debug_hides(world: &World) {
    let config = world.config();
    let shown = format!("{config:?} {:?}", world.adapter(world.config()));
    assert!(!shown.contains(&world.fake.account()), "{shown}");
}
