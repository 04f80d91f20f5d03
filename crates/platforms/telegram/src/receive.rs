//! What long polling and the webhook share: learning who the bot is
//! (`getMe`), registering the `/` menu, and handling one raw update —
//! convert it, download its files (only for senders core admits), submit
//! it once. Backoff and health reports are the kit's [`hermod_adapter_kit::Connection`].

use crate::adapter::TelegramAdapter;
use crate::inbound::{self, Decision, Received, Rules};
use crate::media;
use crate::types::{BotCommand, Done, SetMyCommands, Update, User, update_kind};
use hermod_adapter_kit::{Handled, truncate};
use hermod_core::{AdapterContext, AdapterError, CoreError, Submitted};
use tracing::{debug, info, warn};

/// The bot's own identity, from `getMe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Me {
    pub id: i64,
    /// Without the `@`.
    pub username: String,
}

/// Longest health reason reported, in characters.
const MAX_REASON: usize = 160;

impl TelegramAdapter {
    /// Asks Telegram who we are, retrying transient failures with backoff
    /// until `ctx.shutdown`. A refused token ends it with `Auth`.
    pub(crate) async fn identify(&self, ctx: &AdapterContext) -> Result<Option<Me>, AdapterError> {
        loop {
            let result = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ok(None),
                result = self.api().call_bare::<User>("getMe") => result,
            };
            match result {
                Ok(user) => {
                    let Some(username) = user.username.filter(|u| !u.is_empty()) else {
                        return Err(AdapterError::Startup(
                            "getMe returned no username; is TELEGRAM_BOT_TOKEN a bot's token?"
                                .into(),
                        ));
                    };
                    self.connection().succeeded(ctx);
                    return Ok(Some(Me {
                        id: user.id,
                        username,
                    }));
                }
                Err(e) if e.refuses_token() => {
                    return Err(AdapterError::Auth(crate::error::AUTH_HINT.into()));
                }
                Err(e) if e.is_retryable() => {
                    let reason = format!("cannot reach Telegram: {e}");
                    if !self.connection().retry(ctx, &reason, e.retry_after()).await {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Registers the `/` menu unless Telegram already has exactly it
    /// (registering on every start can get a bot rate-limited). Failures
    /// are logged; the menu is a convenience.
    pub(crate) async fn sync_commands(&self) {
        let wanted: Vec<BotCommand> = self
            .config()
            .commands
            .iter()
            .map(|(command, description)| BotCommand {
                command: command.clone(),
                description: description.clone(),
            })
            .collect();
        if wanted.is_empty() {
            return;
        }
        match self
            .api()
            .call_bare::<Vec<BotCommand>>("getMyCommands")
            .await
        {
            Ok(current) if current == wanted => debug!("the command menu is up to date"),
            Ok(_) => {
                let params = SetMyCommands { commands: wanted };
                match self.api().call::<_, Done>("setMyCommands", &params).await {
                    Ok(_) => info!("registered the command menu"),
                    Err(e) => warn!(error = %e, "cannot register the command menu"),
                }
            }
            Err(e) => warn!(error = %e, "cannot read the command menu; leaving it as it is"),
        }
    }

    /// Handles one update as received (raw JSON, so one malformed update
    /// does not spoil a batch).
    pub(crate) async fn handle_update(
        &self,
        raw: serde_json::Value,
        me: &Me,
        ctx: &AdapterContext,
    ) -> Handled {
        let update: Update = match serde_json::from_value(raw.clone()) {
            Ok(update) => update,
            Err(e) => {
                // Skipped and acknowledged: it cannot be read any better
                // next time.
                warn!(
                    update_id = update_id(&raw),
                    kind = update_kind(&raw),
                    problem = %truncate(&e.to_string(), MAX_REASON),
                    "skipping a malformed update"
                );
                return Handled::Done;
            }
        };
        let rules = Rules {
            bot_id: me.id,
            bot_username: &me.username,
            config: self.config(),
        };
        let received = match inbound::convert(&update, &rules) {
            Decision::Submit(received) => *received,
            Decision::Ignore(reason) => {
                debug!(
                    update_id = update.update_id,
                    kind = update_kind(&raw),
                    reason,
                    "update ignored"
                );
                return Handled::Done;
            }
        };
        self.submit(received, ctx).await
    }

    async fn submit(&self, mut received: Received, ctx: &AdapterContext) -> Handled {
        // Nothing is fetched or kept for a sender core will not answer; the
        // event still goes to core, which pairs strangers and dedupes.
        if !received.media.is_empty() && !ctx.inbound.admits(&received.event.source).await {
            debug!(
                key = %received.key,
                files = received.media.len(),
                "the sender is not allowed; their files are not downloaded"
            );
            received.media.clear();
        }
        let dir = hermod_adapter_kit::MediaDir::new(
            self.config().media_dir(),
            self.config().media_max_bytes,
        );
        for item in std::mem::take(&mut received.media) {
            match media::fetch(self.api(), &item, &dir).await {
                Ok(attachment) => received.event.attachments.push(attachment),
                Err(media::Skipped(reason)) => {
                    debug!(reason, "an inbound file was not downloaded");
                    let note = inbound::skipped_media_note(item.kind, &reason);
                    inbound::append_line(&mut received.event, &note);
                }
            }
        }
        // A full session queue is core's to answer: a recorded message is
        // kept, and the chat is told when it cannot wait. Only what keeps
        // the update from being recorded is handled here.
        match ctx.inbound.submit_once(received.event, &received.key).await {
            Ok(Submitted::Accepted) => {
                debug!(key = %received.key, "message submitted");
                Handled::Done
            }
            Ok(Submitted::Duplicate) => {
                debug!(key = %received.key, "message seen before; dropped");
                Handled::Done
            }
            Err(CoreError::ShuttingDown) => Handled::Stop,
            Err(CoreError::Store(e)) => {
                warn!(error = %e, "cannot record an inbound message; it will come again");
                Handled::Retry(format!("cannot record inbound messages: {e}"))
            }
            Err(e) => {
                warn!(error = %e, "an inbound message was refused; skipping it");
                Handled::Done
            }
        }
    }
}

/// The update's id: a number, or a string holding one. `None` when it
/// cannot be read, so the update cannot be acknowledged by itself.
pub(crate) fn update_id(raw: &serde_json::Value) -> Option<i64> {
    match raw.get("update_id")? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
