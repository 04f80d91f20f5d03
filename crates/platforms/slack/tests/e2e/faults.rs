//! Failures: rate limits, a refused token, secrets, stopping promptly.

use crate::support::{World, secrets, settled, within};
use hermod_core::{AdapterError, Messenger};
use hermod_slack::ConnectionState;
use hermod_testkit::harness::outbound;
use hermod_testkit::logs::Logs;
use hermod_testkit::slack::Fault;
use hermod_testkit::{ScriptedAgent, TestPlatform};
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test]
async fn a_rate_limited_update_is_honoured_and_the_final_text_arrives() {
    let world = World::new().await;
    let reply = "One two three four five six seven eight nine ten eleven twelve thirteen.";
    let agent = ScriptedAgent::streaming(reply, 8, Duration::from_millis(300));
    let running = world.start(agent).await;
    world
        .fake
        .fail_next("chat.update", Fault::RateLimited { retry_after: 2 });
    let alice = world.fake.user("alice");
    let dm = alice.dm_channel();
    alice.dm("count");

    let done = within(
        "the final text",
        world.fake.wait_for(&dm, |m| {
            m.iter().any(|m| m.current_text().ends_with("thirteen."))
        }),
    )
    .await;
    assert_eq!(world.fake.rate_limited_answers(), 1);
    let shown: String = done.iter().map(|m| m.current_text()).collect();
    assert!(shown.contains(reply), "{shown}");
    assert!(!shown.contains('▉'), "{shown}");
    // Nothing more of chat.update went there before Retry-After passed.
    let updates = world.fake.calls_of("chat.update");
    let refused = updates[0].at;
    assert!(
        updates[1..]
            .iter()
            .all(|c| c.at - refused >= Duration::from_millis(1990)),
        "an update came before Retry-After"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_429_on_a_send_is_surfaced_and_blocks_only_that_channel() {
    let world = World::new().await;
    let adapter = world.adapter(world.config());
    let one = world.fake.user("one").dm_channel();
    let two = world.fake.user("two").dm_channel();
    let message = |channel: &str, text: &str| outbound(channel, text);
    world
        .fake
        .fail_next("chat.postMessage", Fault::RateLimited { retry_after: 30 });
    let err = adapter.send(message(&one, "a")).await.unwrap_err();
    assert_eq!(
        err,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        }
    );
    let calls = world.fake.calls_of("chat.postMessage").len();
    let AdapterError::RateLimited {
        retry_after: Some(left),
    } = adapter.send(message(&one, "b")).await.unwrap_err()
    else {
        panic!("the channel is not blocked");
    };
    assert!(left <= Duration::from_secs(30) && left > Duration::from_secs(25));
    assert_eq!(
        world.fake.calls_of("chat.postMessage").len(),
        calls,
        "no call went out"
    );
    adapter.send(message(&two, "c")).await.unwrap();

    world
        .fake
        .fail_next("chat.postMessage", Fault::ServerError(502));
    let err = adapter.send(message(&two, "d")).await.unwrap_err();
    assert!(matches!(err, AdapterError::Transient(_)), "{err:?}");
}

#[tokio::test]
async fn a_refused_token_stops_only_slack_with_a_message_naming_the_variable() {
    let world = World::new().await;
    let logs = Logs::capture();
    world
        .fake
        .fail_next("auth.test", Fault::Error("invalid_auth".into()));
    let other = TestPlatform::new("other");
    let running = world
        .gateway(ScriptedAgent::echo())
        .adapter(other.adapter())
        .start(world.adapter(world.config()))
        .await;

    let reason = running.failed().await;
    assert!(reason.contains("SLACK_BOT_TOKEN"), "{reason}");
    assert_eq!(running.adapter.connection_state(), ConnectionState::Failed);
    assert_eq!(
        world.fake.calls_of("auth.test").len(),
        1,
        "it retried a refused token"
    );
    // The other platform keeps working.
    other.wait_running().await;
    other.user("u1").dm("still there?").await.unwrap();
    let answer = within(
        "the other platform's answer",
        other.wait_for_messages("u1", 1),
    )
    .await;
    assert!(
        answer[0].text.starts_with("echo: still there?"),
        "{}",
        answer[0].text
    );
    running.stop().await;
    for secret in secrets(&world) {
        logs.assert_never_shows(&secret);
    }
}

#[tokio::test]
async fn secrets_never_reach_logs_or_debug_output() {
    let world = World::new().await;
    let logs = Logs::capture();
    let running = world.start(ScriptedAgent::echo()).await;
    let alice = world.fake.user("alice");
    let dm = alice.dm_channel();
    alice.dm("hello");
    settled(&world.fake, &dm, 1).await;
    world.fake.drop_connections();
    alice.dm("again");
    settled(&world.fake, &dm, 2).await;
    let debug = format!("{:?} {:?}", running.adapter, world.config());
    running.stop().await;
    assert!(!logs.lines().is_empty(), "nothing was captured");
    for secret in secrets(&world) {
        logs.assert_never_shows(&secret);
        assert!(!debug.contains(&secret), "Debug shows a secret");
    }
}

#[tokio::test]
async fn run_returns_promptly_when_told_to_stop() {
    let world = World::new().await;
    let direct = world.direct(world.config());
    let run = direct.spawn();
    within("the socket", world.fake.wait_for_connections(1)).await;
    let asked = Instant::now();
    direct.ctx.shutdown.cancel();
    let result = within("run to return", run).await.unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    within(
        "the socket to close",
        world.fake.wait_for_open_connections(0),
    )
    .await;
}
