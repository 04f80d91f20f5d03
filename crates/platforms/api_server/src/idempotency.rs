//! `Idempotency-Key`: a client that retries a request (after a timeout, a
//! dropped connection) with the same key gets the first answer instead of
//! a second turn, as in Hermes.
//!
//! [`IdempotencyCache`] is generic: it maps a key to the [`Fingerprint`] of
//! the request that first used it and, once that request is answered, its
//! answer. A repeat with the same fingerprint gets the answer; while the
//! first is still running, the repeat waits for it rather than running a
//! second turn. If the first fails (or its client goes away and the turn is
//! cancelled), nothing is kept and a waiting repeat runs in its place, since
//! retrying is what it was sent to do. Only successful answers are kept.
//!
//! The same key with a different request is refused (`422
//! idempotency_key_reused`, as the IETF draft on the header advises) —
//! Hermes runs such a request again and forgets the first answer, which
//! lets a client bug pass silently. Keys are kept for [`TTL`] after their
//! answer, and at most [`MAX_ENTRIES`] answers and [`MAX_BYTES`] of them
//! are kept (the oldest go first), on tokio's clock.
//!
//! [`answer_once`] wraps a handler's non-streamed path; chat completions
//! and the Responses API use it with their own caches.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::debug;

/// The request header.
pub(crate) const IDEMPOTENCY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// How long an answer is replayed after it was given (Hermes: 300 s).
pub(crate) const TTL: Duration = Duration::from_secs(300);
/// At most this many answers are kept (Hermes: 1000).
pub(crate) const MAX_ENTRIES: usize = 1000;
/// At most this many bytes of answers are kept; an answer larger than
/// this is not kept at all.
pub(crate) const MAX_BYTES: usize = 32 * 1024 * 1024;
/// The longest key accepted (a UUID is 36; SDKs prefix theirs).
const MAX_KEY_CHARS: usize = 256;

/// The request's `Idempotency-Key`, if it sent one (blank counts as none).
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get(&IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let invalid = |why: &str| {
        ApiError::bad_request(
            "invalid_idempotency_key",
            format!("The Idempotency-Key header {why}; send a unique value such as a UUID."),
        )
    };
    let text = raw
        .to_str()
        .map_err(|_| invalid("must be printable ASCII"))?
        .trim();
    if text.chars().count() > MAX_KEY_CHARS {
        return Err(invalid(&format!(
            "is longer than {MAX_KEY_CHARS} characters"
        )));
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// What makes two requests "the same" for a key: a hash of the named
/// fields of the JSON body (Hermes: model, messages, tools, tool_choice,
/// stream) and of the headers that change the answer (the session's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub(crate) fn of(body: &[u8], fields: &[&str], headers: &[Option<&str>]) -> Self {
        let mut hash = Sha256::new();
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => {
                for field in fields {
                    // Length-prefixed, so no two different inputs hash the
                    // same bytes.
                    let value = object.get(*field).unwrap_or(&Value::Null).to_string();
                    hash.update(value.len().to_le_bytes());
                    hash.update(value.as_bytes());
                }
            }
            _ => hash.update(body),
        }
        for header in headers {
            match header {
                Some(text) => {
                    hash.update([1]);
                    hash.update(text.len().to_le_bytes());
                    hash.update(text.as_bytes());
                }
                None => hash.update([0]),
            }
        }
        Self(hash.finalize().into())
    }
}

/// Answers by key, each tied to the request that first used the key.
/// Cheap to clone; clones share the answers.
#[derive(Debug)]
pub(crate) struct IdempotencyCache<V> {
    entries: Arc<Mutex<Entries<V>>>,
    limits: Limits,
}

impl<V> Clone for IdempotencyCache<V> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            limits: self.limits,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    ttl: Duration,
    max_entries: usize,
    max_bytes: usize,
}

#[derive(Debug)]
struct Entries<V> {
    map: HashMap<String, Entry<V>>,
    /// Bytes of the kept answers.
    bytes: usize,
    /// Tells the runs of one key apart, so a finished run's ticket never
    /// removes a later run's entry; also orders the answers.
    next_run: u64,
}

#[derive(Debug)]
enum Entry<V> {
    Running {
        fingerprint: Fingerprint,
        run: u64,
        answer: watch::Receiver<Option<V>>,
    },
    Done {
        fingerprint: Fingerprint,
        answer: V,
        size: usize,
        at: Instant,
        /// When it was answered, in the order of answers (the oldest goes
        /// first when the cache is full).
        order: u64,
    },
}

