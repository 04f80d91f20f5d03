//! An IMAP server with one empty mailbox that lets every client log in
//! and idle (RFC 9051's greeting, CAPABILITY, LOGIN/AUTHENTICATE PLAIN,
//! SELECT, UID SEARCH, NOOP, IDLE), and an SMTP server that greets and
//! accepts what it is sent, should a reply go out.

use super::{Connected, listen};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CAPABILITIES: &str = "IMAP4rev1 IDLE AUTH=PLAIN";

#[derive(Debug)]
pub struct IdleImap {
    pub imap_port: u16,
    pub smtp_port: u16,
    pub connected: Connected,
}

impl IdleImap {
    pub async fn start() -> anyhow::Result<Self> {
        let (imap, imap_port) = listen().await?;
        let (smtp, smtp_port) = listen().await?;
        let connected = Connected::default();
        let counter = connected.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = imap.accept().await {
                tokio::spawn(serve_imap(stream, counter.clone()));
            }
        });
        tokio::spawn(async move {
            while let Ok((stream, _)) = smtp.accept().await {
                tokio::spawn(serve_smtp(stream));
            }
        });
        Ok(Self {
            imap_port,
            smtp_port,
            connected,
        })
    }
}

async fn serve_imap(stream: TcpStream, connected: Connected) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write
        .write_all(format!("* OK [CAPABILITY {CAPABILITIES}] bench ready\r\n").as_bytes())
        .await?;
    while let Some(line) = lines.next_line().await? {
        let (tag, command) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let verb = command
            .split(' ')
            .take(if command.starts_with("UID") { 2 } else { 1 })
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_uppercase();
        let answer = match verb.as_str() {
            "CAPABILITY" => format!("* CAPABILITY {CAPABILITIES}\r\n{tag} OK done\r\n"),
            "AUTHENTICATE" => {
                write.write_all(b"+ \r\n").await?;
                let _credentials = lines.next_line().await?;
                format!("{tag} OK [CAPABILITY {CAPABILITIES}] logged in\r\n")
            }
            "LOGIN" => format!("{tag} OK [CAPABILITY {CAPABILITIES}] logged in\r\n"),
            "SELECT" | "EXAMINE" => {
                connected.mark();
                format!(
                    "* FLAGS (\\Seen \\Answered)\r\n* 0 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1] ok\r\n* OK [UIDNEXT 1] ok\r\n{tag} OK [READ-WRITE] selected\r\n"
                )
            }
            "UID SEARCH" => format!("* SEARCH\r\n{tag} OK done\r\n"),
            "IDLE" => {
                write.write_all(b"+ idling\r\n").await?;
                // Until DONE (or the client leaves).
                loop {
                    match lines.next_line().await? {
                        Some(l) if l.eq_ignore_ascii_case("DONE") => break,
                        Some(_) => {}
                        None => return Ok(()),
                    }
                }
                format!("{tag} OK idle done\r\n")
            }
            "LOGOUT" => {
                write
                    .write_all(format!("* BYE bench\r\n{tag} OK bye\r\n").as_bytes())
                    .await?;
                return Ok(());
            }
            _ => format!("{tag} OK done\r\n"),
        };
        write.write_all(answer.as_bytes()).await?;
    }
    Ok(())
}

async fn serve_smtp(stream: TcpStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 bench ESMTP\r\n").await?;
    let mut in_data = false;
    while let Some(line) = lines.next_line().await? {
        if in_data {
            if line == "." {
                in_data = false;
                write.write_all(b"250 2.0.0 queued\r\n").await?;
            }
            continue;
        }
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" => b"250-bench\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
            "AUTH" => b"235 2.7.0 ok\r\n",
            "DATA" => {
                in_data = true;
                b"354 go ahead\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 ok\r\n",
        };
        write.write_all(answer).await?;
    }
    Ok(())
}
