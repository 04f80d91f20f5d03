use super::*;
use axum::Router;
use axum::extract::ws::{
    CloseFrame as ServerClose, Message as ServerMessage, WebSocket, WebSocketUpgrade,
};
use axum::routing::get;
use std::net::SocketAddr;

/// What the test server does with a connection.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Echoes text, pings first, and closes with 4004 on "close".
    Echo,
    /// Reads and ignores everything, never answering a close.
    Deaf,
}

async fn serve(behaviour: Behaviour) -> SocketAddr {
    let app = Router::new().route(
        "/",
        get(move |ws: WebSocketUpgrade| async move {
            ws.on_upgrade(move |socket| handle(socket, behaviour))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn handle(mut socket: WebSocket, behaviour: Behaviour) {
    match behaviour {
        Behaviour::Echo => {
            let _ = socket.send(ServerMessage::Ping(vec![1].into())).await;
            while let Some(Ok(message)) = socket.recv().await {
                match message {
                    ServerMessage::Text(text) if text.as_str() == "close" => {
                        let _ = socket
                            .send(ServerMessage::Close(Some(ServerClose {
                                code: 4004,
                                reason: "Authentication failed.".into(),
                            })))
                            .await;
                        return;
                    }
                    ServerMessage::Text(text) => {
                        let _ = socket.send(ServerMessage::Text(text)).await;
                    }
                    _ => {}
                }
            }
        }
        Behaviour::Deaf => {
            while let Some(Ok(_)) = socket.recv().await {}
            // Keep the connection open without answering.
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
}

#[tokio::test]
async fn text_frames_both_ways_and_the_peers_close_code() {
    let addr = serve(Behaviour::Echo).await;
    let mut ws = connect(
        &format!("ws://{addr}/?ticket=SECRET"),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    ws.send_text("hello").await.unwrap();
    assert_eq!(ws.recv().await, Frame::Text("hello".into()));
    ws.send_text("close").await.unwrap();
    assert_eq!(
        ws.recv().await,
        Frame::Closed {
            code: Some(4004),
            reason: "Authentication failed.".into()
        }
    );
    assert!(!format!("{ws:?}").contains("SECRET"));
}

#[tokio::test]
async fn closing_never_waits_long_for_a_peer_that_does_not_answer() {
    let addr = serve(Behaviour::Deaf).await;
    let ws = connect(&format!("ws://{addr}/"), Duration::from_secs(5))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    ws.close(1000, "shutting down").await;
    // The grace period bounds it; the margin absorbs a slow machine.
    assert!(started.elapsed() < CLOSE_GRACE + Duration::from_secs(5));
}

#[tokio::test]
async fn a_failed_connect_names_the_host_and_never_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = connect(
        &format!("ws://{addr}/gateway?token=SECRET"),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains(&addr.to_string()), "{err}");
    assert!(!err.contains("SECRET"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn heartbeats_keep_their_interval_and_find_zombies() {
    let start = Instant::now();
    let mut beat = Heartbeat::new(Duration::from_secs(40), Duration::from_secs(10));
    beat.due().await;
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    beat.beat().unwrap();
    beat.acked();
    beat.due().await;
    assert_eq!(start.elapsed(), Duration::from_secs(50));
    beat.beat().unwrap();
    // No acknowledgement before the next beat: a zombie connection.
    beat.due().await;
    assert_eq!(beat.beat(), Err(Zombie));
    beat.beat_now();
    let now = Instant::now();
    beat.due().await;
    assert_eq!(Instant::now(), now, "a requested beat is due at once");
}

#[tokio::test(start_paused = true)]
async fn the_first_beat_is_within_the_first_interval() {
    let start = Instant::now();
    let beat = Heartbeat::with_jitter(Duration::from_secs(40));
    beat.due().await;
    assert!(start.elapsed() <= Duration::from_secs(40));
}

#[tokio::test]
async fn pings_are_answered_and_count_as_hearing_from_the_peer() {
    let addr = serve(Behaviour::Echo).await;
    let mut ws = connect(&format!("ws://{addr}/"), Duration::from_secs(5))
        .await
        .unwrap();
    let connected = ws.last_heard();
    ws.ping().await.unwrap();
    ws.send_text("after").await.unwrap();
    // The server's ping, our pong's answer and the echo all arrive; only
    // the text is returned.
    assert_eq!(ws.recv().await, Frame::Text("after".into()));
    assert!(ws.last_heard() >= connected);
}
