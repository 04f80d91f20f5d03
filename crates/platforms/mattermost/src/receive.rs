//! Receiving: `users/me` for who the bot is, then the websocket, resumed
//! after a drop with `connection_id` and `sequence_number`; on every new
//! connection (`hello`: events may have been missed, and always at
//! start), the bot's channels with newer posts (`GET /users/me/channels`,
//! their `last_post_at`) are caught up over REST
//! (`GET /channels/{id}/posts?since=<ms>`).
//!
//! The websocket has no cursor that outlives the server's memory of the
//! connection, but posts do: the `create_at` of the last post handled in
//! each channel is saved ([`AdapterState`]) after the post was submitted
//! with `submit_once` under its id, so a restart catches up from there
//! and a post fetched twice is dropped as a duplicate. Posts the bot does
//! not answer (its own, unmentioned ones) move the cursor all the same.

use crate::adapter::MattermostAdapter;
use crate::api::MmError;
use crate::socket::{Incoming, OpenError, Resume, Session};
use crate::types::{Me, Posted, Verdict, decide, read_posted};
use hermod_adapter_kit::{AdapterState, ConnectionState, StateKey, truncate};
use hermod_core::{AdapterContext, AdapterError, CoreError, Submitted};
use std::collections::BTreeMap;
use tracing::{debug, info, warn};

/// The `create_at` of the last post handled, per channel id.
type Cursors = BTreeMap<String, i64>;

const CURSORS: StateKey<Cursors> = StateKey::new("cursors");

/// How long shutdown waits for the websocket's close to be answered.
const CLOSE_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// Longest frame problem logged, in characters.
const MAX_LOGGED: usize = 160;

/// Why a session ended.
enum Ended {
    /// Shutdown: stop receiving.
    Stop,
    /// Connect again after the backoff; `fresh` drops the resumption so
    /// the new connection catches up from the cursors.
    Retry { reason: String, fresh: bool },
}

impl Ended {
    fn retry(reason: impl Into<String>) -> Self {
        Ended::Retry {
            reason: reason.into(),
            fresh: false,
        }
    }
}

/// What receiving keeps between sessions.
struct Receiving {
    me: Me,
    state: AdapterState<Cursors>,
    cursors: Cursors,
}

