//! `crash-recovery`: hermod killed with `kill -9` while Telegram chats wait
//! for streamed replies, then restarted on the same home. Every message
//! must be answered exactly once: no reply lost, none twice, no preview
//! left behind, nothing stored twice, nothing left pending.
//!
//! Each chat's user writes one message through the fake Telegram Bot API
//! server; the fake LLM echoes it (`echo: <message>`, so every chat's reply
//! is its own) one word per chunk, [`TOKEN_DELAY`] apart: about 3 s of
//! streaming, shown by editing a preview. For each [`KILL_POINTS`] entry
//! the scenario starts hermod on a fresh home, sends the messages, sends
//! SIGKILL at the kill time (checked from the exit status), takes stock of
//! what the dead process left (a copy of its database and the fakes'
//! records), starts hermod again on the same home, and waits until every
//! chat shows its reply (bounded; see [`wait_limit`]) and [`QUIET`] more.
//! Then it kills the second run too and reads the database.
//!
//! Per kill point it reports:
//!
//! - **at the kill**, the stage of each chat's message: not recorded yet
//!   (the update waits at the fake), recorded, turn started (user message
//!   stored), reply stored but not delivered (a pending outbox row), done;
//!   model streams finished; chats already showing their full reply;
//! - **lost**: chats where no live bot message shows exactly the expected
//!   reply; **duplicated**: chats where more than one live bot message
//!   shows the reply or part of it; **stale previews**: live messages still
//!   showing the cursor; **partial previews**: live messages showing part of
//!   the reply without the cursor; **other messages**: live bot messages
//!   that are not the reply (notices);
//! - from the database: user messages stored per chat (exactly 1), chats
//!   whose stored replies are not exactly one with the expected text,
//!   outbox rows still pending, inbox rows not done;
//! - **recovery time**: from the restart (spawning the process) to the
//!   last call that completed a chat's reply; the restart's own time to
//!   `/health`; model requests made after the restart; the restarted
//!   gateway's sends, edits and deletes, and the most of them within any
//!   second, overall (Telegram allows a bot 30) and to one chat (about 1).
//!
//! Any of lost, duplicated, stale, partial, other, user messages other
//! than 1, stored replies other than 1, pending or unfinished rows, or a
//! wait that timed out makes the scenario fail (the table is printed
//! first, then `hermod-bench` exits non-zero with what went wrong and, for
//! the first chat affected, what the fakes and the database show).

