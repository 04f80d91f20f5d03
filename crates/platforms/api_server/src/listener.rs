//! The accept loop: hyper's HTTP/1 connections driven with the limits
//! `axum::serve` does not expose, and a graceful shutdown that lets the
//! requests in progress finish.
//!
//! - **Connection cap.** The loop takes a permit before it accepts; with
//!   `max_connections` open it stops accepting, and new connections wait in
//!   the kernel's accept queue (beyond its length the kernel refuses them)
//!   until one closes. A flood of idle sockets therefore costs the gateway no
//!   file descriptors past the cap, and nothing already served is disturbed.
//! - **Idle timeout.** A connection that sends nothing for `idle_timeout`
//!   while no request is in progress is closed. A request is in progress
//!   from its headers until its answer's body has been written, so a long
//!   turn or stream is never cut.
//! - **Header timeout.** hyper's `header_read_timeout`: its timer starts
//!   when a connection begins waiting for a request (on connect and after
//!   each answer), so a client that keeps trickling bytes of its headers is
//!   disconnected too.
//!
//! hyper's own HTTP/1 builder is used rather than hyper-util's `auto`
//! builder: hermod speaks HTTP/1.1 only, and the auto builder first sniffs
//! the protocol by reading a connection's first bytes with no timeout, so a
//! client that connects and sends nothing would never reach the header timer.

use crate::body::HoldingBody;
use axum::Router;
use axum::body::Body;
use hermod_core::Health;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

/// How long the loop pauses after an accept error that is not about one
/// connection (out of file descriptors, say), so it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// The connection limits, from [`crate::ApiServerConfig`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then stops
/// accepting and waits for the open connections: idle ones close at once,
/// ones with a request in progress after their answer.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    health: Health,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let mut accept_failing = false;
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed.
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            // The peer gave up before it was accepted: nothing to do.
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                warn!(error = %e, "the API server cannot accept connections; retrying");
                if !accept_failing {
                    health.degraded(
                        crate::PLATFORM.as_str(),
                        "cannot accept new connections (see the log)",
                    );
                    accept_failing = true;
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                }
            }
        };
        if accept_failing {
            health.recovered(crate::PLATFORM.as_str());
            accept_failing = false;
        }
        connections.spawn(serve_connection(
            stream,
            app.clone(),
            http.clone(),
            limits.idle_timeout,
            shutdown.clone(),
            permit,
        ));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection; `_permit` is its place under the cap.
async fn serve_connection(
    stream: TcpStream,
    app: Router,
    http: http1::Builder,
    idle_timeout: Duration,
    shutdown: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    // Event-stream frames are small and a reader waits on each one.
    if let Err(e) = stream.set_nodelay(true) {
        debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let (activity, mut idle) = watch::channel(Activity {
        requests: 0,
        since: Instant::now(),
    });
    let activity = Arc::new(activity);
    let reads = Arc::new(LastRead::new());
    let stream = ReadTracking {
        stream,
        reads: Arc::clone(&reads),
    };
    let app = TowerToHyperService::new(app);
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let in_progress = InProgress::start(&activity);
        let response = app.call(request);
        async move {
            let response = response.await?;
            // The request counts as in progress until hyper drops the body,
            // which it does once the body is written (or the client left).
            Ok::<_, std::convert::Infallible>(
                response.map(|body| Body::new(HoldingBody::new(body, in_progress))),
            )
        }
    });
    let connection = http.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = idle_for(&mut idle, &reads, idle_timeout), if !closing => {
                debug!("closing an idle connection");
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// What the idle timer of a connection watches.
#[derive(Debug, Clone, Copy)]
struct Activity {
    /// Requests whose answer has not been written yet.
    requests: usize,
    /// When `requests` last fell to zero (or the connection opened).
    since: Instant,
}

/// One request in progress on a connection; dropping it ends it.
struct InProgress(Arc<watch::Sender<Activity>>);

impl InProgress {
    fn start(activity: &Arc<watch::Sender<Activity>>) -> Self {
        activity.send_modify(|a| a.requests += 1);
        Self(Arc::clone(activity))
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.send_modify(|a| {
            a.requests = a.requests.saturating_sub(1);
            if a.requests == 0 {
                a.since = Instant::now();
            }
        });
    }
}

/// Completes once the connection has had no request in progress and sent
/// nothing for `timeout`.
async fn idle_for(activity: &mut watch::Receiver<Activity>, reads: &LastRead, timeout: Duration) {
    loop {
        let now = *activity.borrow_and_update();
        let changed = if now.requests > 0 {
            activity.changed().await
        } else {
            let deadline = now.since.max(reads.last()) + timeout;
            if deadline <= Instant::now() {
                return;
            }
            tokio::select! {
                // Bytes may have arrived meanwhile: look again.
                () = tokio::time::sleep_until(deadline) => continue,
                changed = activity.changed() => changed,
            }
        };
        if changed.is_err() {
            // The connection (which owns the sender) is ending on its own.
            std::future::pending::<()>().await;
        }
    }
}

/// When a connection last sent bytes. An atomic rather than the watched
/// [`Activity`]: reads are frequent, and only the idle timer, when it fires,
/// needs to know.
struct LastRead {
    opened: Instant,
    /// Milliseconds after `opened`.
    at_ms: AtomicU64,
}

impl LastRead {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            at_ms: AtomicU64::new(0),
        }
    }

    fn mark(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.at_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.opened + Duration::from_millis(self.at_ms.load(Ordering::Relaxed))
    }
}

/// A connection's stream, noting when bytes arrive.
struct ReadTracking {
    stream: TcpStream,
    reads: Arc<LastRead>,
}

impl AsyncRead for ReadTracking {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.reads.mark();
        }
        polled
    }
}

impl AsyncWrite for ReadTracking {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
