//! Receiving while something keeps failing — storage, malformed updates,
//! Telegram itself: the backoff grows until a round fully succeeds,
//! nothing unrecorded is acknowledged, and the adapter reports its health.
//! Timing runs on tokio's paused clock, so minutes of backoff pass at once.

use crate::support::{World, settled, within, within_for};
use hermod_core::{AdapterError, ComponentState};
use hermod_telegram::{ConnectionState, TelegramConfig};
use hermod_testkit::ScriptedAgent;
use hermod_testkit::logs::Logs;
use hermod_testkit::telegram::{FakeCall, Fault};
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Level;

/// Longer than any backoff these tests wait out (tokio time).
const PATIENCE: Duration = Duration::from_secs(30 * 60);

/// The cap of the backoff in these tests: the default, 60 s.
const CAP: Duration = Duration::from_secs(60);

fn config(world: &World) -> TelegramConfig {
    TelegramConfig {
        max_reconnect_delay_secs: CAP.as_secs(),
        ..world.config()
    }
}

/// The `update_id` of the update queued last.
fn newest_update(world: &World) -> i64 {
    let pending = world.fake.pending_updates();
    pending
        .last()
        .and_then(|u| u["update_id"].as_i64())
        .unwrap()
}

/// The time between consecutive calls.
fn gaps(calls: &[FakeCall]) -> Vec<Duration> {
    calls.windows(2).map(|w| w[1].at - w[0].at).collect()
}

/// The shortest wait after the `n`th failure in a row (1-based): half the
/// doubling delay (the jitter's lower end), which starts at 1 s and is
/// capped at [`CAP`].
fn least_backoff(n: u32) -> Duration {
    let full = Duration::from_secs(1u64 << (n - 1).min(20)).min(CAP);
    full / 2
}

#[tokio::test(start_paused = true)]
async fn storage_failures_back_off_longer_each_time_and_lose_nothing() {
    let world = World::new().await;
    let logs = Logs::capture();
    let direct = world.direct(config(&world));
    world.store.fail("inbox_record", u32::MAX);
    world.fake.user(9001, "Alice").dm("kept safe");
    let update = newest_update(&world);
    let run = direct.spawn();

    let calls = within_for(
        PATIENCE,
        "ten attempts",
        world.fake.wait_for_calls("getUpdates", 10),
    )
    .await;
    for (i, gap) in gaps(&calls).into_iter().enumerate() {
        let failures = u32::try_from(i).unwrap() + 1;
        assert!(
            gap >= least_backoff(failures),
            "after {failures} failures the next attempt came after only {gap:?}"
        );
        assert!(
            gap <= CAP + Duration::from_secs(1),
            "{gap:?} is over the cap"
        );
    }
    // Not acknowledged: every attempt asked for the update again.
    assert!(world.fake.confirmed_offset() <= update);
    assert_eq!(world.fake.pending_updates().len(), 1);
    let reason = direct.degraded_reason();
    assert!(reason.contains("record"), "{reason}");
    assert!(!reason.contains(&world.fake.token()), "{reason}");
    assert_eq!(direct.adapter.connection_state(), ConnectionState::Retrying);

    // Storage is back: the update is recorded, then acknowledged.
    world.store.heal();
    within_for(
        PATIENCE,
        "the update to be confirmed",
        world.fake.wait_for_confirmed(update),
    )
    .await;
    assert!(world.fake.pending_updates().is_empty());
    let status = direct.health().get("telegram").unwrap();
    assert_eq!(status.state, ComponentState::Running);

    // A full success started the backoff over: failing again, the first
    // retries come within the first delays (at most 1 s, then 2 s).
    world.store.fail("inbox_record", u32::MAX);
    let pushed = Instant::now();
    world.fake.user(9001, "Alice").dm("again");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let after = world
        .fake
        .calls_of("getUpdates")
        .into_iter()
        .filter(|c| c.at >= pushed)
        .count();
    assert!(after >= 2, "only {after} attempts in 3.5 s after a success");

    direct.ctx.shutdown.cancel();
    assert!(within("run to return", run).await.unwrap().is_ok());
    logs.assert_never_shows(&world.fake.token());
}

