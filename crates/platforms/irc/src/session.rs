//! Receiving: one connection at a time, registered, joined to the
//! channels, read line by line until it ends; then another after the
//! kit's backoff, until shutdown or a refusal of our credentials.
//!
//! PINGs are answered at once, during registration too. A connection
//! quiet for `IRC_PING_TIMEOUT` gets a PING of ours; quiet as long again
//! and it is taken for dead. Every timer is on tokio's clock.
//!
//! IRC keeps no history and has no cursor: a message reaches us once,
//! while we are connected, and never again. Each is recorded with
//! `submit_once` under the server's `msgid` tag or an id made here, so
//! it is handled exactly once; what is said while we are away is not
//! seen at all.

use crate::adapter::IrcAdapter;
use crate::inbound::{Me, Received};
use crate::proto::{Line, Message};
use crate::register::{Registration, Step};
use crate::text::CaseMapping;
use crate::transport::{LineReader, Read};
use hermod_adapter_kit::{ConnectionState, truncate};
use hermod_core::{AdapterContext, AdapterError, CoreError, Submitted};
use tokio::io::ReadHalf;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Longest line logged when it cannot be read, in characters.
const MAX_LOGGED: usize = 160;

/// How a connection ended.
#[derive(Debug)]
enum Ended {
    /// Shutdown: stop.
    Stop,
    /// Connect again after the backoff.
    Retry(String),
    /// Our credentials or settings were refused: stop with this error.
    Refused(AdapterError),
}

/// Where the connection is.
enum Phase {
    Registering(Box<Registration>),
    Registered,
}

