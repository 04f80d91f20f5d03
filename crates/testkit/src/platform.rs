//! [`TestPlatform`]: an in-process chat platform for driving the gateway in
//! tests.
//!
//! It implements [`hermod_core::Adapter`] and [`hermod_core::Messenger`]:
//! register it with the gateway, wait until the gateway has started it
//! ([`TestPlatform::wait_running`]), then script users
//! ([`TestPlatform::user`]) who write DMs, group and thread messages. Everything the gateway sends, edits and deletes is
//! recorded in a transcript per chat ([`TestPlatform::sent`]); tests wait
//! for it with the `wait_*` methods, which are woken by changes and never
//! poll. Failures can be injected ([`TestPlatform::fail_next_send`],
//! [`TestPlatform::rate_limit_for`]).
//!
//! Like a real platform it refuses empty and too long texts, and edits or
//! deletes of messages it does not know. Optionally it behaves like a
//! careful adapter instead: it splits long texts into several messages
//! ([`TestPlatform::split_long_texts`]) and spaces edits of a message by
//! `min_edit_interval` ([`TestPlatform::pace_edits`]), as the conformance
//! suite expects of every adapter. Message ids are decimal numbers
//! counting up per platform, shared by inbound and outbound messages, so a
//! reply always has a greater id than the message it answers.

mod split;
mod threads;
mod user;

pub use threads::CreatedThread;
pub use user::TestUser;

use async_trait::async_trait;
use hermod_core::{Adapter, AdapterContext, AdapterError, CoreError, Inbound, Messenger};
use hermod_model::{
    Attachment, Capabilities, Edit, InboundEvent, MarkdownDialect, MessageRef, Outbound,
    PlatformId, Sent,
};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// One message the gateway sent through a [`TestPlatform`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The platform's id for it, as returned in [`Sent::message_ids`].
    pub id: String,
    pub chat_id: String,
    pub thread_id: Option<String>,
    /// The text as first sent.
    pub text: String,
    pub reply_to: Option<String>,
    /// Every later text the message was edited to, in order.
    pub edits: Vec<String>,
    pub deleted: bool,
    /// The files it carries (the text, if any, is their caption).
    pub attachments: Vec<Attachment>,
}

impl SentMessage {
    /// The text shown now: the last edit, or the text as sent.
    pub fn current_text(&self) -> &str {
        self.edits.last().unwrap_or(&self.text)
    }
}

/// What the gateway asked the platform to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Send,
    Edit,
    Delete,
}

/// One successful send, edit or delete, with when it happened (tokio time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub kind: CallKind,
    pub chat_id: String,
    pub message_id: String,
    /// The text sent or edited to (empty for deletes).
    pub text: String,
    pub at: Instant,
}

/// An in-process chat platform. Cheap to clone; clones share everything.
#[derive(Debug, Clone)]
pub struct TestPlatform {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: PlatformId,
    capabilities: Capabilities,
    state: Mutex<State>,
    /// Woken on every change of `state`.
    changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// Given by the gateway when it ran the adapter.
    inbound: Option<Inbound>,
    running: bool,
    /// How many times `run` was called.
    runs: usize,
    last_message_id: u64,
    /// Every message sent, in send order.
    sent: Vec<SentMessage>,
    send_attempts: usize,
    fail_sends: VecDeque<AdapterError>,
    fail_edits: VecDeque<AdapterError>,
    rate_limited_until: Option<Instant>,
    /// Every successful call, in order, with its time.
    calls: Vec<Call>,
    /// How many calls were answered with a rate-limit error.
    rate_limit_hits: usize,
    /// Successful sends report no message ids (as some platforms do).
    omit_message_ids: bool,
    /// Sends and edits wait until released (a platform that never answers).
    held: bool,
    /// Calls that have waited on `held`.
    held_calls: usize,
    /// Long texts become several messages instead of being refused.
    split_long_texts: bool,
    /// Edits of a message wait until `min_edit_interval` after the last.
    pace_edits: bool,
    /// When each message may be edited next (with `pace_edits`).
    next_edit_at: HashMap<String, Instant>,
    /// Sends with files, once accepted, hang until released (a process
    /// that dies after the platform took an upload, before it hears back).
    hold_after_files: bool,
    /// The same for sends of text alone.
    hold_after_texts: bool,
    /// Idempotency key → the message it created, for platforms whose
    /// capabilities declare an idempotency window.
    keys: HashMap<String, String>,
    /// Threads opened for handoffs, in order.
    threads: Vec<CreatedThread>,
    /// Errors the next thread creations fail with.
    fail_threads: VecDeque<AdapterError>,
}

