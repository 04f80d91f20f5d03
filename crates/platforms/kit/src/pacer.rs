//! [`Pacer`]: keeps an adapter's sends and edits within its platform's
//! published limits — per chat, per group, global — on tokio's clock, and
//! honours flood control.
//!
//! Each limit is a [`Limit`]: at most `count` calls in any `window` (a
//! sliding window, so the published number is never exceeded in any
//! stretch of time), of which at most `burst` may go back to back; beyond
//! the burst, calls are spread evenly (`window / count` apart). The per
//! chat and global limits count sends and edits; the group limit counts
//! new messages only (edits create none).
//!
//! A call checks every limit and goes as soon as all allow it; if that is
//! more than `max_wait` away it fails at once with the wait ([`Wait`]), so
//! core's stream consumer and outbox decide (they slow down or retry
//! later) instead of a call hanging. After the platform refused a chat
//! ([`Pacer::block`] with its `retry_after`), calls for that chat fail
//! fast until the time has passed.
//!
//! Streaming is why this is more than a meter. When many replies stream
//! at once, their edits would take the whole global budget, and a new
//! message — someone's first answer — would queue behind other chats'
//! next edits. So:
//!
//! - new messages go first: edits never use the last
//!   [`PacerLimits::send_reserve`] slots of the global window, nor a slot
//!   a new message is waiting for;
//! - the edit cadence stretches with the number of replies streaming at
//!   once (chats that edited within their interval and a grace): each
//!   chat's edits are at least `streams × window / edit budget` apart, so
//!   together they stay within the global limit instead of learning it
//!   from the platform's refusals. An edit may wait its chat's interval
//!   on top of `max_wait` (that wait is the stretching) before it fails
//!   fast.
//!
//! Typing indicators and reactions are cosmetic, yet they count against
//! the platform's global limit, and a refusal there holds up the replies
//! too. So they are paced as well, without ever delaying a reply:
//!
//! - a [`Call::Spare`] (a typing indicator, a reaction added) takes a
//!   global slot only when one is free now, within the edit budget, and
//!   no send, edit or removal is waiting for one; otherwise it fails at
//!   once and the adapter skips it;
//! - a [`Call::Undo`] (the removal of a reaction that went out) must not
//!   be lost, since a mark that never goes away is worse than none: it
//!   waits for a global slot within the edit budget, behind new messages
//!   but ahead of waiting edits (there is one per turn, and a long queue
//!   of edits would outlast its patience), and fails only after
//!   [`UNDO_PATIENCE`].
//!
//! Both count against the per-chat limit only where the platform counts
//! them there ([`Pacer::spare_per_chat`]), and each may have a limit of
//! its own ([`Pacer::with_own_limit`]) for a platform method with a
//! lower quota than the others.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// Chats remembered before idle ones are forgotten.
const MAX_CHATS: usize = 1024;

/// How long after its edit interval a chat still counts as streaming.
const STREAM_GRACE: Duration = Duration::from_secs(2);

/// The longest a [`Call::Undo`] waits for its slot: long enough to outlast
/// a burst of sends and edits, short enough that the caller (core gives
/// a reaction call ten seconds) still hears how it went.
pub const UNDO_PATIENCE: Duration = Duration::from_secs(8);

/// One limit: at most `count` calls in any `window`, at most `burst` of
/// them back to back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    pub window: Duration,
    pub burst: u32,
}

impl Limit {
    /// `count` per `window`, all of them allowed back to back.
    pub const fn per(count: u32, window: Duration) -> Self {
        Self {
            count,
            window,
            burst: count,
        }
    }

    /// The same limit with at most `burst` calls back to back (at least 1).
    pub const fn with_burst(self, burst: u32) -> Self {
        Self {
            burst: if burst == 0 { 1 } else { burst },
            ..self
        }
    }

    /// The even spacing beyond the burst.
    fn interval(self) -> Duration {
        self.window / self.count.max(1)
    }
}

/// The limits a pacer applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacerLimits {
    /// Sends and edits in one chat.
    pub per_chat: Limit,
    /// New messages in one group chat (none for platforms without one).
    pub per_group: Option<Limit>,
    /// Sends and edits across every chat.
    pub global: Limit,
    /// Global slots per window that only new messages may use.
    pub send_reserve: u32,
    /// The longest a call waits for its slot before failing fast.
    pub max_wait: Duration,
}

/// What a call does, for the limits that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// A new message; `group` for chats with a group limit.
    Send { group: bool },
    /// An edit of a message already there.
    Edit,
    /// A cosmetic call (a typing indicator, a reaction added): it goes now
    /// or not at all, and never takes a slot a send, edit or removal is
    /// waiting for.
    Spare,
    /// The undoing of a [`Call::Spare`] that went out (a reaction
    /// removed): it waits behind new messages and ahead of edits, up to
    /// [`UNDO_PATIENCE`].
    Undo,
}