use super::chat::{CURSOR, max_in_window, secs};
use super::progress;
use super::telegram::{
    chat_id, chat_index, chat_of, is_message_call, is_send, start_gateway, start_gateway_in,
};
use crate::report::{Metric, Report, percentile};
use crate::target::Target;
use anyhow::Context;
use hermod_model::{PlatformId, Role};
use hermod_store::{
    InboxEntry, InboxState, ListSessions, OutboxEntry, SqliteStore, Store, StoredMessage,
};
use hermod_testkit::telegram::{FakeCall, FakeMessage};
use hermod_testkit::{FakeLlm, FakeTelegram, Reply};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Between two streamed words: 30 gaps (role, 27 words, finish, usage,
/// `[DONE]`) make each reply stream for 3 s.
const TOKEN_DELAY: Duration = Duration::from_millis(100);
/// How long each reply streams.
const STREAM_TIME: Duration = Duration::from_millis(3_000);
/// Filler after `crash <chat>:` in each message: 24 words, so the echoed
/// reply (`echo: crash <chat>: ...`) is 27 words.
const FILLER: &str = "please tell me about the rivers and mountains of the north \
                      where the weather turns quickly and the trains run late \
                      every single winter";
/// After every chat shows its reply, how long to watch for more calls.
const QUIET: Duration = Duration::from_millis(1_000);
/// How often the chats are checked while waiting.
const CHECK_EVERY: Duration = Duration::from_millis(100);
/// The wait ends early when no chat was completed for this long (longer
/// than hermod's 30 s sweep, so a retry by the sweeper is waited for).
const STALL: Duration = Duration::from_secs(40);
/// In a staggered run, the share of chats (one in this many) that write
/// at the start, and are answered before the others write.
const EARLY_ONE_IN: usize = 10;
/// In a staggered run, when the other chats start writing, one after the
/// other until the kill.
const REST_FROM: Duration = Duration::from_secs(4);
/// The database in hermod's home.
const DB_FILE: &str = "hermod.db";
/// hermod's Telegram platform id.
const TELEGRAM: PlatformId = PlatformId::from_static("telegram");

/// One moment to kill hermod at.
#[derive(Debug, Clone, Copy)]
struct KillPoint {
    /// Short name, part of the scenario's name in the table.
    name: &'static str,
    /// From the first message sent to SIGKILL.
    kill_at: Duration,
    /// When set, a tenth of the chats write at the start and the others one
    /// after the other from [`REST_FROM`] to the kill (the last one at the
    /// kill itself), instead of all at once.
    staggered: bool,
}

/// The kill points, in the order they run. With replies streaming for 3 s
/// (started within about 0.2 s of the messages):
const KILL_POINTS: &[KillPoint] = &[
    // The model has streamed a few words: nothing of any reply is stored.
    KillPoint {
        name: "before-answer",
        kill_at: Duration::from_millis(500),
        staggered: false,
    },
    // Halfway through every stream; previews on screen with the cursor.
    KillPoint {
        name: "mid-stream",
        kill_at: Duration::from_millis(1_700),
        staggered: false,
    },
    // Streams ending: replies being stored and their final text sent.
    KillPoint {
        name: "end-of-stream",
        kill_at: Duration::from_millis(3_200),
        staggered: false,
    },
    // The model has finished every reply; with many chats, the previews
    // and final texts are still going out under Telegram's 30 messages/s.
    KillPoint {
        name: "delivery",
        kill_at: Duration::from_millis(5_000),
        staggered: false,
    },
    // A tenth of the chats answered, then the others writing from 4 s:
    // at the kill one is still waiting at the fake, others are streaming,
    // storing or delivering.
    KillPoint {
        name: "mixed",
        kill_at: Duration::from_millis(8_000),
        staggered: true,
    },
];

/// When each chat writes, from the start of the run.
fn write_times(chats: usize, point: KillPoint) -> Vec<Duration> {
    if !point.staggered {
        return vec![Duration::ZERO; chats];
    }
    let early = chats.div_ceil(EARLY_ONE_IN);
    let rest = chats - early;
    let spread = point.kill_at.saturating_sub(REST_FROM);
    (0..chats)
        .map(|c| match c.checked_sub(early) {
            None => Duration::ZERO,
            Some(_) if rest == 1 => point.kill_at,
            Some(i) => REST_FROM + spread.mul_f64(i as f64 / (rest - 1) as f64),
        })
        .collect()
}

/// How the chats write, for the parameters.
fn write_plan(chats: usize, point: KillPoint) -> String {
    if !point.staggered {
        return "all at 0 s".to_owned();
    }
    let early = chats.div_ceil(EARLY_ONE_IN);
    format!(
        "{early} at 0 s, {} from {} s to the kill",
        chats - early,
        REST_FROM.as_secs_f64()
    )
}

/// What chat `c`'s user writes.
fn prompt(chat: usize) -> String {
    format!("crash {chat}: {FILLER}")
}

/// The reply chat `c` must end with.
fn expected_reply(chat: usize) -> String {
    format!("echo: {}", prompt(chat))
}

/// How long to wait for every chat after the restart.
fn wait_limit(chats: usize) -> Duration {
    Duration::from_secs(60) + Duration::from_millis(250) * u32::try_from(chats).unwrap_or(u32::MAX)
}

/// Runs every kill point with `chats` chats; one report per kill point.
pub async fn run(target: &Target, chats: usize) -> anyhow::Result<Vec<Report>> {
    let chats = chats.max(1);
    let mut reports = Vec::new();
    for point in KILL_POINTS {
        progress(&format!(
            "crash-recovery {}: {chats} chats, kill -9 at {:.1} s{}",
            point.name,
            point.kill_at.as_secs_f64(),
            if point.staggered {
                " (chats staggered)"
            } else {
                ""
            }
        ));
        let report = run_point(target, chats, *point).await?;
        for failure in &report.failures {
            // The chat described after "; chat " comes with the final error.
            let what = failure.split("; chat ").next().unwrap_or(failure);
            progress(&format!("crash-recovery {}: FAILED: {what}", point.name));
        }
        reports.push(report);
    }
    Ok(reports)
}

/// What one chat's live bot messages show.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Shown {
    /// Messages showing exactly the reply.
    complete: usize,
    /// Messages showing part of the reply, without the cursor.
    partial: usize,
    /// Messages showing the cursor.
    cursor: usize,
    /// Messages that are not the reply.
    other: usize,
}

