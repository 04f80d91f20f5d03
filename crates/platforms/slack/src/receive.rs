//! What Socket Mode and the Events API share: learning who the bot is
//! (`auth.test`), and handling what arrives — after it was acknowledged.
//!
//! Slack wants every delivery acknowledged within three seconds, so both
//! modes acknowledge first and hand the payload to one worker ([`Job`]),
//! which handles payloads in order of arrival: it drops an event id seen
//! before (a redelivery or an HTTP retry), converts the event
//! ([`crate::inbound`]), downloads its files when core admits the sender
//! ([`crate::files`]) and submits it with `submit_once` under its
//! `team:channel:ts` key, so a message that arrives twice — redelivered,
//! or as both `message` and `app_mention` — is answered once. A payload
//! that could not be recorded (the store failing) is tried again by the
//! worker with a growing wait, since Slack will not send it again.

use crate::adapter::SlackAdapter;
use crate::api::AuthTest;
use crate::config::ReceiveMode;
use crate::error::SlackError;
use crate::inbound::{self, Decision, Received, Rules};
use crate::types::{Callback, MessageEvent, SlashCommand};
use hermod_adapter_kit::{ConnectionState, Handled};
use hermod_core::{AdapterContext, AdapterError, CoreError, Submitted};
use hermod_model::{ChatTarget, ChatType, Outbound};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Payloads acknowledged and waiting for the worker.
const JOB_QUEUE: usize = 256;

/// The longest wait between attempts at recording a payload.
const MAX_RECORD_WAIT: Duration = Duration::from_secs(30);

/// The bot's own identity, from `auth.test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Me {
    pub user_id: String,
    /// The bot user's name, for the log.
    pub name: String,
    pub bot_id: Option<String>,
    pub team_id: String,
}

/// An acknowledged payload.
#[derive(Debug)]
pub(crate) enum Job {
    /// An `event_callback` (a Socket Mode `events_api` payload, or an
    /// Events API body).
    Event(serde_json::Value),
    /// A slash command; `unique` (the envelope id) keys it when it has no
    /// `trigger_id`.
    Command {
        payload: serde_json::Value,
        unique: String,
    },
}

/// Where receivers hand acknowledged payloads.
pub(crate) type Jobs = mpsc::Sender<Job>;

impl SlackAdapter {
    /// `run`: who we are, then receiving in the configured mode until
    /// shutdown, with the worker beside it.
    pub(crate) async fn receive(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        self.connection().set_state(ConnectionState::Connecting);
        let me = match self.identify(&ctx).await {
            Ok(Some(me)) => me,
            Ok(None) => return Ok(()),
            Err(e) => {
                self.connection().set_state(ConnectionState::Failed);
                return Err(e);
            }
        };
        info!(bot = %me.name, id = %me.user_id, team = %me.team_id, "connected to Slack");
        let (jobs, queue) = mpsc::channel(JOB_QUEUE);
        let receiving = async {
            match self.config().mode() {
                Some(ReceiveMode::EventsApi) => self.serve_events(&ctx, jobs).await,
                // `validate` made sure one of the two is configured.
                Some(ReceiveMode::SocketMode) | None => self.serve_socket(&ctx, jobs).await,
            }
        };
        let (result, ()) = tokio::join!(receiving, self.work(queue, &me, &ctx));
        if result.is_err() {
            self.connection().set_state(ConnectionState::Failed);
        }
        result
    }

