//! Receiving: `/sync` long polls on the kit's [`poll`] loop, the
//! `next_batch` token as the cursor.
//!
//! Each timeline event is submitted with `submit_once` under
//! `<room>:<event id>`; only after the whole batch was handed to the
//! gateway is its `next_batch` saved ([`AdapterState`]), so a restart
//! resumes after the last recorded batch and an event fetched again is
//! dropped as a duplicate. A fresh install's first sync (no saved token)
//! returns at once and its timeline is not answered: old history stays
//! unanswered. Invites from users the gateway admits are joined; others
//! are declined. An encrypted event gets its room one notice that the bot
//! cannot read it (no end-to-end encryption in this version).

use crate::adapter::MatrixAdapter;
use crate::api::MatrixError;
use crate::event::{self, Bot, Incoming, Read, Room};
use crate::sync::{FILTER, What, read_batch};
use async_trait::async_trait;
use hermod_adapter_kit::{
    AdapterState, ConnectionState, FetchError, Handled, PollSource, StateKey, poll, truncate,
};
use hermod_core::{AdapterContext, AdapterError, CoreError, Submitted};
use hermod_model::{ChatType, InboundEvent, Source};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

/// The `next_batch` of the last handled sync, per bot user.
const CURSOR: StateKey<String> = StateKey::new("next_batch");

/// What the bot says once in an encrypted room.
pub const ENCRYPTED_NOTICE: &str = "This room is end-to-end encrypted, and hermod cannot read \
    encrypted messages yet. Please talk to me in a room without encryption.";

/// One item of a sync batch, with the batch's token.
pub(crate) struct Item {
    next: String,
    what: Option<What>,
}

/// The sync loop's side of [`poll`].
struct Syncer<'a> {
    adapter: &'a MatrixAdapter,
    ctx: &'a AdapterContext,
    bot: Bot,
}

impl MatrixAdapter {
    /// Receives until shutdown (`Ok`) or refused credentials (`Auth`).
    pub(crate) async fn receive(&self, ctx: &AdapterContext) -> Result<(), AdapterError> {
        self.connection().set_state(ConnectionState::Connecting);
        let bot = loop {
            let ready = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ok(()),
                ready = self.ready() => ready,
            };
            match ready {
                Ok(bot) => break bot,
                Err(e @ MatrixError::Unauthorized { .. }) => {
                    self.connection().set_state(ConnectionState::Failed);
                    return Err(e.into());
                }
                Err(e) => {
                    let wait = match &e {
                        MatrixError::RateLimited(wait) => Some(*wait),
                        _ => None,
                    };
                    if !self
                        .connection()
                        .retry(ctx, &format!("cannot log in: {e}"), wait)
                        .await
                    {
                        return Ok(());
                    }
                }
            }
        };
        info!(user = bot.user_id, "receiving Matrix messages by /sync");
        let state = AdapterState::new(
            Arc::clone(self.store()),
            &crate::PLATFORM,
            CURSOR.scoped(&bot.user_id),
        );
        let syncer = Syncer {
            adapter: self,
            ctx,
            bot,
        };
        let result = poll(&syncer, &state, self.connection(), ctx).await;
        if result.is_err() {
            self.connection().set_state(ConnectionState::Failed);
        }
        result
    }
}