impl Shown {
    fn of(messages: &[&FakeMessage], expected: &str) -> Self {
        let mut shown = Shown::default();
        for m in messages.iter().filter(|m| !m.deleted) {
            let text = m.current_text();
            let bare = text.trim();
            if text.contains(CURSOR) {
                shown.cursor += 1;
            } else if bare == expected {
                shown.complete += 1;
            } else if !bare.is_empty() && expected.starts_with(bare) {
                shown.partial += 1;
            } else {
                shown.other += 1;
            }
        }
        shown
    }

    /// Messages carrying the reply, whole or in part.
    fn carrying(self) -> usize {
        self.complete + self.partial + self.cursor
    }
}

/// What every chat shows, by chat index.
fn shown_by_chat(bot_messages: &[FakeMessage], chats: usize) -> Vec<Shown> {
    let mut by_chat: Vec<Vec<&FakeMessage>> = vec![Vec::new(); chats];
    for m in bot_messages {
        if let Some(c) = chat_index(m.chat_id, chats) {
            by_chat[c].push(m);
        }
    }
    by_chat
        .iter()
        .enumerate()
        .map(|(c, messages)| Shown::of(messages, &expected_reply(c)))
        .collect()
}

/// The stage of each chat's message when the gateway was killed.
#[derive(Debug, Default)]
struct Stages {
    not_recorded: usize,
    recorded: usize,
    turn_started: usize,
    reply_stored: usize,
    done: usize,
}

/// What the database says after recovery.
#[derive(Debug, Default)]
struct Stored {
    /// Sessions per chat.
    sessions: Vec<usize>,
    outbox_pending: Vec<OutboxEntry>,
    inbox_unfinished: Vec<InboxEntry>,
    /// Every stored message of the scenario's chats, by chat.
    messages: Vec<Vec<StoredMessage>>,
}

impl Stored {
    /// The user messages stored for chat `c`.
    fn user_messages(&self, c: usize) -> usize {
        self.messages[c]
            .iter()
            .filter(|m| m.message.role == Role::User)
            .count()
    }

    /// Whether chat `c`'s stored replies are exactly one, with the
    /// expected text.
    fn one_expected_reply(&self, c: usize) -> bool {
        let mut replies = self.messages[c]
            .iter()
            .filter(|m| m.message.role == Role::Assistant);
        let expected = expected_reply(c);
        replies
            .next()
            .is_some_and(|m| m.message.text().trim() == expected)
            && replies.next().is_none()
    }
}

/// Opens hermod's database at `path` (blocking work kept off the runtime).
async fn open_store(path: PathBuf) -> anyhow::Result<SqliteStore> {
    tokio::task::spawn_blocking(move || {
        SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))
    })
    .await?
}

/// Copies the database a killed gateway left (with its WAL) into `dir` and
/// opens the copy, so the next start finds the files exactly as the kill
/// left them.
async fn open_copy(home: &Path, dir: &Path) -> anyhow::Result<SqliteStore> {
    for suffix in ["", "-wal", "-shm"] {
        let from = home.join(format!("{DB_FILE}{suffix}"));
        if from.exists() {
            std::fs::copy(&from, dir.join(format!("{DB_FILE}{suffix}")))
                .with_context(|| format!("copying {}", from.display()))?;
        }
    }
    open_store(dir.join(DB_FILE)).await
}

