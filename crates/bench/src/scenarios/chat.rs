//! What the chat-platform scenarios share: [`Peer`], a platform's fake as
//! the scenarios drive it (start it, point hermod at it, open DMs, write,
//! and read back what the bot showed and which calls it made), the
//! records it hands back in one shape for every platform, and counting
//! calls within time windows.

use crate::report::Metric;
use std::time::Duration;
use tokio::time::Instant;

/// The streaming cursor hermod shows while a reply is being written.
pub(crate) const CURSOR: char = '▉';

/// What a call to the platform did, as far as its limits are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CallKind {
    /// Creates a visible message.
    Send,
    /// Changes one.
    Edit,
    Delete,
    /// A typing indicator.
    Typing,
    /// Adds or removes a reaction.
    Reaction,
    /// Anything else: receiving, identity, commands...
    Other,
}

impl CallKind {
    /// Sends and edits: the calls that show a reply.
    pub(crate) fn shows_text(self) -> bool {
        matches!(self, CallKind::Send | CallKind::Edit)
    }
}

/// One call the bot made to the fake, in order of arrival.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) at: Instant,
    /// The chat it went to, in the key [`Peer::open_chats`] returned.
    pub(crate) chat: Option<String>,
    pub(crate) kind: CallKind,
}

/// A message of the bot, as shown now (deleted ones are left out).
#[derive(Debug, Clone)]
pub(crate) struct Shown {
    pub(crate) chat: String,
    pub(crate) text: String,
}

/// The published limit that bounds how fast replies can go out through
/// one bot: which calls it counts and how many it allows in any window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ceiling {
    /// In words, for the report (`sends and edits, 30 per second per bot`).
    pub(crate) what: &'static str,
    pub(crate) counts: fn(CallKind) -> bool,
    pub(crate) limit: usize,
    pub(crate) window: Duration,
}

impl Ceiling {
    /// The most calls the limit lets through within `span`: `limit` per
    /// started window (a window starting with the first call and then one
    /// after every `window`).
    pub(crate) fn allows(&self, span: Duration) -> usize {
        let windows = span.as_nanos() / self.window.as_nanos().max(1) + 1;
        self.limit * usize::try_from(windows).unwrap_or(usize::MAX)
    }
}

/// A platform's fake as the chat scenarios drive it. Chats are DMs between
/// the bot and one user each, numbered from 0; the platform names them by
/// a key of its own (a chat or channel id).
pub(crate) trait Peer: Sized {
    /// The platform's name in hermod (`telegram`), which also names the
    /// scenario (`telegram-throughput`).
    const PLATFORM: &'static str;
    /// What bounds the delivery of replies.
    const CEILING: Ceiling;
    /// The wait for replies allows this much per message (beyond a fixed
    /// base): a platform that allows fewer replies per second gets longer.
    const WAIT_PER_MESSAGE: Duration;

    /// Starts the fake, listening when this returns.
    async fn start() -> Self;

    /// The environment that points hermod at the fake and lets every user
    /// talk to the bot; hermod's defaults otherwise.
    fn env(&self) -> Vec<(&'static str, String)>;

    /// Waits until hermod is receiving from the fake (polling, or its
    /// websocket session is open).
    async fn connected(&self);

    /// Makes `chats` users, each with a DM with the bot; returns each DM's
    /// key, in order.
    fn open_chats(&mut self, chats: usize) -> Vec<String>;

    /// Chat `chat`'s user writes `text` to the bot.
    fn write(&self, chat: usize, text: &str);

    /// Called once every message is written (before any is answered, as
    /// far as the fake can tell).
    fn written(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    /// Whether the platform has been told that everything written was
    /// received (`None`: the platform has no such acknowledgement, or it
    /// comes before hermod records a message).
    fn receipt_confirmed(&self) -> Option<bool> {
        None
    }

    /// The bot's messages, as shown now.
    fn shown(&self) -> Vec<Shown>;

    /// Every call the bot made, in order of arrival.
    fn calls(&self) -> Vec<Call>;

    /// Calls the real platform could have refused, by its published
    /// limits (the fakes count them and answer anyway).
    fn refusable(&self, calls: &[Call]) -> usize;

    /// Figures only this platform has, over the calls since `t0`.
    fn figures(&self, calls: &[Call], t0: Instant) -> Vec<Metric>;
}

/// Seconds from `from` to `to` (0 when `to` is earlier).
pub(crate) fn secs(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64()
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

/// The share of what `ceiling` allowed from `from` to the last call it
/// counts that those calls used; `None` without such calls.
pub(crate) fn limit_use(calls: &[Call], ceiling: &Ceiling, from: Instant) -> Option<f64> {
    let counted = calls.iter().filter(|c| (ceiling.counts)(c.kind));
    let (n, last) = counted.fold((0usize, None), |(n, last), c| {
        (n + 1, Some(last.map_or(c.at, |l: Instant| l.max(c.at))))
    });
    let allowed = ceiling.allows(last?.saturating_duration_since(from));
    Some(n as f64 / allowed as f64)
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
    fn a_ceiling_allows_its_limit_in_every_window_started() {
        let ceiling = Ceiling {
            what: "",
            counts: CallKind::shows_text,
            limit: 30,
            window: Duration::from_secs(1),
        };
        assert_eq!(ceiling.allows(Duration::ZERO), 30);
        assert_eq!(ceiling.allows(Duration::from_millis(999)), 30);
        assert_eq!(ceiling.allows(Duration::from_secs(10)), 330);
    }

    #[test]
    fn calls_paced_at_the_limit_use_all_of_it() {
        let t = Instant::now();
        let call = |ms: u64, kind| Call {
            at: t + Duration::from_millis(ms),
            chat: None,
            kind,
        };
        // 20 sends 100 ms apart from the start: 10 per second, two windows.
        let mut calls: Vec<Call> = (0..20).map(|i| call(i * 100, CallKind::Send)).collect();
        calls.push(call(5_000, CallKind::Typing));
        let ceiling = |limit| Ceiling {
            what: "",
            counts: CallKind::shows_text,
            limit,
            window: Duration::from_secs(1),
        };
        assert_eq!(limit_use(&calls, &ceiling(10), t), Some(1.0));
        assert_eq!(limit_use(&calls, &ceiling(20), t), Some(0.5));
        // Idle for the first second: a third of three windows unused.
        let late = t - Duration::from_secs(1);
        let used = limit_use(&calls, &ceiling(10), late).unwrap();
        assert!((used - 2.0 / 3.0).abs() < 1e-9, "{used}");
        assert_eq!(limit_use(&calls[20..], &ceiling(10), t), None);
    }
}