impl State {
    fn next_message_id(&mut self) -> String {
        self.last_message_id += 1;
        self.last_message_id.to_string()
    }

    fn check_rate_limit(&mut self) -> Result<(), AdapterError> {
        let Some(until) = self.rate_limited_until else {
            return Ok(());
        };
        let now = Instant::now();
        if now >= until {
            self.rate_limited_until = None;
            return Ok(());
        }
        self.rate_limit_hits += 1;
        Err(AdapterError::RateLimited {
            retry_after: Some(until - now),
        })
    }

    /// The live message `message` refers to.
    fn find(&mut self, message: &MessageRef) -> Result<&mut SentMessage, AdapterError> {
        self.sent
            .iter_mut()
            .find(|m| {
                m.id == message.message_id && m.chat_id == message.target.chat_id && !m.deleted
            })
            .ok_or_else(|| AdapterError::NotFound(format!("message {}", message.message_id)))
    }
}

impl TestPlatform {
    /// A platform named `name` with [`TestPlatform::default_capabilities`].
    pub fn new(name: &'static str) -> Self {
        Self::with_capabilities(name, Self::default_capabilities())
    }

    pub fn with_capabilities(name: &'static str, capabilities: Capabilities) -> Self {
        Self {
            inner: Arc::new(Inner {
                id: PlatformId::from_static(name),
                capabilities,
                state: Mutex::new(State::default()),
                changed: Notify::new(),
            }),
        }
    }

    /// The same platform as seen by a new process: a separate instance that
    /// starts with this one's messages, calls and id counter (and no
    /// scripted faults). Calls still made to this instance — say, by tasks
    /// of a process that is crashing — do not reach the copy.
    pub fn restarted(&self) -> Self {
        let copy = self.update(|s| State {
            last_message_id: s.last_message_id,
            sent: s.sent.clone(),
            calls: s.calls.clone(),
            keys: s.keys.clone(),
            ..State::default()
        });
        Self {
            inner: Arc::new(Inner {
                id: self.inner.id.clone(),
                capabilities: self.inner.capabilities.clone(),
                state: Mutex::new(copy),
                changed: Notify::new(),
            }),
        }
    }

    /// Edits and deletes allowed, threads, 4096 characters per message,
    /// Markdown, commands with `/`; the rest as [`Capabilities::default`].
    pub fn default_capabilities() -> Capabilities {
        Capabilities {
            max_message_len: 4096,
            can_edit: true,
            can_delete: true,
            threads: true,
            markdown: MarkdownDialect::Markdown,
            command_prefix: '/',
            ..Capabilities::default()
        }
    }

    /// This platform as the gateway builder takes it.
    pub fn adapter(&self) -> Arc<dyn Adapter> {
        Arc::new(self.clone())
    }

    /// A user of this platform whose id and display name are `id`.
    pub fn user(&self, id: &str) -> TestUser {
        TestUser::new(self.clone(), id)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is complete before the lock is released.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `change` to the state and wakes every waiter.
    fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        let value = change(&mut self.lock());
        self.inner.changed.notify_waiters();
        value
    }

    /// Waits until `check` returns something, re-checking on every change.
    async fn wait_until<T>(&self, mut check: impl FnMut(&State) -> Option<T>) -> T {
        loop {
            let notified = self.inner.changed.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before checking, so no change can slip in between.
            notified.as_mut().enable();
            if let Some(value) = check(&self.lock()) {
                return value;
            }
            notified.await;
        }
    }

    /// A fresh platform message id (for inbound messages; sends get theirs
    /// automatically).
    pub fn next_message_id(&self) -> String {
        self.lock().next_message_id()
    }

    /// Whether the gateway is running this adapter now.
    pub fn is_running(&self) -> bool {
        self.lock().running
    }