async fn all_pending(store: &SqliteStore) -> anyhow::Result<Vec<OutboxEntry>> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |e: &OutboxEntry| e.id);
        let page = store.outbox_pending(after, 500).await?;
        if page.is_empty() {
            return Ok(all);
        }
        all.extend(page);
    }
}

async fn all_unfinished(store: &SqliteStore) -> anyhow::Result<Vec<InboxEntry>> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |e: &InboxEntry| e.seq);
        let page = store.inbox_unfinished(after, 500).await?;
        if page.is_empty() {
            return Ok(all);
        }
        all.extend(page);
    }
}

/// The chat index of an outbox row, when it is one of the scenario's.
fn outbox_chat(entry: &OutboxEntry, chats: usize) -> Option<usize> {
    chat_index(entry.target.chat_id.trim().parse().ok()?, chats)
}

/// The chat index of an inbox row (keyed `<chat id>:<message id>`), when
/// it is one of the scenario's.
fn inbox_chat(entry: &InboxEntry, chats: usize) -> Option<usize> {
    chat_index(entry.key.split(':').next()?.parse().ok()?, chats)
}

/// The stage of every chat's message in a killed gateway's database.
async fn stages(store: &SqliteStore, message_ids: &[i64]) -> anyhow::Result<Stages> {
    let chats = message_ids.len();
    let mut stored_reply = vec![false; chats];
    for entry in all_pending(store).await? {
        if let Some(c) = outbox_chat(&entry, chats) {
            stored_reply[c] = true;
        }
    }
    let mut stages = Stages::default();
    for (c, id) in message_ids.iter().enumerate() {
        let key = format!("{}:{id}", chat_id(c));
        match store.inbox_entry(&TELEGRAM, &key).await? {
            None => stages.not_recorded += 1,
            Some(e) => match e.state {
                InboxState::Received => stages.recorded += 1,
                InboxState::Started if stored_reply[c] => stages.reply_stored += 1,
                InboxState::Started => stages.turn_started += 1,
                InboxState::Done => stages.done += 1,
            },
        }
    }
    Ok(stages)
}

/// Sessions, messages and unfinished rows of a stopped gateway's database.
async fn stored(store: &SqliteStore, chats: usize) -> anyhow::Result<Stored> {
    let mut s = Stored {
        sessions: vec![0; chats],
        messages: vec![Vec::new(); chats],
        ..Stored::default()
    };
    let mut offset = 0;
    loop {
        let page = store
            .list_sessions(ListSessions {
                platform: Some(TELEGRAM),
                limit: 500,
                offset,
            })
            .await?;
        if page.is_empty() {
            break;
        }
        offset += page.len();
        for session in page {
            let Some(c) = session
                .source
                .chat_id
                .as_deref()
                .and_then(|id| id.trim().parse().ok())
                .and_then(|id| chat_index(id, chats))
            else {
                continue;
            };
            s.sessions[c] += 1;
            s.messages[c].extend(store.messages(&session.id).await?);
        }
    }
    s.outbox_pending = all_pending(store).await?;
    s.inbox_unfinished = all_unfinished(store).await?;
    Ok(s)
}

/// The figures of the fakes just before the kill.
#[derive(Debug)]
struct AtKill {
    llm_requests: usize,
    llm_completed: usize,
    showing_reply: usize,
    with_cursor: usize,
}

