//! `streaming`: long replies streamed to many Telegram chats at once,
//! through the fake Telegram Bot API server.
//!
//! The fake LLM answers every chat with the same `tokens`-word text, one
//! word per chunk, `1 / tokens_per_second` apart (its first chunk carries
//! only the role; the first word leaves one interval after the request
//! arrived). Every chat's user writes once, all at the same moment; hermod
//! shows each reply as one message edited while it grows. Measured from the
//! calls the fake server recorded:
//!
//! - **first visible**: per chat, from the first word leaving the fake LLM
//!   (request arrival, seen by a watcher, plus one interval) to the first
//!   `sendMessage` reaching the fake (bar: 1 s);
//! - **per-chat pace**: edits per chat, the most sends and edits to one chat
//!   within any [`MIN_GAP`], the smallest gap between two calls to one
//!   chat, and how many gaps were under [`MIN_GAP`] (Telegram allows about
//!   one message per second in a chat; 5 % of it is left for network and
//!   scheduling jitter, since calls paced exactly 1 s apart can arrive
//!   999 ms apart);
//! - **global pace**: the most sends and edits across all chats within any
//!   [`MIN_GAP`], and how many calls a limit of 30 per second would have
//!   refused (with the same 5 % tolerance: calls paced exactly 30 per
//!   second put 31 in some closed one-second windows);
//! - the 429 answers the fake served, and whether every chat ends with
//!   exactly the full reply, without the cursor: `stale_previews` counts
//!   messages left showing the cursor, `chats_with_several_messages` the
//!   replies that arrived in more than one message.
//!
//! `would_be_429s` adds up the per-chat and global excess: the calls real
//! Telegram could have refused. `all_final_after` is -1 when some chat did
//! not show its full reply when the wait ended (twice the streaming time
//! plus two minutes); `llm_streams_unfinished` counts the fake LLM's
//! responses hermod had not read to the end by then.

use super::chat::{CURSOR, max_in_window, over_limit, secs};
use super::telegram::{chat_id, chat_of, is_message_call, is_send, start_gateway};
use crate::report::{Metric, Report, percentile};
use crate::target::{Running, Target};
use hermod_testkit::telegram::FakeMessage;
use hermod_testkit::{FakeLlm, FakeTelegram, RecordedRequest, Reply};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Two calls to one chat closer than this count against the one message
/// per second rule.
const MIN_GAP: Duration = Duration::from_millis(950);
/// Telegram's overall limit for a bot, messages per second.
const GLOBAL_LIMIT: usize = 30;
/// The wait for replies beyond twice the streaming time (hermod's outbox
/// retries a deferred delivery after 60 s, found by a sweep every 30 s).
const EXTRA_WAIT: Duration = Duration::from_secs(120);
/// After every chat shows its full reply, how long to watch for more calls.
const QUIET: Duration = Duration::from_millis(1_500);
/// How often the replies are checked.
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// Words of the streamed reply.
const WORDS: &[&str] = &[
    "the",
    "gateway",
    "streams",
    "this",
    "reply",
    "word",
    "by",
    "word",
    "while",
    "the",
    "model",
    "writes",
    "it",
    "and",
    "every",
    "chat",
    "sees",
    "one",
    "message",
    "grow",
    "at",
    "a",
    "steady",
    "pace",
    "without",
    "flooding",
    "telegram",
    "with",
    "edits",
    "long",
    "answers",
    "arrive",
    "in",
    "pieces",
    "that",
    "join",
    "into",
    "paragraphs",
    "about",
    "rivers",
    "mountains",
    "weather",
    "recipes",
    "trains",
    "music",
    "gardens",
    "history",
    "maths",
];

/// The reply: `tokens` words, with a full stop every twelve.
fn reply_text(tokens: usize) -> String {
    let mut text = String::new();
    for i in 0..tokens {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(WORDS[(i * 7 + i / WORDS.len()) % WORDS.len()]);
        if i % 12 == 11 || i + 1 == tokens {
            text.push('.');
        }
    }
    text
}

/// What chat `c`'s user writes.
fn prompt(chat: usize) -> String {
    format!("stream {chat}: tell me a long story")
}

/// The chat whose prompt a request answers.
fn chat_of_request(request: &RecordedRequest) -> Option<usize> {
    let user = request
        .messages()
        .iter()
        .rev()
        .find(|m| m["role"].as_str() == Some("user"))?;
    let content = match &user["content"] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rest = &content[content.find("stream ")? + "stream ".len()..];
    rest[..rest.find(':')?].trim().parse().ok()
}

/// When each request reached the fake LLM (in arrival order), seen by
/// waking on every arrival; stops after `n` requests or at `deadline`.
async fn watch_requests(llm: &FakeLlm, n: usize, deadline: Instant) -> Vec<Instant> {
    let mut arrivals = Vec::with_capacity(n);
    while arrivals.len() < n {
        let next = arrivals.len() + 1;
        if tokio::time::timeout_at(deadline, llm.wait_for_requests(next))
            .await
            .is_err()
        {
            break;
        }
        let now = Instant::now();
        let count = llm.request_count().min(n);
        while arrivals.len() < count {
            arrivals.push(now);
        }
    }
    arrivals
}

