//! A websocket client for platforms that push events over one (gateway
//! connections, socket modes): connect with a deadline over rustls, read
//! text frames with pings answered, tell a close from a break, close within
//! [`CLOSE_GRACE`] on shutdown, and a [`Heartbeat`] for protocols that want
//! one, with zombie detection.
//!
//! The platform keeps its protocol: what to send, what a close code means
//! ([`AfterClose`]), how to resume.

use crate::error::KitError;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long [`Websocket::close`] waits for the peer to answer the close.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What came over the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
    /// The peer closed the connection, with its code and reason when it
    /// sent one (`None`: the connection ended without a close frame).
    Closed {
        code: Option<u16>,
        reason: String,
    },
}

/// What a platform does after its socket closed, decided from the close
/// code by the platform's own table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterClose {
    /// Connect again and resume the session where it stopped.
    Resume,
    /// Connect again with a new session.
    Reconnect,
    /// Stop: retrying cannot help (a refused token, a setting to change);
    /// the reason says what to do.
    Fatal(String),
}

/// An open websocket.
pub struct Websocket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The host, for messages (the URL may carry a ticket or a token).
    host: String,
    /// When anything (pings and pongs included) last came from the peer.
    heard: Instant,
}

impl std::fmt::Debug for Websocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Websocket")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// The host of `url`, the only part of it errors and logs show.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_owned()
}

/// Opens a websocket to `url` (`ws://` or `wss://`), giving up after
/// `timeout`.
pub async fn connect(url: &str, timeout: Duration) -> Result<Websocket, KitError> {
    hermod_http::install_crypto_provider();
    let host = host_of(url);
    let connecting = tokio_tungstenite::connect_async(url);
    let (stream, _response) = tokio::time::timeout(timeout, connecting)
        .await
        .map_err(|_| {
            KitError::Websocket(format!(
                "no answer from {host} within {} s",
                timeout.as_secs().max(1)
            ))
        })?
        .map_err(|e| KitError::Websocket(format!("cannot connect to {host}: {}", describe(&e))))?;
    Ok(Websocket {
        stream,
        host,
        heard: Instant::now(),
    })
}

/// A tungstenite error without the request it failed on (which may hold
/// the URL).
fn describe(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(response) => format!("HTTP {}", response.status()),
        Error::Io(io) => io.to_string(),
        Error::Tls(tls) => format!("TLS: {tls}"),
        Error::ConnectionClosed | Error::AlreadyClosed => "the connection is closed".to_owned(),
        other => other.to_string(),
    }
}

impl Websocket {
    /// The next text or binary frame, or how the connection ended. Pings
    /// are answered on the way.
    pub async fn recv(&mut self) -> Frame {
        loop {
            let next = self.stream.next().await;
            if matches!(next, Some(Ok(_))) {
                self.heard = Instant::now();
            }
            match next {
                Some(Ok(Message::Text(text))) => return Frame::Text(text.as_str().to_owned()),
                Some(Ok(Message::Binary(bytes))) => return Frame::Binary(bytes.to_vec()),
                Some(Ok(Message::Close(frame))) => {
                    return Frame::Closed {
                        code: frame.as_ref().map(|f| u16::from(f.code)),
                        reason: frame
                            .map(|f| f.reason.as_str().to_owned())
                            .unwrap_or_default(),
                    };
                }
                // Pings are answered by tungstenite as it reads.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Err(e)) => {
                    return Frame::Closed {
                        code: None,
                        reason: describe(&e),
                    };
                }
                None => {
                    return Frame::Closed {
                        code: None,
                        reason: "the connection ended".to_owned(),
                    };
                }
            }
        }
    }

    /// When anything last came from the peer (pings and pongs included),
    /// for protocols that judge a connection dead by its silence.
    pub fn last_heard(&self) -> Instant {
        self.heard
    }

    /// Sends a ping; the peer's pong counts as hearing from it.
    pub async fn ping(&mut self) -> Result<(), KitError> {
        self.stream
            .send(Message::Ping(Default::default()))
            .await
            .map_err(|e| {
                KitError::Websocket(format!("cannot ping {}: {}", self.host, describe(&e)))
            })
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: &str) -> Result<(), KitError> {
        self.stream.send(Message::text(text)).await.map_err(|e| {
            KitError::Websocket(format!("cannot send to {}: {}", self.host, describe(&e)))
        })
    }

    /// Closes with `code`, waiting at most [`CLOSE_GRACE`] for the peer to
    /// answer, so shutdown never hangs on a peer that does not.
    pub async fn close(mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        };
        let closing = async {
            if self.stream.send(Message::Close(Some(frame))).await.is_err() {
                return;
            }
            // Until the peer's close (or the end of the stream).
            while let Some(Ok(message)) = self.stream.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, closing).await;
    }
}

/// Heartbeats on the interval a peer asks for: the first one after a
/// fraction of the interval (so clients that connect together do not beat
/// together), then every interval. A beat due while the previous one was
/// not acknowledged means the connection is a zombie: reconnect.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    interval: Duration,
    next: Instant,
    awaiting_ack: bool,
}

/// The previous heartbeat was never acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zombie;

impl Heartbeat {
    /// Beats every `interval`, the first one `first_after` from now.
    pub fn new(interval: Duration, first_after: Duration) -> Self {
        Self {
            interval,
            next: Instant::now() + first_after,
            awaiting_ack: false,
        }
    }

    /// [`Heartbeat::new`] with the first beat at a random point of the
    /// first interval.
    pub fn with_jitter(interval: Duration) -> Self {
        let mut byte = [0u8; 2];
        let _ = getrandom::fill(&mut byte);
        let fraction = f64::from(u16::from_le_bytes(byte)) / f64::from(u16::MAX);
        Self::new(interval, interval.mul_f64(fraction))
    }

    /// Waits until the next beat is due.
    pub async fn due(&self) {
        tokio::time::sleep_until(self.next).await;
    }

    /// Records that a beat is being sent now and schedules the next one.
    /// Fails when the previous beat was never acknowledged.
    pub fn beat(&mut self) -> Result<(), Zombie> {
        if self.awaiting_ack {
            return Err(Zombie);
        }
        self.awaiting_ack = true;
        self.next = Instant::now() + self.interval;
        Ok(())
    }

    /// The peer acknowledged the last beat.
    pub fn acked(&mut self) {
        self.awaiting_ack = false;
    }

    /// The peer asked for a beat at once (outside the schedule).
    pub fn beat_now(&mut self) {
        self.next = Instant::now();
    }
}

#[cfg(test)]
mod tests;