/// What a request with a key does.
#[derive(Debug)]
pub(crate) enum Claim<V> {
    /// The answer the first request with this key got.
    Replay(V),
    /// First with this key: run, then [`Ticket::finish`] with the answer.
    Run(Ticket<V>),
}

/// The key was first used by a different request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reused;

impl From<Reused> for ApiError {
    fn from(_: Reused) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_error",
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request; send a new key \
             for a new request (the same key is only for retrying the same request).",
        )
    }
}

/// The right and duty to answer a key. Dropped without
/// [`finish`](Ticket::finish) (a failure, a cancelled request), it frees
/// the key, and a waiting repeat runs instead.
#[derive(Debug)]
pub(crate) struct Ticket<V> {
    cache: IdempotencyCache<V>,
    key: String,
    run: u64,
    sender: Option<watch::Sender<Option<V>>>,
}

impl<V: Clone> IdempotencyCache<V> {
    pub(crate) fn new() -> Self {
        Self::with_limits(TTL, MAX_ENTRIES, MAX_BYTES)
    }

    pub(crate) fn with_limits(ttl: Duration, max_entries: usize, max_bytes: usize) -> Self {
        Self {
            entries: Arc::new(Mutex::new(Entries {
                map: HashMap::new(),
                bytes: 0,
                next_run: 0,
            })),
            limits: Limits {
                ttl,
                max_entries,
                max_bytes,
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<V>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer for `key`, the right to produce it, or [`Reused`]. Waits
    /// while another request with the same key and fingerprint runs.
    pub(crate) async fn claim(
        &self,
        key: &str,
        fingerprint: Fingerprint,
    ) -> Result<Claim<V>, Reused> {
        loop {
            let mut running = {
                let mut entries = self.lock();
                entries.purge(self.limits);
                match entries.map.get(key) {
                    None => {
                        let run = entries.next_run;
                        entries.next_run += 1;
                        let (sender, answer) = watch::channel(None);
                        entries.map.insert(
                            key.to_owned(),
                            Entry::Running {
                                fingerprint,
                                run,
                                answer,
                            },
                        );
                        return Ok(Claim::Run(Ticket {
                            cache: self.clone(),
                            key: key.to_owned(),
                            run,
                            sender: Some(sender),
                        }));
                    }
                    Some(entry) if entry.fingerprint() != fingerprint => return Err(Reused),
                    Some(Entry::Done { answer, .. }) => return Ok(Claim::Replay(answer.clone())),
                    Some(Entry::Running { answer, .. }) => answer.clone(),
                }
            };
            debug!("a request with the same Idempotency-Key is running; waiting for its answer");
            if let Ok(answer) = running.wait_for(Option::is_some).await
                && let Some(answer) = answer.clone()
            {
                return Ok(Claim::Replay(answer));
            }
            // The first request gave up without an answer: run in its place.
        }
    }

    /// How many answers are kept (for tests).
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.lock()
            .map
            .values()
            .filter(|e| matches!(e, Entry::Done { .. }))
            .count()
    }
}

impl<V> Entry<V> {
    fn fingerprint(&self) -> Fingerprint {
        match self {
            Entry::Running { fingerprint, .. } | Entry::Done { fingerprint, .. } => *fingerprint,
        }
    }
}

impl<V> Entries<V> {
    /// Forgets expired answers, then the oldest ones beyond the limits.
    fn purge(&mut self, limits: Limits) {
        let now = Instant::now();
        let mut freed = 0;
        self.map.retain(|_, entry| match entry {
            Entry::Done { at, size, .. } if now.duration_since(*at) >= limits.ttl => {
                freed += *size;
                false
            }
            _ => true,
        });
        self.bytes -= freed;
        while self.map.len() > limits.max_entries || self.bytes > limits.max_bytes {
            let oldest = self
                .map
                .iter()
                .filter_map(|(key, entry)| match entry {
                    Entry::Done { order, .. } => Some((*order, key)),
                    Entry::Running { .. } => None,
                })
                .min()
                .map(|(_, key)| key.clone());
            let Some(oldest) = oldest else { break };
            if let Some(Entry::Done { size, .. }) = self.map.remove(&oldest) {
                self.bytes -= size;
            }
        }
    }
}

impl<V: Clone> Ticket<V> {
    /// Keeps `answer` (of `size` bytes) for repeats and hands it to the
    /// ones waiting.
    pub(crate) fn finish(mut self, answer: V, size: usize) {
        let limits = self.cache.limits;
        {
            let mut entries = self.cache.lock();
            let ours = matches!(entries.map.get(&self.key), Some(Entry::Running { run, .. }) if *run == self.run);
            if ours {
                match entries.map.remove(&self.key) {
                    Some(Entry::Running { fingerprint, .. }) if size <= limits.max_bytes => {
                        entries.bytes += size;
                        let order = entries.next_run;
                        entries.next_run += 1;
                        entries.map.insert(
                            self.key.clone(),
                            Entry::Done {
                                fingerprint,
                                answer: answer.clone(),
                                size,
                                at: Instant::now(),
                                order,
                            },
                        );
                        entries.purge(limits);
                    }
                    _ => debug!(size, "an idempotent answer too large to keep"),
                }
            }
        }
        if let Some(sender) = self.sender.take() {
            sender.send_replace(Some(answer));
        }
    }
}

impl<V> Drop for Ticket<V> {
    fn drop(&mut self) {
        if self.sender.is_none() {
            return;
        }
        let mut entries = self
            .cache
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if matches!(entries.map.get(&self.key), Some(Entry::Running { run, .. }) if *run == self.run)
        {
            entries.map.remove(&self.key);
        }
        // Dropping the sender wakes the waiting repeats.
    }
}

/// A whole answer as it was sent: status, headers and body.
#[derive(Debug, Clone)]
pub(crate) struct CachedResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl CachedResponse {
    /// Reads `response`'s body (a whole answer, already in memory) and
    /// returns the copy to keep and the response to send.
    async fn capture(response: Response) -> Result<(Self, Response), ApiError> {
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal_error",
                format!("The answer could not be read back: {e}."),
            )
        })?;
        let cached = Self {
            status: parts.status,
            headers: parts.headers.clone(),
            body: body.clone(),
        };
        Ok((cached, Response::from_parts(parts, body.into())))
    }

    fn size(&self) -> usize {
        self.body.len()
            + self
                .headers
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len())
                .sum::<usize>()
    }
}

