//! `GET /v1/runs/{id}/events`: a run's events as server-sent events, in
//! Hermes' framing — each event one `data:` line of JSON whose `event`
//! field names it (no `event:` lines, so `EventSource.onmessage` sees them
//! all), `: keepalive` comments while nothing happens, and `: stream
//! closed` after the run's last event. A subscriber starts from the first
//! event still buffered, so one that comes late misses nothing the buffer
//! kept; several may follow the same run.

use super::run::Run;
use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A comment sent on an idle event stream so proxies keep it open.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(30);
const KEEPALIVE: &str = ": keepalive\n\n";
const CLOSED: &str = ": stream closed\n\n";

pub(crate) fn event_stream(run: Arc<Run>, buffer_cap: usize) -> Response {
    let reader = Reader {
        changes: run.subscribe(),
        run,
        cursor: 0,
        done: false,
        buffer_cap,
    };
    // The body owns the reader only: a subscriber that goes away stops
    // nothing but its own stream; the run goes on.
    let body = futures_util::stream::unfold(reader, |mut reader| async move {
        let chunk = reader.next_chunk().await?;
        Some((
            Ok::<_, std::convert::Infallible>(Bytes::from(chunk)),
            reader,
        ))
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    response
}

struct Reader {
    run: Arc<Run>,
    changes: watch::Receiver<()>,
    /// The sequence number of the next event to send.
    cursor: u64,
    done: bool,
    buffer_cap: usize,
}

impl Reader {
    async fn next_chunk(&mut self) -> Option<String> {
        if self.done {
            return None;
        }
        loop {
            // Marked seen before reading, so an event pushed after the read
            // wakes the wait below.
            self.changes.borrow_and_update();
            let Some(batch) = self.run.read(self.cursor) else {
                // The stream's time after the run ended is up.
                self.done = true;
                return Some(CLOSED.to_owned());
            };
            self.cursor = batch.next;
            let mut out = String::new();
            if batch.missed > 0 {
                out.push_str(&format!(
                    ": {} events dropped: the run's event buffer ({} KiB) was full; \
                     GET /v1/runs/{} has its outcome\n\n",
                    batch.missed,
                    self.buffer_cap / 1024,
                    self.run.id
                ));
            }
            for event in &batch.events {
                out.push_str("data: ");
                out.push_str(event);
                out.push_str("\n\n");
            }
            if batch.ended {
                out.push_str(CLOSED);
                self.done = true;
            }
            if !out.is_empty() {
                return Some(out);
            }
            tokio::select! {
                changed = self.changes.changed() => {
                    if changed.is_err() {
                        self.done = true;
                        return Some(CLOSED.to_owned());
                    }
                }
                () = tokio::time::sleep(KEEPALIVE_EVERY) => return Some(KEEPALIVE.to_owned()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;
    use crate::runs::run::{Ending, Phase};
    use serde_json::json;

    fn reader(run: &Arc<Run>) -> Reader {
        Reader {
            changes: run.subscribe(),
            run: run.clone(),
            cursor: 0,
            done: false,
            buffer_cap: 1 << 20,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_stream_gets_keepalives_then_the_events_then_closes() {
        let run = Arc::new(Run::new("run_1".into(), "run_1", "hermod", 1 << 20));
        let mut reader = reader(&run);
        let started = tokio::time::Instant::now();
        assert_eq!(reader.next_chunk().await.unwrap(), KEEPALIVE);
        assert_eq!(started.elapsed(), KEEPALIVE_EVERY);
        let writer = {
            let run = run.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                run.emit(
                    "message.delta",
                    json!({"delta": "hi"}),
                    Some(Phase::Running),
                );
                run.end(Ending::Cancelled { output: None });
            })
        };
        let chunk = reader.next_chunk().await.unwrap();
        writer.await.unwrap();
        let mut all = chunk;
        while let Some(more) = reader.next_chunk().await {
            all.push_str(&more);
        }
        let frames: Vec<&str> = all.split("\n\n").filter(|f| !f.is_empty()).collect();
        assert_eq!(frames.len(), 3, "{all}");
        let event = |frame: &str| -> serde_json::Value {
            serde_json::from_str(frame.strip_prefix("data: ").unwrap()).unwrap()
        };
        assert_eq!(event(frames[0])["event"], "message.delta");
        assert_eq!(event(frames[1])["event"], "run.cancelled");
        assert_eq!(frames[2], ": stream closed");
    }

    #[tokio::test]
    async fn an_expired_stream_closes() {
        let run = Arc::new(Run::new("run_1".into(), "run_1", "hermod", 1 << 20));
        run.expire_events();
        let mut reader = reader(&run);
        assert_eq!(reader.next_chunk().await.unwrap(), CLOSED);
        assert_eq!(reader.next_chunk().await, None);
    }
}