impl MattermostAdapter {
    /// Receives until shutdown (`Ok`) or a refused token (`Auth`).
    pub(crate) async fn receive(&self, ctx: &AdapterContext) -> Result<(), AdapterError> {
        self.connection().set_state(ConnectionState::Connecting);
        let Some(me) = self.login(ctx).await? else {
            return Ok(());
        };
        let state = AdapterState::new(
            std::sync::Arc::clone(self.store()),
            &crate::PLATFORM,
            CURSORS.scoped(&me.id),
        );
        let cursors = state.load_or_warn().await.unwrap_or_default();
        info!(user = %me.username, channels = cursors.len(), "connecting to Mattermost");
        let mut receiving = Receiving { me, state, cursors };
        let mut resume: Option<Resume> = None;
        loop {
            let url = self.api().websocket_url(
                resume
                    .as_ref()
                    .map(|r| (r.connection_id.as_str(), r.next_seq)),
            );
            let opened = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ok(()),
                opened = Session::open(
                    &url,
                    self.api().token(),
                    resume.as_ref(),
                    self.config().request_timeout(),
                    self.config().ping_interval(),
                ) => opened,
            };
            let mut session = match opened {
                Ok(session) => session,
                Err(OpenError::Auth(reason)) => {
                    self.connection().set_state(ConnectionState::Failed);
                    return Err(MmError::Auth(reason).into());
                }
                Err(OpenError::Transient(reason)) => {
                    if !self.connection().retry(ctx, &reason, None).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            self.connection().connected(ctx);
            let ended = self.read(ctx, &mut session, &mut receiving).await;
            match ended {
                Ended::Stop => {
                    // A polite close, but `run` returns within a second
                    // of shutdown whatever the server does.
                    let _ = tokio::time::timeout(CLOSE_PATIENCE, session.close()).await;
                    return Ok(());
                }
                Ended::Retry { reason, fresh } => {
                    resume = if fresh { None } else { session.resume() };
                    if !self.connection().retry(ctx, &reason, None).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// `users/me` until it answers: `None` on shutdown.
    async fn login(&self, ctx: &AdapterContext) -> Result<Option<Me>, AdapterError> {
        loop {
            let answered = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ok(None),
                answered = self.api().me() => answered,
            };
            let (reason, wait) = match answered {
                Ok(me) => {
                    self.set_me(me.clone());
                    return Ok(Some(me));
                }
                Err(e @ MmError::Auth(_)) => {
                    self.connection().set_state(ConnectionState::Failed);
                    return Err(e.into());
                }
                Err(MmError::RateLimited(wait)) => {
                    ("Mattermost's rate limit reached".to_owned(), Some(wait))
                }
                Err(e) => (e.to_string(), None),
            };
            if !self.connection().retry(ctx, &reason, wait).await {
                return Ok(None);
            }
        }
    }

    /// Reads a session until it ends.
    async fn read(
        &self,
        ctx: &AdapterContext,
        session: &mut Session,
        receiving: &mut Receiving,
    ) -> Ended {
        loop {
            let incoming = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ended::Stop,
                incoming = session.next() => incoming,
            };
            let ended = match incoming {
                Incoming::Hello => {
                    debug!("a new Mattermost connection; catching up");
                    self.catch_up(ctx, receiving).await
                }
                Incoming::Event { event, data } if event == "posted" => match read_posted(&data) {
                    Ok(posted) => {
                        self.remember_channel(
                            &posted.post.channel_id,
                            &posted.channel_type,
                            posted.channel_name.as_deref(),
                        );
                        self.handle(ctx, posted, receiving).await
                    }
                    Err(problem) => {
                        warn!(problem = %truncate(&problem, MAX_LOGGED), "skipping a posted event that cannot be read");
                        None
                    }
                },
                Incoming::Event { event, .. } => {
                    debug!(event, "Mattermost event ignored");
                    None
                }
                Incoming::Malformed(problem) => {
                    warn!(problem = %truncate(&problem, MAX_LOGGED), "skipping a websocket frame that cannot be read");
                    None
                }
                Incoming::Ended(reason) => Some(Ended::retry(reason)),
            };
            if let Some(ended) = ended {
                return ended;
            }
        }
    }

    /// The channels to catch up and where from: every channel of the bot
    /// with a post after its cursor — a channel never seen before from
    /// the newest cursor, since while hermod was up every post in it
    /// would have given it one. Servers before 6.1 cannot list the
    /// channels: then the channels seen before, each from its cursor.
    async fn to_catch_up(&self, cursors: &Cursors) -> Result<Vec<(String, i64)>, MmError> {
        // A first start answers no history.
        let Some(newest) = cursors.values().max().copied() else {
            return Ok(Vec::new());
        };
        match self.api().my_channels().await {
            Ok(channels) => {
                self.remember_channels(&channels);
                Ok(channels
                    .iter()
                    .filter_map(|c| {
                        let since = cursors.get(&c.id).copied().unwrap_or(newest);
                        (c.last_post_at > since).then(|| (c.id.clone(), since))
                    })
                    .collect())
            }
            Err(MmError::NotFound(_)) => Ok(cursors.iter().map(|(c, t)| (c.clone(), *t)).collect()),
            Err(e) => Err(e),
        }
    }

    /// Fetches what each channel got since its cursor.
    async fn catch_up(&self, ctx: &AdapterContext, receiving: &mut Receiving) -> Option<Ended> {
        let listed = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => return Some(Ended::Stop),
            listed = self.to_catch_up(&receiving.cursors) => listed,
        };
        let channels = match listed {
            Ok(channels) => channels,
            Err(e) => {
                return Some(Ended::Retry {
                    reason: format!("cannot list the channels to catch up: {e}"),
                    fresh: true,
                });
            }
        };
        for (channel, since) in channels {
            let fetched = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Some(Ended::Stop),
                fetched = self.api().posts_since(&channel, since) => fetched,
            };
            let posts = match fetched {
                Ok(posts) => posts,
                Err(MmError::NotFound(_) | MmError::Rejected(_)) => {
                    // Left, or removed from, the channel: nothing to fetch.
                    debug!(channel, "cannot read the channel's posts; skipping it");
                    continue;
                }
                Err(e) => {
                    return Some(Ended::Retry {
                        reason: format!("cannot catch up: {e}"),
                        fresh: true,
                    });
                }
            };
            let info = match self.channel_info(&channel).await {
                Ok(info) => info,
                Err(e) => {
                    return Some(Ended::Retry {
                        reason: format!("cannot read a channel: {e}"),
                        fresh: true,
                    });
                }
            };
            // `since` selects posts changed after it; those created
            // before were handled (an edit or a deletion is no new post).
            for post in posts
                .into_iter()
                .filter(|p| p.create_at >= since && p.delete_at == 0)
            {
                let sender_name = self.username(&post.user_id).await;
                let posted = Posted {
                    post,
                    channel_type: info.kind.clone(),
                    sender_name,
                    channel_name: Some(info.display_name.clone()).filter(|n| !n.is_empty()),
                };
                if let Some(ended) = self.handle(ctx, posted, receiving).await {
                    return Some(ended);
                }
            }
        }
        None
    }

    /// Handles one post; `Some` when the session must end.
    async fn handle(
        &self,
        ctx: &AdapterContext,
        posted: Posted,
        receiving: &mut Receiving,
    ) -> Option<Ended> {
        let (id, channel, created) = (
            posted.post.id.clone(),
            posted.post.channel_id.clone(),
            posted.post.create_at,
        );
        match decide(&posted, &receiving.me, self.config()) {
            Verdict::Skip(reason) => debug!(post = id, reason, "Mattermost post not answered"),
            Verdict::Submit(mut event) => {
                // Nothing is fetched for a sender core will not answer.
                let files = posted.post.files();
                if !files.is_empty() && (event.vouched || ctx.inbound.admits(&event.source).await) {
                    event.attachments = self.download(files).await;
                } else if !files.is_empty() {
                    debug!(
                        post = id,
                        files = files.len(),
                        "the sender is not allowed; their files are not fetched"
                    );
                }
                let submitted = tokio::select! {
                    biased;
                    () = ctx.shutdown.cancelled() => return Some(Ended::Stop),
                    submitted = ctx.inbound.submit_once(*event, &id) => submitted,
                };
                match submitted {
                    Ok(Submitted::Accepted) => debug!(post = id, "post submitted"),
                    Ok(Submitted::Duplicate) => debug!(post = id, "post seen before; dropped"),
                    Err(CoreError::ShuttingDown) => return Some(Ended::Stop),
                    Err(CoreError::Store(e)) => {
                        // Not recorded, so the cursor stays: a new
                        // connection catches up from it.
                        return Some(Ended::Retry {
                            reason: format!("cannot record inbound messages: {e}"),
                            fresh: true,
                        });
                    }
                    Err(e) => warn!(error = %e, "an inbound message was refused; skipping it"),
                }
            }
        }
        let cursor = receiving.cursors.entry(channel).or_insert(0);
        if created > *cursor {
            *cursor = created;
            if let Err(e) = receiving.state.save(&receiving.cursors).await {
                // Recorded: a restart before the next save fetches it
                // again and the inbox drops it.
                warn!(error = %e, "cannot save the Mattermost cursors");
            }
        }
        None
    }
}
