use super::*;
use std::sync::{Arc, Mutex};

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

#[tokio::test(start_paused = true)]
async fn spare_calls_go_when_idle_and_are_skipped_under_load() {
    let pacer = Pacer::new(limits());
    // Idle: typing in one chat goes, and does not count against the chat.
    assert!(pacer.try_spare("1"));
    assert!(pacer.try_spare("1"));
    pacer
        .acquire("1", Call::Send { group: false })
        .await
        .unwrap();
    // The edit budget is 8 a second: spare calls never take the slots
    // kept for new messages.
    let mut taken = 2;
    while pacer.try_spare("2") {
        taken += 1;
    }
    assert_eq!(taken, 7, "one slot went to the send");
    pacer
        .acquire("3", Call::Send { group: false })
        .await
        .unwrap();
    tokio::time::advance(secs(1.0)).await;
    assert!(pacer.try_spare("2"));
    // Flood control holds them back too.
    pacer.block("4", secs(5.0));
    assert!(!pacer.try_spare("4"));
    assert!(pacer.acquire("4", Call::Spare).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn spare_calls_never_take_a_slot_something_waits_for() {
    let pacer = Arc::new(Pacer::new(limits()));
    let streams = stream(&pacer, 30, 10.0);
    let mut went = 0;
    let mut tried = 0;
    for _ in 0..200 {
        tokio::time::sleep(secs(0.05)).await;
        tried += 1;
        if pacer.try_spare("typing") {
            went += 1;
        }
    }
    assert!(went * 10 < tried, "{went} of {tried} went under load");
    for task in streams {
        let times = task.await.unwrap();
        // Thirty streams at 8 edits a second: one edit every 3.75 s, and
        // none was held up by a spare call.
        for pair in times[2..].windows(2) {
            assert!(pair[1] - pair[0] <= secs(4.0), "{:?}", pair[1] - pair[0]);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_removal_waits_behind_sends_and_goes() {
    let pacer = Arc::new(Pacer::new(limits()));
    // Fill the window with sends, then ask for a removal and more sends.
    for chat in 0..10 {
        pacer
            .acquire(&chat.to_string(), Call::Send { group: false })
            .await
            .unwrap();
    }
    let start = Instant::now();
    let undo = {
        let pacer = Arc::clone(&pacer);
        tokio::spawn(async move {
            pacer
                .acquire("r", Call::Undo)
                .await
                .map(|()| Instant::now())
        })
    };
    tokio::task::yield_now().await;
    // While the removal waits, a spare call does not overtake it.
    assert!(!pacer.try_spare("t"));
    let sends = send_to_many(&pacer, 2).await;
    let removed = undo.await.unwrap().expect("a removal is not lost");
    assert!(removed - start <= secs(1.5), "{:?}", removed - start);
    // New messages went first.
    assert!(sends.iter().all(|s| *s <= removed));
}

#[tokio::test(start_paused = true)]
async fn a_removal_waits_among_streaming_edits_and_goes() {
    let pacer = Arc::new(Pacer::new(limits()));
    let streams = stream(&pacer, 30, 20.0);
    tokio::time::sleep(secs(5.0)).await;
    for chat in 0..10 {
        let start = Instant::now();
        pacer
            .acquire(&format!("r{chat}"), Call::Undo)
            .await
            .expect("a removal is not lost under load");
        assert!(start.elapsed() <= UNDO_PATIENCE);
    }
    for task in streams {
        task.await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn calls_of_their_own_limit_wait_for_it_and_hold_nothing_up() {
    let pacer = Arc::new(
        Pacer::new(limits())
            .with_own_limit(Call::Spare, Limit::per(2, secs(10.0)))
            .with_own_limit(Call::Undo, Limit::per(2, secs(4.0))),
    );
    assert!(pacer.try_spare("1"));
    assert!(pacer.try_spare("2"));
    assert!(!pacer.try_spare("3"), "past the limit of its own");
    let start = Instant::now();
    pacer.acquire("1", Call::Undo).await.unwrap();
    pacer.acquire("2", Call::Undo).await.unwrap();
    let undo = {
        let pacer = Arc::clone(&pacer);
        tokio::spawn(async move { pacer.acquire("3", Call::Undo).await })
    };
    tokio::task::yield_now().await;
    // The waiting removal keeps no edit waiting.
    let edit = Instant::now();
    pacer.acquire("e", Call::Edit).await.unwrap();
    assert_eq!(edit.elapsed(), Duration::ZERO);
    undo.await.unwrap().unwrap();
    assert_eq!(start.elapsed(), secs(4.0));
    tokio::time::advance(secs(6.0)).await;
    assert!(pacer.try_spare("3"));
}

#[tokio::test(start_paused = true)]
async fn spare_calls_count_per_chat_where_the_platform_counts_them() {
    let pacer = Pacer::new(limits()).spare_per_chat();
    assert!(pacer.try_spare("1"));
    assert!(!pacer.try_spare("1"), "one call a second in a chat");
    let start = Instant::now();
    pacer.acquire("1", Call::Edit).await.unwrap();
    assert_eq!(start.elapsed(), secs(1.0));
}

#[tokio::test(start_paused = true)]
async fn the_global_limit_holds_with_sends_edits_typing_and_reactions() {
    let pacer = Arc::new(Pacer::new(limits()));
    let times = Arc::new(Mutex::new(Vec::new()));
    let streams = stream(&pacer, 12, 20.0);
    let mut tasks = Vec::new();
    for chat in 0..40_u32 {
        let pacer = Arc::clone(&pacer);
        let times = Arc::clone(&times);
        tasks.push(tokio::spawn(async move {
            // A new conversation every half second, each typing and
            // reacting while it runs.
            tokio::time::sleep(secs(f64::from(chat) * 0.5)).await;
            let chat = format!("c{chat}");
            let note = |ok: bool| {
                if ok {
                    times.lock().unwrap().push(Instant::now());
                }
            };
            let added = pacer.try_spare(&chat);
            note(added);
            note(
                pacer
                    .acquire(&chat, Call::Send { group: false })
                    .await
                    .is_ok(),
            );
            for _ in 0..5 {
                tokio::time::sleep(secs(0.9)).await;
                note(pacer.try_spare(&chat));
            }
            if added {
                let removed = pacer.acquire(&chat, Call::Undo).await;
                assert!(removed.is_ok(), "a removal was lost");
                note(true);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut all = times.lock().unwrap().clone();
    for task in streams {
        all.extend(task.await.unwrap());
    }
    all.sort();
    assert!(
        busiest(&all, secs(1.0)) <= 10,
        "{}",
        busiest(&all, secs(1.0))
    );
}

#[tokio::test(start_paused = true)]
async fn removals_are_not_lost_among_hundreds_of_streams() {
    // Discord's limits, as its adapter sets them.
    let limits = PacerLimits {
        per_chat: Limit::per(5, secs(5.0)),
        per_group: None,
        global: Limit::per(45, secs(1.0)),
        send_reserve: 5,
        max_wait: secs(3.0),
    };
    let pacer = Arc::new(Pacer::new(limits));
    let streams: Vec<_> = (0..400)
        .map(|chat| {
            let pacer = Arc::clone(&pacer);
            tokio::spawn(async move {
                let end = Instant::now() + secs(15.0);
                while Instant::now() < end {
                    let _ = pacer.acquire(&format!("s{chat}"), Call::Edit).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(secs(5.0)).await;
    for chat in 0..20 {
        let start = Instant::now();
        pacer
            .acquire(&format!("r{chat}"), Call::Undo)
            .await
            .expect("a removal is not lost under load");
        assert!(start.elapsed() <= secs(0.1), "{:?}", start.elapsed());
    }
    for task in streams {
        task.await.unwrap();
    }
}