impl IntoResponse for CachedResponse {
    fn into_response(self) -> Response {
        let mut response = Response::new(self.body.into());
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

/// Runs `run` once per key and fingerprint: without a key it just runs;
/// with one, a repeat gets the first successful answer (waiting for it
/// while it is produced), and a different request under the same key is
/// refused. For whole (non-streamed) answers only.
pub(crate) async fn answer_once<F>(
    cache: &IdempotencyCache<CachedResponse>,
    key: Option<&str>,
    fingerprint: Fingerprint,
    run: F,
) -> Result<Response, ApiError>
where
    F: Future<Output = Result<Response, ApiError>>,
{
    let Some(key) = key else {
        return run.await;
    };
    let ticket = match cache.claim(key, fingerprint).await? {
        Claim::Replay(answer) => {
            debug!("answered a repeated request from its Idempotency-Key");
            return Ok(answer.into_response());
        }
        Claim::Run(ticket) => ticket,
    };
    let response = run.await?;
    if !response.status().is_success() {
        return Ok(response);
    }
    let (cached, response) = CachedResponse::capture(response).await?;
    let size = cached.size();
    ticket.finish(cached, size);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(text: &str) -> Fingerprint {
        Fingerprint::of(
            format!(r#"{{"messages":"{text}"}}"#).as_bytes(),
            &["messages"],
            &[],
        )
    }

    async fn run(cache: &IdempotencyCache<u32>, key: &str, text: &str) -> Ticket<u32> {
        match cache.claim(key, fp(text)).await {
            Ok(Claim::Run(ticket)) => ticket,
            other => panic!("expected to run, got {other:?}"),
        }
    }

    async fn replay(cache: &IdempotencyCache<u32>, key: &str, text: &str) -> u32 {
        match cache.claim(key, fp(text)).await {
            Ok(Claim::Replay(answer)) => answer,
            other => panic!("expected a replay, got {other:?}"),
        }
    }

    #[test]
    fn fingerprints_see_the_named_fields_and_headers_only() {
        let a = Fingerprint::of(
            br#"{"model":"m","messages":[1],"temperature":1}"#,
            &["model", "messages"],
            &[None],
        );
        let b = Fingerprint::of(
            br#"{"messages":[1],"model":"m","temperature":2}"#,
            &["model", "messages"],
            &[None],
        );
        assert_eq!(a, b, "key order and other fields do not matter");
        let c = Fingerprint::of(
            br#"{"model":"m","messages":[2]}"#,
            &["model", "messages"],
            &[None],
        );
        assert_ne!(a, c);
        let d = Fingerprint::of(
            br#"{"model":"m","messages":[1]}"#,
            &["model", "messages"],
            &[Some("s1")],
        );
        assert_ne!(a, d, "a session header changes the request");
        let e = Fingerprint::of(
            br#"{"model":"m","messages":[1]}"#,
            &["model", "messages"],
            &[Some("")],
        );
        assert_ne!(a, e);
    }

    #[test]
    fn keys_are_checked() {
        let mut headers = HeaderMap::new();
        assert_eq!(idempotency_key(&headers).unwrap(), None);
        headers.insert(IDEMPOTENCY_HEADER, " abc ".parse().unwrap());
        assert_eq!(idempotency_key(&headers).unwrap().as_deref(), Some("abc"));
        headers.insert(IDEMPOTENCY_HEADER, "x".repeat(257).parse().unwrap());
        let err = idempotency_key(&headers).unwrap_err();
        assert_eq!(err.code, "invalid_idempotency_key");
        assert!(err.message.contains("256"), "{}", err.message);
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeat_gets_the_first_answer_and_a_different_request_is_refused() {
        let cache = IdempotencyCache::new();
        let ticket = run(&cache, "k", "hi").await;
        assert_eq!(
            cache.claim("k", fp("other")).await.unwrap_err(),
            Reused,
            "while running"
        );
        ticket.finish(7, 1);
        assert_eq!(replay(&cache, "k", "hi").await, 7);
        assert_eq!(
            cache.claim("k", fp("other")).await.unwrap_err(),
            Reused,
            "once answered"
        );
        // Other keys are independent.
        run(&cache, "k2", "other").await.finish(8, 1);
        assert_eq!(replay(&cache, "k2", "other").await, 8);
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeat_waits_for_the_running_first_request() {
        let cache = IdempotencyCache::new();
        let ticket = run(&cache, "k", "hi").await;
        let waiter = tokio::spawn({
            let cache = cache.clone();
            async move { replay(&cache, "k", "hi").await }
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!waiter.is_finished(), "waits while the first runs");
        ticket.finish(9, 1);
        assert_eq!(waiter.await.unwrap(), 9);
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeat_runs_when_the_first_request_gives_up() {
        let cache = IdempotencyCache::new();
        let ticket = run(&cache, "k", "hi").await;
        let waiter = tokio::spawn({
            let cache = cache.clone();
            async move { run(&cache, "k", "hi").await.finish(2, 1) }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished());
        drop(ticket);
        waiter.await.unwrap();
        assert_eq!(replay(&cache, "k", "hi").await, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn answers_expire_and_are_bounded_in_number_and_size() {
        let cache = IdempotencyCache::with_limits(Duration::from_secs(300), 2, 100);
        run(&cache, "a", "x").await.finish(1, 10);
        tokio::time::sleep(Duration::from_secs(299)).await;
        assert_eq!(replay(&cache, "a", "x").await, 1);
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Expired: the key is free again, even for another request.
        run(&cache, "a", "y").await.finish(2, 10);
        tokio::time::sleep(Duration::from_secs(1)).await;
        run(&cache, "b", "x").await.finish(3, 10);
        tokio::time::sleep(Duration::from_secs(1)).await;
        run(&cache, "c", "x").await.finish(4, 10);
        assert_eq!(cache.kept(), 2, "the oldest answer went");
        drop(run(&cache, "a", "x").await);
        assert_eq!(replay(&cache, "c", "x").await, 4);
        // Too large to keep at all; bytes push out the oldest.
        run(&cache, "big", "x").await.finish(5, 101);
        run(&cache, "big", "x").await.finish(5, 95);
        assert_eq!(cache.kept(), 1);
        assert_eq!(replay(&cache, "big", "x").await, 5);
    }
}
