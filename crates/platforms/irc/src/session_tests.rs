//! The session on paused time: a scripted server on in-memory pipes
//! plays the IRC server, so timers (PING, the dead-connection check,
//! backoff, flood pacing) are checked on tokio's clock.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use crate::adapter::IrcAdapter;
use crate::config::IrcConfig;
use crate::transport::{BoxIo, LineReader, Read};
use hermod_core::AdapterError;
use hermod_model::Secret;
use hermod_testkit::harness::{TestHome, allow_all, within};
use hermod_testkit::{ScriptedAgent, Step};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

const NICK: &str = "bot";

fn config() -> IrcConfig {
    IrcConfig {
        server: Some("irc.test".into()),
        use_tls: false,
        nickname: NICK.into(),
        channels: vec!["#chan".into()],
        server_password: Some(Secret::new("s3cret-pass")),
        // Within the harness' patience, which runs on paused time too.
        ping_timeout_secs: 10,
        max_reconnect_delay_secs: 8,
        ..IrcConfig::default()
    }
}

/// The server's end of one connection.
struct Server {
    io: DuplexStream,
    lines: LineReader,
}

impl Server {
    /// Hands the adapter a new connection; returns the server's end.
    fn accept(pipes: &UnboundedSender<BoxIo>) -> Self {
        let (client, server) = tokio::io::duplex(64 * 1024);
        pipes.send(Box::new(client)).unwrap();
        Self {
            io: server,
            lines: LineReader::default(),
        }
    }

