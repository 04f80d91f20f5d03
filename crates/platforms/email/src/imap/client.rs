//! [`Imap`]: the IMAP commands the adapter needs (RFC 9051 and 3501):
//! greeting, CAPABILITY, STARTTLS, AUTHENTICATE PLAIN or LOGIN, SELECT
//! (UIDVALIDITY, UIDNEXT), UID SEARCH, UID FETCH `BODY.PEEK[]`, UID STORE
//! `\Seen`, IDLE/DONE (RFC 2177), NOOP and LOGOUT.

use super::wire::{Read, Wire, quoted};
use crate::error::EmailError;
use base64::Engine;
use hermod_model::Secret;
use imap_proto::{AttributeValue, Capability, MailboxDatum, Response, ResponseCode, Status};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{debug, warn};

/// What SELECT says about the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Selected {
    pub uid_validity: u32,
    /// `None` when the server did not say (RFC 3501 made it optional).
    pub uid_next: Option<u32>,
}

/// How an IDLE ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woke {
    /// The server reported new (or changed) mail.
    Mail,
    /// The wait ran out: time to renew the IDLE (RFC 2177: within 29 min).
    Timeout,
    /// Shutdown.
    Stopped,
}

/// An IMAP session over a byte stream.
#[derive(Debug)]
pub(crate) struct Imap<S> {
    wire: Wire<S>,
    capabilities: Vec<String>,
    /// The server reported new mail (EXISTS or RECENT) in the answer to
    /// some command: it will not report it again, so an IDLE started now
    /// would wait for the next mail instead.
    news: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Imap<S> {
    /// Reads the server's greeting on a new connection.
    pub(crate) async fn greet(
        stream: S,
        timeout: Duration,
        max_literal: usize,
    ) -> Result<Self, EmailError> {
        let mut imap = Self {
            wire: Wire::new(stream, timeout, max_literal),
            capabilities: Vec::new(),
            news: false,
        };
        match imap.wire.read().await? {
            Read::Response(Response::Data {
                status: Status::Ok | Status::PreAuth,
                outcome,
            }) => {
                if let Some(ResponseCode::Capabilities(caps)) = outcome.code {
                    imap.capabilities = names(&caps);
                }
                Ok(imap)
            }
            Read::Response(Response::Data {
                status: Status::Bye,
                outcome,
            }) => Err(EmailError::Closed(format!(
                "the IMAP server refused the connection: {}",
                outcome.information.unwrap_or_default()
            ))),
            other => Err(EmailError::Protocol(format!(
                "expected the IMAP greeting, got {other:?}"
            ))),
        }
    }

    /// Asks for the capabilities (after STARTTLS and login they change).
    pub(crate) async fn capability(&mut self) -> Result<(), EmailError> {
        // `finish` keeps what the server announces.
        self.run("CAPABILITY").await.map(drop)
    }

    /// Whether the server announced `name` (case-insensitive).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
    }

    /// Whether the server reported new mail since the last call.
    pub(crate) fn take_news(&mut self) -> bool {
        std::mem::take(&mut self.news)
    }

    /// Sends STARTTLS and hands back the stream for the TLS handshake.
    pub(crate) async fn starttls(mut self) -> Result<S, EmailError> {
        if !self.has("STARTTLS") {
            return Err(EmailError::Tls(
                "the IMAP server offers no STARTTLS; set EMAIL_IMAP_SECURITY=tls \
                 (port 993) if it speaks TLS"
                    .into(),
            ));
        }
        self.run("STARTTLS").await?;
        Ok(self.wire.into_stream())
    }

    /// Wraps a stream after STARTTLS (the capabilities must be asked again).
    pub(crate) fn resume(stream: S, timeout: Duration, max_literal: usize) -> Self {
        Self {
            wire: Wire::new(stream, timeout, max_literal),
            capabilities: Vec::new(),
            news: false,
        }
    }

