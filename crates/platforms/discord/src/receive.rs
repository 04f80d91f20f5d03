//! The event handler: what the gateway hands on, in order — registering
//! the slash commands after the first READY, remembering which channels
//! are threads, and turning messages and slash commands into events
//! submitted once (downloading files only for senders core admits).

use crate::adapter::DiscordAdapter;
use crate::api::{Body, Request};
use crate::commands;
use crate::gateway::Event;
use crate::inbound::{self, Decision, Received, Rules};
use crate::types::{Channel, GuildCreate, Interaction, Message, RegisteredCommand};
use hermod_adapter_kit::{KitError, MediaDir, MediaFile, human_size, truncate};
use hermod_core::{AdapterContext, CoreError, Submitted};
use hermod_model::{ChatType, Content, InboundEvent, Source};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

/// Events waiting for the in-order handler (messages, READY, channels).
const ORDERED_QUEUE: usize = 256;

/// Longest problem description logged, in characters.
const MAX_PROBLEM: usize = 160;

/// Interaction callback types (Receiving and Responding).
const CHANNEL_MESSAGE: u8 = 4;
const DEFERRED_CHANNEL_MESSAGE: u8 = 5;
/// The EPHEMERAL message flag.
const EPHEMERAL: u64 = 1 << 6;

impl DiscordAdapter {
    /// Handles dispatches until the gateway stops. Interactions are
    /// answered beside everything else: Discord wants one answered within
    /// three seconds, and a message ahead of it may still be downloading
    /// its files. The rest is handled in order. Interaction tasks belong
    /// to this future: they end with it.
    pub(crate) async fn handle_events(
        &self,
        ctx: &AdapterContext,
        mut queue: mpsc::Receiver<Event>,
    ) {
        let (ordered, ordered_queue) = mpsc::channel(ORDERED_QUEUE);
        let in_order = self.handle_in_order(ctx, ordered_queue);
        tokio::pin!(in_order);
        let mut interactions = JoinSet::new();
        // An event taken from the queue while the in-order handler is full.
        let mut waiting: Option<Event> = None;
        loop {
            tokio::select! {
                () = &mut in_order => break,
                Some(ended) = interactions.join_next(), if !interactions.is_empty() => {
                    if let Err(e) = ended
                        && e.is_panic()
                    {
                        warn!("handling an interaction panicked");
                    }
                }
                permit = ordered.reserve(), if waiting.is_some() => match (permit, waiting.take()) {
                    (Ok(permit), Some(event)) => permit.send(event),
                    _ => break,
                },
                event = queue.recv(), if waiting.is_none() => match event {
                    Some(Event::Interaction(raw)) => {
                        let (adapter, ctx) = (self.clone(), ctx.clone());
                        interactions.spawn(async move { adapter.handle_interaction(raw, &ctx).await });
                    }
                    Some(event) => waiting = Some(event),
                    None => break,
                },
            }
        }
    }

    /// Handles everything but interactions, one event at a time.
    async fn handle_in_order(&self, ctx: &AdapterContext, mut queue: mpsc::Receiver<Event>) {
        while let Some(event) = queue.recv().await {
            match event {
                Event::Ready => {
                    if self.take_commands_sync() {
                        self.sync_commands().await;
                    }
                }
                Event::Message(raw) => self.handle_message(raw, ctx).await,
                Event::Interaction(raw) => self.handle_interaction(raw, ctx).await,
                Event::Guild(raw) => match serde_json::from_value::<GuildCreate>(raw) {
                    Ok(guild) => {
                        for channel in guild.channels.iter().chain(&guild.threads) {
                            self.learn_channel(channel);
                        }
                    }
                    Err(e) => skip_malformed("GUILD_CREATE", &e),
                },
                Event::Channel(raw) => match serde_json::from_value::<Channel>(raw) {
                    Ok(channel) => self.learn_channel(&channel),
                    Err(e) => skip_malformed("CHANNEL_CREATE", &e),
                },
            }
        }
    }

    fn learn_channel(&self, channel: &Channel) {
        if channel.is_thread()
            && let Some(parent) = &channel.parent_id
        {
            let (_, ours) = self.thread_of(&channel.id);
            self.remember_thread(&channel.id, parent, ours);
        }
    }

