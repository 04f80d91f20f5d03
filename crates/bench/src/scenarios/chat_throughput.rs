//! `telegram-throughput`, `discord-throughput`, `slack-throughput`: many
//! chats writing to hermod's bot at once through a platform's fake, with
//! an instant echo LLM. One scenario, run on any [`Peer`].
//!
//! The fake and the fake LLM run in this process; hermod runs as its own
//! process, pointed at the fake with the platform's environment variables,
//! and the run starts once it receives from the fake. Every chat's user
//! writes `messages` DMs, all at once (the burst a bot meets after an
//! outage or a broadcast). The scenario then waits, bounded, until every
//! message is answered and measures:
//!
//! - **ingest**: turns started per second, from the first message written
//!   to the last model request (a turn starts once hermod recorded the
//!   message and routed it to its session); where the platform is told
//!   that hermod received a message only after hermod recorded it
//!   (Telegram's `getUpdates` offset), also until it was told for the
//!   last one;
//! - **end to end**: from the first message written until the last reply's
//!   final call reached the fake (`messages_per_s` = answered messages
//!   over that time);
//! - per chat, when its first visible message and its final reply arrived;
//! - **lost**: messages no reply contains after the wait; **duplicated**:
//!   messages more than one reply contains; chats with more replies than
//!   messages; previews left with the streaming cursor;
//! - the calls by kind (sends, edits, typing, reactions...), the busiest
//!   second of sends and edits, and how much of what the limit that bounds
//!   delivery ([`super::chat::Ceiling`]) allowed was used, from the first
//!   message written to the last call it counts;
//! - calls the real platform could have refused by its published limits:
//!   the fakes count them and answer anyway, so what is measured is
//!   hermod's own pacing.
//!
//! Streaming stays on (there is no environment variable for it): a reply
//! is a preview plus at least one edit to its final text, each going
//! through hermod's pacer.

use super::chat::{CURSOR, Call, CallKind, Peer, Shown, limit_use, max_in_window, secs};
use super::progress;
use crate::report::{Metric, Report, percentile};
use crate::target::{Kind, Running, Target};
use anyhow::bail;
use hermod_testkit::{FakeLlm, Reply};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// How long the gateway may take to start receiving.
const RECEIVER_DEADLINE: Duration = Duration::from_secs(30);
/// The wait for replies: this much plus [`Peer::WAIT_PER_MESSAGE`] per
/// message. An outbox entry that hermod deferred waits up to 90 s for its
/// retry, so a big burst drains much slower than the platform allows.
const BASE_DEADLINE: Duration = Duration::from_secs(180);
/// The wait ends early when nothing new was answered for this long.
const STALL: Duration = Duration::from_secs(150);
/// After the last expected reply, how long to watch for extra ones.
const QUIET: Duration = Duration::from_secs(2);
/// How often the cheap progress checks (receipts, LLM requests) run.
const TICK: Duration = Duration::from_millis(10);
/// How often the replies are checked.
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// How often a long run says how far it got.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

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
    complete_chats: HashSet<String>,
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

/// `chats` maps a chat's key to its number.
fn tally(shown: &[Shown], chats: &HashMap<String, usize>, messages: usize) -> Tally {
    let mut by_chat: HashMap<&str, Vec<&str>> = HashMap::new();
    for message in shown {
        by_chat
            .entry(message.chat.as_str())
            .or_default()
            .push(message.text.as_str());
    }
    let mut t = Tally::default();
    for (key, sent) in &by_chat {
        t.replies += sent.len();
        t.stale_previews += sent.iter().filter(|m| m.contains(CURSOR)).count();
        let Some(chat) = chats.get(*key).copied() else {
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
                if !reply.contains(CURSOR) && reply.contains(&text) {
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
            t.complete_chats.insert((*key).to_owned());
        }
        t.other_messages += sent
            .iter()
            .zip(&answering)
            .filter(|(m, a)| !**a && !m.contains(CURSOR))
            .count();
    }
    t
}

/// Measures `chats` chats each writing `messages` messages to hermod's bot
/// on `P`'s fake.
pub async fn run<P: Peer>(
    target: &Target,
    chats: usize,
    messages: usize,
) -> anyhow::Result<Report> {
    if target.kind != Kind::Hermod {
        bail!("the chat-platform scenarios run against hermod only");
    }
    let chats = chats.max(1);
    let messages = messages.max(1);
    progress(&format!(
        "{}-throughput: {chats} chats, {messages} message(s) each",
        P::PLATFORM
    ));
    let mut peer = P::start().await;
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::echo());
    let vars = peer.env();
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let running = target.start(&llm.base_url(), &env).await?;
    if tokio::time::timeout(RECEIVER_DEADLINE, peer.connected())
        .await
        .is_err()
    {
        let tail = running.log_tail(20);
        running.stop().await;
        bail!(
            "hermod did not connect to the fake {} within {RECEIVER_DEADLINE:?}; the end of its \
             output:\n{tail}",
            P::PLATFORM
        );
    }
    let result = measure(&mut peer, &llm, &running, chats, messages).await;
    running.stop().await;
    result
}

