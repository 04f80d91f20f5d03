//! A websocket server scaffold: [`Sockets`] holds a fake's open
//! connections by id, to write to from anywhere under the state's lock;
//! [`serve`] is a connection's task, writing what is sent to its
//! [`SocketHandle`], handing what the client sends to a [`SocketPeer`],
//! and ending on a close, a drop, the client leaving or shutdown.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use std::collections::BTreeMap;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What a connection's task writes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Text(String),
    Binary(Vec<u8>),
    /// A close frame (with this code and reason, or none), then the end
    /// of the connection.
    Close(Option<(u16, String)>),
    /// The end of the connection without a close frame, as a lost
    /// network would end it.
    Drop,
}

/// Writes to one connection; kept in the fake's state.
#[derive(Debug, Clone)]
pub struct SocketHandle(UnboundedSender<Outgoing>);

impl SocketHandle {
    /// Queues `out`; false when the connection has ended.
    pub fn send(&self, out: Outgoing) -> bool {
        self.0.send(out).is_ok()
    }
}

/// What was sent to one connection, for its task.
#[derive(Debug)]
pub struct Outbox(UnboundedReceiver<Outgoing>);

impl Outbox {
    /// The next thing sent; `None` once every handle is gone. [`serve`]
    /// reads it; tests of a fake's state may too.
    pub async fn recv(&mut self) -> Option<Outgoing> {
        self.0.recv().await
    }
}

/// A handle for a new connection and the outbox its task serves.
pub fn channel() -> (SocketHandle, Outbox) {
    let (tx, rx) = unbounded_channel();
    (SocketHandle(tx), Outbox(rx))
}

/// The open connections, by the ids the fake gives them.
#[derive(Debug, Default)]
pub struct Sockets {
    open: BTreeMap<u64, SocketHandle>,
}

impl Sockets {
    pub fn insert(&mut self, id: u64, handle: SocketHandle) {
        self.open.insert(id, handle);
    }

    /// Forgets a connection that ended.
    pub fn remove(&mut self, id: u64) {
        self.open.remove(&id);
    }

    /// Queues `out` for connection `id`; false when it is not open.
    pub fn send(&self, id: u64, out: Outgoing) -> bool {
        self.open.get(&id).is_some_and(|handle| handle.send(out))
    }

    /// Queues `out()` for every open connection; returns how many took it.
    pub fn broadcast(&self, mut out: impl FnMut() -> Outgoing) -> usize {
        self.open
            .values()
            .filter(|handle| handle.send(out()))
            .count()
    }

    /// The open connections' ids, oldest first.
    pub fn ids(&self) -> Vec<u64> {
        self.open.keys().copied().collect()
    }