    /// Logs in: AUTHENTICATE PLAIN where offered, else LOGIN. A refusal
    /// is [`EmailError::Auth`].
    pub(crate) async fn login(&mut self, user: &str, password: &Secret) -> Result<(), EmailError> {
        if self.has("LOGINDISABLED") && !self.has("AUTH=PLAIN") {
            return Err(EmailError::Auth(
                "the IMAP server refuses logins on this connection; use TLS or STARTTLS".into(),
            ));
        }
        let result = if self.has("AUTH=PLAIN") {
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("\0{user}\0{}", password.expose()));
            let tag = self.wire.command("AUTHENTICATE PLAIN").await?;
            self.expect_continuation(&tag).await?;
            self.wire.write_line(&token).await?;
            self.finish(&tag).await
        } else {
            let (Some(user), Some(pass)) = (quoted(user), quoted(password.expose())) else {
                return Err(EmailError::Auth(
                    "the login name or password holds a line break".into(),
                ));
            };
            self.run(&format!("LOGIN {user} {pass}")).await
        };
        match result {
            Ok(_) => Ok(()),
            Err(EmailError::Refused(reason)) => Err(EmailError::Auth(format!(
                "the IMAP server refused the login: {reason}"
            ))),
            Err(e) => Err(e),
        }
    }

    /// Selects `mailbox`.
    pub(crate) async fn select(&mut self, mailbox: &str) -> Result<Selected, EmailError> {
        let name = quoted(mailbox)
            .ok_or_else(|| EmailError::Protocol("the mailbox name holds a line break".into()))?;
        let responses = self.run(&format!("SELECT {name}")).await?;
        let (mut uid_validity, mut uid_next) = (None, None);
        for response in responses {
            if let Response::Data { outcome, .. } = response {
                match outcome.code {
                    Some(ResponseCode::UidValidity(v)) => uid_validity = Some(v),
                    Some(ResponseCode::UidNext(n)) => uid_next = Some(n),
                    _ => {}
                }
            }
        }
        let uid_validity = uid_validity
            .ok_or_else(|| EmailError::Protocol(format!("SELECT {mailbox} gave no UIDVALIDITY")))?;
        Ok(Selected {
            uid_validity,
            uid_next,
        })
    }

    /// `UID SEARCH <criteria>`: the UIDs found, ascending.
    pub(crate) async fn search(&mut self, criteria: &str) -> Result<Vec<u32>, EmailError> {
        let responses = self.run(&format!("UID SEARCH {criteria}")).await?;
        let mut uids: Vec<u32> = responses
            .into_iter()
            .filter_map(|r| match r {
                Response::MailboxData(MailboxDatum::Search(uids)) => Some(uids),
                _ => None,
            })
            .flatten()
            .collect();
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// The size of message `uid` in bytes, or `None` when it is gone.
    pub(crate) async fn size(&mut self, uid: u32) -> Result<Option<u32>, EmailError> {
        let responses = self
            .run(&format!("UID FETCH {uid} (UID RFC822.SIZE)"))
            .await?;
        Ok(responses.into_iter().find_map(|response| match response {
            Response::Fetch(_, attrs) if attrs.contains(&AttributeValue::Uid(uid)) => {
                attrs.into_iter().find_map(|a| match a {
                    AttributeValue::Rfc822Size(size) => Some(size),
                    _ => None,
                })
            }
            _ => None,
        }))
    }

    /// The whole message `uid` (`BODY.PEEK[]`: not marked seen), or `None`
    /// when it is gone.
    pub(crate) async fn fetch(&mut self, uid: u32) -> Result<Option<Vec<u8>>, EmailError> {
        let responses = self
            .run(&format!("UID FETCH {uid} (UID BODY.PEEK[])"))
            .await?;
        for response in responses {
            if let Response::Fetch(_, attrs) = response {
                let is_it = attrs.contains(&AttributeValue::Uid(uid));
                let body = attrs.into_iter().find_map(|a| match a {
                    AttributeValue::BodySection {
                        section: None,
                        data: Some(data),
                        ..
                    } => Some(data.into_owned()),
                    _ => None,
                });
                if let (true, Some(body)) = (is_it, body) {
                    return Ok(Some(body));
                }
            }
        }
        Ok(None)
    }

    /// Marks `uid` seen, as a mail client would after reading it.
    pub(crate) async fn mark_seen(&mut self, uid: u32) -> Result<(), EmailError> {
        self.run(&format!("UID STORE {uid} +FLAGS.SILENT (\\Seen)"))
            .await
            .map(drop)
    }

    /// Lets the server report what changed (polling without IDLE).
    pub(crate) async fn noop(&mut self) -> Result<(), EmailError> {
        self.run("NOOP").await.map(drop)
    }

    /// IDLE until the server reports mail, `wait` passes, or `stop`
    /// resolves; then DONE.
    pub(crate) async fn idle(
        &mut self,
        wait: Duration,
        stop: impl Future<Output = ()>,
    ) -> Result<Woke, EmailError> {
        let tag = self.wire.command("IDLE").await?;
        self.expect_continuation(&tag).await?;
        let deadline = tokio::time::Instant::now() + wait;
        // Servers say "still here" every few minutes during IDLE (Dovecot:
        // 2 min); this long without a word, the IDLE is renewed, and a
        // dead connection shows in DONE going unanswered.
        let silence = Duration::from_secs(5 * 60);
        tokio::pin!(stop);
        let woke = loop {
            let left = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .min(silence);
            let read = tokio::select! {
                biased;
                // No DONE: the connection is dropped, and a server slow to
                // answer cannot hold up shutdown.
                () = &mut stop => return Ok(Woke::Stopped),
                read = self.wire.read_within(left) => read,
            };
            match read {
                Ok(Read::Response(Response::MailboxData(
                    MailboxDatum::Exists(_) | MailboxDatum::Recent(_),
                ))) => break Woke::Mail,
                Ok(Read::Response(Response::Data {
                    status: Status::Bye,
                    outcome,
                })) => {
                    return Err(EmailError::Closed(format!(
                        "the IMAP server ended the session: {}",
                        outcome.information.unwrap_or_default()
                    )));
                }
                Ok(other) => debug!(?other, "IMAP update during IDLE"),
                Err(EmailError::Timeout(_)) => break Woke::Timeout,
                Err(e) => return Err(e),
            }
        };
        self.wire.write_line("DONE").await?;
        self.finish(&tag).await?;
        Ok(woke)
    }

    /// Says goodbye, waiting at most half a second (shutdown must be
    /// quick); errors are of no interest any more.
    pub(crate) async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_millis(500), self.run("LOGOUT")).await;
    }

    /// Sends `command` and collects the untagged responses until its
    /// tagged completion; NO and BAD are [`EmailError::Refused`].
    async fn run(&mut self, command: &str) -> Result<Vec<Response<'static>>, EmailError> {
        let tag = self.wire.command(command).await?;
        self.finish(&tag).await
    }

    async fn finish(&mut self, tag: &str) -> Result<Vec<Response<'static>>, EmailError> {
        let mut responses = Vec::new();
        loop {
            match self.wire.read().await? {
                Read::Response(Response::Done {
                    tag: done,
                    status,
                    outcome,
                }) if done.0 == tag => {
                    return match status {
                        Status::Ok => {
                            if let Some(ResponseCode::Capabilities(caps)) = &outcome.code {
                                self.capabilities = names(caps);
                            }
                            Ok(responses)
                        }
                        _ => Err(EmailError::Refused(
                            outcome
                                .information
                                .map_or_else(|| format!("{status:?}"), |i| i.into_owned()),
                        )),
                    };
                }
                Read::Response(Response::Data {
                    status: Status::Bye,
                    outcome,
                }) => {
                    return Err(EmailError::Closed(format!(
                        "the IMAP server ended the session: {}",
                        outcome.information.unwrap_or_default()
                    )));
                }
                Read::Response(Response::Capabilities(caps)) => self.capabilities = names(&caps),
                Read::Response(
                    response @ Response::MailboxData(
                        MailboxDatum::Exists(_) | MailboxDatum::Recent(_),
                    ),
                ) => {
                    self.news = true;
                    responses.push(response);
                }
                Read::Response(response) => responses.push(response),
                Read::Unparsed(line) => {
                    warn!(line = %hermod_adapter_kit::truncate(&line, 160), "skipping an IMAP response that cannot be read");
                }
            }
        }
    }

    /// Waits for the `+` continuation of `tag`'s command.
    async fn expect_continuation(&mut self, tag: &str) -> Result<(), EmailError> {
        loop {
            match self.wire.read().await? {
                Read::Response(Response::Continue(_)) => return Ok(()),
                Read::Response(Response::Done {
                    tag: done, outcome, ..
                }) if done.0 == tag => {
                    return Err(EmailError::Refused(
                        outcome.information.unwrap_or_default().into_owned(),
                    ));
                }
                other => debug!(?other, "IMAP response before a continuation"),
            }
        }
    }
}

fn names(caps: &[Capability<'_>]) -> Vec<String> {
    caps.iter()
        .map(|c| match c {
            Capability::Imap4rev1 => "IMAP4rev1".to_owned(),
            Capability::Auth(m) => format!("AUTH={m}"),
            Capability::Atom(a) => a.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