async fn measure<P: Peer>(
    peer: &mut P,
    llm: &FakeLlm,
    running: &Running,
    chats: usize,
    messages: usize,
) -> anyhow::Result<Report> {
    let total = chats * messages;
    let keys: HashMap<String, usize> = peer
        .open_chats(chats)
        .into_iter()
        .enumerate()
        .map(|(chat, key)| (key, chat))
        .collect();
    let llm_before = llm.request_count();

    let t0 = Instant::now();
    for m in 0..messages {
        for c in 0..chats {
            peer.write(c, &message_text(c, m));
        }
    }
    let pushed = Instant::now();
    peer.written()?;

    let per_message = P::WAIT_PER_MESSAGE * u32::try_from(total).unwrap_or(u32::MAX);
    let deadline = t0 + BASE_DEADLINE + per_message;
    let mut confirmed: Option<Instant> = None;
    let mut llm_count = llm_before;
    let mut llm_last = t0;
    let mut answered = 0usize;
    let mut last_progress = t0;
    let mut next_check = t0;
    let mut next_report = t0 + PROGRESS_EVERY;
    let mut all_answered: Option<Instant> = None;
    let mut timed_out = false;
    loop {
        let now = Instant::now();
        if confirmed.is_none() && peer.receipt_confirmed() == Some(true) {
            confirmed = Some(now);
        }
        let count = llm.request_count();
        if count > llm_count {
            llm_count = count;
            llm_last = now;
        }
        if now >= next_check {
            next_check = now + CHECK_EVERY;
            let t = tally(&peer.shown(), &keys, messages);
            if t.answered > answered {
                answered = t.answered;
                last_progress = now;
            }
            if answered >= total && all_answered.is_none() {
                all_answered = Some(now);
            }
        }
        if now >= next_report {
            next_report = now + PROGRESS_EVERY;
            progress(&format!(
                "{:.0} s: {answered} of {total} messages answered, {} turns started",
                secs(t0, now),
                llm_count - llm_before
            ));
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

    let t = tally(&peer.shown(), &keys, messages);
    let calls: Vec<Call> = peer.calls().into_iter().filter(|c| c.at >= t0).collect();
    let mut by_kind: HashMap<CallKind, usize> = HashMap::new();
    let mut first_send: HashMap<&str, Instant> = HashMap::new();
    let mut last_call: HashMap<&str, Instant> = HashMap::new();
    let mut text_calls: Vec<Instant> = Vec::new();
    for call in &calls {
        *by_kind.entry(call.kind).or_default() += 1;
        let Some(chat) = call.chat.as_deref() else {
            continue;
        };
        if !call.kind.shows_text() {
            continue;
        }
        text_calls.push(call.at);
        if call.kind == CallKind::Send {
            first_send.entry(chat).or_insert(call.at);
        }
        last_call.insert(chat, call.at);
    }
    text_calls.sort();
    let kind_count = |kind: CallKind| by_kind.get(&kind).copied().unwrap_or(0) as f64;
    let last_reply = last_call.values().max().copied().unwrap_or(t0);
    let e2e = secs(t0, last_reply);
    let mut first_visible: Vec<f64> = first_send.values().map(|at| secs(t0, *at)).collect();
    // When each fully answered chat got its final call.
    let mut done_at: Vec<f64> = last_call
        .iter()
        .filter(|(chat, _)| t.complete_chats.contains(**chat))
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
    let rss_mb = running.rss_kib().ok().map(|kib| kib as f64 / 1024.0);

    let mut metrics = vec![
        Metric::new(
            "messages_per_s",
            t.answered as f64 / e2e.max(1e-9),
            "messages/s",
        ),
        Metric::new("lost", (total - t.answered.min(total)) as f64, "count").goal("0"),
        Metric::new("duplicated", t.duplicated as f64, "count").goal("0"),
        Metric::new("end_to_end", e2e, "s"),
        Metric::new("push_time", secs(t0, pushed) * 1e3, "ms"),
    ];
    match (confirmed, peer.receipt_confirmed()) {
        (Some(at), _) => {
            let s = secs(t0, at);
            metrics.push(Metric::new("ingest_time", s, "s"));
            metrics.push(
                Metric::new("ingest_rate", total as f64 / s.max(1e-9), "updates/s")
                    .goal(">= 2000 updates/s"),
            );
        }
        (None, Some(false)) => metrics.push(Metric::new("ingest_unconfirmed", 1.0, "count")),
        (None, _) => {}
    }
    let llm_requests = llm_count - llm_before;
    metrics.extend([
        Metric::new("llm_requests", llm_requests as f64, "count"),
        Metric::new("turns_started_after", secs(t0, llm_last), "s"),
        Metric::new(
            "llm_request_rate",
            llm_requests as f64 / secs(t0, llm_last).max(1e-9),
            "requests/s",
        )
        .goal(">= 2000/s"),
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
        Metric::new("send_calls", kind_count(CallKind::Send), "count"),
        Metric::new("edit_calls", kind_count(CallKind::Edit), "count"),
        Metric::new("delete_calls", kind_count(CallKind::Delete), "count"),
        Metric::new("typing_calls", kind_count(CallKind::Typing), "count"),
        Metric::new("reaction_calls", kind_count(CallKind::Reaction), "count"),
        Metric::new("other_calls", kind_count(CallKind::Other), "count"),
        Metric::new(
            "message_calls_per_s",
            text_calls.len() as f64 / e2e.max(1e-9),
            "calls/s",
        ),
        Metric::new(
            "busiest_second_calls",
            max_in_window(&text_calls, Duration::from_secs(1)) as f64,
            "calls",
        ),
    ]);
    if let Some(used) = limit_use(&calls, &P::CEILING, t0) {
        metrics.push(Metric::new("limit_use", used * 100.0, "%").goal(">= 95 %"));
    }
    metrics.extend([
        Metric::new("would_be_refused", peer.refusable(&calls) as f64, "count").goal("0"),
        Metric::new("replies", t.replies as f64, "count"),
        Metric::new(
            "chats_with_extra_replies",
            t.chats_with_extra_replies as f64,
            "count",
        ),
        Metric::new("stale_previews", t.stale_previews as f64, "count"),
        Metric::new("other_messages", t.other_messages as f64, "count"),
        Metric::new("timed_out", if timed_out { 1.0 } else { 0.0 }, "count"),
    ]);
    metrics.extend(timeline);
    metrics.extend(peer.figures(&calls, t0));
    if let Some(mb) = rss_mb {
        metrics.push(Metric::new("gateway_rss_after", mb, "MB"));
    }
    Ok(Report {
        scenario: format!("{}-throughput", P::PLATFORM),
        target: running.kind.name().to_owned(),
        parameters: serde_json::json!({
            "platform": P::PLATFORM,
            "chats": chats,
            "messages_per_chat": messages,
            "llm": "instant echo",
            "streaming": "on (default)",
            "delivery_limit": P::CEILING.what,
            "rate_limits": "counted by the fake, not enforced",
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
    fn message_texts_do_not_contain_each_other() {
        let a = message_text(1, 1);
        let b = message_text(1, 10);
        let c = message_text(11, 1);
        assert!(!b.contains(&a) && !a.contains(&b) && !c.contains(&a));
    }

    fn shown(chat: &str, text: &str) -> Shown {
        Shown {
            chat: chat.to_owned(),
            text: text.to_owned(),
        }
    }

    #[test]
    fn the_tally_finds_lost_duplicated_and_stale_replies() {
        let chats: HashMap<String, usize> = [
            ("a".to_owned(), 0),
            ("b".to_owned(), 1),
            ("c".to_owned(), 2),
        ]
        .into();
        let echo = |chat| format!("echo: {}", message_text(chat, 0));
        let t = tally(
            &[
                shown("a", &echo(0)),
                shown("b", &echo(1)),
                shown("b", &echo(1)),
                shown("c", &format!("echo: msg {CURSOR}")),
                shown("z", "who is this?"),
            ],
            &chats,
            1,
        );
        assert_eq!(t.answered, 2);
        assert_eq!(t.duplicated, 1);
        assert_eq!(t.chats_with_extra_replies, 1);
        assert_eq!(t.stale_previews, 1);
        assert_eq!(t.other_messages, 1);
        assert_eq!(t.replies, 5);
        assert!(t.complete_chats.contains("a") && !t.complete_chats.contains("c"));
    }
}
