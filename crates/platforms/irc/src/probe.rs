//! The live check (`hermod doctor`): connect as the gateway would (TLS,
//! certificates, server password), register under a throwaway nick, and
//! quit — so the check never takes the bot's own nick from a running
//! gateway.

use crate::config::IrcConfig;
use crate::proto::{Line, Message};
use crate::register::{Registration, Step};
use crate::transport::{LineReader, Read};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;

/// Connects, registers and quits within `timeout`; what it found.
pub async fn probe(config: &IrcConfig, timeout: Duration) -> Result<String, String> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    // Nine characters: RFC 2812's shortest NICKLEN.
    let nick = format!("hp{:07}", stamp % 10_000_000);
    let config = IrcConfig {
        nickname: nick,
        // SASL would log the account in twice; the password is checked by
        // the gateway's own registration.
        nickserv_password: None,
        connect_timeout_secs: timeout.as_secs().max(1),
        ..config.clone()
    };
    let server = format!("{}:{}", config.server(), config.port());
    let work = async {
        let tls = crate::transport::tls(&config)?;
        let mut stream = crate::transport::connect(&config, tls.as_ref()).await?;
        let mut registration = Registration::new(&config);
        let mut send = registration.start().map_err(|e| e.to_string())?;
        let mut lines = LineReader::default();
        loop {
            for line in send.drain(..) {
                write(&mut stream, &line).await?;
            }
            let line = match lines.next(&mut stream).await.map_err(|e| e.to_string())? {
                Read::Line(line) => line,
                Read::TooLong => continue,
                Read::Closed => return Err("the server closed the connection".to_owned()),
            };
            let Ok(msg) = Message::parse(&line) else {
                continue;
            };
            if msg.command == "PING" {
                let token = msg.params.last().map_or("", String::as_str);
                if let Ok(pong) = Line::new("PONG", &[], Some(token)) {
                    send.push(pong);
                }
                continue;
            }
            match registration.on(&msg) {
                Step::Send(lines) => send.extend(lines),
                Step::Welcome { .. } => {
                    if let Ok(quit) = Line::new("QUIT", &[], Some("hermod check")) {
                        let _ = write(&mut stream, &quit).await;
                    }
                    let _ = stream.shutdown().await;
                    return Ok(());
                }
                Step::Retry(reason) | Step::Refused(reason) => return Err(reason),
            }
        }
    };
    let tls = if config.use_tls { " over TLS" } else { "" };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(())) => Ok(format!("registered on {server}{tls}")),
        Ok(Err(reason)) => Err(format!(
            "{server}: {reason}; check IRC_SERVER, IRC_PORT and IRC_USE_TLS"
        )),
        Err(_) => Err(format!(
            "{server}: no welcome within {} s; check IRC_SERVER, IRC_PORT and IRC_USE_TLS",
            timeout.as_secs()
        )),
    }
}

async fn write(stream: &mut crate::transport::BoxIo, line: &Line) -> Result<(), String> {
    let bytes = format!("{}\r\n", line.as_str());
    stream
        .write_all(bytes.as_bytes())
        .await
        .map_err(|e| format!("writing to the server failed: {e}"))
}
