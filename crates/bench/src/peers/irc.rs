//! An IRC server that registers every client, confirms its joins and
//! answers its pings (RFC 2812's registration, no capabilities).

use super::{Connected, listen};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug)]
pub struct IdleIrc {
    pub port: u16,
    pub connected: Connected,
}

impl IdleIrc {
    pub async fn start() -> anyhow::Result<Self> {
        let (listener, port) = listen().await?;
        let connected = Connected::default();
        let counter = connected.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, counter.clone()));
            }
        });
        Ok(Self { port, connected })
    }
}

async fn serve(stream: TcpStream, connected: Connected) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut nick = String::from("*");
    let mut user = false;
    let mut welcomed = false;
    while let Some(line) = lines.next_line().await? {
        let mut words = line.split(' ');
        let answer = match words.next().unwrap_or("") {
            "CAP" if line.contains(" LS") => format!(":bench CAP {nick} LS :\r\n"),
            "NICK" => {
                nick = words
                    .next()
                    .unwrap_or("hermod")
                    .trim_start_matches(':')
                    .to_owned();
                String::new()
            }
            "USER" => {
                user = true;
                String::new()
            }
            "JOIN" => {
                let channels = words.next().unwrap_or("");
                channels
                    .split(',')
                    .map(|c| format!(":{nick}!bot@127.0.0.1 JOIN {c}\r\n:bench 366 {nick} {c} :End of /NAMES list\r\n"))
                    .collect()
            }
            "PING" => format!(
                ":bench PONG bench {}\r\n",
                words.collect::<Vec<_>>().join(" ")
            ),
            "QUIT" => return Ok(()),
            _ => String::new(),
        };
        let mut answer = answer;
        if user && nick != "*" && !welcomed {
            welcomed = true;
            connected.mark();
            answer.push_str(&format!(
                ":bench 001 {nick} :Welcome\r\n:bench 005 {nick} CASEMAPPING=rfc1459 :are supported\r\n:bench 376 {nick} :End of MOTD\r\n"
            ));
        }
        if !answer.is_empty() {
            write.write_all(answer.as_bytes()).await?;
        }
    }
    Ok(())
}
