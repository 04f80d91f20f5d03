//! Connections from bad or slow clients: idle and header timeouts, the
//! connection cap, authentication before the body, and a shutdown that
//! finishes the requests in progress.
//!
//! Timeouts here are seconds long and every wait for the server has a
//! generous limit, so a slow machine makes a test slower, never wrong.

use crate::support::{
    Server, Setup, closed_within, json_of, raw_exchange, read_head, streamed, user,
};
use hermod_testkit::ScriptedAgent;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: hermod\r\n\r\n";
/// Far longer than any timeout under test.
const GENEROUS: Duration = Duration::from_secs(30);

#[tokio::test]
async fn silent_and_idle_kept_alive_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::echo().config(|c| {
        c.idle_timeout_secs = 1;
        c.header_read_timeout_secs = 60;
    });
    let s = Server::with(&dir.path().join("db"), setup).await;
    // Connected, never sent a byte.
    let mut silent = s.connect().await;
    // One answered request, then nothing.
    let mut kept_alive = s.connect().await;
    let head = raw_exchange(&mut kept_alive, HEALTH, GENEROUS)
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        closed_within(&mut silent, GENEROUS).await,
        "a silent connection is closed well before the header timeout"
    );
    assert!(closed_within(&mut kept_alive, GENEROUS).await);
    s.stop().await;
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::echo().config(|c| {
        c.idle_timeout_secs = 1;
        c.header_read_timeout_secs = 2;
    });
    let s = Server::with(&dir.path().join("db"), setup).await;
    let (mut read, mut write) = s.connect().await.into_split();
    write
        .write_all(b"GET /health HTTP/1.1\r\nHost: hermod\r\nX-Slow: ")
        .await
        .unwrap();
    // One byte every 200 ms: never idle, never done.
    let trickle = async {
        loop {
            if write.write_all(b"a").await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let closed = async {
        let mut buf = [0u8; 1024];
        while let Ok(n) = read.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    let cut_off = tokio::time::timeout(GENEROUS, async {
        tokio::select! {
            () = closed => {}
            () = trickle => {}
        }
    })
    .await;
    assert!(cut_off.is_ok(), "the header timeout closed the connection");
    s.stop().await;
}

#[tokio::test]
async fn a_long_turn_is_not_cut_by_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let setup =
        Setup::agent(Arc::new(ScriptedAgent::with_delay(Duration::from_secs(3)))).config(|c| {
            c.idle_timeout_secs = 1;
            c.header_read_timeout_secs = 1;
        });
    let s = Server::with(&dir.path().join("db"), setup).await;
    let (plain, streamed) = tokio::join!(
        s.post(&user("slow")).send(),
        s.post(&streamed(user("slow stream"))).send()
    );
    let (status, body) = json_of(plain.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: slow (0 earlier)"
    );
    let text = streamed.unwrap().text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    s.stop().await;
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::echo().config(|c| {
        c.max_connections = 2;
        c.idle_timeout_secs = 60;
        c.header_read_timeout_secs = 60;
    });
    let s = Server::with(&dir.path().join("db"), setup).await;
    let mut first = s.connect().await;
    let mut second = s.connect().await;
    for conn in [&mut first, &mut second] {
        let head = raw_exchange(conn, HEALTH, GENEROUS).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    // The third connects (the kernel queues it) but is not served...
    let mut third = s.connect().await;
    let head = raw_exchange(&mut third, HEALTH, Duration::from_millis(500)).await;
    assert_eq!(head, None, "a connection over the cap is not served");
    // ...until a served one closes.
    drop(first);
    let head = read_head(&mut third, GENEROUS).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    s.stop().await;
}

#[tokio::test]
async fn an_unauthenticated_request_is_refused_before_its_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let s = Server::with(&dir.path().join("db"), Setup::agent(Arc::new(agent))).await;
    // Announces 100 MB and waits for permission to send it: the answer is
    // 401, not "100 Continue".
    let mut asking = s.connect().await;
    let head = raw_exchange(
        &mut asking,
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: hermod\r\n\
          Content-Type: application/json\r\nContent-Length: 104857600\r\n\
          Expect: 100-continue\r\n\r\n",
        GENEROUS,
    )
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    // Announces 100 MB, sends 1 KB and stalls.
    let mut stalling = s.connect().await;
    let mut request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: hermod\r\n\
          Authorization: Bearer wrong-key-0123456789abcdef\r\n\
          Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
        .to_vec();
    request.extend_from_slice(&[b' '; 1024]);
    let head = raw_exchange(&mut stalling, &request, GENEROUS)
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(stats.requests().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_the_requests_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let agent = ScriptedAgent::with_delay(Duration::from_secs(1));
    let stats = agent.stats();
    let s = Server::with(&dir.path().join("db"), Setup::agent(Arc::new(agent))).await;
    // An idle kept-alive connection must not hold the shutdown up.
    let mut idle = s.connect().await;
    raw_exchange(&mut idle, HEALTH, GENEROUS).await.unwrap();
    let request = s.post(&user("finish me")).send();
    let in_flight = tokio::spawn(request);
    tokio::time::timeout(GENEROUS, stats.wait_started(1))
        .await
        .unwrap();
    let addr = s.addr;
    s.shutdown.cancel();
    let (status, body) = json_of(in_flight.await.unwrap().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: finish me (0 earlier)"
    );
    assert!(closed_within(&mut idle, GENEROUS).await);
    tokio::time::timeout(GENEROUS, s.done)
        .await
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