#[async_trait]
impl PollSource for Syncer<'_> {
    type Cursor = String;
    type Item = Item;
    const CURSOR_NAME: &'static str = "the sync token";
    const ID_NAME: &'static str = "next_batch";

    async fn fetch(&self, cursor: Option<&String>) -> Result<Vec<Item>, FetchError> {
        let a = self.adapter;
        // The first sync of a fresh install returns at once.
        let wait = if cursor.is_some() {
            a.config().sync_timeout()
        } else {
            Duration::ZERO
        };
        // Logs in again after a password session was logged out.
        match a.ready().await {
            Ok(_) => {}
            Err(e @ MatrixError::Unauthorized { .. }) => return Err(FetchError::Fatal(e.into())),
            Err(e) => {
                return Err(FetchError::Retry {
                    reason: format!("cannot log in: {e}"),
                    retry_after: None,
                });
            }
        }
        let answer = a.api().sync(cursor.map(String::as_str), FILTER, wait).await;
        let sync = match answer {
            Ok(sync) => sync,
            Err(MatrixError::Unauthorized { .. }) if a.forget_password_session().await => {
                return Err(FetchError::Retry {
                    reason: "the Matrix session was logged out; logging in again".into(),
                    retry_after: None,
                });
            }
            Err(e @ MatrixError::Unauthorized { .. }) => {
                return Err(FetchError::Fatal(e.into()));
            }
            Err(MatrixError::RateLimited(wait)) => {
                return Err(FetchError::Retry {
                    reason: "the homeserver's rate limit was reached".into(),
                    retry_after: Some(wait),
                });
            }
            Err(e) => {
                return Err(FetchError::Retry {
                    reason: e.to_string(),
                    retry_after: None,
                });
            }
        };
        let batch = read_batch(&sync, &self.bot.user_id, cursor.is_some()).map_err(|reason| {
            FetchError::Retry {
                reason,
                retry_after: None,
            }
        })?;
        if cursor.is_none() {
            info!("first sync: earlier messages are not answered");
        }
        {
            let mut rooms = a.rooms();
            if let Some(direct) = batch.direct {
                rooms.direct = direct;
            }
            for room in &batch.membership {
                rooms.members.remove(room);
            }
        }
        for room in &batch.encrypted {
            debug!(room, "the room is encrypted");
        }
        for room in &batch.gaps {
            // Also the case for a room just joined, with its history.
            info!(
                room,
                "a sync returned only a room's latest events (more came since the last sync, \
                 or the room was just joined); older messages there are not answered"
            );
        }
        let next = batch.next_batch;
        let mut items: Vec<Item> = batch
            .items
            .into_iter()
            .map(|what| Item {
                next: next.clone(),
                what: Some(what),
            })
            .collect();
        // Always one item, so the token moves on even when nothing came.
        items.push(Item { next, what: None });
        Ok(items)
    }

    fn cursor_after(&self, item: &Item) -> Option<String> {
        Some(item.next.clone())
    }

    async fn record(&self, item: Item) -> Handled {
        match item.what {
            None => Handled::Done,
            Some(What::Invite {
                room,
                inviter,
                direct,
            }) => self.invited(&room, inviter.as_deref(), direct).await,
            Some(What::Event { room, event }) => self.event(&room, &event).await,
        }
    }
}