#[tokio::test(start_paused = true)]
async fn failing_to_save_the_offset_backs_off_too_but_acknowledges_what_was_recorded() {
    let world = World::new().await;
    let direct = world.direct(config(&world));
    world.store.fail("set_setting", u32::MAX);
    let alice = world.fake.user(9002, "Alice");
    let run = direct.spawn();
    within("polling", world.fake.wait_for_calls("getUpdates", 1)).await;

    // Each round records its update but cannot save the offset.
    for n in 1..=5 {
        let before = world.fake.calls_of("getUpdates").len();
        alice.dm(&format!("message {n}"));
        within_for(
            PATIENCE,
            "the next attempt",
            world.fake.wait_for_calls("getUpdates", before + 1),
        )
        .await;
    }
    let calls = world.fake.calls_of("getUpdates");
    // The wait after the fifth failed save: at least 8 s.
    let last = calls[calls.len() - 1].at - calls[calls.len() - 2].at;
    assert!(last >= least_backoff(5), "{last:?}");
    assert!(direct.degraded_reason().contains("offset"));
    // Recorded, so acknowledged all the same: the last poll confirmed them.
    assert!(world.fake.pending_updates().is_empty());

    direct.ctx.shutdown.cancel();
    assert!(within("run to return", run).await.unwrap().is_ok());
}

#[tokio::test(start_paused = true)]
async fn an_update_without_an_id_is_skipped_and_not_fetched_in_a_loop() {
    let world = World::new().await;
    let logs = Logs::capture();
    let direct = world.direct(config(&world));
    let alice = world.fake.user(9003, "Alice");
    alice.dm("before");
    let good = newest_update(&world);
    // After the good one, so acknowledging the good one leaves it waiting.
    let place = world
        .fake
        .push_malformed_update(json!({"message": {"text": "no id", "chat": {"id": 9003}}}));
    let run = direct.spawn();
    within(
        "the good update to be confirmed",
        world.fake.wait_for_confirmed(good),
    )
    .await;

    // Two minutes: with a hot loop, thousands of calls; with a growing
    // backoff, a handful.
    let started = world.fake.calls_of("getUpdates").len();
    tokio::select! {
        () = tokio::time::sleep(Duration::from_secs(120)) => {}
        _ = world.fake.wait_for_calls("getUpdates", started + 40) => {}
    }
    let polled = world.fake.calls_of("getUpdates").len() - started;
    assert!(polled <= 12, "{polled} getUpdates in two minutes");
    assert_eq!(world.fake.confirmed_offset(), good + 1);
    let warnings = logs.at(Level::WARN);
    assert!(
        warnings.iter().any(|w| w.contains("update_id")),
        "{warnings:?}"
    );
    assert!(direct.degraded_reason().contains("update_id"));

    // A good update after it acknowledges it too, and recovers.
    alice.dm("after");
    let after = newest_update(&world);
    assert!(after > place);
    within_for(
        PATIENCE,
        "the next good update to be confirmed",
        world.fake.wait_for_confirmed(after),
    )
    .await;
    assert!(world.fake.pending_updates().is_empty());
    assert_eq!(
        direct.health().get("telegram").unwrap().state,
        ComponentState::Running
    );

    direct.ctx.shutdown.cancel();
    assert!(within("run to return", run).await.unwrap().is_ok());
    logs.assert_never_shows(&world.fake.token());
}

#[tokio::test(start_paused = true)]
async fn a_malformed_update_with_an_id_is_skipped_once() {
    let world = World::new().await;
    let logs = Logs::capture();
    let direct = world.direct(config(&world));
    let broken = world
        .fake
        .push_raw_update(json!({"message": {"message_id": "not a number", "chat": 5}}));
    let run = direct.spawn();
    within(
        "the malformed update to be confirmed",
        world.fake.wait_for_confirmed(broken),
    )
    .await;
    assert_eq!(world.fake.calls_of("getUpdates").len(), 2);
    let warnings = logs.at(Level::WARN);
    assert!(
        warnings.iter().any(|w| w.contains("malformed")),
        "{warnings:?}"
    );
    direct.ctx.shutdown.cancel();
    assert!(within("run to return", run).await.unwrap().is_ok());
}

