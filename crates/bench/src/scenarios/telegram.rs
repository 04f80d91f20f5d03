//! `telegram-throughput`: many chats writing to hermod's Telegram bot at
//! once, through the fake Telegram Bot API server, with an instant echo
//! LLM.
//!
//! The fake server and the fake LLM run in this process; hermod runs as its
//! own process and long-polls the fake (`TELEGRAM_POLL_TIMEOUT=1`). Every
//! chat's user writes `messages` DMs; all updates are queued at once (the
//! burst a bot sees after an outage or a broadcast). The scenario then
//! waits, bounded, until every message is answered and measures:
//!
//! - **ingest**: from the first update queued until hermod confirmed the
//!   last one (`getUpdates` offset; hermod confirms only after recording);
//! - **end to end**: from the first update queued until the last reply's
//!   final call reached the fake (`messages_per_s` = answered messages
//!   over that time);
//! - per chat, when its first visible message and its final reply arrived;
//! - **lost**: messages no reply contains after the wait; **duplicated**:
//!   messages more than one reply contains; chats with more replies than
//!   messages; previews left with the streaming cursor;
//! - the send and edit calls in the busiest second, against Telegram's 30
//!   messages per second per bot, which hermod's pacer enforces and which
//!   therefore bounds the reply rate.
//!
//! Streaming stays on (there is no environment variable for it): a reply
//! is one `sendMessage` preview and one `editMessageText` to its final
//! text, each going through the pacer.

use crate::report::{Metric, Report, percentile};
use crate::target::{Kind, Running, Target};
use anyhow::{Context, bail};
use hermod_testkit::telegram::{FakeCall, FakeMessage};
use hermod_testkit::{FakeLlm, FakeTelegram, Reply};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The streaming cursor hermod shows while a reply is being written.
pub(crate) const CURSOR: char = '▉';
/// Telegram user ids of the benchmark's users start here (chat id = user id).
pub(crate) const FIRST_USER: i64 = 5_000_000;
/// How long the gateway may take to start polling.
const RECEIVER_DEADLINE: Duration = Duration::from_secs(30);
/// The wait for replies: this much plus [`WAIT_PER_MESSAGE`] per message.
/// Telegram's 30 messages per second allow about 15 streamed replies per
/// second; an outbox entry that hermod deferred waits up to 90 s for its
/// retry, so a big burst drains much slower than that.
const BASE_DEADLINE: Duration = Duration::from_secs(180);
const WAIT_PER_MESSAGE: Duration = Duration::from_millis(500);
/// The wait ends early when nothing new was answered for this long.
const STALL: Duration = Duration::from_secs(150);
/// After the last expected reply, how long to watch for extra ones.
const QUIET: Duration = Duration::from_secs(2);
/// How often the cheap progress checks (offset, LLM requests) run.
const TICK: Duration = Duration::from_millis(10);
/// How often the replies are checked.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// The Telegram chat (and user) id of the benchmark's chat `chat`.
pub(crate) fn chat_id(chat: usize) -> i64 {
    FIRST_USER + i64::try_from(chat).unwrap_or(0)
}

/// The chat index of a Telegram chat id, when it is one of the first
/// `chats` benchmark chats.
pub(crate) fn chat_index(id: i64, chats: usize) -> Option<usize> {
    usize::try_from(id - FIRST_USER).ok().filter(|c| *c < chats)
}

/// The Bot API methods that create or change a visible message: the calls
/// Telegram's message limits count.
pub(crate) fn is_message_call(method: &str) -> bool {
    is_send(method) || method.to_ascii_lowercase().starts_with("edit")
}

pub(crate) fn is_send(method: &str) -> bool {
    let m = method.to_ascii_lowercase();
    m.starts_with("send") && m != "sendchataction"
}