impl IrcAdapter {
    /// Receives until shutdown (`Ok`) or a refusal (`Auth`).
    pub(crate) async fn receive(&self, ctx: &AdapterContext) -> Result<(), AdapterError> {
        self.connection().set_state(ConnectionState::Connecting);
        info!(
            server = self.config().server(),
            port = self.config().port(),
            tls = self.config().use_tls,
            nick = %self.config().nickname,
            "connecting to the IRC server"
        );
        loop {
            let ended = self.connect_once(ctx).await;
            self.detach().await;
            match ended {
                Ended::Stop => return Ok(()),
                Ended::Refused(e) => {
                    self.connection().set_state(ConnectionState::Failed);
                    let reason = self.connection().degraded(ctx, &e.to_string());
                    tracing::error!(%reason, "the IRC server refused us; fix the setting and restart");
                    return Err(e);
                }
                Ended::Retry(reason) => {
                    if !self.connection().retry(ctx, &reason, None).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// One connection, from connecting to its end.
    async fn connect_once(&self, ctx: &AdapterContext) -> Ended {
        let connected = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => return Ended::Stop,
            connected = self.open() => connected,
        };
        let stream = match connected {
            Ok(stream) => stream,
            Err(reason) => return Ended::Retry(reason),
        };
        let (mut reader, writer) = tokio::io::split(stream);
        self.attach(writer).await;
        let registration = Registration::new(self.config());
        let start = match registration.start() {
            Ok(lines) => lines,
            Err(e) => return Ended::Refused(AdapterError::Startup(e.to_string())),
        };
        for line in &start {
            if let Err(ended) = self.put(ctx, line, true).await {
                return ended;
            }
        }
        let ended = self
            .read_loop(ctx, &mut reader, Phase::Registering(Box::new(registration)))
            .await;
        if matches!(ended, Ended::Stop) {
            self.quit().await;
        }
        ended
    }

    /// Says goodbye, briefly: shutdown must not wait on the server.
    async fn quit(&self) {
        if let Ok(line) = Line::new("QUIT", &[], Some("hermod shutting down")) {
            let _ =
                tokio::time::timeout(std::time::Duration::from_millis(300), self.write_now(&line))
                    .await;
        }
    }

    async fn read_loop(
        &self,
        ctx: &AdapterContext,
        reader: &mut ReadHalf<crate::transport::BoxIo>,
        mut phase: Phase,
    ) -> Ended {
        let timeout = self.config().ping_timeout();
        let registration_deadline = Instant::now() + self.config().connect_timeout();
        let mut lines = LineReader::default();
        let mut heard = Instant::now();
        let mut pinged: Option<Instant> = None;
        loop {
            let deadline = match (&phase, pinged) {
                (Phase::Registering(_), _) => registration_deadline,
                (Phase::Registered, Some(at)) => at + timeout,
                (Phase::Registered, None) => heard + timeout,
            };
            let read = tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return Ended::Stop,
                () = tokio::time::sleep_until(deadline) => None,
                read = lines.next(reader) => Some(read),
            };
            let line = match read {
                None => match (&phase, pinged) {
                    (Phase::Registering(_), _) => {
                        return Ended::Retry(format!(
                            "the server did not welcome us within {} s",
                            self.config().connect_timeout_secs
                        ));
                    }
                    (Phase::Registered, Some(_)) => {
                        return Ended::Retry(format!(
                            "no answer from the server for {} s; reconnecting",
                            2 * timeout.as_secs()
                        ));
                    }
                    (Phase::Registered, None) => {
                        pinged = Some(Instant::now());
                        if let Ok(ping) = Line::new("PING", &["hermod"], None)
                            && let Err(ended) = self.put(ctx, &ping, false).await
                        {
                            return ended;
                        }
                        continue;
                    }
                },
                Some(Err(e)) => {
                    return Ended::Retry(format!("reading from the server failed: {e}"));
                }
                Some(Ok(Read::Closed)) => {
                    return Ended::Retry("the server closed the connection".into());
                }
                Some(Ok(Read::TooLong)) => {
                    warn!("skipping an overlong line from the IRC server");
                    continue;
                }
                Some(Ok(Read::Line(line))) => line,
            };
            heard = Instant::now();
            pinged = None;
            let msg = match Message::parse(&line) {
                Ok(msg) => msg,
                Err(e) => {
                    if !line.is_empty() {
                        warn!(
                            problem = %e,
                            line = %truncate(&self.connection().redact(&line), MAX_LOGGED),
                            "skipping a line from the IRC server that cannot be read"
                        );
                    }
                    continue;
                }
            };
            if msg.command == "PING" {
                let pong = Line::new(
                    "PONG",
                    &[],
                    Some(msg.params.last().map_or("", String::as_str)),
                );
                if let Ok(pong) = pong
                    && let Err(ended) = self.put(ctx, &pong, false).await
                {
                    return ended;
                }
                continue;
            }
            let next = match &mut phase {
                Phase::Registering(registration) => self.registering(ctx, registration, &msg).await,
                Phase::Registered => self.registered(ctx, &msg).await,
            };
            match next {
                Ok(Some(new_phase)) => phase = new_phase,
                Ok(None) => {}
                Err(ended) => return ended,
            }
        }
    }

    /// A message before `001`; `Some(Registered)` once welcomed.
    async fn registering(
        &self,
        ctx: &AdapterContext,
        registration: &mut Registration,
        msg: &Message,
    ) -> Result<Option<Phase>, Ended> {
        match registration.on(msg) {
            Step::Send(lines) => {
                for line in &lines {
                    self.put(ctx, line, true).await?;
                }
                Ok(None)
            }
            Step::Retry(reason) => Err(Ended::Retry(reason)),
            Step::Refused(reason) => Err(Ended::Refused(AdapterError::Auth(reason))),
            Step::Welcome { nick } => {
                {
                    let mut live = self.live();
                    live.registered = true;
                    live.nick = nick.clone();
                }
                self.connection().connected(ctx);
                info!(%nick, "registered on the IRC server");
                if !registration.logged_in()
                    && let Some(password) = &self.config().nickserv_password
                    && !password.is_empty()
                {
                    let identify = format!("IDENTIFY {}", password.expose());
                    if let Ok(line) = Line::new("PRIVMSG", &["NickServ"], Some(&identify)) {
                        self.put(ctx, &line, true).await?;
                    }
                }
                for line in join_lines(&self.config().channels()) {
                    self.put(ctx, &line, true).await?;
                }
                Ok(Some(Phase::Registered))
            }
        }
    }

    /// A message once registered.
    async fn registered(
        &self,
        ctx: &AdapterContext,
        msg: &Message,
    ) -> Result<Option<Phase>, Ended> {
        let ours = |live: &crate::adapter::Live| {
            msg.nick().is_some_and(|n| live.mapping.eq(n, &live.nick))
        };
        match msg.command.as_str() {
            "PRIVMSG" => self.privmsg(ctx, msg).await?,
            // RPL_ISUPPORT
            "005" => {
                for token in msg.params.iter().skip(1) {
                    if let Some(value) = token.strip_prefix("CASEMAPPING=") {
                        self.live().mapping = CaseMapping::parse(value);
                    }
                }
            }
            "JOIN" => {
                let mut live = self.live();
                if ours(&live) {
                    let channel = msg.param(0).to_owned();
                    info!(%channel, "joined");
                    if let Some(prefix) = &msg.prefix
                        && let (Some(user), Some(host)) = (&prefix.user, &prefix.host)
                    {
                        live.user_host = Some(user.len() + 1 + host.len());
                    }
                    let folded = live.mapping.fold(&channel);
                    live.joined.insert(folded, channel);
                }
            }
            "PART" => {
                let mut live = self.live();
                if ours(&live) {
                    let folded = live.mapping.fold(msg.param(0));
                    live.joined.remove(&folded);
                }
            }
            "KICK" => {
                let mut live = self.live();
                if live.mapping.eq(msg.param(1), &live.nick) {
                    let folded = live.mapping.fold(msg.param(0));
                    live.joined.remove(&folded);
                    warn!(
                        channel = msg.param(0),
                        reason = msg.param(2),
                        "kicked from the channel"
                    );
                }
            }
            "NICK" => {
                let reclaim = {
                    let mut live = self.live();
                    if ours(&live) {
                        live.nick = msg.param(0).to_owned();
                        info!(nick = msg.param(0), "our nick changed");
                        false
                    } else {
                        self.frees_our_nick(&live, msg)
                    }
                };
                if reclaim {
                    self.reclaim(ctx).await?;
                }
            }
            "QUIT" => {
                let reclaim = self.frees_our_nick(&self.live(), msg);
                if reclaim {
                    self.reclaim(ctx).await?;
                }
            }
            "ERROR" => {
                return Err(Ended::Retry(format!(
                    "the server closed the link: {}",
                    msg.param(0)
                )));
            }
            "464" | "465" => {
                return Err(Ended::Refused(AdapterError::Auth(format!(
                    "the server refused us ({}): {}",
                    msg.command,
                    msg.params.last().map_or("", String::as_str)
                ))));
            }
            // Cannot join: no such channel, full, invite only, banned, bad key, registered only.
            "403" | "405" | "471" | "473" | "474" | "475" | "477" => {
                warn!(
                    channel = msg.param(1),
                    code = %msg.command,
                    reason = msg.params.last().map_or("", String::as_str),
                    "cannot join the channel; check IRC_CHANNEL"
                );
            }
            // ERR_NOSUCHNICK: a reply to someone who left.
            "401" => {
                warn!(
                    nick = msg.param(1),
                    "a reply went to a nick that is not on the server"
                );
            }
            _ => debug!(command = %msg.command, "IRC message ignored"),
        }
        Ok(None)
    }

    /// Whether `msg` (a QUIT or NICK) is whoever held our configured nick
    /// letting it go while we go by a variant of it.
    fn frees_our_nick(&self, live: &crate::adapter::Live, msg: &Message) -> bool {
        let wanted = &self.config().nickname;
        !live.mapping.eq(&live.nick, wanted)
            && msg.nick().is_some_and(|n| live.mapping.eq(n, wanted))
    }

    /// Asks for our configured nick back (the server answers with our
    /// NICK, or 433 if someone was faster, which is ignored).
    async fn reclaim(&self, ctx: &AdapterContext) -> Result<(), Ended> {
        info!(nick = %self.config().nickname, "our nick is free again; taking it back");
        if let Ok(line) = Line::new("NICK", &[&self.config().nickname], None) {
            self.put(ctx, &line, true).await?;
        }
        Ok(())
    }

    /// Writes a line of the session, in its flood slot when `paced`;
    /// shutdown interrupts the wait, a failed write ends the connection.
    async fn put(&self, ctx: &AdapterContext, line: &Line, paced: bool) -> Result<(), Ended> {
        let write = async {
            if paced {
                self.write_paced(line).await
            } else {
                self.write_now(line).await
            }
        };
        tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => Err(Ended::Stop),
            written = write => written.map_err(|e| Ended::Retry(e.to_string())),
        }
    }

    async fn privmsg(&self, ctx: &AdapterContext, msg: &Message) -> Result<(), Ended> {
        let received = {
            let live = self.live();
            let me = Me {
                nick: &live.nick,
                mapping: live.mapping,
                masks: &self.config().allowed_masks,
            };
            crate::inbound::read(msg, &me, || self.fresh_id())
        };
        match received {
            Received::Ignored(why) => debug!(why, "PRIVMSG not for the gateway"),
            Received::Ctcp { nick, answer } => {
                // A courtesy: only when a line is free now, so a flood of
                // requests never becomes a flood of ours.
                if self.flood().try_acquire()
                    && let Ok(line) = Line::new("NOTICE", &[&nick], Some(&answer))
                {
                    let _ = self.write_now(&line).await;
                }
            }
            Received::Event { event, key } => {
                let submitted = tokio::select! {
                    biased;
                    () = ctx.shutdown.cancelled() => return Err(Ended::Stop),
                    submitted = ctx.inbound.submit_once(*event, &key) => submitted,
                };
                match submitted {
                    Ok(Submitted::Accepted) => debug!(key, "message submitted"),
                    Ok(Submitted::Duplicate) => debug!(key, "message seen before; dropped"),
                    Err(CoreError::ShuttingDown) => return Err(Ended::Stop),
                    // IRC delivers nothing twice: a message that cannot be
                    // recorded is lost, and said so.
                    Err(e) => {
                        warn!(key, error = %e, "an IRC message could not be recorded and is lost")
                    }
                }
            }
        }
        Ok(())
    }
}

/// The JOIN lines for `channels`: as few as fit (`JOIN #a,#b key`, RFC
/// 2812 3.2.1), channels with keys first so the keys line up, so a long
/// list costs few lines of the flood budget while PINGs wait.
fn join_lines(channels: &[crate::config::Channel]) -> Vec<Line> {
    /// Room for the channel and key lists, well within 512 bytes.
    const ROOM: usize = 400;
    let mut ordered: Vec<&crate::config::Channel> = channels.iter().collect();
    ordered.sort_by_key(|c| c.key.is_none());
    let mut lines = Vec::new();
    let (mut names, mut keys): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    let flush = |names: &mut Vec<&str>, keys: &mut Vec<&str>, lines: &mut Vec<Line>| {
        if names.is_empty() {
            return;
        }
        let (joined, keyed) = (names.join(","), keys.join(","));
        let mut params = vec![joined.as_str()];
        if !keyed.is_empty() {
            params.push(keyed.as_str());
        }
        match Line::new("JOIN", &params, None) {
            Ok(line) => lines.push(line),
            Err(e) => warn!(error = %e, "cannot join these channels; check IRC_CHANNEL"),
        }
        names.clear();
        keys.clear();
    };
    for channel in ordered {
        let key = channel.key.as_ref().map(|k| k.expose());
        let used: usize = names.iter().chain(&keys).map(|s| s.len() + 1).sum();
        if used + channel.name.len() + key.map_or(0, str::len) + 2 > ROOM {
            flush(&mut names, &mut keys, &mut lines);
        }
        names.push(&channel.name);
        keys.extend(key);
    }
    flush(&mut names, &mut keys, &mut lines);
    lines
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