    async fn send(&mut self, line: &str) {
        self.io
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    /// The next line from the adapter; `None` when it closed.
    async fn next(&mut self) -> Option<String> {
        match self.lines.next(&mut self.io).await.unwrap() {
            Read::Line(line) => Some(line),
            Read::Closed => None,
            Read::TooLong => panic!("the adapter sent an overlong line"),
        }
    }

    /// Reads until a line starting with `prefix`; returns it.
    async fn expect(&mut self, prefix: &str) -> String {
        within(prefix, async {
            loop {
                let line = self.next().await.unwrap_or_else(|| {
                    panic!("the adapter closed the connection before {prefix:?}")
                });
                if line.starts_with(prefix) {
                    return line;
                }
            }
        })
        .await
    }

    /// Registration as ngircd does it, up to the bot's JOIN echoed.
    async fn welcome(&mut self) {
        assert_eq!(self.expect("PASS").await, "PASS :s3cret-pass");
        self.expect("NICK bot").await;
        self.expect("USER").await;
        self.welcomed().await;
    }

    /// The rest of registration, once the adapter sent USER.
    async fn welcomed(&mut self) {
        self.send(":irc.test CAP * LS :multi-prefix").await;
        self.expect("CAP END").await;
        self.send(":irc.test 001 bot :Welcome").await;
        self.send(":irc.test 005 bot CASEMAPPING=ascii :are supported")
            .await;
        self.expect("JOIN #chan").await;
        self.send(":bot!~hermod@127.0.0.1 JOIN :#chan").await;
    }
}

#[tokio::test(start_paused = true)]
async fn pings_are_answered_even_while_registering_and_a_silent_server_is_pinged_then_left() {
    let (adapter, pipes) = IrcAdapter::piped(config());
    let home = TestHome::new();
    let direct = home.gateway(ScriptedAgent::echo()).direct(adapter);
    let mut server = Server::accept(&pipes);
    let run = direct.spawn();
    server.expect("USER").await;
    server.send("PING :early").await;
    assert_eq!(server.expect("PONG").await, "PONG :early");
    server.welcomed().await;
    server.send("PING :later").await;
    assert_eq!(server.expect("PONG").await, "PONG :later");

    // Silence: a PING of ours after the timeout, then, unanswered, a new
    // connection after as long again and the backoff.
    let quiet = Instant::now();
    assert_eq!(server.expect("PING").await, "PING hermod");
    assert!(
        quiet.elapsed() >= Duration::from_secs(10),
        "{:?}",
        quiet.elapsed()
    );
    let mut second = Server::accept(&pipes);
    second.expect("CAP LS").await;
    assert!(
        quiet.elapsed() >= Duration::from_secs(20),
        "{:?}",
        quiet.elapsed()
    );
    assert!(
        server.next().await.is_none(),
        "the dead connection is closed"
    );
    second.welcome().await;
    direct.ctx.shutdown.cancel();
    assert_eq!(second.expect("QUIT").await, "QUIT :hermod shutting down");
    assert_eq!(run.await.unwrap(), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_refused_password_stops_the_adapter_without_retrying() {
    let (adapter, pipes) = IrcAdapter::piped(config());
    let home = TestHome::new();
    let direct = home.gateway(ScriptedAgent::echo()).direct(adapter.clone());
    let mut server = Server::accept(&pipes);
    let run = direct.spawn();
    server.expect("USER").await;
    server.send(":irc.test 464 * :Password incorrect").await;
    let result = within("run to stop", run).await.unwrap();
    match result {
        Err(AdapterError::Auth(reason)) => {
            assert!(reason.contains("IRC_SERVER_PASSWORD"), "{reason}");
            assert!(!reason.contains("s3cret-pass"));
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    assert_eq!(adapter.connection_state(), crate::ConnectionState::Failed);
}

#[tokio::test(start_paused = true)]
async fn dropped_connections_are_opened_again_with_growing_backoff() {
    // Pacing out of the way: the gaps are the backoff's.
    let config = IrcConfig {
        flood_interval_ms: 1,
        ..config()
    };
    let (adapter, pipes) = IrcAdapter::piped(config);
    let home = TestHome::new();
    let direct = home.gateway(ScriptedAgent::echo()).direct(adapter);
    let run = direct.spawn();
    let mut at = Vec::new();
    for _ in 0..5 {
        let mut server = Server::accept(&pipes);
        server.expect("USER").await;
        at.push(Instant::now());
        drop(server);
    }
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    // The kit's backoff: 1 s doubling, jittered to at least half, capped at 8 s.
    let floors = [500, 1000, 2000, 4000];
    for (gap, floor) in gaps.iter().zip(floors) {
        assert!(*gap >= Duration::from_millis(floor), "{gaps:?}");
        assert!(*gap <= Duration::from_secs(9), "{gaps:?}");
    }
    direct.ctx.shutdown.cancel();
    assert_eq!(run.await.unwrap(), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn garbage_is_skipped_and_replies_are_paced_and_addressed() {
    let reply = (1..=7)
        .map(|i| format!("line {i}"))
        .collect::<Vec<_>>()
        .join("\n");
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(reply.clone())]);
    let logs = hermod_testkit::logs::Logs::capture();
    let (adapter, pipes) = IrcAdapter::piped(config());
    let home = TestHome::new();
    let running = home.gateway(agent).config(allow_all()).start(adapter).await;
    let mut server = Server::accept(&pipes);
    server.welcome().await;
    // Registration took the burst; let it fill up again.
    tokio::time::sleep(Duration::from_secs(8)).await;
    server.send("{\"not\": \"irc\"}").await;
    server.send(":prefix.only").await;
    server
        .send(&format!(":x PRIVMSG bot :{}", "y".repeat(9000)))
        .await;
    server.send(":carol!c@h NOTICE bot :hi").await;
    server
        .send(":carol!c@h PRIVMSG #chan :not for the bot")
        .await;
    server
        .send("@msgid=m1 :carol!c@h PRIVMSG #chan :BOT: talk")
        .await;
    let mut lines = Vec::new();
    for _ in 0..7 {
        let line = server.expect("PRIVMSG #chan").await;
        lines.push((line, Instant::now()));
    }
    let texts: Vec<&str> = lines.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(texts[0], "PRIVMSG #chan :carol: line 1");
    assert_eq!(texts[6], "PRIVMSG #chan :carol: line 7");
    // Four back to back, then one every two seconds.
    let start = lines[0].1;
    let offsets: Vec<u64> = lines.iter().map(|(_, t)| (*t - start).as_secs()).collect();
    assert_eq!(offsets, [0, 0, 0, 0, 2, 4, 6], "{offsets:?}");
    let warnings = logs.at(tracing::Level::WARN).join("\n");
    assert!(warnings.contains("cannot be read"), "{warnings}");
    assert!(warnings.contains("overlong"), "{warnings}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn sasl_logs_in_when_offered_and_nickserv_is_asked_otherwise() {
    let config = IrcConfig {
        nickserv_password: Some(Secret::new("n1ckserv-pw")),
        ..config()
    };
    let logs = hermod_testkit::logs::Logs::capture();
    // Offered: SASL PLAIN, and no IDENTIFY afterwards.
    let (adapter, pipes) = IrcAdapter::piped(config.clone());
    let home = TestHome::new();
    let direct = home.gateway(ScriptedAgent::echo()).direct(adapter);
    let mut server = Server::accept(&pipes);
    let run = direct.spawn();
    server.expect("USER").await;
    server
        .send(":irc.test CAP * LS :multi-prefix sasl=PLAIN,EXTERNAL")
        .await;
    assert_eq!(server.expect("CAP REQ").await, "CAP REQ :sasl");
    server.send(":irc.test CAP * ACK :sasl").await;
    assert_eq!(server.expect("AUTHENTICATE").await, "AUTHENTICATE PLAIN");
    server.send("AUTHENTICATE +").await;
    // base64("bot\0bot\0n1ckserv-pw")
    assert_eq!(
        server.expect("AUTHENTICATE").await,
        "AUTHENTICATE Ym90AGJvdABuMWNrc2Vydi1wdw=="
    );
    server
        .send(":irc.test 903 bot :SASL authentication successful")
        .await;
    server.expect("CAP END").await;
    server.send(":irc.test 001 bot :Welcome").await;
    assert_eq!(server.next().await.as_deref(), Some("JOIN #chan"));
    direct.ctx.shutdown.cancel();
    assert_eq!(run.await.unwrap(), Ok(()));

    // Not offered: NickServ IDENTIFY after the welcome, before joining.
    let (adapter, pipes) = IrcAdapter::piped(config);
    let direct = home.gateway(ScriptedAgent::echo()).direct(adapter);
    let mut server = Server::accept(&pipes);
    let run = direct.spawn();
    server.expect("USER").await;
    server.send(":irc.test CAP * LS :multi-prefix").await;
    server.expect("CAP END").await;
    server.send(":irc.test 001 bot :Welcome").await;
    assert_eq!(
        server.next().await.as_deref(),
        Some("PRIVMSG NickServ :IDENTIFY n1ckserv-pw")
    );
    assert_eq!(server.next().await.as_deref(), Some("JOIN #chan"));
    direct.ctx.shutdown.cancel();
    assert_eq!(run.await.unwrap(), Ok(()));
    assert!(!logs.lines().is_empty(), "the capture works");
    logs.assert_never_shows("n1ckserv-pw");
    logs.assert_never_shows("Ym90AGJvdABuMWNrc2Vydi1wdw==");
    logs.assert_never_shows("s3cret-pass");
}

#[tokio::test(start_paused = true)]
async fn sends_go_only_to_joined_channels_and_ctcp_is_answered_politely() {
    use hermod_core::Messenger;
    use hermod_model::{ChatTarget, Outbound};
    let (adapter, pipes) = IrcAdapter::piped(config());
    let home = TestHome::new();
    let direct = home.gateway(ScriptedAgent::echo()).direct(adapter.clone());
    let mut server = Server::accept(&pipes);
    let run = direct.spawn();
    let to = |chat: &str| {
        Outbound::text(
            ChatTarget {
                chat_id: chat.into(),
                thread_id: None,
            },
            "hi",
        )
    };

    let early = adapter.send(to("#chan")).await;
    assert!(
        matches!(early, Err(AdapterError::Transient(_))),
        "{early:?}"
    );
    server.welcome().await;
    // CTCP is answered only when a line is free now: after the burst
    // registration took has come back.
    tokio::time::sleep(Duration::from_secs(8)).await;
    server
        .send(":carol!c@h PRIVMSG bot :\u{1}VERSION\u{1}")
        .await;
    let notice = server.expect("NOTICE carol").await;
    assert!(
        notice.starts_with("NOTICE carol :\u{1}VERSION hermod "),
        "{notice}"
    );

    let elsewhere = adapter.send(to("#elsewhere")).await;
    match elsewhere {
        Err(AdapterError::NotFound(reason)) => assert!(reason.contains("IRC_CHANNEL"), "{reason}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let sent = adapter.send(to("#CHAN")).await.unwrap();
    assert_eq!(sent.message_ids.len(), 1);
    assert_eq!(server.expect("PRIVMSG").await, "PRIVMSG #CHAN :hi");
    let injected = adapter.send(to("#chan\r\nQUIT")).await;
    assert!(injected.is_err(), "{injected:?}");
    direct.ctx.shutdown.cancel();
    assert_eq!(run.await.unwrap(), Ok(()));
}

#[test]
fn channels_are_joined_in_few_lines_keys_first() {
    use crate::config::Channel;
    let channel = |name: &str, key: Option<&str>| Channel {
        name: name.into(),
        key: key.map(Secret::new),
    };
    let lines = super::join_lines(&[
        channel("#open", None),
        channel("#locked", Some("k1")),
        channel("#other", None),
        channel("#vault", Some("k2")),
    ]);
    let texts: Vec<&str> = lines.iter().map(|l| l.as_str()).collect();
    assert_eq!(texts, ["JOIN #locked,#vault,#open,#other k1,k2"]);
    let many: Vec<Channel> = (0..100)
        .map(|i| channel(&format!("#channel{i:03}"), None))
        .collect();
    let lines = super::join_lines(&many);
    assert!(lines.len() > 1 && lines.len() < 10, "{}", lines.len());
    assert!(lines.iter().all(|l| l.as_str().len() <= 410));
    let joined: usize = lines.iter().map(|l| l.as_str().matches('#').count()).sum();
    assert_eq!(joined, 100);
}

#[tokio::test(start_paused = true)]
async fn shutdown_does_not_wait_for_the_flood_pacing() {
    let config = IrcConfig {
        flood_burst: 1,
        flood_interval_ms: 100_000,
        ..config()
    };
    let (adapter, pipes) = IrcAdapter::piped(config);
    let home = TestHome::new();
    let direct = home.gateway(ScriptedAgent::echo()).direct(adapter);
    let mut server = Server::accept(&pipes);
    let run = direct.spawn();
    server.expect("CAP LS").await;
    // PASS now waits 100 s for its slot.
    let started = Instant::now();
    direct.ctx.shutdown.cancel();
    assert_eq!(run.await.unwrap(), Ok(()));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}
