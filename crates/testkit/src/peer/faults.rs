//! Scripted failures: [`FaultQueue`] holds the faults tests queue per
//! route (or method), used one per call; [`Verdict`] is what a fake
//! decided for a call and carries it out.

use super::listener::Cut;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Faults `F` queued by route `K`: the next calls of a route take them
/// one each, in order. A fake picks the key meaning "any route" (`*`,
/// `None`) and asks for it after the route's own.
#[derive(Debug, Clone)]
pub struct FaultQueue<K, F> {
    queues: HashMap<K, VecDeque<F>>,
}

impl<K, F> Default for FaultQueue<K, F> {
    fn default() -> Self {
        Self {
            queues: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash, F> FaultQueue<K, F> {
    /// Queues `fault` for the next call of `key` not already given one.
    pub fn push(&mut self, key: K, fault: F) {
        self.queues.entry(key).or_default().push_back(fault);
    }

    /// Queues `fault` for the next `n` calls of `key`.
    pub fn push_times(&mut self, key: K, n: usize, fault: F)
    where
        F: Clone,
    {
        let queue = self.queues.entry(key).or_default();
        queue.extend(std::iter::repeat_n(fault, n));
    }

    /// Takes the next fault of the first key in `keys` (most specific
    /// first) that has one.
    pub fn take<Q>(&mut self, keys: &[&Q]) -> Option<F>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        keys.iter().find_map(|key| {
            let queue = self.queues.get_mut(*key)?;
            let fault = queue.pop_front();
            if queue.is_empty() {
                self.queues.remove(*key);
            }
            fault
        })
    }

    /// The fault [`FaultQueue::take`] would take next, left queued.
    pub fn peek<Q>(&self, keys: &[&Q]) -> Option<&F>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        keys.iter()
            .find_map(|key| self.queues.get(*key).and_then(VecDeque::front))
    }

    /// Faults still queued, all keys together.
    pub fn len(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    pub fn clear(&mut self) {
        self.queues.clear();
    }
}

/// What to do with a call before handling it; `E` is the fake's error
/// answer.
#[derive(Debug)]
pub enum Verdict<E> {
    Proceed,
    /// Handle it after this long (tokio time).
    Delay(Duration),
    /// Answer with this error.
    Fail(E),
    /// Close the connection without answering.
    Drop,
}

impl<E: IntoResponse> Verdict<E> {
    /// Carries the verdict out: `None` to go on and answer normally, else
    /// the response to return. A delay ends early with `unavailable`
    /// when the fake shuts down; a drop cuts the connection.
    pub async fn carry_out(
        self,
        cut: &Cut,
        shutdown: &CancellationToken,
        unavailable: impl FnOnce() -> E,
    ) -> Option<Response> {
        match self {
            Verdict::Proceed => None,
            Verdict::Delay(delay) => tokio::select! {
                () = tokio::time::sleep(delay) => None,
                () = shutdown.cancelled() => Some(unavailable().into_response()),
            },
            Verdict::Fail(error) => Some(error.into_response()),
            Verdict::Drop => {
                cut.cut();
                // Never written: the connection fails first.
                Some(StatusCode::INTERNAL_SERVER_ERROR.into_response())
            }
        }
    }
}

/// Whole seconds, rounded up, at least one: a `Retry-After` or
/// `retry_after` for a wait that may be shorter than a second.
pub fn whole_seconds(duration: Duration) -> u64 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_used_one_per_call_the_routes_own_first() {
        let mut faults = FaultQueue::default();
        faults.push_times("send".to_owned(), 2, 503);
        faults.push("*".to_owned(), 429);
        assert_eq!(faults.len(), 3);
        assert_eq!(faults.take(&["send", "*"]), Some(503));
        assert_eq!(faults.take(&["edit", "*"]), Some(429));
        assert_eq!(faults.take(&["edit", "*"]), None);
        assert_eq!(faults.take(&["send", "*"]), Some(503));
        assert!(faults.is_empty());
        let mut by_route: FaultQueue<Option<u8>, &str> = FaultQueue::default();
        by_route.push(None, "any");
        assert_eq!(by_route.take(&[&Some(1), &None]), Some("any"));
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(whole_seconds(Duration::from_millis(4200)), 5);
        assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
        assert_eq!(whole_seconds(Duration::ZERO), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn verdicts_are_carried_out() {
        let cut = Cut::default();
        let shutdown = CancellationToken::new();
        let fail = |v: Verdict<StatusCode>| {
            v.carry_out(&cut, &shutdown, || StatusCode::SERVICE_UNAVAILABLE)
        };
        assert!(fail(Verdict::Proceed).await.is_none());
        let started = tokio::time::Instant::now();
        assert!(fail(Verdict::Delay(Duration::from_secs(5))).await.is_none());
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        let refused = fail(Verdict::Fail(StatusCode::BAD_REQUEST)).await;
        assert_eq!(refused.map(|r| r.status()), Some(StatusCode::BAD_REQUEST));
        assert!(!cut.is_cut());
        assert!(fail(Verdict::Drop).await.is_some());
        assert!(cut.is_cut());
        shutdown.cancel();
        let late = fail(Verdict::Delay(Duration::from_secs(5))).await;
        assert_eq!(
            late.map(|r| r.status()),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
    }
}
