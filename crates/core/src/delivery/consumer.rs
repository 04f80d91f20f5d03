//! The stream consumer: shows a reply while the agent writes it, for every
//! platform, within the platform's limits.
//!
//! - The first message is sent once at least four visible characters exist
//!   (and the text cannot still turn into a silence marker); then it is
//!   edited at most every `edit_interval`, sooner when `buffer_threshold`
//!   new characters arrived (never faster than the platform's minimum), with
//!   a cursor while writing.
//! - Hidden reasoning (`<think>` blocks and the like) never reaches a user,
//!   nor do `MEDIA:` lines and their flags (the files go with the final
//!   reply; a line that may still become one is held back).
//! - When the text outgrows the platform's limit, the message is finalized
//!   at a newline and the rest continues in a new message.
//! - A tool call ends the current message; text after it starts a new one.
//! - An edit refused as rate-limited doubles the interval (up to 10 s) and
//!   waits the platform's retry-after; after three refusals (or any other
//!   refusal) editing stops and the rest is delivered as new messages.
//! - Every message shows whole lines: when editing stops, the preview is
//!   cut back to the whole lines it shows (or removed when it shows none)
//!   and the rest starts at the next line, so no message ends in a stub of
//!   a line that another message repeats or continues.
//!
//! The consumer never delivers the final text itself: [`Consumer::finish`]
//! returns what remains, which goes through the outbox.

use crate::adapter::{Adapter, AdapterError, Messenger, messenger_of};
use crate::delivery::media::{self, DirectiveFilter};
use crate::delivery::outbox::{Patience, with_retries};
use crate::delivery::send_once;
use crate::delivery::settings::{StreamPlan, ToolProgress};
use crate::metrics::Metrics;
use hermod_agent::AgentEvent;
use hermod_model::text::{ThinkFilter, cut, is_silence, may_become_silence, split_message};
use hermod_model::{Capabilities, ChatTarget, Edit, MessageRef, Outbound, PlatformId, Sent};
use std::time::Duration;
use tokio::time::Instant;
use tracing::{debug, warn};

/// Visible characters needed before the first message is sent.
const MIN_FIRST_CHARS: usize = 4;
/// Edit refusals after which editing stops for this reply.
const MAX_FLOOD_STRIKES: u32 = 3;
const MAX_EDIT_INTERVAL: Duration = Duration::from_secs(10);
/// Room kept free below the platform's limit while a message grows.
const SAFETY_MARGIN: usize = 16;

/// What is left to deliver when the agent is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Remaining {
    /// The reply was an intentional-silence marker: nothing to deliver, and
    /// any preview was deleted.
    Silent,
    /// Deliver `text`; when `preview` is set, that message already shows
    /// `shown` (exactly, cursor included) and is edited rather than sent again.
    Deliver {
        text: String,
        preview: Option<String>,
        shown: String,
    },
}

pub(crate) struct Consumer<'a> {
    /// The platform's messenger; a request/response source has none, and
    /// every call is then refused like any other refused call, so the reply
    /// ends in the outbox, failed with the reason.
    messenger: Result<&'a dyn Messenger, AdapterError>,
    caps: Capabilities,
    plan: StreamPlan,
    target: ChatTarget,
    reply_to: Option<String>,
    filter: ThinkFilter,
    /// Removes `MEDIA:` lines and flags from what the think filter passes.
    directives: DirectiveFilter,
    /// All visible text of the reply (for the silence rule).
    reply_text: String,
    /// Text of the current message, including a leading notice.
    text: String,
    /// The message showing `text` while it grows.
    message: Option<String>,
    /// What that message shows now, without the cursor.
    shown: String,
    /// Exactly what that message shows now (with the cursor, if any).
    displayed: String,
    last_edit: Option<Instant>,
    chars_at_last_edit: usize,
    interval: Duration,
    strikes: u32,
    /// Do not call the platform before this (its retry-after).
    not_before: Option<Instant>,
    /// Editing stopped (flood or refusal): only new messages from now on.
    edits_off: bool,
    /// Every message this reply created, for deleting a silenced preview.
    created: Vec<String>,
    last_tool: Option<String>,
    /// Counts the platform's rate-limit answers.
    metrics: &'a Metrics,
    platform: PlatformId,
}