/// Whether a chat's messages show exactly `expected`, without the cursor.
fn shows(messages: &[FakeMessage], expected: &str) -> bool {
    let live: Vec<&FakeMessage> = messages.iter().filter(|m| !m.deleted).collect();
    let text: Vec<&str> = live.iter().map(|m| m.current_text().trim()).collect();
    !text.is_empty() && !text.iter().any(|t| t.contains(CURSOR)) && text.join(" ") == expected
}

/// Measures `chats` chats streaming `tokens`-word replies at `tokens_per_second`.
pub async fn run(
    target: &Target,
    chats: usize,
    tokens: usize,
    tokens_per_second: u64,
) -> anyhow::Result<Report> {
    let chats = chats.max(1);
    let tokens = tokens.max(1);
    let rate = tokens_per_second.max(1);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let text = reply_text(tokens);
    let fake = FakeTelegram::start().await;
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::text(text.clone()).token_delay(interval));
    let running = start_gateway(target, &fake, &llm).await?;
    let result = measure(&fake, &llm, &running, chats, tokens, interval, &text).await;
    running.stop().await;
    result
}

/// Per-chat figures from the recorded calls.
#[derive(Debug, Default)]
struct ChatCalls {
    first_send: Option<Instant>,
    /// Sends and edits, in order.
    times: Vec<Instant>,
    edits: usize,
    sends: usize,
}