/// Why a call may not go now: the time to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait(pub Duration);

/// Sliding window of the last `count` calls, and a GCRA schedule for the
/// burst.
#[derive(Debug)]
struct Meter {
    log: VecDeque<Instant>,
    /// The theoretical arrival time of the next call (GCRA).
    tat: Instant,
}

impl Meter {
    fn new(now: Instant) -> Self {
        Self {
            log: VecDeque::new(),
            tat: now,
        }
    }

    /// The earliest instant, not before `now`, at which a call fits when
    /// only `cap` calls are allowed in the window. `None` when `cap` is 0.
    fn earliest(&self, now: Instant, limit: Limit, cap: u32) -> Option<Instant> {
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        if cap == 0 {
            return None;
        }
        let tolerance = limit.interval() * limit.burst.saturating_sub(1);
        let mut at = now.max(self.tat.checked_sub(tolerance).unwrap_or(self.tat));
        if self.log.len() >= cap {
            at = at.max(self.log[self.log.len() - cap] + limit.window);
        }
        Some(at)
    }

    fn commit(&mut self, at: Instant, limit: Limit) {
        self.log.push_back(at);
        while self.log.len() > usize::try_from(limit.count).unwrap_or(usize::MAX) {
            self.log.pop_front();
        }
        self.tat = self.tat.max(at) + limit.interval();
    }

    fn active(&self, now: Instant, window: Duration) -> bool {
        self.tat > now || self.log.back().is_some_and(|t| *t + window > now)
    }
}

#[derive(Debug)]
struct ChatState {
    meter: Meter,
    group: Meter,
    /// Flood control: nothing before this.
    blocked_until: Option<Instant>,
    /// The last edit and the interval it was given.
    last_edit: Option<(Instant, Duration)>,
}

impl ChatState {
    fn new(now: Instant) -> Self {
        Self {
            meter: Meter::new(now),
            group: Meter::new(now),
            blocked_until: None,
            last_edit: None,
        }
    }

    fn streaming(&self, now: Instant) -> bool {
        self.last_edit
            .is_some_and(|(at, interval)| at + interval + STREAM_GRACE > now)
    }
}

#[derive(Debug)]
struct State {
    chats: HashMap<String, ChatState>,
    global: Meter,
    /// New messages waiting for a global slot; edits leave them theirs.
    sends_waiting: u32,
    /// Edits waiting for a global slot, by ticket: they get slots in the
    /// order they started waiting, so no stream is starved.
    edits_waiting: BTreeSet<u64>,
    /// Removals ([`Call::Undo`]) waiting for a global slot; edits leave
    /// them theirs.
    undos_waiting: u32,
    next_ticket: u64,
    /// The limit of its own of [`Call::Spare`] calls, if any.
    spare: Meter,
    /// The limit of its own of [`Call::Undo`] calls, if any.
    undo: Meter,
}

/// Why a call did not go now.
enum Blocked {
    /// Flood control: fail at once.
    Flood(Duration),
    /// Try again at this instant; `global` when the global limit is why.
    Until { at: Instant, global: bool },
}

/// The pacer of one adapter. Shared by reference (it locks inside).
#[derive(Debug)]
pub struct Pacer {
    limits: PacerLimits,
    /// Whether spare calls and removals count against the per-chat limit.
    spare_per_chat: bool,
    /// Limits of their own for [`Call::Spare`] and [`Call::Undo`].
    spare_limit: Option<Limit>,
    undo_limit: Option<Limit>,
    state: Mutex<State>,
}

