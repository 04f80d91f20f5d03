//! [`Pacer`]: keeps sends and edits below Telegram's limits, and honours
//! flood control.
//!
//! Telegram asks bots to stay under about one message per second in a
//! chat, twenty per minute in a group, and thirty per second overall. The
//! per-chat and overall limits are GCRA ("virtual scheduling") meters and
//! apply to sends and edits; the group limit is a sliding window of the
//! last twenty new messages (edits do not create messages, so they do not
//! count there). All run on tokio's clock: a call reserves the earliest
//! slot every limit allows and waits for it. A wait
//! longer than [`MAX_WAIT`] is not taken: the call fails at once with
//! `RateLimited` for that long, so core's stream consumer and outbox decide
//! (they slow down or retry later) instead of a call hanging.
//!
//! After Telegram answers 429 for a chat, nothing goes to that chat until
//! its `retry_after` has passed: calls in that time fail fast with
//! `RateLimited` and the time that remains.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// The longest a call waits for its slot before failing fast instead.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(3);

/// Chats remembered before idle ones are forgotten.
const MAX_CHATS: usize = 1024;

/// One rate, as GCRA parameters: one event per `interval`, with `burst`
/// events allowed back to back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    pub interval: Duration,
    pub burst: u32,
}

impl Rate {
    /// How far ahead of real time the schedule may run.
    fn tolerance(self) -> Duration {
        self.interval * self.burst.saturating_sub(1)
    }
}

/// The limits applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub per_chat: Rate,
    /// At most `per_group_messages` new messages per `per_group_window`.
    pub per_group_messages: usize,
    pub per_group_window: Duration,
    pub global: Rate,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_chat: Rate {
                interval: Duration::from_secs(1),
                burst: 1,
            },
            per_group_messages: 20,
            per_group_window: Duration::from_secs(60),
            global: Rate {
                interval: Duration::from_millis(1000 / 30),
                burst: 30,
            },
        }
    }
}

/// A GCRA meter: the theoretical arrival time of the next event.
#[derive(Debug, Clone, Copy)]
struct Meter {
    tat: Instant,
}

impl Meter {
    fn new(now: Instant) -> Self {
        Self { tat: now }
    }

    /// The earliest instant, not before `at`, this meter allows an event.
    fn earliest(&self, at: Instant, rate: Rate) -> Instant {
        let allowed = self.tat.checked_sub(rate.tolerance()).unwrap_or(self.tat);
        allowed.max(at)
    }

    fn take(&mut self, at: Instant, rate: Rate) {
        self.tat = self.tat.max(at) + rate.interval;
    }
}

#[derive(Debug)]
struct ChatState {
    meter: Meter,
    /// When the last new messages to a group went (at most
    /// `per_group_messages` of them).
    sent: VecDeque<Instant>,
    /// Flood control: nothing before this.
    blocked_until: Option<Instant>,
}

impl ChatState {
    fn new(now: Instant) -> Self {
        Self {
            meter: Meter::new(now),
            sent: VecDeque::new(),
            blocked_until: None,
        }
    }
}

/// What a call does, for the limits that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// A new message; `group` for groups and channels.
    Send { group: bool },
    /// An edit of a message already there.
    Edit,
}

#[derive(Debug)]
struct State {
    chats: HashMap<String, ChatState>,
    global: Meter,
}

/// Why a call may not go ahead now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wait(pub Duration);

#[derive(Debug)]
pub(crate) struct Pacer {
    limits: Limits,
    state: Mutex<State>,
}

