//! Receiving: the mailbox read over IMAP, new mail found by UID, each
//! mail answered once.
//!
//! The cursor is the mailbox's UIDVALIDITY and the last UID handled
//! ([`AdapterState`]), saved after each mail was submitted with
//! `submit_once` (keyed by its Message-ID), so a restart resumes after it
//! and a mail fetched again is dropped by the inbox. On the very first
//! start the unread mail is answered (as Hermes does); when UIDVALIDITY
//! changes (the mailbox was rebuilt) the old UIDs mean nothing, so the
//! adapter skips to UIDNEXT and logs it rather than answer the whole
//! mailbox again. Handled mail is marked `\Seen`.
//!
//! Between checks the adapter waits in IDLE (RFC 2177, renewed every 29
//! minutes) where the server offers it, else polls every
//! `EMAIL_POLL_INTERVAL` with NOOP. A dropped connection is opened again
//! after the kit's backoff; a refused login stops the adapter.

use crate::adapter::EmailAdapter;
use crate::error::EmailError;
use crate::imap::{Imap, Woke};
use crate::mail::inbound::{self, Incoming, Reading, Skip};
use crate::mail::outbound::ThreadContext;
use hermod_adapter_kit::tls::Stream;
use hermod_adapter_kit::{AdapterState, ConnectionState, StateKey};
use hermod_core::{AdapterContext, AdapterError, CoreError, Submitted};
use hermod_model::{InboundEvent, Source};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tracing::{debug, info, warn};

/// RFC 2177: clients re-issue IDLE at least every 29 minutes.
pub(crate) const IDLE_RENEW: Duration = Duration::from_secs(29 * 60);

/// Where reading stopped, per address and mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    pub uid_validity: u32,
    pub last_uid: u32,
}

const CURSOR: StateKey<Cursor> = StateKey::new("imap");

/// How a session ended without an error.
enum Ended {
    Stop,
}

impl EmailAdapter {
    pub(crate) fn cursor_state(&self) -> AdapterState<Cursor> {
        let scope = format!("{}/{}", self.config().address(), self.config().mailbox);
        AdapterState::new(
            std::sync::Arc::clone(self.store()),
            &crate::PLATFORM,
            CURSOR.scoped(scope),
        )
    }

