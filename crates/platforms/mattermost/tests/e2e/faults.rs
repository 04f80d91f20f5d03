//! Faults: a dropped websocket resumed with its connection and sequence
//! number, a malformed frame skipped, a 429 waited out, a refused token
//! stopping the adapter, the token never logged.

use crate::support::{Mattermost, World, alice, connected, settled, texts, within};
use hermod_testkit::ScriptedAgent;
use hermod_testkit::harness::PlatformUnderTest;
use hermod_testkit::mattermost::{FakeMattermost, Fault};

#[tokio::test]
async fn a_dropped_socket_resumes_and_gets_what_it_missed() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, "before");
    settled(&world, &dm, 1).await;
    world.fake.drop_sockets();
    world.fake.post(&alice, &dm, "while away");
    let sockets = within("a second connection", world.fake.wait_for_connections(2)).await;
    assert!(sockets[1].resumed, "{sockets:?}");
    assert_eq!(
        sockets[1].asked_connection_id.as_deref(),
        Some(sockets[0].connection_id.as_str())
    );
    let answered = settled(&world, &dm, 2).await;
    assert!(
        answered[1].message.starts_with("echo: while away"),
        "{:?}",
        texts(&answered)
    );
    world.fake.post(&alice, &dm, "after");
    let answered = settled(&world, &dm, 3).await;
    assert_eq!(answered.len(), 3, "{:?}", texts(&answered));
    running.stop().await;
}

#[tokio::test]
async fn a_malformed_frame_is_skipped_and_the_next_post_answered() {
    let world = World::new().await;
    let logs = hermod_testkit::logs::Logs::capture();
    let running = world.start(ScriptedAgent::echo()).await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    world.fake.send_raw("{this is not json");
    world.fake.push_event(
        "posted",
        &serde_json::json!({"post": "{broken", "channel_type": "D"}),
    );
    world.fake.post(&alice, &dm, "still here");
    let answered = settled(&world, &dm, 1).await;
    assert!(answered[0].message.starts_with("echo: still here"));
    assert_eq!(world.fake.connections().len(), 1, "the socket was kept");
    running.stop().await;
    let warnings = logs.at_least(tracing::Level::WARN).join("\n");
    assert!(
        warnings.contains("websocket frame that cannot be read"),
        "{warnings}"
    );
    assert!(
        warnings.contains("posted event that cannot be read"),
        "{warnings}"
    );
}

#[tokio::test]
async fn a_rate_limited_post_is_sent_once_after_the_wait() {
    let world = World::new().await;
    world
        .fake
        .fail_next("create_post", Fault::RateLimited { reset_secs: 1 });
    let running = world.start(ScriptedAgent::echo()).await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, "hi");
    let answered = settled(&world, &dm, 1).await;
    assert!(answered[0].message.starts_with("echo: hi"));
    world.fake.post(&alice, &dm, "and then");
    let answered = settled(&world, &dm, 2).await;
    assert_eq!(answered.len(), 2, "{:?}", texts(&answered));
    running.stop().await;
}

#[tokio::test]
async fn a_refused_token_stops_the_adapter_with_a_hint() {
    let world = World::on(FakeMattermost::builder().token("right-token").start().await);
    let mut config = Mattermost::config(&world);
    config.token = Some(hermod_model::Secret::new("wrong-token-value"));
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    let reason = running.failed().await;
    assert!(reason.contains("MATTERMOST_TOKEN"), "{reason}");
    assert!(!reason.contains("wrong-token-value"), "{reason}");
    let tries = world
        .fake
        .calls()
        .iter()
        .filter(|c| c.route == "users_me")
        .count();
    assert_eq!(tries, 1, "no retry loop");
    running.stop().await;
}

#[tokio::test]
async fn a_server_error_at_start_is_retried() {
    let world = World::new().await;
    world.fake.fail_next("users_me", Fault::Server(503));
    let running = world.start(ScriptedAgent::echo()).await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, "hi");
    settled(&world, &dm, 1).await;
    running.stop().await;
}