impl Syncer<'_> {
    /// Whether `room` is a direct chat: in `m.direct`, or two members.
    async fn room(&self, room: &str) -> Result<Room, String> {
        let a = self.adapter;
        let known = {
            let rooms = a.rooms();
            if rooms.direct.contains(room) {
                return Ok(Room { is_dm: true });
            }
            rooms.members.get(room).copied()
        };
        let members = match known {
            Some(members) => members,
            None => {
                let members = match a.api().joined_member_count(room).await {
                    Ok(members) => members,
                    Err(e @ (MatrixError::Transient(_) | MatrixError::RateLimited(_))) => {
                        return Err(format!("cannot count the members of a room: {e}"));
                    }
                    // Left or kicked since: a group room, so nothing is
                    // answered there without a mention, and the sync goes on.
                    Err(e) => {
                        debug!(room, error = %e, "cannot count the members of a room; taken as a group room");
                        return Ok(Room { is_dm: false });
                    }
                };
                a.rooms().members.insert(room.to_owned(), members);
                members
            }
        };
        Ok(Room {
            is_dm: members <= 2,
        })
    }

    async fn event(&self, room_id: &str, event: &Value) -> Handled {
        let a = self.adapter;
        // Cheap checks first: most events are not messages for us.
        let kind = event["type"].as_str().unwrap_or_default();
        if kind == "m.room.member" {
            a.rooms().members.remove(room_id);
            return Handled::Done;
        }
        if event["sender"] == self.bot.user_id.as_str()
            || !matches!(kind, "m.room.message" | "m.room.encrypted")
        {
            debug!(kind, "Matrix event not answered");
            return Handled::Done;
        }
        let room = match self.room(room_id).await {
            Ok(room) => room,
            Err(reason) => return Handled::Retry(reason),
        };
        let read = event::read(
            &crate::PLATFORM,
            a.config(),
            &self.bot,
            room_id,
            room,
            event,
            |root| a.in_thread(root),
        );
        match read {
            Read::Message(incoming) => self.submit(*incoming).await,
            Read::Encrypted { sender, event_id } => {
                self.encrypted(room_id, room, &sender, &event_id).await;
                Handled::Done
            }
            Read::Membership => {
                a.rooms().members.remove(room_id);
                Handled::Done
            }
            Read::Skip(reason) => {
                debug!(reason, "Matrix event not answered");
                Handled::Done
            }
            Read::Malformed(problem) => {
                warn!(problem = %truncate(&problem, 160), "skipping a Matrix event that cannot be read");
                Handled::Done
            }
        }
    }

    async fn submit(&self, incoming: Incoming) -> Handled {
        let Incoming {
            source,
            event_id,
            text,
            media,
        } = incoming;
        let key = format!(
            "{}:{event_id}",
            source.chat_id.as_deref().unwrap_or_default()
        );
        if let Some(root) = &source.thread_id {
            self.adapter.join_thread(root);
        }
        let mut event = InboundEvent::text(source, text);
        event.message_id = Some(event_id);
        if let Some(media) = media
            && self.ctx.inbound.admits(&event.source).await
        {
            match self.adapter.download(&media).await {
                Ok(attachment) => event.attachments.push(attachment),
                Err(e) => {
                    warn!(error = %e, "a Matrix file could not be downloaded; the message goes without it");
                }
            }
        }
        let submitted = self.ctx.inbound.submit_once(event, &key).await;
        match submitted {
            Ok(Submitted::Accepted) => {
                debug!(key, "message submitted");
                Handled::Done
            }
            Ok(Submitted::Duplicate) => {
                debug!(key, "message seen before; dropped");
                Handled::Done
            }
            Err(CoreError::ShuttingDown) => Handled::Stop,
            // Not acknowledged: the sync is done again from the saved token.
            Err(CoreError::Store(e)) => {
                Handled::Retry(format!("cannot record inbound messages: {e}"))
            }
            Err(e) => {
                warn!(error = %e, "an inbound message was refused; skipping it");
                Handled::Done
            }
        }
    }

    /// Joins a room an admitted user invited the bot to; declines others.
    async fn invited(&self, room: &str, inviter: Option<&str>, direct: bool) -> Handled {
        let a = self.adapter;
        let source = Source {
            user_id: inviter.map(str::to_owned),
            ..Source::dm(crate::PLATFORM, room)
        };
        let admitted = inviter.is_some() && self.ctx.inbound.admits(&source).await;
        let result = if admitted {
            info!(room, inviter, "joining a room the bot was invited to");
            a.api().join(room).await
        } else {
            info!(
                room,
                inviter, "declining an invite from a user who is not allowed"
            );
            a.api().leave(room).await
        };
        match result {
            Ok(()) => {
                if admitted && direct {
                    a.rooms().direct.insert(room.to_owned());
                }
                Handled::Done
            }
            Err(e @ MatrixError::NotFound { .. }) | Err(e @ MatrixError::Rejected(_)) => {
                // Withdrawn, or a room we may not join: nothing to retry.
                warn!(room, error = %e, "cannot answer an invite; skipping it");
                Handled::Done
            }
            Err(e) => Handled::Retry(format!("cannot answer an invite: {e}")),
        }
    }

    /// Tells an encrypted room once that the bot cannot read it, if the
    /// sender is one the gateway admits (strangers get no answer).
    async fn encrypted(&self, room_id: &str, room: Room, sender: &str, event_id: &str) {
        let a = self.adapter;
        if a.rooms().told_encrypted.contains(room_id) {
            return;
        }
        let source = Source {
            chat_type: if room.is_dm {
                ChatType::Dm
            } else {
                ChatType::Group
            },
            user_id: Some(sender.to_owned()),
            ..Source::dm(crate::PLATFORM, room_id)
        };
        if !self.ctx.inbound.admits(&source).await {
            return;
        }
        warn!(
            room = room_id,
            sender, "an encrypted message cannot be read: end-to-end encryption is not supported"
        );
        a.rooms().told_encrypted.insert(room_id.to_owned());
        let mut content = crate::outbound::text_content(ENCRYPTED_NOTICE, "m.notice");
        crate::outbound::relate(&mut content, None, Some(event_id));
        let txn = crate::outbound::txn_id(&format!("e2ee-{event_id}"), 0);
        if let Err(e) = a.send_event(room_id, &txn, &content).await {
            warn!(error = %e, "cannot tell an encrypted room that its messages cannot be read");
        }
    }
}