#[tokio::test(start_paused = true)]
async fn failing_polls_report_degraded_without_the_token_and_recover() {
    let world = World::new().await;
    let logs = Logs::capture();
    let direct = world.direct(config(&world));
    world.fake.fail_next("getUpdates", Fault::ServerError(502));
    world.fake.fail_next("getUpdates", Fault::DropConnection);
    world
        .fake
        .fail_next("getUpdates", Fault::TooManyRequests { retry_after: 3 });
    let run = direct.spawn();

    within("a retry", world.fake.wait_for_calls("getUpdates", 2)).await;
    let reason = direct.degraded_reason();
    assert!(reason.contains("Telegram"), "{reason}");
    assert!(reason.len() <= 200, "{reason}");
    within(
        "the third failure",
        world.fake.wait_for_calls("getUpdates", 4),
    )
    .await;
    let reason = direct.degraded_reason();
    assert!(!reason.contains(&world.fake.token()), "{reason}");

    // The fourth call is answered: a successful round.
    within(
        "a poll after success",
        world.fake.wait_for_calls("getUpdates", 5),
    )
    .await;
    assert_eq!(
        direct.health().get("telegram").unwrap().state,
        ComponentState::Running
    );
    assert_eq!(
        direct.adapter.connection_state(),
        ConnectionState::Connected
    );

    // A download that fails is logged without the token either.
    world.fake.fail_next("download", Fault::DropConnection);
    world
        .fake
        .user(9004, "Alice")
        .dm_photo(Some("look"), b"\xff\xd8 jpeg".to_vec());
    let photo = newest_update(&world);
    within(
        "the photo to be confirmed",
        world.fake.wait_for_confirmed(photo),
    )
    .await;
    assert_eq!(world.fake.file_downloads(), 1);

    direct.ctx.shutdown.cancel();
    assert!(within("run to return", run).await.unwrap().is_ok());
    assert!(logs.at(Level::WARN).len() >= 3);
    logs.assert_never_shows(&world.fake.token());
    logs.assert_never_shows("TEST-TOKEN");
}

#[tokio::test(start_paused = true)]
async fn a_not_found_answer_mid_run_ends_run_with_an_auth_error() {
    let world = World::new().await;
    let direct = world.direct(config(&world));
    world.fake.user(9005, "Alice").dm("hello");
    let run = direct.spawn();
    let first = newest_update(&world);
    within("a first round", world.fake.wait_for_confirmed(first)).await;
    world.fake.fail_next("getUpdates", Fault::NotFound);

    let result = within_for(PATIENCE, "run to give up", run).await.unwrap();
    let Err(AdapterError::Auth(advice)) = result else {
        panic!("expected an auth error, got {result:?}");
    };
    assert!(advice.contains("check TELEGRAM_BOT_TOKEN"), "{advice}");
    assert!(!advice.contains(&world.fake.token()));
    assert_eq!(direct.adapter.connection_state(), ConnectionState::Failed);
}

#[tokio::test]
async fn a_token_revoked_mid_run_stops_the_adapter_and_the_gateway_marks_it_failed() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    world.fake.user(9006, "Alice").dm("hello");
    settled(&world.fake, 9006, 1).await;
    world.fake.fail_next("getUpdates", Fault::Unauthorized);

    let reason = running.failed().await;
    assert!(reason.contains("check TELEGRAM_BOT_TOKEN"), "{reason}");
    assert!(!reason.contains(&world.fake.token()), "{reason}");
    assert_eq!(running.adapter.connection_state(), ConnectionState::Failed);
    assert!(!running.health.report().healthy);
    running.stop().await;
}