/// A call's place among those waiting for a global slot, while it lives.
enum Waiting<'a> {
    Send(&'a Pacer),
    Undo(&'a Pacer),
    Edit(&'a Pacer, u64),
}

impl Waiting<'_> {
    fn ticket(&self) -> Option<u64> {
        match self {
            Waiting::Send(_) | Waiting::Undo(_) => None,
            Waiting::Edit(_, ticket) => Some(*ticket),
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        match self {
            Waiting::Send(pacer) => {
                let mut state = pacer.lock();
                state.sends_waiting = state.sends_waiting.saturating_sub(1);
            }
            Waiting::Undo(pacer) => {
                let mut state = pacer.lock();
                state.undos_waiting = state.undos_waiting.saturating_sub(1);
            }
            Waiting::Edit(pacer, ticket) => {
                pacer.lock().edits_waiting.remove(ticket);
            }
        }
    }
}

impl Pacer {
    pub fn new(limits: PacerLimits) -> Self {
        let now = Instant::now();
        Self {
            limits,
            spare_per_chat: false,
            spare_limit: None,
            undo_limit: None,
            state: Mutex::new(State {
                chats: HashMap::new(),
                global: Meter::new(now),
                sends_waiting: 0,
                edits_waiting: BTreeSet::new(),
                undos_waiting: 0,
                next_ticket: 0,
                spare: Meter::new(now),
                undo: Meter::new(now),
            }),
        }
    }

    /// Spare calls and removals also count against the per-chat limit
    /// (for platforms that count typing and reactions there).
    #[must_use]
    pub fn spare_per_chat(mut self) -> Self {
        self.spare_per_chat = true;
        self
    }

    /// `limit` for [`Call::Spare`] or [`Call::Undo`] calls on top of the
    /// others: for a platform method whose quota is lower than the
    /// adapter's general budget (a reactions method with its own rate
    /// tier). Sends and edits have their limits in [`PacerLimits`]; for
    /// them this does nothing.
    #[must_use]
    pub fn with_own_limit(mut self, call: Call, limit: Limit) -> Self {
        match call {
            Call::Spare => self.spare_limit = Some(limit),
            Call::Undo => self.undo_limit = Some(limit),
            Call::Send { .. } | Call::Edit => {}
        }
        self
    }

    pub fn limits(&self) -> &PacerLimits {
        &self.limits
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for `call`'s turn in `chat`; fails with the time to wait
    /// when the chat is under flood control or the turn is too far away.
    pub async fn acquire(&self, chat: &str, call: Call) -> Result<(), Wait> {
        let start = Instant::now();
        let mut waiting: Option<Waiting<'_>> = None;
        loop {
            let now = Instant::now();
            let ticket = waiting.as_ref().and_then(Waiting::ticket);
            let (at, global, patience) = match self.try_take(chat, call, now, ticket) {
                Ok(()) => return Ok(()),
                Err((Blocked::Flood(wait), _)) => return Err(Wait(wait)),
                Err((Blocked::Until { at, global }, patience)) => (at, global, patience),
            };
            if at.duration_since(start) > patience {
                return Err(Wait(at - now));
            }
            if call == Call::Undo && !global {
                // Waiting for its own limit: no global slot is held up.
                waiting = None;
            }
            if global && waiting.is_none() {
                let mut state = self.lock();
                waiting = Some(match call {
                    Call::Edit => {
                        let ticket = state.next_ticket;
                        state.next_ticket += 1;
                        state.edits_waiting.insert(ticket);
                        Waiting::Edit(self, ticket)
                    }
                    Call::Undo => {
                        state.undos_waiting += 1;
                        Waiting::Undo(self)
                    }
                    Call::Send { .. } | Call::Spare => {
                        state.sends_waiting += 1;
                        Waiting::Send(self)
                    }
                });
            }
            tokio::time::sleep_until(at).await;
        }
    }

    /// Takes a slot for a [`Call::Spare`] in `chat` if one is free now;
    /// `false`: skip the call.
    pub fn try_spare(&self, chat: &str) -> bool {
        self.try_take(chat, Call::Spare, Instant::now(), None)
            .is_ok()
    }

    /// Fails when `chat` is under flood control (for calls that are not
    /// paced, such as deletions).
    pub fn check(&self, chat: &str) -> Result<(), Wait> {
        let now = Instant::now();
        let state = self.lock();
        match state.chats.get(chat).and_then(|c| c.blocked_until) {
            Some(until) if until > now => Err(Wait(until - now)),
            _ => Ok(()),
        }
    }

    /// Flood control for `chat`: nothing goes there for `retry_after`.
    pub fn block(&self, chat: &str, retry_after: Duration) {
        let now = Instant::now();
        let until = now + retry_after;
        let mut state = self.lock();
        let entry = state
            .chats
            .entry(chat.to_owned())
            .or_insert_with(|| ChatState::new(now));
        entry.blocked_until = Some(entry.blocked_until.map_or(until, |u| u.max(until)));
    }

    /// The interval between one chat's edits while `streams` replies
    /// stream at once: the per-chat spacing, stretched so that all of
    /// them together stay within the global edit budget.
    pub fn edit_interval(&self, streams: u32) -> Duration {
        let limits = self.limits;
        let budget = self.edit_budget();
        let shared = limits.global.window * streams.max(1) / budget.max(1);
        limits.per_chat.interval().max(shared)
    }

    /// Global slots per window edits may use.
    fn edit_budget(&self) -> u32 {
        let global = self.limits.global.count;
        global.saturating_sub(self.limits.send_reserve).max(1)
    }

    /// Takes the slot if every limit allows it now; else says until when
    /// (and how long this call may wait in all).
    /// `ticket`: the edit's place among waiting edits, once it has one.
    fn try_take(
        &self,
        chat: &str,
        call: Call,
        now: Instant,
        ticket: Option<u64>,
    ) -> Result<(), (Blocked, Duration)> {
        let limits = self.limits;
        let edit_budget = self.edit_budget();
        let mut state = self.lock();
        if state.chats.len() >= MAX_CHATS {
            let window = limits.per_group.map_or(limits.per_chat.window, |g| {
                g.window.max(limits.per_chat.window)
            });
            state.chats.retain(|_, c| {
                c.meter.active(now, window)
                    || c.group.active(now, window)
                    || c.blocked_until.is_some_and(|u| u > now)
                    || c.streaming(now)
            });
        }
        let streams = match call {
            Call::Edit => {
                let others = state
                    .chats
                    .iter()
                    .filter(|(key, c)| key.as_str() != chat && c.streaming(now))
                    .count();
                u32::try_from(others).unwrap_or(u32::MAX).saturating_add(1)
            }
            Call::Send { .. } | Call::Spare | Call::Undo => 0,
        };
        let edit_interval = self.edit_interval(streams);
        let patience = match call {
            Call::Edit => limits.max_wait + edit_interval,
            Call::Send { .. } => limits.max_wait,
            Call::Spare => Duration::ZERO,
            Call::Undo => UNDO_PATIENCE,
        };
        // A limit of the call's own comes first: while it holds a removal
        // back, the removal keeps no place among the edits.
        let own = match call {
            Call::Spare => self.spare_limit.map(|l| (&state.spare, l)),
            Call::Undo => self.undo_limit.map(|l| (&state.undo, l)),
            Call::Send { .. } | Call::Edit => None,
        };
        if let Some((meter, limit)) = own
            && let Some(at) = meter.earliest(now, limit, limit.count)
            && at > now
        {
            return Err((Blocked::Until { at, global: false }, patience));
        }
        let someone_waits =
            state.sends_waiting > 0 || state.undos_waiting > 0 || !state.edits_waiting.is_empty();
        let sends_waiting = state.sends_waiting;
        let global_meter = &state.global;
        let mut global_at = match call {
            Call::Send { .. } => global_meter.earliest(now, limits.global, limits.global.count),
            Call::Edit | Call::Undo => {
                let cap = edit_budget.saturating_sub(sends_waiting);
                global_meter.earliest(now, limits.global, cap)
            }
            // Nothing that waits is held up by a spare call.
            Call::Spare if someone_waits => None,
            Call::Spare => global_meter.earliest(now, limits.global, edit_budget),
        }
        // No edit slot while new messages take them all: look again one
        // spacing later.
        .unwrap_or(now + limits.global.interval());
        let first_edit = state.edits_waiting.first().copied();
        if call == Call::Edit
            && global_at <= now
            && (state.undos_waiting > 0 || first_edit.is_some() && first_edit != ticket)
        {
            // A removal or an earlier edit has this slot; look again one
            // spacing later.
            global_at = now + limits.global.interval();
        }
        let entry = state
            .chats
            .entry(chat.to_owned())
            .or_insert_with(|| ChatState::new(now));
        if let Some(until) = entry.blocked_until {
            if until > now {
                return Err((Blocked::Flood(until - now), patience));
            }
            entry.blocked_until = None;
        }
        let per_chat = match call {
            Call::Send { .. } | Call::Edit => true,
            Call::Spare | Call::Undo => self.spare_per_chat,
        };
        let mut at = if per_chat {
            entry
                .meter
                .earliest(now, limits.per_chat, limits.per_chat.count)
                .unwrap_or(now)
        } else {
            now
        };
        match (call, limits.per_group) {
            (Call::Send { group: true }, Some(group)) => {
                if let Some(group_at) = entry.group.earliest(now, group, group.count) {
                    at = at.max(group_at);
                }
            }
            (Call::Edit, _) => {
                if let Some((last, _)) = entry.last_edit {
                    at = at.max(last + edit_interval);
                }
            }
            _ => {}
        }
        if at > now || global_at > now {
            return Err((
                Blocked::Until {
                    at: at.max(global_at),
                    global: global_at > now,
                },
                patience,
            ));
        }
        if per_chat {
            entry.meter.commit(now, limits.per_chat);
        }
        match (call, limits.per_group) {
            (Call::Send { group: true }, Some(group)) => entry.group.commit(now, group),
            (Call::Edit, _) => entry.last_edit = Some((now, edit_interval)),
            _ => {}
        }
        state.global.commit(now, limits.global);
        match (call, self.spare_limit, self.undo_limit) {
            (Call::Spare, Some(limit), _) => state.spare.commit(now, limit),
            (Call::Undo, _, Some(limit)) => state.undo.commit(now, limit),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