    /// Receives until shutdown (`Ok`) or a refused login (`Auth`).
    pub(crate) async fn receive(&self, ctx: &AdapterContext) -> Result<(), AdapterError> {
        let state = self.cursor_state();
        let mut cursor = state.load_or_warn().await;
        self.connection().set_state(ConnectionState::Connecting);
        info!(
            mailbox = %self.config().mailbox,
            host = self.config().imap_host(),
            ?cursor,
            "reading mail"
        );
        loop {
            let error = match self.session(ctx, &state, &mut cursor).await {
                Ok(Ended::Stop) => return Ok(()),
                Err(e) => e,
            };
            match error {
                EmailError::Auth(_) | EmailError::Tls(_) => {
                    self.connection().set_state(ConnectionState::Failed);
                    return Err(self.masked(error));
                }
                other => {
                    if !self.connection().retry(ctx, &other.to_string(), None).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// One IMAP session: log in, catch up, wait for mail, repeat.
    async fn session(
        &self,
        ctx: &AdapterContext,
        state: &AdapterState<Cursor>,
        cursor: &mut Option<Cursor>,
    ) -> Result<Ended, EmailError> {
        let max = usize::try_from(self.max_mail_bytes()).unwrap_or(usize::MAX);
        let mut imap = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => return Ok(Ended::Stop),
            imap = crate::net::imap(self.config(), self.tls(), max) => imap?,
        };
        let selected = imap.select(&self.config().mailbox).await?;
        let uid_next = match selected.uid_next {
            Some(next) => next,
            // Rare: the server did not say. The highest UID there is.
            None => imap.search("ALL").await?.last().map_or(1, |uid| uid + 1),
        };
        self.connection().connected(ctx);
        let mut last = match *cursor {
            Some(c) if c.uid_validity == selected.uid_validity => c.last_uid,
            Some(c) => {
                warn!(
                    old = c.uid_validity,
                    new = selected.uid_validity,
                    "the mailbox's UIDVALIDITY changed; mail already in it is not answered again"
                );
                uid_next.saturating_sub(1)
            }
            None => {
                let unseen = imap.search("UNSEEN").await?;
                info!(
                    unread = unseen.len(),
                    "first start: answering the unread mail"
                );
                for uid in unseen {
                    if let Some(ended) = self
                        .handle(ctx, &mut imap, selected.uid_validity, uid)
                        .await?
                    {
                        return Ok(ended);
                    }
                }
                uid_next.saturating_sub(1)
            }
        };
        self.save(state, cursor, selected.uid_validity, last).await;
        let idle = self.config().idle && imap.has("IDLE");
        loop {
            let found = imap
                .search(&format!("UID {}:*", last.saturating_add(1)))
                .await?;
            let after = last;
            for uid in found.into_iter().filter(|uid| *uid > after) {
                if let Some(ended) = self
                    .handle(ctx, &mut imap, selected.uid_validity, uid)
                    .await?
                {
                    return Ok(ended);
                }
                last = uid;
                self.save(state, cursor, selected.uid_validity, last).await;
            }
            if imap.take_news() {
                // Mail came while we searched or fetched: look again
                // before waiting.
                continue;
            }
            if idle {
                if imap.idle(IDLE_RENEW, ctx.shutdown.cancelled()).await? == Woke::Stopped {
                    // Mid-IDLE: the connection is simply dropped.
                    return Ok(Ended::Stop);
                }
            } else {
                tokio::select! {
                    biased;
                    () = ctx.shutdown.cancelled() => {
                        imap.logout().await;
                        return Ok(Ended::Stop);
                    }
                    () = tokio::time::sleep(self.config().poll_interval()) => {}
                }
                imap.noop().await?;
            }
        }
    }

    async fn save(
        &self,
        state: &AdapterState<Cursor>,
        cursor: &mut Option<Cursor>,
        uid_validity: u32,
        last_uid: u32,
    ) {
        let new = Cursor {
            uid_validity,
            last_uid,
        };
        if *cursor == Some(new) {
            return;
        }
        if let Err(e) = state.save(&new).await {
            // Recorded in the inbox: a restart before the next save fetches
            // it again and the inbox drops it.
            warn!(error = %e, "cannot save the IMAP cursor");
        }
        *cursor = Some(new);
    }

    /// Fetches, reads and submits mail `uid`; `Some` when receiving must
    /// stop. A mail that cannot be recorded is an error, so the session
    /// starts over from the cursor and fetches it again.
    async fn handle(
        &self,
        ctx: &AdapterContext,
        imap: &mut Imap<Stream>,
        uid_validity: u32,
        uid: u32,
    ) -> Result<Option<Ended>, EmailError> {
        // A mail over the limit would fail every fetch, and the mailbox
        // would stop at it: it is skipped instead.
        match imap.size(uid).await? {
            None => {
                debug!(uid, "mail gone before it was fetched");
                return Ok(None);
            }
            Some(size) if u64::from(size) > self.max_mail_bytes() => {
                warn!(
                    uid,
                    size,
                    limit = self.max_mail_bytes(),
                    "skipping a mail larger than EMAIL_MEDIA_MAX_MB allows"
                );
                return Ok(None);
            }
            Some(_) => {}
        }
        let Some(raw) = imap.fetch(uid).await? else {
            debug!(uid, "mail gone before it was fetched");
            return Ok(None);
        };
        let reading = Reading {
            own: self.config().address(),
            skip_attachments: self.config().skip_attachments,
            authserv_id: self.config().authserv_id.clone(),
        };
        let incoming = match inbound::read(&raw, &reading) {
            Ok(incoming) => incoming,
            Err(Skip::Malformed(reason)) => {
                warn!(uid, reason, "skipping a mail that cannot be read");
                return Ok(None);
            }
            Err(Skip::Own) => {
                debug!(uid, "our own mail");
                return Ok(None);
            }
            Err(Skip::Automated(reason)) => {
                info!(uid, reason, "not answering automatic mail");
                return Ok(None);
            }
        };
        let key = incoming
            .message_id
            .clone()
            .unwrap_or_else(|| format!("uid:{uid_validity}:{uid}"));
        let source = source(&incoming);
        if !ctx.inbound.admits(&source).await {
            // Hermes ignores mail from senders not allowed; a pairing code
            // mailed back to anyone who writes would be spam.
            info!(uid, from = %incoming.from, "mail from a sender not allowed; ignored");
            let _ = imap.mark_seen(uid).await;
            return Ok(None);
        }
        if !incoming.sender.authenticated && !self.trusts_any_sender(ctx).await {
            warn!(
                uid,
                from = %incoming.from,
                reason = %incoming.sender.reason,
                "mail whose sender the server did not authenticate; ignored. If your mail \
                 server does not stamp Authentication-Results, set EMAIL_TRUST_FROM_HEADER=true \
                 to accept the risk"
            );
            let _ = imap.mark_seen(uid).await;
            return Ok(None);
        }
        if let Some(root) = &incoming.thread {
            let context = ThreadContext {
                subject: incoming.subject.clone(),
                references: incoming.references.clone(),
                last: incoming.message_id.clone(),
            };
            if let Err(e) = self.thread_state(root).save(&context).await {
                warn!(error = %e, "cannot save the thread of a mail; its reply may not thread");
            }
        }
        let attachments = self.save_parts(&incoming, &key).await;
        let event = InboundEvent {
            message_id: incoming.message_id.clone(),
            attachments,
            ..InboundEvent::text(source, incoming.text.clone())
        };
        let submitted = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => return Ok(Some(Ended::Stop)),
            submitted = ctx.inbound.submit_once(event, &key) => submitted,
        };
        match submitted {
            Ok(Submitted::Accepted) => debug!(key, "mail submitted"),
            Ok(Submitted::Duplicate) => debug!(key, "mail seen before; dropped"),
            Err(CoreError::ShuttingDown) => return Ok(Some(Ended::Stop)),
            Err(CoreError::Store(e)) => {
                return Err(EmailError::Io(format!("cannot record inbound mail: {e}")));
            }
            Err(e) => warn!(error = %e, "an inbound mail was refused; skipping it"),
        }
        if let Err(e) = imap.mark_seen(uid).await {
            debug!(uid, error = %e, "cannot mark a mail seen");
        }
        Ok(None)
    }
}

impl EmailAdapter {
    /// The largest mail fetched: room for one attachment at the media
    /// limit, base64-encoded (4/3), with its text; at least 1 MiB.
    fn max_mail_bytes(&self) -> u64 {
        (self.media().max_bytes() / 3 * 4 + (1 << 20)).max(1 << 20)
    }

    /// Whether the `From:` address grants nothing, so a forged one does
    /// no harm: the check is off, or anyone may write (an address nobody
    /// can have is admitted).
    async fn trusts_any_sender(&self, ctx: &AdapterContext) -> bool {
        if !self.config().require_authenticated_sender {
            return true;
        }
        let nobody = "unauthenticated-sender@invalid";
        let mut source = Source::dm(crate::PLATFORM, nobody);
        source.user_id = Some(nobody.to_owned());
        ctx.inbound.admits(&source).await
    }
}

/// The sender's DM, in the thread of the conversation's first message.
fn source(incoming: &Incoming) -> Source {
    let mut source = Source::dm(crate::PLATFORM, incoming.from.clone());
    source.user_id = Some(incoming.from.clone());
    source.user_name = incoming.from_name.clone();
    source.chat_name = incoming.from_name.clone();
    source.thread_id = incoming.thread.clone();
    source
}