/// Starts hermod, writes, kills, restarts, waits and checks, for one kill point.
async fn run_point(target: &Target, chats: usize, point: KillPoint) -> anyhow::Result<Report> {
    let fake = FakeTelegram::start().await;
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::echo().token_delay(TOKEN_DELAY));
    let users: Vec<_> = (0..chats)
        .map(|c| fake.user(chat_id(c), &format!("User {c}")))
        .collect();

    let first = start_gateway(target, &fake, &llm).await?;
    let home = first.home();

    // Write, then kill at the kill time.
    let t0 = Instant::now();
    let mut message_ids = Vec::with_capacity(chats);
    for (c, (user, at)) in users.iter().zip(write_times(chats, point)).enumerate() {
        tokio::time::sleep_until(t0 + at).await;
        message_ids.push(user.dm(&prompt(c)));
    }
    tokio::time::sleep_until(t0 + point.kill_at).await;
    let killed = Instant::now();
    first.kill9().await?;
    let kill_late = secs(t0 + point.kill_at, killed);
    // What the fakes show now is what the dead process left.
    let at_kill = {
        let shown = shown_by_chat(&fake.all_bot_messages(), chats);
        AtKill {
            llm_requests: llm.request_count(),
            llm_completed: llm.completed(),
            showing_reply: shown.iter().filter(|s| s.complete > 0).count(),
            with_cursor: shown.iter().filter(|s| s.cursor > 0).count(),
        }
    };
    let calls_before_restart = fake.calls().len();

    // What the dead process left, from a copy of its files.
    let copy = tempfile::tempdir()?;
    let stages = {
        let store = open_copy(home.path(), copy.path()).await?;
        stages(&store, &message_ids).await?
    };

    // Restart on the same home and wait for every chat.
    let restarted = Instant::now();
    let second = start_gateway_in(target, Arc::clone(&home), &fake, &llm).await?;
    let ready_after = second.ready_after;
    let deadline = restarted + wait_limit(chats);
    let mut best = 0usize;
    let mut last_progress = restarted;
    let mut all_at = None;
    let waited_until = loop {
        let now = Instant::now();
        let complete = shown_by_chat(&fake.all_bot_messages(), chats)
            .iter()
            .filter(|s| s.complete > 0)
            .count();
        if complete > best {
            best = complete;
            last_progress = now;
        }
        if complete == chats {
            all_at = Some(now);
            break now;
        }
        if now >= deadline || now.duration_since(last_progress) >= STALL {
            break now;
        }
        tokio::time::sleep(CHECK_EVERY).await;
    };
    tokio::time::sleep(QUIET).await;
    let mut failures = Vec::new();
    if let Err(e) = second.kill9().await {
        failures.push(format!("the restarted gateway did not keep running: {e:#}"));
    }

    let bot_messages = fake.all_bot_messages();
    let shown = shown_by_chat(&bot_messages, chats);
    let calls = fake.calls();
    let db = {
        let store = open_store(home.path().join(DB_FILE)).await?;
        stored(&store, chats).await?
    };

    // When each chat got its last visible change after the restart (up to
    // the moment all were complete).
    let end = all_at.unwrap_or_else(Instant::now);
    let mut last_call: HashMap<usize, Instant> = HashMap::new();
    for call in calls
        .iter()
        .filter(|c| c.at >= restarted && c.at <= end && changes_a_message(c))
    {
        if let Some(c) = chat_of(call).and_then(|id| chat_index(id, chats)) {
            last_call.insert(c, call.at);
        }
    }
    // The restarted gateway's calls, against Telegram's limits.
    let after: Vec<&FakeCall> = calls
        .iter()
        .skip(calls_before_restart)
        .filter(|c| changes_a_message(c))
        .collect();
    let of = |kind: fn(&str) -> bool| after.iter().filter(|c| kind(&c.method)).count();
    let (sends, edits) = (of(is_send), of(|m| !is_send(m) && is_message_call(m)));
    let deletes = after.len() - sends - edits;
    let times: Vec<Instant> = after.iter().map(|c| c.at).collect();
    let mut per_chat: HashMap<i64, Vec<Instant>> = HashMap::new();
    for call in &after {
        if let Some(chat) = chat_of(call) {
            per_chat.entry(chat).or_default().push(call.at);
        }
    }
    let chat_busiest = per_chat
        .values()
        .map(|t| max_in_window(t, Duration::from_secs(1)))
        .max()
        .unwrap_or(0);
    let mut recovered: Vec<f64> = last_call.values().map(|at| secs(restarted, *at)).collect();
    let recovery_time = all_at.map(|_| percentile(&mut recovered, 100.0));

    // The chat-level checks, each counted over the chats it affects.
    let lost_in = |c: usize| shown[c].complete == 0;
    let duplicated_in = |c: usize| shown[c].carrying() > 1;
    let user_not_one_in = |c: usize| db.user_messages(c) != 1;
    let replies_not_one_in = |c: usize| !db.one_expected_reply(c);
    let chats_where = |affects: &dyn Fn(usize) -> bool| (0..chats).filter(|&c| affects(c)).count();
    let lost = chats_where(&lost_in);
    let duplicated = chats_where(&duplicated_in);
    let stale: usize = shown.iter().map(|s| s.cursor).sum();
    let partial: usize = shown.iter().map(|s| s.partial).sum();
    let other: usize = shown.iter().map(|s| s.other).sum();
    let user_counts: Vec<usize> = (0..chats).map(|c| db.user_messages(c)).collect();
    let user_min = user_counts.iter().copied().min().unwrap_or(0);
    let user_max = user_counts.iter().copied().max().unwrap_or(0);
    let user_not_one = chats_where(&user_not_one_in);
    let replies_not_one = chats_where(&replies_not_one_in);
    let sessions_max = db.sessions.iter().copied().max().unwrap_or(0);
    let pending = db.outbox_pending.len();
    let unfinished = db.inbox_unfinished.len();

    // Each failure, with the chats it affects (the first is described).
    type Affects<'a> = Box<dyn Fn(usize) -> bool + 'a>;
    let pending_in = |c: usize| {
        db.outbox_pending
            .iter()
            .any(|e| outbox_chat(e, chats) == Some(c))
    };
    let unfinished_in = |c: usize| {
        db.inbox_unfinished
            .iter()
            .any(|e| inbox_chat(e, chats) == Some(c))
    };
    let checks: Vec<(usize, &str, Affects<'_>)> = vec![
        (lost, "replies lost", Box::new(lost_in)),
        (
            duplicated,
            "chats showing the reply more than once",
            Box::new(duplicated_in),
        ),
        (
            stale,
            "previews left with the cursor",
            Box::new(|c| shown[c].cursor > 0),
        ),
        (
            partial,
            "partial previews left",
            Box::new(|c| shown[c].partial > 0),
        ),
        (
            other,
            "other bot messages",
            Box::new(|c| shown[c].other > 0),
        ),
        (
            user_not_one,
            "chats with a stored user message count other than 1",
            Box::new(user_not_one_in),
        ),
        (
            replies_not_one,
            "chats whose stored replies are not exactly one with the expected text",
            Box::new(replies_not_one_in),
        ),
        (pending, "outbox rows pending", Box::new(pending_in)),
        (unfinished, "inbox rows unfinished", Box::new(unfinished_in)),
    ];
    for (count, what, affects) in &checks {
        if *count == 0 {
            continue;
        }
        let example = (0..chats)
            .find(|c| affects(*c))
            .map_or_else(String::new, |c| {
                format!(
                    "; chat {c}: {}",
                    describe(c, &bot_messages, &db, &message_ids)
                )
            });
        failures.push(format!("{what}: {count}{example}"));
    }
    if all_at.is_none() {
        failures.push(format!(
            "not every chat showed its reply within {:.0} s of the restart ({best} of {chats})",
            secs(restarted, waited_until)
        ));
    }

    let llm_after = llm.request_count().saturating_sub(at_kill.llm_requests);
    progress(&format!(
        "crash-recovery {}: at the kill {} not recorded, {} recorded, {} started, {} stored, {} done; \
         after: {lost} lost, {duplicated} duplicated, recovery {}",
        point.name,
        stages.not_recorded,
        stages.recorded,
        stages.turn_started,
        stages.reply_stored,
        stages.done,
        recovery_time.map_or_else(|| "incomplete".to_owned(), |s| format!("{s:.2} s")),
    ));

    let count = |n: usize| n as f64;
    let metrics = vec![
        Metric::new("kill_at", point.kill_at.as_secs_f64(), "s"),
        Metric::new("at_kill_not_recorded", count(stages.not_recorded), "chats"),
        Metric::new("at_kill_recorded", count(stages.recorded), "chats"),
        Metric::new("at_kill_turn_started", count(stages.turn_started), "chats"),
        Metric::new("at_kill_reply_stored", count(stages.reply_stored), "chats"),
        Metric::new("at_kill_done", count(stages.done), "chats"),
        Metric::new(
            "at_kill_model_streams_done",
            count(at_kill.llm_completed),
            "chats",
        ),
        Metric::new(
            "at_kill_showing_reply",
            count(at_kill.showing_reply),
            "chats",
        ),
        Metric::new("at_kill_with_cursor", count(at_kill.with_cursor), "chats"),
        Metric::new("lost", count(lost), "chats").goal("0"),
        Metric::new("duplicated", count(duplicated), "chats").goal("0"),
        Metric::new("stale_previews", count(stale), "messages").goal("0"),
        Metric::new("partial_previews", count(partial), "messages").goal("0"),
        Metric::new("other_messages", count(other), "messages").goal("0"),
        Metric::new("user_messages_per_chat_min", count(user_min), "messages").goal("1"),
        Metric::new("user_messages_per_chat_max", count(user_max), "messages").goal("1"),
        Metric::new(
            "chats_stored_replies_not_1",
            count(replies_not_one),
            "chats",
        )
        .goal("0"),
        Metric::new("sessions_per_chat_max", count(sessions_max), "sessions"),
        Metric::new("outbox_pending", count(pending), "rows").goal("0"),
        Metric::new("inbox_unfinished", count(unfinished), "rows").goal("0"),
        Metric::new("restart_to_ready", ready_after.as_secs_f64(), "s"),
        Metric::new("recovery_time", recovery_time.unwrap_or(-1.0), "s"),
        Metric::new(
            "recovery_p50",
            all_at.map_or(-1.0, |_| percentile(&mut recovered, 50.0)),
            "s",
        ),
        Metric::new(
            "chats_changed_after_restart",
            count(last_call.len()),
            "chats",
        ),
        Metric::new("sends_after_restart", count(sends), "calls"),
        Metric::new("edits_after_restart", count(edits), "calls"),
        Metric::new("deletes_after_restart", count(deletes), "calls"),
        Metric::new(
            "busiest_second_after_restart",
            count(max_in_window(&times, Duration::from_secs(1))),
            "calls",
        )
        .goal("<= 30"),
        Metric::new(
            "chat_busiest_second_after_restart",
            count(chat_busiest),
            "calls",
        )
        .goal("<= 1"),
        Metric::new("llm_requests_after_restart", count(llm_after), "requests"),
    ];
    Ok(Report {
        scenario: format!("crash-recovery/{}", point.name),
        target: target.kind.name().to_owned(),
        parameters: serde_json::json!({
            "chats": chats,
            "kill_at_s": point.kill_at.as_secs_f64(),
            "killed_late_by_ms": kill_late * 1e3,
            "signal": "SIGKILL",
            "writes": write_plan(chats, point),
            "stream_s": STREAM_TIME.as_secs_f64(),
            "token_delay_ms": TOKEN_DELAY.as_secs_f64() * 1e3,
            "quiet_s": QUIET.as_secs_f64(),
            "wait_limit_s": wait_limit(chats).as_secs_f64(),
        }),
        metrics,
        failures,
    })
}

