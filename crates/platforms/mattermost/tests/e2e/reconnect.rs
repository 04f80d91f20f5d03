//! Reconnecting: a server that forgot the connection is caught up over
//! REST; a skipped event number resumes from the last one received; an
//! unanswered ping reconnects; shutdown is prompt; the token is never
//! logged.

use crate::support::{World, alice, connected, settled, texts, within};
use hermod_mattermost::MattermostConfig;
use hermod_testkit::ScriptedAgent;
use hermod_testkit::harness::allow_all;
use hermod_testkit::logs::Logs;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test]
async fn a_forgotten_connection_starts_anew_and_catches_up() {
    let world = World::new().await;
    let logs = Logs::capture();
    let running = world.start(ScriptedAgent::echo()).await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, "before");
    settled(&world, &dm, 1).await;
    // A restarted server: the events of the old connection are gone.
    world.fake.forget_connections();
    world.fake.post(&alice, &dm, "while restarting");
    let sockets = within("a new connection", world.fake.wait_for_connections(2)).await;
    assert!(!sockets[1].resumed, "{sockets:?}");
    let answered = settled(&world, &dm, 2).await;
    assert!(
        answered[1].message.starts_with("echo: while restarting"),
        "{:?}",
        texts(&answered)
    );
    let debug = format!("{:?} {:?}", running.adapter, world.config());
    running.stop().await;
    logs.assert_never_shows(&world.fake.token());
    assert!(
        !debug.contains(&world.fake.token()),
        "Debug shows the token"
    );
}

#[tokio::test]
async fn a_skipped_event_number_resumes_from_the_last_event_received() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, "first");
    settled(&world, &dm, 1).await;
    // An event numbered far ahead: the ones before it were lost.
    let ahead = json!({"event": "typing", "data": {}, "broadcast": {}, "seq": 999});
    world.fake.send_raw(&ahead.to_string());
    let sockets = within("a resumed connection", world.fake.wait_for_connections(2)).await;
    assert!(sockets[1].resumed, "{sockets:?}");
    let asked = sockets[1].asked_sequence.expect("a sequence number");
    assert!(asked < 999, "resumed from {asked}");
    world.fake.post(&alice, &dm, "second");
    let answered = settled(&world, &dm, 2).await;
    assert_eq!(answered.len(), 2, "{:?}", texts(&answered));
    running.stop().await;
}

#[tokio::test]
async fn an_unanswered_ping_reconnects() {
    let world = World::new().await;
    let config = MattermostConfig {
        ping_interval_secs: 1,
        ..world.config()
    };
    let running = world
        .start_with(ScriptedAgent::echo(), allow_all(), config)
        .await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    world.fake.ignore_pings(true);
    // The first ping goes unanswered; when the next is due the
    // connection is taken for dead and opened again.
    let sockets = within("a second connection", world.fake.wait_for_connections(2)).await;
    assert!(world.fake.pings() >= 1);
    assert!(sockets[1].resumed, "{sockets:?}");
    world.fake.ignore_pings(false);
    world.fake.post(&alice, &dm, "still there?");
    settled(&world, &dm, 1).await;
    running.stop().await;
}

#[tokio::test]
async fn run_returns_promptly_when_told_to_stop() {
    let world = World::new().await;
    let direct = world.direct(world.config());
    let run = direct.spawn();
    connected(&world, 1).await;
    let asked = Instant::now();
    direct.ctx.shutdown.cancel();
    let result = within("run to return", run).await.unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
}

#[tokio::test]
async fn a_refused_websocket_is_retried_with_a_growing_backoff() {
    use hermod_testkit::mattermost::Fault;
    let world = World::new().await;
    world.fake.fail_next("websocket", Fault::Server(503));
    world.fake.fail_next("websocket", Fault::Server(502));
    let config = MattermostConfig {
        max_reconnect_delay_secs: 4,
        ..world.config()
    };
    let running = world
        .start_with(ScriptedAgent::echo(), allow_all(), config)
        .await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    let tries: Vec<Instant> = world
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.route == "websocket")
        .map(|c| c.at)
        .collect();
    assert_eq!(tries.len(), 3, "two refusals, then the connection");
    // The kit's backoff: [0.5, 1] s after the first failure, [1, 2] s
    // after the second.
    let (first, second) = (tries[1] - tries[0], tries[2] - tries[1]);
    assert!(first >= Duration::from_millis(450), "{first:?}");
    assert!(second >= Duration::from_millis(950), "{second:?}");
    world.fake.post(&alice, &dm, "connected at last");
    settled(&world, &dm, 1).await;
    running.connected().await;
    running.stop().await;
}
