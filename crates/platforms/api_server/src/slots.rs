//! [`RunSlots`]: the cap on agent turns the API runs at once
//! (`max_concurrent_runs`), shared by chat completions, responses and runs.
//! A request that finds no free slot is answered at once with
//! `429 rate_limit_exceeded` and `Retry-After`, in OpenAI's error shape,
//! before its body is read; the slot is held until the turn's answer has
//! been written (for a stream: until it ends) or the run has finished.

use crate::error::ApiError;
use axum::http::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a refused client is told to wait.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Free slots for turns; cheap to clone. No cap when built with 0.
#[derive(Debug, Clone)]
pub(crate) struct RunSlots {
    slots: Option<Arc<Semaphore>>,
    limit: usize,
}

/// One running turn's slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct RunSlot {
    _permit: Option<OwnedSemaphorePermit>,
}

impl RunSlots {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            slots: (limit > 0).then(|| Arc::new(Semaphore::new(limit))),
            limit,
        }
    }

    /// A slot for one turn, or the 429 to answer.
    pub(crate) fn try_acquire(&self) -> Result<RunSlot, ApiError> {
        let Some(slots) = &self.slots else {
            return Ok(RunSlot { _permit: None });
        };
        match Arc::clone(slots).try_acquire_owned() {
            Ok(permit) => Ok(RunSlot {
                _permit: Some(permit),
            }),
            Err(_) => {
                let mut error = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    "rate_limit_exceeded",
                    format!(
                        "Too many concurrent runs (max {}); retry after a second, or raise \
                         API_SERVER_MAX_CONCURRENT_RUNS.",
                        self.limit
                    ),
                );
                error.retry_after = Some(RETRY_AFTER);
                Err(error)
            }
        }
    }

    /// Turns running now.
    #[cfg(test)]
    pub(crate) fn in_use(&self) -> usize {
        self.slots
            .as_ref()
            .map_or(0, |s| self.limit - s.available_permits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_refuses_one_more_until_a_slot_is_given_back() {
        let slots = RunSlots::new(2);
        let a = slots.try_acquire().unwrap();
        let _b = slots.try_acquire().unwrap();
        let refused = slots.try_acquire().unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.code, "rate_limit_exceeded");
        assert_eq!(refused.kind, "rate_limit_error");
        assert_eq!(refused.retry_after, Some(RETRY_AFTER));
        assert!(refused.message.contains("max 2"), "{}", refused.message);
        drop(a);
        assert_eq!(slots.in_use(), 1);
        assert!(slots.try_acquire().is_ok());
    }

    #[test]
    fn zero_means_no_cap() {
        let slots = RunSlots::new(0);
        let held: Vec<_> = (0..1_000).map(|_| slots.try_acquire().unwrap()).collect();
        assert_eq!(held.len(), 1_000);
    }
}