impl<'a> Consumer<'a> {
    pub(crate) fn new(
        adapter: &'a dyn Adapter,
        plan: StreamPlan,
        target: ChatTarget,
        reply_to: Option<String>,
        notice: Option<String>,
        metrics: &'a Metrics,
    ) -> Self {
        let caps = adapter.capabilities();
        let interval = plan.edit_interval;
        Self {
            messenger: messenger_of(adapter),
            caps,
            plan,
            target,
            reply_to,
            filter: ThinkFilter::new(),
            directives: DirectiveFilter::new(),
            reply_text: String::new(),
            text: notice.map(|n| format!("{n}\n\n")).unwrap_or_default(),
            message: None,
            shown: String::new(),
            displayed: String::new(),
            last_edit: None,
            chars_at_last_edit: 0,
            interval,
            strikes: 0,
            not_before: None,
            edits_off: false,
            created: Vec::new(),
            last_tool: None,
            metrics,
            platform: adapter.id(),
        }
    }

    /// Every message this reply has created so far.
    pub(crate) fn created(&self) -> &[String] {
        &self.created
    }

    /// Feeds one agent event.
    pub(crate) async fn on_event(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::TextDelta(delta) => {
                let visible = self.filter.push(delta);
                let visible = self.directives.push(&visible);
                self.append(&visible);
                self.flush(false).await;
            }
            AgentEvent::SegmentBreak => self.end_segment().await,
            AgentEvent::ToolStarted {
                name, arguments, ..
            } => {
                let line = match self.plan.tool_progress {
                    ToolProgress::Off => None,
                    ToolProgress::All => Some(format!("🔧 {name}…")),
                    ToolProgress::New if self.last_tool.as_deref() == Some(name) => None,
                    ToolProgress::New => Some(format!("🔧 {name}…")),
                    ToolProgress::Verbose => Some(started_line(name, arguments)),
                };
                self.last_tool = Some(name.clone());
                if let Some(line) = line {
                    self.end_segment().await;
                    self.send_new(&line).await;
                }
            }
            AgentEvent::ToolFinished {
                name,
                result,
                is_error: true,
                ..
            } if self.plan.tool_progress == ToolProgress::Verbose => {
                self.end_segment().await;
                self.send_new(&failed_line(name, result)).await;
            }
            _ => {}
        }
    }

    fn append(&mut self, visible: &str) {
        self.reply_text.push_str(visible);
        self.text.push_str(visible);
    }

    /// When the next timed edit is due, if one is waiting.
    pub(crate) fn next_flush(&self) -> Option<Instant> {
        if !self.plan.progressive
            || self.edits_off
            || self.message.is_none()
            || self.text == self.shown
        {
            return None;
        }
        let after_interval = self.last_edit.map(|t| t + self.interval);
        match (after_interval, self.not_before) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (Some(a), None) => Some(a),
            (None, b) => b,
        }
    }

    /// Sends or edits the message in progress when a rule says so.
    /// `timer` is true when called because [`Consumer::next_flush`] passed.
    pub(crate) async fn flush(&mut self, timer: bool) {
        if !self.plan.progressive || self.edits_off {
            return;
        }
        let now = Instant::now();
        if self.not_before.is_some_and(|t| now < t) {
            return;
        }
        if self.text.trim().chars().count() < MIN_FIRST_CHARS
            || may_become_silence(&self.reply_text)
        {
            return;
        }
        self.split_overflow().await;
        if self.edits_off {
            // Finalizing the full message failed: the rest comes at the end.
            return;
        }
        if self.message.is_none() {
            let display = format!("{}{}", self.text, self.plan.cursor);
            match self.send(self.outbound(&display)).await {
                Ok(sent) => {
                    self.created.extend(sent.message_ids.iter().cloned());
                    // A platform that gives no id cannot be edited: the
                    // rest arrives at the end.
                    match sent.message_ids.last() {
                        Some(id) => self.message = Some(id.clone()),
                        None => self.edits_off = true,
                    }
                    self.shown = self.text.clone();
                    self.displayed = display;
                    // From when the platform answered: a call that waited for its
                    // slot must not make the next edit due at once.
                    self.mark_edit(Instant::now());
                }
                Err(e) => self.refused(e, now),
            }
            return;
        }
        let elapsed = self
            .last_edit
            .map_or(Duration::MAX, |t| now.duration_since(t));
        let new_chars = self
            .text
            .chars()
            .count()
            .saturating_sub(self.chars_at_last_edit);
        let due = timer
            || elapsed >= self.interval
            // After a rate limit only the (doubled) interval counts.
            || (self.strikes == 0
                && new_chars >= self.plan.buffer_threshold
                && elapsed >= self.caps.min_edit_interval);
        if due && self.text != self.shown {
            let display = format!("{}{}", self.text, self.plan.cursor);
            self.edit_current(display, now).await;
        }
    }

    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        self.messenger.clone()?.send(message).await
    }

    async fn edit(&self, edit: Edit) -> Result<(), AdapterError> {
        self.messenger.clone()?.edit(edit).await
    }

    async fn delete(&self, message: MessageRef) -> Result<(), AdapterError> {
        self.messenger.clone()?.delete(message).await
    }

    fn mark_edit(&mut self, now: Instant) {
        self.last_edit = Some(now);
        self.chars_at_last_edit = self.text.chars().count();
    }

    fn outbound(&self, text: &str) -> Outbound {
        Outbound {
            target: self.target.clone(),
            text: text.to_owned(),
            reply_to: self.reply_to.clone(),
            attachments: Vec::new(),
            idempotency_key: None,
        }
    }

    /// Edits the message in progress to `display`; `shown` follows on success.
    async fn edit_current(&mut self, display: String, now: Instant) -> bool {
        let Some(id) = self.message.clone() else {
            return false;
        };
        let edit = Edit {
            message: MessageRef {
                target: self.target.clone(),
                message_id: id,
            },
            text: display.clone(),
        };
        match self.edit(edit).await {
            Ok(()) => {
                self.shown = self.text.clone();
                self.displayed = display;
                self.mark_edit(Instant::now());
                true
            }
            Err(e) => {
                self.refused(e, now);
                false
            }
        }
    }

    /// A send or edit was refused: back off on rate limits, stop editing
    /// after too many or on any other refusal.
    fn refused(&mut self, error: AdapterError, now: Instant) {
        match error {
            AdapterError::RateLimited { retry_after } => {
                self.metrics.rate_limited(&self.platform);
                self.strikes += 1;
                self.interval = (self.interval * 2).min(MAX_EDIT_INTERVAL);
                self.not_before = Some(now + retry_after.unwrap_or(self.interval));
                debug!(strikes = self.strikes, interval = ?self.interval, "edit rate-limited; slowing down");
                if self.strikes >= MAX_FLOOD_STRIKES {
                    warn!(
                        "rate-limited {MAX_FLOOD_STRIKES} times; the rest of this reply comes as new messages"
                    );
                    self.edits_off = true;
                }
            }
            other => {
                debug!(error = %other, "the platform refused a streamed edit; sending the rest at the end");
                self.edits_off = true;
            }
        }
    }

    /// Budget for the text of a message in progress (cursor and margin kept free).
    fn budget(&self) -> usize {
        let cursor = self.caps.length_unit.measure(&self.plan.cursor);
        self.caps
            .max_message_len
            .saturating_sub(cursor + SAFETY_MARGIN)
            .max(MIN_FIRST_CHARS * 4)
    }

    /// When the text no longer fits one message: finalize the current one at
    /// a newline and continue in a new message.
    async fn split_overflow(&mut self) {
        while self.caps.length_unit.measure(&self.text) > self.budget() {
            let budget = self.budget();
            let piece = cut(&self.text, budget, self.caps.length_unit);
            let now = Instant::now();
            let finalized = match self.message.clone() {
                Some(_) => {
                    let head = piece.head.clone();
                    let previous = std::mem::replace(&mut self.text, head.clone());
                    let ok = self.edit_current(head, now).await;
                    if !ok {
                        self.text = previous;
                        return;
                    }
                    true
                }
                None => self.send_new(&piece.head).await,
            };
            if !finalized {
                return;
            }
            self.text = piece.tail;
            self.message = None;
            self.shown.clear();
            self.displayed.clear();
        }
    }

    /// Sends a finished piece of text as new message(s).
    async fn send_new(&mut self, text: &str) -> bool {
        if text.trim().is_empty() {
            return true;
        }
        for part in split_message(text, self.caps.max_message_len, self.caps.length_unit) {
            let sent = match self.messenger.clone() {
                Ok(messenger) => {
                    let (metrics, platform) = (self.metrics, &self.platform);
                    let limited = || metrics.rate_limited(platform);
                    send_once(
                        messenger,
                        &self.target,
                        &part,
                        self.reply_to.as_deref(),
                        &limited,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            match sent {
                Ok(ids) => self.created.extend(ids),
                Err(e) => {
                    warn!(error = %e, "sending part of a reply failed");
                    return false;
                }
            }
        }
        true
    }

    /// A tool boundary: the current message is finished as it is, and text
    /// after the tool call starts a new message.
    async fn end_segment(&mut self) {
        let tail = self.flush_filters();
        self.append(&tail);
        if self.text.trim().is_empty() || is_silence(&self.reply_text) {
            self.text.clear();
            return;
        }
        match (&self.message, self.edits_off) {
            (Some(_), false) => {
                self.split_overflow().await;
                if self.message.is_some() && self.text != self.displayed {
                    let display = self.text.clone();
                    self.edit_current(display, Instant::now()).await;
                } else if self.message.is_none() {
                    let text = self.text.clone();
                    self.send_new(&text).await;
                }
            }
            _ => {
                let rest = self.settle_preview().await;
                self.send_new(&rest).await;
            }
        }
        self.text.clear();
        self.shown.clear();
        self.displayed.clear();
        self.message = None;
    }

    /// Editing stopped: leaves the preview showing only the whole lines of
    /// the current text it shows — removing it when it shows none — and
    /// returns the text still to deliver, which starts at a line boundary.
    /// A preview without an id cannot be changed: the rest then starts
    /// where it stopped, so nothing is shown twice.
    async fn settle_preview(&mut self) -> String {
        let continues = !self.shown.is_empty() && self.text.starts_with(&self.shown);
        if !continues {
            return self.text.clone();
        }
        let Some(id) = self.message.clone() else {
            return self.text[self.shown.len()..].trim_start().to_owned();
        };
        if let Some(at) = self.not_before {
            // The platform's retry-after, before the one last call.
            tokio::time::sleep_until(at).await;
        }
        let message = MessageRef {
            target: self.target.clone(),
            message_id: id.clone(),
        };
        let (keep, rest) = match self.shown.rfind('\n') {
            // The whole text is shown: only the cursor goes.
            _ if self.text.trim_end() == self.shown.trim_end() => {
                (self.shown.trim_end().to_owned(), String::new())
            }
            Some(newline) => {
                let unit = self.caps.length_unit;
                let piece = cut(&self.text, unit.measure(&self.text[..=newline]), unit);
                (piece.head.trim_end().to_owned(), piece.tail)
            }
            None => (String::new(), self.text.clone()),
        };
        if keep.trim().is_empty() {
            // A stub of the first line: the whole text follows instead.
            self.remove_preview(message).await;
            return self.text.clone();
        }
        if keep != self.displayed {
            let edit = Edit {
                message: message.clone(),
                text: keep.clone(),
            };
            // The last call for this preview waits out rate limits like a
            // delivery: a preview must not keep its cursor.
            let (metrics, platform) = (self.metrics, &self.platform);
            let limited = || metrics.rate_limited(platform);
            match with_retries(Patience::Retry, &limited, || self.edit(edit.clone())).await {
                Ok(()) => self.displayed = keep,
                Err(e) => {
                    debug!(error = %e, "could not cut a stopped preview to whole lines; removing it");
                    if self.remove_preview(message).await {
                        return self.text.clone();
                    }
                }
            }
        }
        rest.trim_start_matches(['\n', '\r']).to_owned()
    }

    /// Deletes a stopped preview (waiting out rate limits); whether it is
    /// gone.
    async fn remove_preview(&mut self, message: MessageRef) -> bool {
        let id = message.message_id.clone();
        let (metrics, platform) = (self.metrics, &self.platform);
        let limited = || metrics.rate_limited(platform);
        match with_retries(Patience::Retry, &limited, || self.delete(message.clone())).await {
            Ok(()) => {
                self.created.retain(|c| *c != id);
                true
            }
            Err(e) => {
                warn!(error = %e, "a stopped preview could be neither finished nor removed; it keeps its last text");
                false
            }
        }
    }

    /// The agent is done: what is left to deliver.
    pub(crate) async fn finish(mut self, final_text: &str) -> Remaining {
        let tail = self.flush_filters();
        self.append(&tail);
        if self.reply_text.trim().is_empty() && !final_text.trim().is_empty() {
            // The agent produced no deltas (a non-streaming provider): take the final text.
            let visible = media::strip(&hermod_model::text::strip_think(final_text));
            self.append(&visible);
        }
        if is_silence(&self.reply_text) {
            for id in std::mem::take(&mut self.created) {
                let message = MessageRef {
                    target: self.target.clone(),
                    message_id: id,
                };
                if let Err(e) = self.delete(message).await {
                    debug!(error = %e, "could not delete a silenced preview");
                }
            }
            return Remaining::Silent;
        }
        // Trailing whitespace is not part of what a user sees.
        let trimmed = self.text.trim_end().len();
        self.text.truncate(trimmed);
        if self.edits_off || !self.plan.progressive {
            return Remaining::Deliver {
                text: self.settle_preview().await,
                preview: None,
                shown: String::new(),
            };
        }
        Remaining::Deliver {
            text: self.text.clone(),
            preview: self.message.clone(),
            shown: self.displayed.clone(),
        }
    }

    /// The end of a segment or of the reply: what both filters still hold,
    /// and fresh filters for what follows.
    fn flush_filters(&mut self) -> String {
        let think_tail = std::mem::replace(&mut self.filter, ThinkFilter::new()).finish();
        let mut directives = std::mem::take(&mut self.directives);
        let mut tail = directives.push(&think_tail);
        tail.push_str(&directives.finish());
        tail
    }

    /// The turn ended without a final reply (interrupted or failed): leave
    /// the preview as it is, without the cursor.
    pub(crate) async fn abandon(mut self) {
        if self.message.is_some()
            && !self.edits_off
            && !self.plan.cursor.is_empty()
            && !self.shown.is_empty()
        {
            self.text = self.shown.clone();
            let display = self.text.clone();
            self.edit_current(display, Instant::now()).await;
        }
    }
}

/// A `verbose` progress line for a call starting: its name and the start
/// of its arguments on one line.
pub(crate) fn started_line(name: &str, arguments: &str) -> String {
    let preview = preview(arguments);
    if preview.is_empty() || preview == "{}" {
        format!("🔧 {name}…")
    } else {
        format!("🔧 {name}({preview})…")
    }
}

/// A `verbose` progress line for a call that failed, with the start of
/// its error.
pub(crate) fn failed_line(name: &str, result: &str) -> String {
    let error = preview(result.strip_prefix("error: ").unwrap_or(result));
    format!("⚠️ {name} failed: {error}")
}

/// `text` on one line (whitespace runs become one space), cut to
/// [`ToolProgress::ARGUMENTS_PREVIEW`] characters with an ellipsis.
fn preview(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let limit = ToolProgress::ARGUMENTS_PREVIEW;
    if one_line.chars().count() <= limit {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(limit - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    #[test]
    fn verbose_lines_preview_arguments_and_errors() {
        assert_eq!(
            started_line("terminal", r#"{"command": "ls  -la\n/tmp"}"#),
            r#"🔧 terminal({"command": "ls -la\n/tmp"})…"#
        );
        assert_eq!(
            started_line("terminal", "{\n  \"command\":\t\"ls\"\n}"),
            r#"🔧 terminal({ "command": "ls" })…"#
        );
        assert_eq!(started_line("clock", "{}"), "🔧 clock…");
        assert_eq!(started_line("clock", "  "), "🔧 clock…");
        let long = format!(r#"{{"blob": "{}"}}"#, "x".repeat(5_000));
        let line = started_line("write_file", &long);
        let shown = line
            .strip_prefix("🔧 write_file(")
            .and_then(|l| l.strip_suffix(")…"))
            .unwrap();
        assert_eq!(shown.chars().count(), ToolProgress::ARGUMENTS_PREVIEW);
        assert!(shown.ends_with('…') && !line.contains(&"x".repeat(300)));
        assert_eq!(
            failed_line("terminal", "error: exit status 1\nno such file"),
            "⚠️ terminal failed: exit status 1 no such file"
        );
    }
}
