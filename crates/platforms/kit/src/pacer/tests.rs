use super::*;
use std::sync::Arc;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Telegram-like limits, small enough to count by hand: 1 a second per
/// chat, 20 a minute per group, 10 a second overall with 2 kept for new
/// messages.
fn limits() -> PacerLimits {
    PacerLimits {
        per_chat: Limit::per(1, secs(1.0)),
        per_group: Some(Limit::per(20, secs(60.0))),
        global: Limit::per(10, secs(1.0)),
        send_reserve: 2,
        max_wait: secs(3.0),
    }
}

/// The most calls in any window of `window` among sorted `times`.
fn busiest(times: &[Instant], window: Duration) -> usize {
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t < times[i] + window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn one_call_per_second_in_a_chat_and_other_chats_go_at_once() {
    let pacer = Pacer::new(limits());
    let start = Instant::now();
    for _ in 0..3 {
        pacer.acquire("1", Call::Edit).await.unwrap();
    }
    assert_eq!(start.elapsed(), secs(2.0));
    let other = Instant::now();
    pacer
        .acquire("2", Call::Send { group: false })
        .await
        .unwrap();
    assert_eq!(other.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn groups_get_their_count_per_window_then_fail_fast_and_edits_still_go() {
    let limits = PacerLimits {
        per_chat: Limit::per(1000, secs(1.0)),
        global: Limit::per(1000, secs(1.0)),
        ..limits()
    };
    let pacer = Pacer::new(limits);
    for _ in 0..20 {
        pacer
            .acquire("-5", Call::Send { group: true })
            .await
            .unwrap();
    }
    let Err(Wait(wait)) = pacer.acquire("-5", Call::Send { group: true }).await else {
        panic!("not limited");
    };
    assert!(wait > secs(3.0) && wait <= secs(60.0), "{wait:?}");
    // Edits create no message: they still go.
    pacer.acquire("-5", Call::Edit).await.unwrap();
    // A private chat has no group limit.
    pacer
        .acquire("-5", Call::Send { group: false })
        .await
        .unwrap();
    tokio::time::advance(secs(60.0)).await;
    pacer
        .acquire("-5", Call::Send { group: true })
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn flood_control_blocks_the_chat_until_retry_after() {
    let pacer = Pacer::new(limits());
    pacer.block("1", secs(5.0));
    assert_eq!(pacer.acquire("1", Call::Edit).await, Err(Wait(secs(5.0))));
    assert_eq!(pacer.check("1"), Err(Wait(secs(5.0))));
    assert_eq!(pacer.check("2"), Ok(()));
    tokio::time::advance(secs(2.0)).await;
    assert_eq!(pacer.check("1"), Err(Wait(secs(3.0))));
    // A shorter block does not shorten a longer one.
    pacer.block("1", secs(1.0));
    assert_eq!(pacer.check("1"), Err(Wait(secs(3.0))));
    tokio::time::advance(secs(3.0)).await;
    pacer.acquire("1", Call::Edit).await.unwrap();
    assert_eq!(pacer.check("1"), Ok(()));
}

/// Sends to `chats` different chats at once; the instants they went.
async fn send_to_many(pacer: &Arc<Pacer>, chats: usize) -> Vec<Instant> {
    let tasks: Vec<_> = (0..chats)
        .map(|chat| {
            let pacer = Arc::clone(pacer);
            tokio::spawn(async move {
                pacer
                    .acquire(&chat.to_string(), Call::Send { group: false })
                    .await
                    .map(|()| Instant::now())
            })
        })
        .collect();
    let mut times = Vec::new();
    for task in tasks {
        times.push(task.await.unwrap().unwrap());
    }
    times.sort();
    times
}

#[tokio::test(start_paused = true)]
async fn the_global_limit_holds_in_every_window() {
    let pacer = Arc::new(Pacer::new(limits()));
    let start = Instant::now();
    let times = send_to_many(&pacer, 25).await;
    assert_eq!(busiest(&times, secs(1.0)), 10);
    // The whole burst at once, then the rest a window later, and so on.
    assert_eq!(times[9], start);
    assert!(times[24] - start >= secs(2.0), "{:?}", times[24] - start);
}

#[tokio::test(start_paused = true)]
async fn the_burst_is_configurable() {
    let limits = PacerLimits {
        global: Limit::per(10, secs(1.0)).with_burst(1),
        ..limits()
    };
    let pacer = Arc::new(Pacer::new(limits));
    let times = send_to_many(&pacer, 5).await;
    for pair in times.windows(2) {
        assert_eq!(pair[1] - pair[0], secs(0.1));
    }
}

#[tokio::test(start_paused = true)]
async fn too_long_a_wait_fails_fast_with_the_wait() {
    let pacer = Arc::new(Pacer::new(limits()));
    // 45 sends at 10 a second: the last five would wait 4 s.
    let tasks: Vec<_> = (0..45)
        .map(|chat| {
            let pacer = Arc::clone(&pacer);
            tokio::spawn(async move {
                pacer
                    .acquire(&chat.to_string(), Call::Send { group: false })
                    .await
            })
        })
        .collect();
    let mut refused = 0;
    for task in tasks {
        if let Err(Wait(wait)) = task.await.unwrap() {
            assert!(wait > Duration::ZERO && wait <= secs(4.0), "{wait:?}");
            refused += 1;
        }
    }
    assert_eq!(refused, 5);
}

/// `chats` replies streaming for `for_secs`, each editing as fast as the
/// pacer lets it; the instants of every chat's edits.
fn stream(
    pacer: &Arc<Pacer>,
    chats: usize,
    for_secs: f64,
) -> Vec<tokio::task::JoinHandle<Vec<Instant>>> {
    (0..chats)
        .map(|chat| {
            let pacer = Arc::clone(pacer);
            tokio::spawn(async move {
                let end = Instant::now() + secs(for_secs);
                let mut times = Vec::new();
                while Instant::now() < end {
                    pacer
                        .acquire(&format!("s{chat}"), Call::Edit)
                        .await
                        .expect("a streaming edit is paced, never refused");
                    times.push(Instant::now());
                }
                times
            })
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_edit_cadence_stretches_with_the_number_of_streams() {
    let pacer = Arc::new(Pacer::new(limits()));
    // 24 replies at once, 8 edit slots a second: each edits every 3 s.
    let mut all = Vec::new();
    let mut per_chat = Vec::new();
    for task in stream(&pacer, 24, 30.0) {
        let times = task.await.unwrap();
        all.extend(times.iter().copied());
        per_chat.push(times);
    }
    all.sort();
    assert!(
        busiest(&all, secs(1.0)) <= 8,
        "{}",
        busiest(&all, secs(1.0))
    );
    for times in &per_chat {
        // Once every stream has started, edits are 3 s apart.
        for pair in times[2..].windows(2) {
            assert!(pair[1] - pair[0] >= secs(3.0), "{:?}", pair[1] - pair[0]);
        }
        assert!(times.len() >= 8, "a stream is starved: {}", times.len());
    }
    // With two streams, each edits once a second, as the chat limit allows.
    let pacer = Arc::new(Pacer::new(limits()));
    for task in stream(&pacer, 2, 10.0) {
        let times = task.await.unwrap();
        assert!(times.len() >= 10, "{}", times.len());
    }
    assert_eq!(pacer.edit_interval(2), secs(1.0));
    assert_eq!(pacer.edit_interval(24), secs(3.0));
}

#[tokio::test(start_paused = true)]
async fn a_chats_first_message_goes_before_other_chats_next_edits() {
    let pacer = Arc::new(Pacer::new(limits()));
    let streams = stream(&pacer, 30, 20.0);
    tokio::time::sleep(secs(10.0)).await;
    // While thirty replies stream, new messages to four other chats go
    // within one global spacing each.
    for chat in 0..4 {
        let start = Instant::now();
        pacer
            .acquire(&format!("new{chat}"), Call::Send { group: false })
            .await
            .unwrap();
        assert!(start.elapsed() <= secs(0.1), "{:?}", start.elapsed());
    }
    let mut all = Vec::new();
    for task in streams {
        all.extend(task.await.unwrap());
    }
    all.sort();
    assert!(busiest(&all, secs(1.0)) <= 8);
}