    /// `auth.test`, retrying transient failures with backoff until
    /// shutdown (`None`). A refused token ends it with `Auth`.
    async fn identify(&self, ctx: &AdapterContext) -> Result<Option<Me>, AdapterError> {
        let none = Vec::new();
        loop {
            let result = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ok(None),
                result = self.api().call::<AuthTest>("auth.test", &none) => result,
            };
            match result {
                Ok(auth) => {
                    return Ok(Some(Me {
                        user_id: auth.user_id,
                        name: auth.user.unwrap_or_default(),
                        bot_id: auth.bot_id,
                        team_id: auth.team_id.unwrap_or_default(),
                    }));
                }
                Err(e @ SlackError::Auth { .. }) => return Err(AdapterError::Auth(e.to_string())),
                Err(e) if e.is_retryable() => {
                    let reason = format!("cannot reach Slack: {e}");
                    if !self.connection().retry(ctx, &reason, e.retry_after()).await {
                        return Ok(None);
                    }
                }
                Err(e) => {
                    return Err(AdapterError::Startup(format!(
                        "Slack refused auth.test ({e}); check SLACK_BOT_TOKEN and SLACK_API_BASE_URL"
                    )));
                }
            }
        }
    }

    /// The worker: handles acknowledged payloads in order until shutdown
    /// or until the receiver is gone.
    async fn work(&self, mut queue: mpsc::Receiver<Job>, me: &Me, ctx: &AdapterContext) {
        loop {
            let job = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return,
                job = queue.recv() => match job {
                    Some(job) => job,
                    None => return,
                },
            };
            let mut wait = Duration::from_millis(250);
            loop {
                match self.handle(&job, me, ctx).await {
                    Handled::Done => break,
                    Handled::Stop => return,
                    Handled::Retry(reason) => {
                        let reason = self.connection().degraded(ctx, &reason);
                        warn!(%reason, ?wait, "an acknowledged Slack message is not recorded yet; trying again");
                        if hermod_http::sleep_or_cancel(wait, &ctx.shutdown)
                            .await
                            .is_err()
                        {
                            return;
                        }
                        wait = (wait * 2).min(MAX_RECORD_WAIT);
                    }
                }
            }
        }
    }

    /// Handles one payload.
    async fn handle(&self, job: &Job, me: &Me, ctx: &AdapterContext) -> Handled {
        let in_thread = |channel: &str, thread: &str| self.in_thread(channel, thread);
        let rules = Rules {
            bot_user_id: &me.user_id,
            bot_id: me.bot_id.as_deref(),
            config: self.config(),
            in_thread: &in_thread,
        };
        match job {
            Job::Event(raw) => {
                let callback: Callback = match serde_json::from_value(raw.clone()) {
                    Ok(callback) => callback,
                    Err(e) => {
                        warn!(problem = %e, "skipping an event payload Slack's docs do not describe");
                        return Handled::Done;
                    }
                };
                self.handle_callback(&callback, me, &rules, ctx).await
            }
            Job::Command { payload, unique } => {
                let command: SlashCommand = match serde_json::from_value(payload.clone()) {
                    Ok(command) => command,
                    Err(e) => {
                        warn!(problem = %e, "skipping a slash command payload that cannot be read");
                        return Handled::Done;
                    }
                };
                let decision = inbound::convert_command(&me.team_id, &command, unique, &rules);
                self.decide(decision, "slash_command", ctx).await
            }
        }
    }

    async fn handle_callback(
        &self,
        callback: &Callback,
        me: &Me,
        rules: &Rules<'_>,
        ctx: &AdapterContext,
    ) -> Handled {
        match callback.kind.as_str() {
            "event_callback" => {}
            "app_rate_limited" => {
                warn!("Slack is holding back events: the app went over its event rate limit");
                return Handled::Done;
            }
            other => {
                debug!(kind = other, "payload ignored");
                return Handled::Done;
            }
        }
        let event_id = callback.event_id.as_deref().unwrap_or_default();
        if !event_id.is_empty() && self.seen(event_id) {
            debug!(event_id, "event seen before; dropped");
            return Handled::Done;
        }
        let Some(raw) = &callback.event else {
            warn!(event_id, "skipping an event_callback without an event");
            return Handled::Done;
        };
        let kind = raw["type"].as_str().unwrap_or_default();
        if kind != "message" && kind != "app_mention" {
            debug!(event_id, kind, "event ignored");
            return Handled::Done;
        }
        let event: MessageEvent = match serde_json::from_value(raw.clone()) {
            Ok(event) => event,
            Err(e) => {
                warn!(event_id, kind, problem = %e, "skipping a malformed event");
                return Handled::Done;
            }
        };
        let team = callback.team_id.as_deref().unwrap_or(&me.team_id);
        let decision = inbound::convert_message(team, &event, rules);
        let handled = self.decide(decision, kind, ctx).await;
        if matches!(handled, Handled::Done) && !event_id.is_empty() {
            self.remember_event(event_id);
        }
        handled
    }

    async fn decide(&self, decision: Decision, kind: &str, ctx: &AdapterContext) -> Handled {
        match decision {
            Decision::Submit(received) => self.submit(*received, ctx).await,
            Decision::Ignore(reason) => {
                debug!(kind, reason, "event ignored");
                Handled::Done
            }
            Decision::Malformed(reason) => {
                warn!(kind, reason, "skipping a malformed event");
                Handled::Done
            }
        }
    }

    async fn submit(&self, received: Received, ctx: &AdapterContext) -> Handled {
        let Received {
            mut event,
            key,
            channel,
            ts,
            files,
        } = received;
        if !files.is_empty() {
            self.attach_files(&mut event, &files, ctx).await;
        }
        let source = event.source.clone();
        let reply_target = ChatTarget {
            chat_id: channel.clone(),
            thread_id: source.thread_id.clone(),
        };
        match ctx.inbound.submit_once(event, &key).await {
            Ok(Submitted::Accepted) => {
                debug!(%key, "message submitted");
                if source.chat_type != ChatType::Dm
                    && let Some(thread) = &source.thread_id
                {
                    // Asked here: later replies in the thread are for us.
                    self.remember_thread(&channel, thread);
                }
                Handled::Done
            }
            Ok(Submitted::Duplicate) => {
                debug!(%key, "message seen before; dropped");
                Handled::Done
            }
            Err(CoreError::ShuttingDown) => Handled::Stop,
            Err(CoreError::Store(e)) => {
                Handled::Retry(format!("cannot record inbound messages: {e}"))
            }
            Err(e @ CoreError::QueueFull { .. }) => {
                // The sender is told and may send again.
                let busy = Outbound {
                    target: reply_target,
                    text: e.to_string(),
                    reply_to: ts,
                    attachments: Vec::new(),
                    idempotency_key: None,
                };
                if let Err(e) = hermod_core::Messenger::send(self, busy).await {
                    debug!(error = %e, "cannot tell a sender their conversation is busy");
                }
                Handled::Done
            }
            Err(e) => {
                warn!(error = %e, "an inbound message was refused; skipping it");
                Handled::Done
            }
        }
    }
}