    /// Registers the slash commands unless Discord already has exactly
    /// them (a bulk overwrite on every start would spend the daily
    /// command-creation budget). Failures are logged: typed commands
    /// work without them.
    async fn sync_commands(&self) {
        let Some(me) = self.me() else { return };
        let wanted = commands::application_commands(&self.config().commands);
        if wanted.is_empty() {
            return;
        }
        let path = format!("/applications/{}/commands", me.application_id);
        let get = Request::new(Method::GET, &path, &path);
        let current: Result<Vec<RegisteredCommand>, _> = self.api().call(&get, Body::None).await;
        let same = current.as_ref().is_ok_and(|current| {
            current.len() == wanted.len()
                && current.iter().zip(&wanted).all(|(have, want)| {
                    have.name == want["name"].as_str().unwrap_or_default()
                        && have.description == want["description"].as_str().unwrap_or_default()
                })
        });
        if same {
            debug!("the slash commands are up to date");
            return;
        }
        let put = Request::new(Method::PUT, &path, &path);
        match self
            .api()
            .call_ok(&put, Body::Json(Value::Array(wanted)))
            .await
        {
            Ok(()) => info!("registered the slash commands"),
            Err(e) => warn!(error = %e, "cannot register the slash commands"),
        }
    }

    async fn handle_message(&self, raw: Value, ctx: &AdapterContext) {
        let message: Message = match serde_json::from_value(raw) {
            Ok(message) => message,
            Err(e) => return skip_malformed("MESSAGE_CREATE", &e),
        };
        let Some(me) = self.me() else {
            debug!("a message before READY; skipped");
            return;
        };
        let (parent, our_thread) = self.thread_of(&message.channel_id);
        let rules = Rules {
            bot_id: &me.bot_id,
            config: self.config(),
            parent: parent.as_deref(),
            our_thread,
        };
        match inbound::convert(&message, &rules) {
            Decision::Submit(received) => self.submit(*received, &message, ctx).await,
            Decision::Ignore(reason) => {
                debug!(channel = %message.channel_id, message = %message.id, reason, "message ignored");
            }
        }
    }

    async fn submit(&self, mut received: Received, message: &Message, ctx: &AdapterContext) {
        // Nothing is fetched or threaded for a sender core will not
        // answer; the event still goes to core, which pairs strangers and
        // dedupes. (The working reaction is core's: it marks the message
        // while a turn on it runs.)
        let admitted = received.event.vouched || ctx.inbound.admits(&received.event.source).await;
        if admitted {
            let dir = MediaDir::new(self.config().media_dir(), self.config().media_max_bytes);
            for attachment in std::mem::take(&mut received.media) {
                match self.download(&attachment, &dir).await {
                    Ok(file) => received.event.attachments.push(file),
                    Err(reason) => {
                        debug!(%reason, "an inbound file was not downloaded");
                        append_line(
                            &mut received.event,
                            &format!("[a file was attached but not downloaded: {reason}]"),
                        );
                    }
                }
            }
        } else if !received.media.is_empty() {
            debug!(key = %received.key, "the sender is not allowed; their files are not downloaded");
        }
        if admitted && received.threadable && self.config().auto_thread {
            let name = received.event.content.text().to_owned();
            match self
                .thread_from_message(&message.channel_id, &message.id, &name)
                .await
            {
                Ok(thread) => received.event.source.chat_id = Some(thread),
                Err(e) => debug!(error = %e, "cannot start a thread; answering in the channel"),
            }
        }
        let key = received.key.clone();
        match ctx.inbound.submit_once(received.event, &key).await {
            Ok(Submitted::Accepted) => debug!(%key, "message submitted"),
            Ok(Submitted::Duplicate) => debug!(%key, "message seen before; dropped"),
            Err(CoreError::ShuttingDown) => {}
            Err(e @ CoreError::QueueFull { .. }) => {
                let busy = hermod_model::Outbound {
                    target: hermod_model::ChatTarget {
                        chat_id: message.channel_id.clone(),
                        thread_id: None,
                    },
                    text: e.to_string(),
                    reply_to: Some(message.id.clone()),
                    attachments: Vec::new(),
                    idempotency_key: None,
                };
                if let Err(e) = hermod_core::Messenger::send(self, busy).await {
                    debug!(error = %e, "cannot tell a sender their conversation is busy");
                }
            }
            Err(e) => warn!(error = %e, %key, "an inbound message was not recorded; it is lost"),
        }
    }

