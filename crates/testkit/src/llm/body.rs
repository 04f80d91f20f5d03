//! The per-request bookkeeping ([`RequestGuard`]) and the scripted response
//! body that streams events with delays and notices a client going away.

use super::Shared;
use bytes::Bytes;
use futures_util::Stream;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Tracks one request from arrival to the end of its response. Dropped
/// without [`RequestGuard::finish`] means the client went away first.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    shared: Arc<Shared>,
    started: Instant,
    done: bool,
}

impl RequestGuard {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        Self {
            shared,
            started: Instant::now(),
            done: false,
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The response was delivered as scripted (including scripted drops).
    pub(crate) fn finish(mut self) {
        self.done = true;
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.shared.add_busy(self.started.elapsed());
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.done {
            self.shared.completed.fetch_add(1, Ordering::SeqCst);
        } else {
            self.shared.disconnects.fetch_add(1, Ordering::SeqCst);
        }
        self.shared.changed.notify_waiters();
    }
}

/// A response body that yields its pieces with a delay between them, and
/// optionally breaks the connection after some of them.
#[derive(Debug)]
pub(crate) struct ScriptedBody {
    pieces: VecDeque<Bytes>,
    delay: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    sent: usize,
    drop_after: Option<usize>,
    /// Whether the body already yielded once before a scripted drop, so the
    /// server flushed what was sent before the connection breaks.
    flushed_before_drop: bool,
    guard: Option<RequestGuard>,
}

impl ScriptedBody {
    pub(crate) fn new(
        pieces: Vec<Bytes>,
        delay: Duration,
        drop_after: Option<usize>,
        guard: RequestGuard,
    ) -> Self {
        Self {
            pieces: pieces.into(),
            delay,
            sleep: None,
            sent: 0,
            drop_after,
            flushed_before_drop: false,
            guard: Some(guard),
        }
    }

    fn finish(&mut self) {
        if let Some(guard) = self.guard.take() {
            guard.finish();
        }
    }
}

impl Stream for ScriptedBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.drop_after == Some(this.sent) {
            if !this.flushed_before_drop {
                this.flushed_before_drop = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            this.drop_after = None;
            this.pieces.clear();
            this.finish();
            return Poll::Ready(Some(Err(std::io::Error::other("scripted connection drop"))));
        }
        if this.pieces.is_empty() {
            this.finish();
            return Poll::Ready(None);
        }
        if this.sent > 0 && !this.delay.is_zero() {
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(this.delay)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.sleep = None;
        }
        this.sent += 1;
        Poll::Ready(this.pieces.pop_front().map(Ok))
    }
}