/// Whether a call creates, changes or removes a message.
fn changes_a_message(call: &FakeCall) -> bool {
    is_message_call(&call.method) || call.method.eq_ignore_ascii_case("deleteMessage")
}

/// Everything known about chat `c`, for a failure report.
fn describe(c: usize, bot_messages: &[FakeMessage], db: &Stored, message_ids: &[i64]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "user message id {}; bot messages:",
        message_ids.get(c).copied().unwrap_or_default()
    );
    for m in bot_messages.iter().filter(|m| m.chat_id == chat_id(c)) {
        let _ = write!(
            out,
            " [#{}{} {} edits: {:?}]",
            m.message_id,
            if m.deleted { " deleted" } else { "" },
            m.edits.len(),
            m.current_text()
        );
    }
    let _ = write!(out, "; stored messages:");
    for m in &db.messages[c] {
        let _ = write!(
            out,
            " [{} #{} {:?}]",
            m.message.role.as_str(),
            m.id,
            m.message.text()
        );
    }
    for e in db
        .outbox_pending
        .iter()
        .filter(|e| outbox_chat(e, db.messages.len()) == Some(c))
    {
        let _ = write!(
            out,
            "; pending outbox #{} key {} attempts {} message ids {:?} error {:?}",
            e.id, e.key, e.attempts, e.message_ids, e.error
        );
    }
    for e in db
        .inbox_unfinished
        .iter()
        .filter(|e| inbox_chat(e, db.messages.len()) == Some(c))
    {
        let _ = write!(
            out,
            "; unfinished inbox {} state {:?} turn {:?} previews {:?}",
            e.key, e.state, e.turn, e.preview_ids
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(chat: usize, text: &str, deleted: bool) -> FakeMessage {
        FakeMessage {
            message_id: 1,
            chat_id: chat_id(chat),
            thread_id: None,
            text: text.to_owned(),
            raw_text: text.to_owned(),
            parse_mode: None,
            reply_to: None,
            edits: Vec::new(),
            raw_edits: Vec::new(),
            deleted,
            photo: false,
            document: None,
            caption: None,
            file_id: None,
            sent_with: None,
            entities: Vec::new(),
            reply_markup: None,
        }
    }

    #[test]
    fn a_chat_stores_one_user_message_and_one_expected_reply_or_not() {
        use hermod_model::{ChatMessage, SessionId};
        let stored = |m: ChatMessage| StoredMessage {
            id: 1,
            session: SessionId::parse("s").unwrap(),
            message: m,
            at_ms: 0,
            platform_message_id: None,
        };
        let (user, reply) = (
            stored(ChatMessage::user(prompt(0))),
            stored(ChatMessage::assistant(expected_reply(0))),
        );
        let db = Stored {
            messages: vec![
                vec![user.clone(), reply.clone()],
                vec![user.clone(), user.clone()],
                vec![user.clone(), reply.clone(), reply],
                vec![user, stored(ChatMessage::assistant("echo: crash 3"))],
            ],
            ..Stored::default()
        };
        let users: Vec<usize> = (0..4).map(|c| db.user_messages(c)).collect();
        assert_eq!(users, [1, 2, 1, 1]);
        let ok: Vec<bool> = (0..4).map(|c| db.one_expected_reply(c)).collect();
        assert_eq!(ok, [true, false, false, false]);
    }

    #[test]
    fn the_reply_is_27_words_streamed_for_3_seconds() {
        let words = expected_reply(123).split_whitespace().count();
        assert_eq!(words, 27);
        // Role, the words, finish, usage and [DONE]: one gap fewer than events.
        assert_eq!(TOKEN_DELAY * u32::try_from(words + 3).unwrap(), STREAM_TIME);
        assert!(!expected_reply(1).contains(&expected_reply(10)));
    }

    #[test]
    fn a_mixed_run_answers_a_tenth_first_and_ends_at_the_kill() {
        let mixed = KILL_POINTS.iter().find(|p| p.staggered).copied().unwrap();
        let times = write_times(200, mixed);
        assert_eq!(times.iter().filter(|t| t.is_zero()).count(), 20);
        assert_eq!(times[20], REST_FROM);
        assert_eq!(times[199], mixed.kill_at);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(write_times(1, mixed), vec![Duration::ZERO]);
        assert_eq!(write_times(2, mixed)[1], mixed.kill_at);
        let at_once = KILL_POINTS[0];
        assert_eq!(write_times(3, at_once), vec![Duration::ZERO; 3]);
    }

    #[test]
    fn a_chat_shows_its_reply_once_or_not() {
        let full = expected_reply(0);
        let half = &full[..20];
        let messages = [
            message(0, &full, false),
            message(0, &format!("{half} {CURSOR}"), false),
            message(0, half, false),
            message(0, "⚠️ something went wrong", false),
            message(0, &full, true),
        ];
        let shown = shown_by_chat(&messages, 1);
        assert_eq!(
            shown[0],
            Shown {
                complete: 1,
                partial: 1,
                cursor: 1,
                other: 1
            }
        );
        assert_eq!(shown[0].carrying(), 3);
        let once = shown_by_chat(&[message(0, &full, false)], 1);
        assert_eq!(once[0].carrying(), 1);
    }
}