impl Pacer {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: Mutex::new(State {
                chats: HashMap::new(),
                global: Meter::new(Instant::now()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves the next slot for `chat` and waits for it; fails with the
    /// time to wait when the chat is under flood control or the slot is
    /// more than [`MAX_WAIT`] away.
    pub(crate) async fn acquire(&self, chat: &str, call: Call) -> Result<(), Wait> {
        let at = self.reserve(chat, call, Instant::now())?;
        tokio::time::sleep_until(at).await;
        Ok(())
    }

    /// Fails when `chat` is under flood control (for calls that are not
    /// paced, such as deletions).
    pub(crate) fn check(&self, chat: &str) -> Result<(), Wait> {
        let now = Instant::now();
        let state = self.lock();
        match state.chats.get(chat).and_then(|c| c.blocked_until) {
            Some(until) if until > now => Err(Wait(until - now)),
            _ => Ok(()),
        }
    }

    fn reserve(&self, chat: &str, call: Call, now: Instant) -> Result<Instant, Wait> {
        let limits = self.limits;
        let mut state = self.lock();
        if state.chats.len() >= MAX_CHATS {
            let window = limits.per_group_window;
            state.chats.retain(|_, c| {
                c.meter.tat > now
                    || c.sent.back().is_some_and(|t| *t + window > now)
                    || c.blocked_until.is_some_and(|u| u > now)
            });
        }
        let global = state.global;
        let entry = state
            .chats
            .entry(chat.to_owned())
            .or_insert_with(|| ChatState::new(now));
        if let Some(until) = entry.blocked_until {
            if until > now {
                return Err(Wait(until - now));
            }
            entry.blocked_until = None;
        }
        let group = matches!(call, Call::Send { group: true });
        let mut at = entry.meter.earliest(now, limits.per_chat);
        if group && entry.sent.len() >= limits.per_group_messages {
            let oldest = entry.sent.len() - limits.per_group_messages;
            at = at.max(entry.sent[oldest] + limits.per_group_window);
        }
        at = global.earliest(at, limits.global);
        let wait = at - now;
        if wait > MAX_WAIT {
            return Err(Wait(wait));
        }
        entry.meter.take(at, limits.per_chat);
        if group {
            entry.sent.push_back(at);
            while entry.sent.len() > limits.per_group_messages {
                entry.sent.pop_front();
            }
        }
        state.global.take(at, limits.global);
        Ok(at)
    }

    /// Flood control for `chat`: nothing goes there for `retry_after`.
    pub(crate) fn block(&self, chat: &str, retry_after: Duration) {
        let now = Instant::now();
        let until = now + retry_after;
        let mut state = self.lock();
        let entry = state
            .chats
            .entry(chat.to_owned())
            .or_insert_with(|| ChatState::new(now));
        entry.blocked_until = Some(entry.blocked_until.map_or(until, |u| u.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[tokio::test(start_paused = true)]
    async fn one_message_per_second_in_a_chat() {
        let pacer = Pacer::new(Limits::default());
        let start = Instant::now();
        for _ in 0..3 {
            pacer.acquire("1", Call::Edit).await.unwrap();
        }
        assert_eq!(start.elapsed(), secs(2.0));
        // Another chat is not held up.
        let other = Instant::now();
        pacer
            .acquire("2", Call::Send { group: false })
            .await
            .unwrap();
        assert_eq!(other.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn groups_get_twenty_messages_a_minute_then_fail_fast() {
        let limits = Limits {
            per_chat: Rate {
                interval: Duration::from_millis(1),
                burst: 1,
            },
            ..Limits::default()
        };
        let pacer = Pacer::new(limits);
        for _ in 0..20 {
            pacer
                .acquire("-5", Call::Send { group: true })
                .await
                .unwrap();
        }
        // The 21st would wait until the first of the minute's slots frees up.
        let Err(Wait(wait)) = pacer.acquire("-5", Call::Send { group: true }).await else {
            panic!("not limited");
        };
        assert!(wait > MAX_WAIT && wait <= secs(60.0), "{wait:?}");
        // Edits are not new messages: they still go.
        pacer.acquire("-5", Call::Edit).await.unwrap();
        tokio::time::advance(secs(60.0)).await;
        pacer
            .acquire("-5", Call::Send { group: true })
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn flood_control_blocks_the_chat_until_retry_after() {
        let pacer = Pacer::new(Limits::default());
        pacer.block("1", secs(5.0));
        assert_eq!(pacer.acquire("1", Call::Edit).await, Err(Wait(secs(5.0))));
        assert_eq!(pacer.check("1"), Err(Wait(secs(5.0))));
        assert_eq!(pacer.check("2"), Ok(()));
        tokio::time::advance(secs(2.0)).await;
        assert_eq!(pacer.check("1"), Err(Wait(secs(3.0))));
        tokio::time::advance(secs(3.0)).await;
        pacer.acquire("1", Call::Edit).await.unwrap();
        assert_eq!(pacer.check("1"), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn the_global_rate_spreads_bursts_over_many_chats() {
        let pacer = Pacer::new(Limits::default());
        let start = Instant::now();
        for chat in 0..60 {
            pacer.acquire(&chat.to_string(), Call::Edit).await.unwrap();
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= secs(0.9) && elapsed <= secs(1.1), "{elapsed:?}");
    }
}