    /// Waits until the gateway is running the adapter (`run` was called
    /// and has not returned).
    pub async fn wait_running(&self) {
        self.wait_until(|s| s.running.then_some(())).await;
    }

    /// Waits until `run` has been called and has returned (the gateway
    /// told the adapter to stop).
    pub async fn wait_stopped(&self) {
        self.wait_until(|s| (s.runs > 0 && !s.running).then_some(()))
            .await;
    }

    /// The handle the gateway gave the adapter, once it has run.
    pub fn inbound(&self) -> Option<Inbound> {
        self.lock().inbound.clone()
    }

    /// Submits an event as received from the platform, first waiting until
    /// the gateway has run the adapter (after it stopped, the gateway
    /// answers [`CoreError::ShuttingDown`]). Gives the event a fresh message
    /// id when it has none; returns the id.
    pub async fn submit(&self, mut event: InboundEvent) -> Result<String, CoreError> {
        let inbound = self.wait_until(|s| s.inbound.clone()).await;
        let id = match &event.message_id {
            Some(id) => id.clone(),
            None => {
                let id = self.next_message_id();
                event.message_id = Some(id.clone());
                id
            }
        };
        inbound.submit(event)?;
        Ok(id)
    }

    /// Every message sent to `chat_id` (all its threads), in send order.
    pub fn sent(&self, chat_id: &str) -> Vec<SentMessage> {
        chat_messages(&self.lock(), chat_id)
    }

    /// The messages sent to one thread of a chat, in send order.
    pub fn sent_in_thread(&self, chat_id: &str, thread_id: &str) -> Vec<SentMessage> {
        self.lock()
            .sent
            .iter()
            .filter(|m| m.chat_id == chat_id && m.thread_id.as_deref() == Some(thread_id))
            .cloned()
            .collect()
    }

    /// Every message sent on this platform, in send order.
    pub fn all_sent(&self) -> Vec<SentMessage> {
        self.lock().sent.clone()
    }

    /// Calls of `send`, failed ones included.
    pub fn send_attempts(&self) -> usize {
        self.lock().send_attempts
    }

    /// Waits until `chat_id` has at least `n` messages; returns them all.
    pub async fn wait_for_messages(&self, chat_id: &str, n: usize) -> Vec<SentMessage> {
        self.wait_for(chat_id, |messages| messages.len() >= n).await
    }

    /// Waits until a message of `chat_id` shows a text matching `matches`
    /// (its current text, so edits count); returns that message.
    pub async fn wait_for_text(
        &self,
        chat_id: &str,
        matches: impl Fn(&str) -> bool,
    ) -> SentMessage {
        self.wait_until(|s| {
            s.sent
                .iter()
                .find(|m| m.chat_id == chat_id && matches(m.current_text()))
                .cloned()
        })
        .await
    }

    /// Waits until the transcript of `chat_id` satisfies `done`; returns it.
    pub async fn wait_for(
        &self,
        chat_id: &str,
        done: impl Fn(&[SentMessage]) -> bool,
    ) -> Vec<SentMessage> {
        self.wait_until(|s| {
            let messages = chat_messages(s, chat_id);
            done(&messages).then_some(messages)
        })
        .await
    }

    /// Waits until `send` has been called at least `n` times, failed calls
    /// included.
    pub async fn wait_for_send_attempts(&self, n: usize) {
        self.wait_until(|s| (s.send_attempts >= n).then_some(()))
            .await;
    }

    /// Makes a coming `send` fail with `error`; queued errors are used one
    /// per call, in order.
    pub fn fail_next_send(&self, error: AdapterError) {
        self.update(|s| s.fail_sends.push_back(error));
    }

    /// Makes a coming `edit` fail with `error`, like
    /// [`TestPlatform::fail_next_send`].
    pub fn fail_next_edit(&self, error: AdapterError) {
        self.update(|s| s.fail_edits.push_back(error));
    }

    /// Refuses sends and edits for `duration` (tokio's clock) with
    /// [`AdapterError::RateLimited`] carrying the time left.
    pub fn rate_limit_for(&self, duration: Duration) {
        self.update(|s| s.rate_limited_until = Some(Instant::now() + duration));
    }