/// The `chat_id` of a call (a JSON number or a string).
pub(crate) fn chat_of(call: &FakeCall) -> Option<i64> {
    match call.params.get("chat_id")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The most events of the sorted `times` within any window shorter than
/// `window`.
pub(crate) fn max_in_window(times: &[Instant], window: Duration) -> usize {
    let mut best = 0;
    let mut start = 0;
    for (end, t) in times.iter().enumerate() {
        while start < end && t.duration_since(times[start]) >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// Events of the sorted `times` that are more than `limit` within a
/// window shorter than `window` (the ones a strict limiter would refuse).
pub(crate) fn over_limit(times: &[Instant], window: Duration, limit: usize) -> usize {
    if limit == 0 {
        return times.len();
    }
    (limit..times.len())
        .filter(|&i| times[i].duration_since(times[i - limit]) < window)
        .count()
}

/// Starts hermod on a fresh home against the fakes and waits until it
/// polls for updates.
pub(crate) async fn start_gateway(
    target: &Target,
    fake: &FakeTelegram,
    llm: &FakeLlm,
) -> anyhow::Result<Running> {
    start_gateway_in(target, Arc::new(tempfile::tempdir()?), fake, llm).await
}

/// Starts hermod on `home` against the fakes and waits until it polls for
/// updates (a poll made after this start: the home may be a previous run's).
pub(crate) async fn start_gateway_in(
    target: &Target,
    home: Arc<tempfile::TempDir>,
    fake: &FakeTelegram,
    llm: &FakeLlm,
) -> anyhow::Result<Running> {
    if target.kind != Kind::Hermod {
        bail!("the Telegram scenarios run against hermod only");
    }
    let token = fake.token();
    let base_url = fake.base_url();
    let env = [
        ("TELEGRAM_BOT_TOKEN", token.as_str()),
        ("TELEGRAM_API_BASE_URL", base_url.as_str()),
        ("TELEGRAM_ALLOW_ALL_USERS", "true"),
        ("TELEGRAM_POLL_TIMEOUT", "1"),
    ];
    let polls = fake.calls_of("getUpdates").len();
    let running = target.start_in(home, &llm.base_url(), &env).await?;
    if tokio::time::timeout(
        RECEIVER_DEADLINE,
        fake.wait_for_calls("getUpdates", polls + 1),
    )
    .await
    .is_err()
    {
        running.stop().await;
        bail!("hermod did not poll the fake Telegram server within {RECEIVER_DEADLINE:?}");
    }
    Ok(running)
}

/// Seconds from `from` to `to` (0 when `to` is earlier).
pub(crate) fn secs(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64()
}

/// What user `chat` writes as its message `m`: unique in its chat, and no
/// other message's text contains it.
fn message_text(chat: usize, m: usize) -> String {
    format!("msg {chat}.{m}: what is the weather like today?")
}

/// How the bot's messages answer the users' messages.
#[derive(Debug, Default)]
struct Tally {
    /// Messages some reply contains.
    answered: usize,
    /// Chats all of whose messages are answered.
    complete_chats: HashSet<i64>,
    /// Messages more than one reply contains (counted once per extra reply).
    duplicated: usize,
    /// Chats with more replies than messages written.
    chats_with_extra_replies: usize,
    /// Bot messages still showing the streaming cursor.
    stale_previews: usize,
    /// Bot messages that answer none of the messages (errors, notices).
    other_messages: usize,
    /// Bot messages not deleted.
    replies: usize,
}

fn tally(bot_messages: &[FakeMessage], chats: usize, messages: usize) -> Tally {
    let mut by_chat: HashMap<i64, Vec<&FakeMessage>> = HashMap::new();
    for message in bot_messages.iter().filter(|m| !m.deleted) {
        by_chat.entry(message.chat_id).or_default().push(message);
    }
    let mut t = Tally::default();
    for (chat_id, sent) in &by_chat {
        t.replies += sent.len();
        t.stale_previews += sent
            .iter()
            .filter(|m| m.current_text().contains(CURSOR))
            .count();
        let Some(chat) = chat_index(*chat_id, chats) else {
            t.other_messages += sent.len();
            continue;
        };
        if sent.len() > messages {
            t.chats_with_extra_replies += 1;
        }
        let mut answering = vec![false; sent.len()];
        let mut complete = true;
        for m in 0..messages {
            let text = message_text(chat, m);
            let mut containing = 0;
            for (i, reply) in sent.iter().enumerate() {
                let current = reply.current_text();
                if !current.contains(CURSOR) && current.contains(&text) {
                    containing += 1;
                    answering[i] = true;
                }
            }
            if containing > 0 {
                t.answered += 1;
                t.duplicated += containing - 1;
            } else {
                complete = false;
            }
        }
        if complete {
            t.complete_chats.insert(*chat_id);
        }
        t.other_messages += sent
            .iter()
            .zip(&answering)
            .filter(|(m, a)| !**a && !m.current_text().contains(CURSOR))
            .count();
    }
    t
}

/// Measures `chats` chats each writing `messages` messages to hermod's bot.
pub async fn throughput(target: &Target, chats: usize, messages: usize) -> anyhow::Result<Report> {
    let chats = chats.max(1);
    let messages = messages.max(1);
    let fake = FakeTelegram::start().await;
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::echo());
    let running = start_gateway(target, &fake, &llm).await?;
    let result = measure(&fake, &llm, &running, chats, messages).await;
    running.stop().await;
    result
}

async fn measure(
    fake: &FakeTelegram,
    llm: &FakeLlm,
    running: &Running,
    chats: usize,
    messages: usize,
) -> anyhow::Result<Report> {
    let total = chats * messages;
    let users: Vec<_> = (0..chats)
        .map(|c| fake.user(chat_id(c), &format!("User {c}")))
        .collect();
    let llm_before = llm.request_count();

    let t0 = Instant::now();
    for m in 0..messages {
        for (c, user) in users.iter().enumerate() {
            user.dm(&message_text(c, m));
        }
    }
    let pushed = Instant::now();
    let last_update = fake
        .pending_updates()
        .iter()
        .filter_map(|u| u["update_id"].as_i64())
        .max()
        .context("no update is pending right after queueing them")?;

    let deadline = t0 + BASE_DEADLINE + WAIT_PER_MESSAGE * u32::try_from(total).unwrap_or(u32::MAX);
    let mut ingested: Option<Instant> = None;
    let mut llm_count = llm_before;
    let mut llm_last = t0;
    let mut answered = 0usize;
    let mut last_progress = t0;
    let mut next_check = t0;
    let mut all_answered: Option<Instant> = None;
    let mut timed_out = false;
    loop {
        let now = Instant::now();
        if ingested.is_none() && fake.confirmed_offset() > last_update {
            ingested = Some(now);
        }
        let count = llm.request_count();
        if count > llm_count {
            llm_count = count;
            llm_last = now;
        }
        if now >= next_check {
            next_check = now + CHECK_EVERY;
            let t = tally(&fake.all_bot_messages(), chats, messages);
            if t.answered > answered {
                answered = t.answered;
                last_progress = now;
            }
            if answered >= total && all_answered.is_none() {
                all_answered = Some(now);
            }
        }
        if let Some(done) = all_answered
            && now >= done + QUIET
        {
            break;
        }
        if now >= deadline || now.duration_since(last_progress) >= STALL {
            timed_out = true;
            break;
        }
        tokio::time::sleep(TICK).await;
    }

    let bot_messages = fake.all_bot_messages();
    let t = tally(&bot_messages, chats, messages);
    let calls = fake.calls();
    let mut first_send: HashMap<i64, Instant> = HashMap::new();
    let mut last_call: HashMap<i64, Instant> = HashMap::new();
    let mut message_calls: Vec<Instant> = Vec::new();
    let (mut sends, mut edits) = (0usize, 0usize);
    for call in calls
        .iter()
        .filter(|c| c.at >= t0 && is_message_call(&c.method))
    {
        let Some(chat) = chat_of(call) else { continue };
        message_calls.push(call.at);
        if is_send(&call.method) {
            sends += 1;
            first_send.entry(chat).or_insert(call.at);
        } else {
            edits += 1;
        }
        last_call.insert(chat, call.at);
    }
    message_calls.sort();
    let last_reply = last_call.values().max().copied().unwrap_or(t0);
    let e2e = secs(t0, last_reply);
    let mut first_visible: Vec<f64> = first_send.values().map(|at| secs(t0, *at)).collect();
    // When each fully answered chat got its final call.
    let mut done_at: Vec<f64> = last_call
        .iter()
        .filter(|(chat, _)| t.complete_chats.contains(chat))
        .map(|(_, at)| secs(t0, *at))
        .collect();
    let done_within = |limit: f64| done_at.iter().filter(|s| **s <= limit).count() as f64;
    let timeline = [5.0, 30.0, 60.0, 120.0].map(|limit| {
        Metric::new(
            &format!("chats_done_within_{limit}s"),
            done_within(limit),
            "count",
        )
    });
    let polls = calls
        .iter()
        .filter(|c| c.at >= t0 && c.method.eq_ignore_ascii_case("getUpdates"))
        .count();
    let ingest = ingested.map(|at| secs(t0, at));
    let rss_mb = running.rss_kib().ok().map(|kib| kib as f64 / 1024.0);

    let mut metrics = vec![
        Metric::new(
            "messages_per_s",
            t.answered as f64 / e2e.max(1e-9),
            "messages/s",
        )
        .goal(">= 2000 messages/s"),
        Metric::new("lost", (total - t.answered.min(total)) as f64, "count").goal("0"),
        Metric::new("duplicated", t.duplicated as f64, "count").goal("0"),
        Metric::new("end_to_end", e2e, "s"),
        Metric::new("push_time", secs(t0, pushed) * 1e3, "ms"),
    ];
    match ingest {
        Some(s) => {
            metrics.push(Metric::new("ingest_time", s, "s"));
            metrics.push(Metric::new(
                "ingest_rate",
                total as f64 / s.max(1e-9),
                "updates/s",
            ));
        }
        None => metrics.push(Metric::new("ingest_unconfirmed", 1.0, "count")),
    }
    let llm_requests = llm_count - llm_before;
    metrics.extend([
        Metric::new("llm_requests", llm_requests as f64, "count"),
        Metric::new(
            "llm_request_rate",
            llm_requests as f64 / secs(t0, llm_last).max(1e-9),
            "requests/s",
        ),
        Metric::new(
            "first_visible_p50",
            percentile(&mut first_visible, 50.0),
            "s",
        ),
        Metric::new(
            "first_visible_p99",
            percentile(&mut first_visible, 99.0),
            "s",
        ),
        Metric::new("reply_done_p50", percentile(&mut done_at, 50.0), "s"),
        Metric::new("reply_done_p99", percentile(&mut done_at, 99.0), "s"),
        Metric::new("send_calls", sends as f64, "count"),
        Metric::new("edit_calls", edits as f64, "count"),
        Metric::new(
            "message_calls_per_s",
            message_calls.len() as f64 / e2e.max(1e-9),
            "calls/s",
        ),
        Metric::new(
            "busiest_second_calls",
            max_in_window(&message_calls, Duration::from_secs(1)) as f64,
            "calls",
        ),
        Metric::new("get_updates_calls", polls as f64, "count"),
        Metric::new("replies", t.replies as f64, "count"),
        Metric::new(
            "chats_with_extra_replies",
            t.chats_with_extra_replies as f64,
            "count",
        ),
        Metric::new("stale_previews", t.stale_previews as f64, "count"),
        Metric::new("other_messages", t.other_messages as f64, "count"),
        Metric::new("rate_limit_hits", fake.rate_limit_hits() as f64, "count"),
        Metric::new("timed_out", if timed_out { 1.0 } else { 0.0 }, "count"),
    ]);
    metrics.extend(timeline);
    if let Some(mb) = rss_mb {
        metrics.push(Metric::new("gateway_rss_after", mb, "MB"));
    }
    Ok(Report {
        scenario: "telegram-throughput".to_owned(),
        target: running.kind.name().to_owned(),
        parameters: serde_json::json!({
            "chats": chats,
            "messages_per_chat": messages,
            "llm": "instant echo",
            "streaming": "on (default)",
            "wait_limit_s": secs(t0, deadline),
        }),
        metrics,
        failures: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_count_events_closer_than_the_window() {
        let t = Instant::now();
        let times: Vec<Instant> = [0, 100, 200, 1_000, 1_050, 3_000]
            .iter()
            .map(|ms| t + Duration::from_millis(*ms))
            .collect();
        // 100, 200, 1000 and 1050 lie within 950 ms.
        assert_eq!(max_in_window(&times, Duration::from_secs(1)), 4);
        assert_eq!(over_limit(&times, Duration::from_secs(1), 1), 4);
        assert_eq!(over_limit(&times, Duration::from_secs(1), 3), 1);
        assert_eq!(over_limit(&times, Duration::from_secs(1), 4), 0);
        assert_eq!(max_in_window(&[], Duration::from_secs(1)), 0);
    }

    #[test]
    fn message_texts_do_not_contain_each_other() {
        let a = message_text(1, 1);
        let b = message_text(1, 10);
        let c = message_text(11, 1);
        assert!(!b.contains(&a) && !a.contains(&b) && !c.contains(&a));
    }

    #[test]
    fn only_sends_and_edits_are_message_calls() {
        assert!(is_message_call("sendMessage"));
        assert!(is_message_call("editMessageText"));
        assert!(!is_message_call("sendChatAction"));
        assert!(!is_message_call("getUpdates"));
        assert!(is_send("sendPhoto") && !is_send("editMessageText"));
    }
}