    /// Downloads one attachment into `dir`; the reason when it was not.
    async fn download(
        &self,
        attachment: &crate::types::Attachment,
        dir: &MediaDir,
    ) -> Result<hermod_model::Attachment, String> {
        let too_large = || {
            format!(
                "it is larger than {} (DISCORD_MEDIA_MAX_BYTES)",
                human_size(dir.max_bytes())
            )
        };
        let file = MediaFile {
            kind: inbound::kind_of(attachment),
            id: attachment.id.clone(),
            file_name: Some(attachment.filename.clone()),
            extension: None,
            mime_type: attachment.content_type.clone(),
            size: attachment.size,
        };
        match dir
            .download(self.api().download(&attachment.url), &file)
            .await
        {
            Ok(file) => Ok(file),
            Err(KitError::TooLarge { .. }) => Err(too_large()),
            Err(e @ KitError::Mismatch { .. }) => Err(e.to_string()),
            Err(e) => {
                warn!(error = %e, "downloading an inbound file failed");
                Err("the download from Discord failed".into())
            }
        }
    }

    /// A slash command: deferred at once (Discord wants an answer within
    /// three seconds), then submitted as the typed command, answered
    /// through the interaction.
    async fn handle_interaction(&self, raw: Value, ctx: &AdapterContext) {
        let interaction: Interaction = match serde_json::from_value(raw) {
            Ok(interaction) => interaction,
            Err(e) => return skip_malformed("INTERACTION_CREATE", &e),
        };
        let Some(data) = interaction.data.as_ref().filter(|_| interaction.kind == 2) else {
            debug!(kind = interaction.kind, "interaction kind not handled");
            return;
        };
        let Some(channel) = interaction.channel_id.clone() else {
            debug!("an interaction without a channel; skipped");
            return;
        };
        let user = interaction
            .member
            .as_ref()
            .and_then(|m| m.user.clone())
            .or_else(|| interaction.user.clone());
        let Some(user) = user else {
            debug!("an interaction without a user; skipped");
            return;
        };
        let guild = interaction.guild_id.is_some();
        let source = Source {
            platform: crate::PLATFORM,
            chat_type: if guild { ChatType::Group } else { ChatType::Dm },
            chat_id: Some(channel.clone()),
            chat_name: None,
            user_id: Some(user.id.clone()),
            user_id_alt: None,
            user_name: Some(
                interaction
                    .member
                    .as_ref()
                    .and_then(|m| m.nick.clone())
                    .unwrap_or_else(|| user.display()),
            ),
            thread_id: None,
            is_bot: user.bot,
        };
        // Core drops guild messages from strangers without a word; a slash
        // command must be answered, so it is told here.
        if guild && !ctx.inbound.admits(&source).await {
            let refusal = json!({"type": CHANNEL_MESSAGE, "data": {
                "content": "You are not allowed to use this bot here.",
                "flags": EPHEMERAL,
            }});
            self.callback(&interaction, refusal).await;
            return;
        }
        self.remember_interaction(&interaction.id, &interaction.token);
        self.callback(&interaction, json!({"type": DEFERRED_CHANNEL_MESSAGE}))
            .await;
        let mut event =
            InboundEvent::text(source, commands::command_text(&data.name, &data.options));
        let key = format!("interaction:{}", interaction.id);
        event.message_id = Some(key.clone());
        match ctx.inbound.submit_once(event, &key).await {
            Ok(Submitted::Accepted) => debug!(%key, "slash command submitted"),
            Ok(Submitted::Duplicate) => debug!(%key, "slash command seen before; dropped"),
            Err(CoreError::ShuttingDown) => {}
            Err(e) => warn!(error = %e, %key, "a slash command was not recorded"),
        }
    }

    /// `POST /interactions/{id}/{token}/callback`; failures are logged
    /// (an interaction replayed on RESUME was acknowledged already).
    async fn callback(&self, interaction: &Interaction, body: Value) {
        let path = format!(
            "/interactions/{}/{}/callback",
            interaction.id, interaction.token
        );
        let route = format!("/interactions/{}/callback", interaction.id);
        let request = Request::webhook(Method::POST, path, route);
        if let Err(e) = self.api().call_ok(&request, Body::Json(body)).await {
            debug!(error = %e, "cannot answer an interaction");
        }
    }
}

fn skip_malformed(kind: &str, error: &serde_json::Error) {
    warn!(
        event = kind,
        problem = %truncate(&error.to_string(), MAX_PROBLEM),
        "skipping a malformed event"
    );
}

/// Appends a line to the event's text.
fn append_line(event: &mut InboundEvent, line: &str) {
    let text = event.content.text();
    let joined = if text.is_empty() {
        line.to_owned()
    } else {
        format!("{text}\n{line}")
    };
    event.content = Content::Text(joined);
}