    /// Ends a rate limit set by [`TestPlatform::rate_limit_for`] early.
    pub fn clear_rate_limit(&self) {
        self.update(|s| s.rate_limited_until = None);
    }

    /// Every successful send, edit and delete with its time, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// How many calls were refused with a rate-limit error.
    pub fn rate_limit_hits(&self) -> usize {
        self.lock().rate_limit_hits
    }

    /// Makes successful sends report no message ids.
    pub fn omit_message_ids(&self, omit: bool) {
        self.update(|s| s.omit_message_ids = omit);
    }

    /// Makes sends split texts longer than `max_message_len` into several
    /// messages (at whitespace where possible), reporting every id, instead
    /// of refusing them.
    pub fn split_long_texts(&self, on: bool) {
        self.update(|s| s.split_long_texts = on);
    }

    /// Makes edits of a message wait until `min_edit_interval` (tokio
    /// clock) after the previous edit of it, instead of going at once.
    pub fn pace_edits(&self, on: bool) {
        self.update(|s| s.pace_edits = on);
    }

    /// Waits for the edit slot of `message_id` when edits are paced.
    async fn wait_edit_slot(&self, message_id: &str) {
        let interval = self.inner.capabilities.min_edit_interval;
        let slot = self.update(|s| {
            if !s.pace_edits {
                return None;
            }
            let now = Instant::now();
            let at = s
                .next_edit_at
                .get(message_id)
                .copied()
                .filter(|at| *at > now)
                .unwrap_or(now);
            s.next_edit_at.insert(message_id.to_owned(), at + interval);
            Some(at)
        });
        if let Some(at) = slot {
            tokio::time::sleep_until(at).await;
        }
    }

    /// Makes sends and edits hang until [`TestPlatform::release`] (a
    /// platform that stopped answering, or a process about to crash).
    pub fn hold(&self) {
        self.update(|s| s.held = true);
    }

    pub fn release(&self) {
        self.update(|s| {
            s.held = false;
            s.hold_after_files = false;
            s.hold_after_texts = false;
        });
    }

    /// Makes every send with files hang after the platform accepted it,
    /// until [`TestPlatform::release`] (counted by
    /// [`TestPlatform::wait_for_held`]).
    pub fn hold_after_file_sends(&self) {
        self.update(|s| s.hold_after_files = true);
    }

    /// The same for every send of text alone.
    pub fn hold_after_text_sends(&self) {
        self.update(|s| s.hold_after_texts = true);
    }

    /// Every message that carried files, in send order.
    pub fn file_messages(&self) -> Vec<SentMessage> {
        self.update(|s| {
            s.sent
                .iter()
                .filter(|m| !m.attachments.is_empty())
                .cloned()
                .collect()
        })
    }

    /// Waits until at least `n` calls have been held.
    pub async fn wait_for_held(&self, n: usize) {
        self.wait_until(|s| (s.held_calls >= n).then_some(())).await;
    }

    async fn wait_if_held(&self) {
        let held = self.update(|s| {
            if s.held {
                s.held_calls += 1;
            }
            s.held
        });
        if held {
            self.wait_until(|s| (!s.held).then_some(())).await;
        }
    }

    /// Refuses texts this platform could not show.
    fn check_text(&self, text: &str) -> Result<(), AdapterError> {
        if text.trim().is_empty() {
            return Err(AdapterError::Rejected("the message text is empty".into()));
        }
        let capabilities = &self.inner.capabilities;
        if capabilities.length_unit.measure(text) > capabilities.max_message_len {
            return Err(AdapterError::TooLong);
        }
        Ok(())
    }
}

fn chat_messages(state: &State, chat_id: &str) -> Vec<SentMessage> {
    state
        .sent
        .iter()
        .filter(|m| m.chat_id == chat_id)
        .cloned()
        .collect()
}

#[async_trait]
impl Adapter for TestPlatform {
    fn id(&self) -> PlatformId {
        self.inner.id.clone()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities.clone()
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        self.update(|s| {
            s.inbound = Some(ctx.inbound.clone());
            s.running = true;
            s.runs += 1;
        });
        // Connected at once: there is nothing to connect to.
        ctx.inbound.health().recovered(self.inner.id.as_str());
        ctx.shutdown.cancelled().await;
        self.update(|s| s.running = false);
        Ok(())
    }