    /// The newest open connection.
    pub fn newest(&self) -> Option<u64> {
        self.open.keys().next_back().copied()
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

/// A fake's side of one connection: what it does with the client's
/// frames, and an optional deadline (a heartbeat the client owes).
pub trait SocketPeer {
    fn on_text(&mut self, text: &str);

    /// A binary frame; ignored unless the platform objects to them.
    fn on_binary(&mut self, _bytes: &[u8]) {}

    /// When [`SocketPeer::on_deadline`] is due next, if ever; asked again
    /// after every frame.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn on_deadline(&mut self) {}
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ended {
    /// The close code the client sent, if it closed with one.
    pub client_code: Option<u16>,
    /// The close code the fake sent, if it closed with one.
    pub server_code: Option<u16>,
}

/// Serves one connection until it ends: writes what its outbox gets, in
/// order, and hands the client's frames to `peer`. Shutdown ends it
/// without a close frame.
pub async fn serve(
    socket: &mut WebSocket,
    outbox: &mut Outbox,
    shutdown: &CancellationToken,
    peer: &mut impl SocketPeer,
) -> Ended {
    let mut ended = Ended::default();
    loop {
        let deadline = peer.deadline();
        let due = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            out = outbox.recv() => {
                let message = match out {
                    Some(Outgoing::Text(text)) => Message::text(text),
                    Some(Outgoing::Binary(bytes)) => Message::binary(bytes),
                    Some(Outgoing::Close(frame)) => {
                        let frame = frame.map(|(code, reason)| {
                            ended.server_code = Some(code);
                            CloseFrame { code, reason: reason.into() }
                        });
                        // The client may be gone already; either way this
                        // ends it.
                        let _ = socket.send(Message::Close(frame)).await;
                        break;
                    }
                    Some(Outgoing::Drop) | None => break,
                };
                if socket.send(message).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => peer.on_text(text.as_str()),
                Some(Ok(Message::Binary(bytes))) => peer.on_binary(&bytes),
                Some(Ok(Message::Close(frame))) => {
                    ended.client_code = frame.map(|f| f.code);
                    break;
                }
                Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            () = due => peer.on_deadline(),
        }
    }
    ended
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::PeerListener;
    use axum::Router;
    use axum::extract::ws::WebSocketUpgrade;
    use axum::routing::any;
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as ClientMessage;

    /// Echoes text; closes with 4002 on binary frames.
    struct Echo(SocketHandle);

    impl SocketPeer for Echo {
        fn on_text(&mut self, text: &str) {
            self.0.send(Outgoing::Text(format!("echo {text}")));
        }

        fn on_binary(&mut self, _bytes: &[u8]) {
            self.0
                .send(Outgoing::Close(Some((4002, "no binary".into()))));
        }
    }

    #[tokio::test]
    async fn a_connection_echoes_and_closes_with_a_code() {
        let (ended_tx, mut ended) = unbounded_channel();
        let app = Router::new().route(
            "/",
            any(move |ws: WebSocketUpgrade| {
                let ended_tx = ended_tx.clone();
                async move {
                    ws.on_upgrade(move |mut socket| async move {
                        let (handle, mut outbox) = channel();
                        handle.send(Outgoing::Text("hello".into()));
                        let mut peer = Echo(handle);
                        let shutdown = CancellationToken::new();
                        let end = serve(&mut socket, &mut outbox, &shutdown, &mut peer).await;
                        let _ = ended_tx.send(end);
                    })
                }
            }),
        );
        let listener = PeerListener::bind().await;
        let url = format!("ws://{}/", listener.addr());
        let shutdown = CancellationToken::new();
        tokio::spawn(listener.serve(app, shutdown.clone()));
        let (mut client, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("a websocket");
        let next = |m: Option<Result<ClientMessage, _>>| m.expect("a frame").expect("readable");
        assert_eq!(next(client.next().await), ClientMessage::text("hello"));
        client.send(ClientMessage::text("hi")).await.expect("sent");
        assert_eq!(next(client.next().await), ClientMessage::text("echo hi"));
        client
            .send(ClientMessage::binary(vec![1]))
            .await
            .expect("sent");
        match next(client.next().await) {
            ClientMessage::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 4002),
            other => panic!("a close frame, got {other:?}"),
        }
        let end = ended.recv().await.expect("the connection ended");
        assert_eq!(end.server_code, Some(4002));
        assert_eq!(end.client_code, None);
        shutdown.cancel();
    }

    #[test]
    fn sockets_send_to_one_or_all() {
        let mut sockets = Sockets::default();
        let (a, mut a_out) = channel();
        let (b, b_out) = channel();
        sockets.insert(1, a);
        sockets.insert(2, b);
        drop(b_out);
        assert_eq!(sockets.newest(), Some(2));
        assert!(sockets.send(1, Outgoing::Drop));
        assert!(!sockets.send(2, Outgoing::Drop), "its task ended");
        assert!(!sockets.send(3, Outgoing::Drop), "never open");
        assert_eq!(sockets.broadcast(|| Outgoing::Text("x".into())), 1);
        assert_eq!(a_out.0.try_recv().ok(), Some(Outgoing::Drop));
        assert_eq!(a_out.0.try_recv().ok(), Some(Outgoing::Text("x".into())));
        sockets.remove(2);
        assert_eq!(sockets.ids(), [1]);
        assert_eq!(sockets.len(), 1);
    }
}