async fn measure(
    fake: &FakeTelegram,
    llm: &FakeLlm,
    running: &Running,
    chats: usize,
    tokens: usize,
    interval: Duration,
    text: &str,
) -> anyhow::Result<Report> {
    let expected = text.trim().to_owned();
    let users: Vec<_> = (0..chats)
        .map(|c| fake.user(chat_id(c), &format!("User {c}")))
        .collect();
    let stream_time = interval * u32::try_from(tokens).unwrap_or(u32::MAX);
    let llm_before = llm.request_count();

    let t0 = Instant::now();
    let deadline = t0 + stream_time * 2 + EXTRA_WAIT;
    for (c, user) in users.iter().enumerate() {
        user.dm(&prompt(c));
    }

    let wait_replies = async {
        let mut done_at = None;
        loop {
            let now = Instant::now();
            if done_at.is_some_and(|d: Instant| now >= d + QUIET) || now >= deadline {
                return done_at;
            }
            if done_at.is_none() {
                let all = fake.all_bot_messages();
                let mut by_chat: HashMap<i64, Vec<FakeMessage>> = HashMap::new();
                for m in all {
                    by_chat.entry(m.chat_id).or_default().push(m);
                }
                let complete = (0..chats)
                    .filter(|c| {
                        let id = chat_id(*c);
                        by_chat.get(&id).is_some_and(|m| shows(m, &expected))
                    })
                    .count();
                if complete == chats {
                    done_at = Some(now);
                }
            }
            tokio::time::sleep(CHECK_EVERY).await;
        }
    };
    let (arrivals, done_at) = tokio::join!(
        watch_requests(llm, llm_before + chats, deadline),
        wait_replies
    );

    // Which chat each request was for, and when its first word left.
    let requests = llm.requests();
    let mut first_token: HashMap<i64, Instant> = HashMap::new();
    for (request, arrived) in requests.iter().zip(&arrivals).skip(llm_before) {
        if let Some(c) = chat_of_request(request) {
            let id = chat_id(c);
            first_token.entry(id).or_insert(*arrived + interval);
        }
    }

    let calls = fake.calls();
    let mut per_chat: HashMap<i64, ChatCalls> = HashMap::new();
    let mut all_times: Vec<Instant> = Vec::new();
    for call in calls
        .iter()
        .filter(|c| c.at >= t0 && is_message_call(&c.method))
    {
        let Some(chat) = chat_of(call) else { continue };
        let entry = per_chat.entry(chat).or_default();
        entry.times.push(call.at);
        all_times.push(call.at);
        if is_send(&call.method) {
            entry.sends += 1;
            entry.first_send.get_or_insert(call.at);
        } else {
            entry.edits += 1;
        }
    }
    all_times.sort();

    let mut first_visible: Vec<f64> = Vec::new();
    let mut edits: Vec<f64> = Vec::new();
    let mut edit_rate: Vec<f64> = Vec::new();
    let mut max_per_second = 0usize;
    let mut min_gap: Option<Duration> = None;
    let mut chat_excess = 0usize;
    for (chat, c) in &mut per_chat {
        c.times.sort();
        if let (Some(sent), Some(token)) = (c.first_send, first_token.get(chat)) {
            first_visible.push(secs(*token, sent));
        }
        edits.push(c.edits as f64);
        if let (Some(first), Some(last)) = (c.times.first(), c.times.last())
            && last > first
        {
            edit_rate.push(c.edits as f64 / secs(*first, *last));
        }
        max_per_second = max_per_second.max(max_in_window(&c.times, MIN_GAP));
        for pair in c.times.windows(2) {
            let gap = pair[1].duration_since(pair[0]);
            min_gap = Some(min_gap.map_or(gap, |g| g.min(gap)));
        }
        chat_excess += over_limit(&c.times, MIN_GAP, 1);
    }
    let global_excess = over_limit(&all_times, MIN_GAP, GLOBAL_LIMIT);

    let bot_messages = fake.all_bot_messages();
    let mut by_chat: HashMap<i64, Vec<FakeMessage>> = HashMap::new();
    for m in bot_messages {
        by_chat.entry(m.chat_id).or_default().push(m);
    }
    let mut mismatched = 0usize;
    let mut most_messages = 0usize;
    let mut split = 0usize;
    let mut stale = 0usize;
    for c in 0..chats {
        let id = chat_id(c);
        let messages = by_chat.get(&id).map_or(&[][..], Vec::as_slice);
        let live = messages.iter().filter(|m| !m.deleted).count();
        most_messages = most_messages.max(live);
        split += usize::from(live > 1);
        stale += messages
            .iter()
            .filter(|m| !m.deleted && m.current_text().contains(CURSOR))
            .count();
        if !shows(messages, &expected) {
            mismatched += 1;
        }
    }
    let within_bar = first_visible.iter().filter(|s| **s <= 1.0).count();
    let measured_chats = first_visible.len();
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let last_call = all_times.last().copied().unwrap_or(t0);

    let metrics = vec![
        Metric::new(
            "would_be_429s",
            (chat_excess + global_excess) as f64,
            "count",
        )
        .goal("0"),
        Metric::new("rate_limit_hits", fake.rate_limit_hits() as f64, "count").goal("0"),
        Metric::new(
            "first_visible_p50",
            percentile(&mut first_visible.clone(), 50.0),
            "s",
        )
        .goal("<= 1 s"),
        Metric::new(
            "first_visible_p99",
            percentile(&mut first_visible.clone(), 99.0),
            "s",
        ),
        Metric::new(
            "first_visible_max",
            percentile(&mut first_visible, 100.0),
            "s",
        ),
        Metric::new("chats_visible_within_1s", within_bar as f64, "count"),
        Metric::new("chats_measured", measured_chats as f64, "count"),
        Metric::new("final_text_mismatches", mismatched as f64, "count").goal("0"),
        Metric::new("messages_per_chat_max", most_messages as f64, "count"),
        Metric::new("chats_with_several_messages", split as f64, "count"),
        Metric::new("stale_previews", stale as f64, "count").goal("0"),
        Metric::new("edits_per_chat_mean", mean(&edits), "count"),
        Metric::new("edits_per_chat_p50", percentile(&mut edits, 50.0), "count"),
        Metric::new("edit_rate_per_chat_mean", mean(&edit_rate), "edits/s"),
        Metric::new("chat_max_calls_in_950ms", max_per_second as f64, "calls").goal("<= 1"),
        Metric::new(
            "chat_min_gap",
            min_gap.map_or(0.0, |g| g.as_secs_f64() * 1e3),
            "ms",
        ),
        Metric::new("chat_gaps_under_950ms", chat_excess as f64, "count"),
        Metric::new(
            "global_max_calls_in_950ms",
            max_in_window(&all_times, MIN_GAP) as f64,
            "calls",
        )
        .goal("<= 30"),
        Metric::new("global_calls_over_30_per_s", global_excess as f64, "count"),
        Metric::new("message_calls", all_times.len() as f64, "count"),
        Metric::new("last_call_after", secs(t0, last_call), "s"),
        Metric::new(
            "all_final_after",
            done_at.map_or(-1.0, |d| secs(t0, d)),
            "s",
        ),
        Metric::new("llm_streams_unfinished", llm.in_flight() as f64, "count"),
        Metric::new("stream_time", stream_time.as_secs_f64(), "s"),
    ];
    Ok(Report {
        scenario: "streaming".to_owned(),
        target: running.kind.name().to_owned(),
        parameters: serde_json::json!({
            "chats": chats,
            "tokens": tokens,
            "tokens_per_second": 1.0 / interval.as_secs_f64(),
            "reply_chars": expected.chars().count(),
        }),
        metrics,
        failures: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_has_the_asked_words() {
        let text = reply_text(40);
        assert_eq!(text.split(' ').count(), 40);
        assert!(text.ends_with('.'));
        assert!(!text.contains(CURSOR));
    }

    #[test]
    fn prompts_name_their_chat() {
        let request = RecordedRequest {
            body: serde_json::json!({"messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": prompt(17)},
            ]}),
            headers: Default::default(),
        };
        assert_eq!(chat_of_request(&request), Some(17));
    }
}