    fn messenger(&self) -> Option<&dyn Messenger> {
        Some(self)
    }
}

#[async_trait]
impl Messenger for TestPlatform {
    /// Threads where the capabilities say the platform has them.
    fn threads(&self) -> Option<&dyn hermod_core::Threads> {
        self.inner.capabilities.threads.then_some(self as _)
    }

    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        self.wait_if_held().await;
        let files = !message.attachments.is_empty();
        let sent = self.update(|s| {
            s.send_attempts += 1;
            if let Some(error) = s.fail_sends.pop_front() {
                return Err(error);
            }
            s.check_rate_limit()?;
            let capabilities = &self.inner.capabilities;
            let key = message
                .idempotency_key
                .clone()
                .filter(|_| capabilities.idempotency_window.is_some());
            if let Some(id) = key.as_ref().and_then(|k| s.keys.get(k)) {
                // Seen before: the message it made, and no new one.
                return Ok(Sent {
                    message_ids: vec![id.clone()],
                });
            }
            let texts = if s.split_long_texts {
                split::split(
                    &message.text,
                    capabilities.max_message_len,
                    capabilities.length_unit,
                )
            } else {
                vec![message.text.clone()]
            };
            for text in &texts {
                // Files alone need no text.
                if !(files && text.is_empty()) {
                    self.check_text(text)?;
                }
            }
            let mut ids = Vec::new();
            for (i, text) in texts.into_iter().enumerate() {
                let id = s.next_message_id();
                s.calls.push(Call {
                    kind: CallKind::Send,
                    chat_id: message.target.chat_id.clone(),
                    message_id: id.clone(),
                    text: text.clone(),
                    at: Instant::now(),
                });
                s.sent.push(SentMessage {
                    id: id.clone(),
                    chat_id: message.target.chat_id.clone(),
                    thread_id: message.target.thread_id.clone(),
                    text,
                    // Only the first piece answers the message replied to.
                    reply_to: if i == 0 {
                        message.reply_to.clone()
                    } else {
                        None
                    },
                    edits: Vec::new(),
                    deleted: false,
                    attachments: if i == 0 {
                        message.attachments.clone()
                    } else {
                        Vec::new()
                    },
                });
                ids.push(id);
            }
            if let (Some(key), Some(first)) = (key, ids.first()) {
                s.keys.insert(key, first.clone());
            }
            let message_ids = if s.omit_message_ids { Vec::new() } else { ids };
            Ok(Sent { message_ids })
        })?;
        let holding = |s: &State| {
            if files {
                s.hold_after_files
            } else {
                s.hold_after_texts
            }
        };
        if self.update(|s| holding(s)) {
            self.update(|s| s.held_calls += 1);
            self.wait_until(|s| (!holding(s)).then_some(())).await;
        }
        Ok(sent)
    }

    async fn edit(&self, edit: Edit) -> Result<(), AdapterError> {
        if !self.inner.capabilities.can_edit {
            return Err(AdapterError::Unsupported("editing messages"));
        }
        self.wait_edit_slot(&edit.message.message_id).await;
        self.wait_if_held().await;
        self.update(|s| {
            if let Some(error) = s.fail_edits.pop_front() {
                return Err(error);
            }
            s.check_rate_limit()?;
            self.check_text(&edit.text)?;
            s.find(&edit.message)?.edits.push(edit.text.clone());
            s.calls.push(Call {
                kind: CallKind::Edit,
                chat_id: edit.message.target.chat_id,
                message_id: edit.message.message_id,
                text: edit.text,
                at: Instant::now(),
            });
            Ok(())
        })
    }

    async fn delete(&self, message: MessageRef) -> Result<(), AdapterError> {
        if !self.inner.capabilities.can_delete {
            return Err(AdapterError::Unsupported("deleting messages"));
        }
        self.update(|s| {
            s.find(&message)?.deleted = true;
            s.calls.push(Call {
                kind: CallKind::Delete,
                chat_id: message.target.chat_id,
                message_id: message.message_id,
                text: String::new(),
                at: Instant::now(),
            });
            Ok(())
        })
    }
}
