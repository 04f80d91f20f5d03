//! Telegram in the chat-platform scenarios: the fake Bot API server as a
//! [`Peer`] of `telegram-throughput`, and what `streaming` and
//! `crash-recovery` use to start hermod on it and read its calls.
//!
//! hermod long-polls the fake (`TELEGRAM_POLL_TIMEOUT=1`) and advances the
//! `getUpdates` offset only after recording an update, so the offset tells
//! when every message was recorded. The limits that count are Telegram's
//! 30 messages per second per bot and about one per second in a chat.

use super::chat::{Call, CallKind, Ceiling, Peer, Shown, over_limit};
use crate::report::Metric;
use crate::target::{Kind, Running, Target};
use anyhow::{Context, bail};
use hermod_testkit::FakeLlm;
use hermod_testkit::FakeTelegram;
use hermod_testkit::telegram::{FakeCall, FakeUser};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Telegram user ids of the benchmark's users start here (chat id = user id).
pub(crate) const FIRST_USER: i64 = 5_000_000;
/// How long the gateway may take to start polling.
const RECEIVER_DEADLINE: Duration = Duration::from_secs(30);
/// Two calls to one chat, or more than 30 calls overall, closer than this
/// count against Telegram's limits (5 % is left for network and
/// scheduling jitter: calls paced exactly 1 s apart arrive 996–999 ms
/// apart).
const MIN_GAP: Duration = Duration::from_millis(950);
/// Telegram's overall limit for a bot, messages per second.
const GLOBAL_LIMIT: usize = 30;

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

/// The environment that points hermod at `fake`, answering every user.
fn env(fake: &FakeTelegram) -> Vec<(&'static str, String)> {
    vec![
        ("TELEGRAM_BOT_TOKEN", fake.token()),
        ("TELEGRAM_API_BASE_URL", fake.base_url()),
        ("TELEGRAM_ALLOW_ALL_USERS", "true".to_owned()),
        ("TELEGRAM_POLL_TIMEOUT", "1".to_owned()),
    ]
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
    let vars = env(fake);
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
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

/// The fake Bot API server in `telegram-throughput`.
#[derive(Debug)]
pub(crate) struct TelegramPeer {
    fake: FakeTelegram,
    users: Vec<FakeUser>,
    /// The last update queued, once every message is written.
    last_update: Option<i64>,
}

fn kind(method: &str) -> CallKind {
    if is_send(method) {
        CallKind::Send
    } else if is_message_call(method) {
        CallKind::Edit
    } else if method.eq_ignore_ascii_case("deleteMessage") {
        CallKind::Delete
    } else if method.eq_ignore_ascii_case("sendChatAction") {
        CallKind::Typing
    } else if method.eq_ignore_ascii_case("setMessageReaction") {
        CallKind::Reaction
    } else {
        CallKind::Other
    }
}

impl Peer for TelegramPeer {
    const PLATFORM: &'static str = "telegram";
    const CEILING: Ceiling = Ceiling {
        what: "sends and edits, 30 per second per bot",
        counts: CallKind::shows_text,
        limit: GLOBAL_LIMIT,
        window: Duration::from_secs(1),
    };
    /// 15 streamed replies a second fit in the limit; hermod's deferred
    /// deliveries make a big burst drain much slower.
    const WAIT_PER_MESSAGE: Duration = Duration::from_millis(500);

    async fn start() -> Self {
        Self {
            fake: FakeTelegram::start().await,
            users: Vec::new(),
            last_update: None,
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        env(&self.fake)
    }

    async fn connected(&self) {
        self.fake.wait_for_calls("getUpdates", 1).await;
    }

    fn open_chats(&mut self, chats: usize) -> Vec<String> {
        self.users = (0..chats)
            .map(|c| self.fake.user(chat_id(c), &format!("User {c}")))
            .collect();
        (0..chats).map(|c| chat_id(c).to_string()).collect()
    }

    fn write(&self, chat: usize, text: &str) {
        self.users[chat].dm(text);
    }

    fn written(&mut self) -> anyhow::Result<()> {
        let last = self
            .fake
            .pending_updates()
            .iter()
            .filter_map(|u| u["update_id"].as_i64())
            .max()
            .context("no update is pending right after queueing them")?;
        self.last_update = Some(last);
        Ok(())
    }

    /// hermod advances the `getUpdates` offset only past recorded updates.
    fn receipt_confirmed(&self) -> Option<bool> {
        Some(
            self.last_update
                .is_some_and(|last| self.fake.confirmed_offset() > last),
        )
    }

    fn shown(&self) -> Vec<Shown> {
        self.fake
            .all_bot_messages()
            .into_iter()
            .filter(|m| !m.deleted)
            .map(|m| Shown {
                chat: m.chat_id.to_string(),
                text: m.current_text().to_owned(),
            })
            .collect()
    }

    fn calls(&self) -> Vec<Call> {
        self.fake
            .calls()
            .iter()
            .map(|call| Call {
                at: call.at,
                chat: chat_of(call).map(|id| id.to_string()),
                kind: kind(&call.method),
            })
            .collect()
    }

    /// Sends and edits over 30 in any second, and over one in any second
    /// to one chat.
    fn refusable(&self, calls: &[Call]) -> usize {
        let mut all = Vec::new();
        let mut by_chat: HashMap<&str, Vec<Instant>> = HashMap::new();
        for call in calls.iter().filter(|c| c.kind.shows_text()) {
            all.push(call.at);
            if let Some(chat) = &call.chat {
                by_chat.entry(chat).or_default().push(call.at);
            }
        }
        all.sort();
        let per_chat: usize = by_chat
            .values_mut()
            .map(|times| {
                times.sort();
                over_limit(times, MIN_GAP, 1)
            })
            .sum();
        over_limit(&all, MIN_GAP, GLOBAL_LIMIT) + per_chat
    }

    fn figures(&self, _calls: &[Call], t0: Instant) -> Vec<Metric> {
        let polls = self
            .fake
            .calls_of("getUpdates")
            .iter()
            .filter(|c| c.at >= t0)
            .count();
        vec![
            Metric::new("get_updates_calls", polls as f64, "count"),
            Metric::new(
                "rate_limit_hits",
                self.fake.rate_limit_hits() as f64,
                "count",
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sends_and_edits_are_message_calls() {
        assert!(is_message_call("sendMessage"));
        assert!(is_message_call("editMessageText"));
        assert!(!is_message_call("sendChatAction"));
        assert!(!is_message_call("getUpdates"));
        assert!(is_send("sendPhoto") && !is_send("editMessageText"));
        assert_eq!(kind("sendChatAction"), CallKind::Typing);
        assert_eq!(kind("editMessageText"), CallKind::Edit);
        assert_eq!(kind("getUpdates"), CallKind::Other);
    }
}
