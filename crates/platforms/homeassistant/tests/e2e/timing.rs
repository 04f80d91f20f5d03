//! The connection's timing, on paused time: a `ping` every interval, a
//! ping still unanswered when the next is due reconnects, answered pings
//! keep one connection for as long as it lives; failed connections are
//! retried with exponential backoff up to the cap.

use crate::fake::FakeHass;
use crate::support::World;
use std::time::Duration;
use tokio::time::Instant;

/// The default interval.
const INTERVAL: Duration = Duration::from_secs(30);

#[tokio::test(start_paused = true)]
async fn an_unanswered_ping_reconnects_after_one_interval() {
    let fake = FakeHass::start().await;
    fake.ignore_pings();
    let world = World::on(fake);
    let direct = world.direct(world.config());
    let run = direct.spawn();
    world.fake.wait_for_subscriptions(1).await;
    let subscribed = Instant::now();
    world.fake.wait_for_connections(2).await;
    let waited = subscribed.elapsed();
    // A ping at 30 s, unanswered at 60 s; then a backoff of at most 1 s.
    assert!(
        waited >= 2 * INTERVAL && waited <= 2 * INTERVAL + Duration::from_secs(2),
        "reconnected after {waited:?}"
    );
    assert_eq!(world.fake.pings(), 1);
    direct.ctx.shutdown.cancel();
    assert_eq!(run.await.unwrap(), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn answered_pings_keep_the_connection() {
    let world = World::new().await;
    let direct = world.direct(world.config());
    let run = direct.spawn();
    world.fake.wait_for_subscriptions(1).await;
    let subscribed = Instant::now();
    world.fake.wait_for_pings(10).await;
    let waited = subscribed.elapsed();
    assert!(
        waited >= 10 * INTERVAL && waited < 11 * INTERVAL,
        "ten pings took {waited:?}"
    );
    assert_eq!(world.fake.connections(), 1);
    direct.ctx.shutdown.cancel();
    assert_eq!(run.await.unwrap(), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn failed_connections_back_off_exponentially_up_to_the_cap() {
    let fake = FakeHass::start().await;
    fake.hang_up_on_connect(true);
    let world = World::on(fake);
    let config = hermod_homeassistant::HomeAssistantConfig {
        max_reconnect_delay_secs: 16,
        ..world.config()
    };
    let direct = world.direct(config);
    let run = direct.spawn();
    let start = Instant::now();
    // Waits of [d/2, d] for d = 1, 2, 4, 8, 16, 16, ...: eight attempts
    // take at least 0.5 + 1 + 2 + 4 + 8 + 8 + 8 = 31.5 s, and at most
    // 1 + 2 + 4 + 8 + 16 + 16 + 16 = 63 s.
    world.fake.wait_for_connections(8).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(31_500) && took <= Duration::from_secs(64),
        "eight attempts took {took:?}"
    );
    assert!(
        direct.degraded_reason().contains("closed"),
        "{}",
        direct.degraded_reason()
    );
    // Home Assistant is back: the next attempt connects.
    world.fake.hang_up_on_connect(false);
    world.fake.wait_for_subscriptions(1).await;
    let waited = start.elapsed() - took;
    assert!(
        waited <= Duration::from_secs(17),
        "reconnected {waited:?} later"
    );
    direct.ctx.shutdown.cancel();
    assert_eq!(run.await.unwrap(), Ok(()));
}
