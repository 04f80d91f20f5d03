//! The adapter conformance suite: what every chat [`Adapter`] must do,
//! whatever its platform, checked through the adapter itself, its
//! [`Messenger`](hermod_core::Messenger) (which a chat adapter must have;
//! every check fails at once without one) and a [`Peer`] that plays the
//! platform's side.
//!
//! An adapter's tests build a [`Subject`] (the adapter, pointed at a fake
//! of its platform, and the peer driving that fake) and expand
//! [`adapter_conformance_tests!`](crate::adapter_conformance_tests), which
//! writes one `#[tokio::test]` per check into a module
//! `adapter_conformance`:
//!
//! ```ignore
//! hermod_testkit::adapter_conformance_tests!(async {
//!     let fake = FakeTelegram::start().await;
//!     let adapter = TelegramAdapter::new(config_for(&fake));
//!     Subject {
//!         adapter: Arc::new(adapter),
//!         peer: Arc::new(TelegramPeer::new(fake)),
//!     }
//! });
//! ```
//!
//! The checks (each also a public function, to call on its own):
//! 1. [`sends_report_every_message_id`]: a send returns the id of every
//!    message it created, and edits and deletes act on those ids;
//! 2. [`long_texts_are_split_within_the_limit`]: a text 2.5 times
//!    `max_message_len` becomes several messages, each within the limit
//!    (in `length_unit`), all ids returned, no word lost;
//! 3. [`edits_keep_the_minimum_interval`]: two edits issued back to back
//!    reach the platform at least `min_edit_interval` apart, both applied;
//! 4. [`run_stops_within_a_second_of_shutdown`]: `run` returns `Ok` within
//!    1 s of its shutdown token being cancelled while it is receiving;
//! 5. [`rate_limits_are_surfaced`]: a rate-limit answer comes back as
//!    [`AdapterError::RateLimited`] with the platform's `retry_after`;
//! 6. [`unknown_events_are_ignored`]: an event kind the adapter does not
//!    know neither reaches the gateway nor stops `run`;
//! 7. [`secrets_stay_hidden`]: the peer's secrets appear neither in the
//!    adapter's `Debug` output, nor in errors, nor in any log line.
//!
//! Every check runs the adapter (`run`) against a real gateway (in-memory
//! store, [`crate::ScriptedAgent`] echo, streaming off) and captures all
//! `tracing` output at TRACE level; no check may log a secret.
//!
//! Timing: the checks run on tokio's real clock (not paused). The adapter
//! talks to its fake over real sockets, and on paused time tokio jumps the
//! clock whenever the runtime is idle waiting on I/O, so long-poll timeouts
//! and pacing sleeps would fire at once. Durations are measured with
//! `tokio::time::Instant`; waits are woken by changes (a wrapper around the
//! adapter notifies on every send and edit), each bounded by a generous
//! deadline that only turns a hang into a readable failure.
//!
//! The generated tests use the current-thread runtime, so the log capture
//! (a thread-local default subscriber) sees every task. The crate invoking
//! the macro needs `tokio` (with `macros` and `rt`) as a dependency.

mod checks;
mod harness;
mod peers;

pub use checks::{
    edits_keep_the_minimum_interval, long_texts_are_split_within_the_limit,
    rate_limits_are_surfaced, run_stops_within_a_second_of_shutdown, secrets_stay_hidden,
    sends_report_every_message_id, unknown_events_are_ignored,
};
pub use peers::{DiscordPeer, SlackPeer, TelegramPeer, TestPlatformPeer};

use async_trait::async_trait;
use hermod_core::Adapter;
#[cfg(doc)]
use hermod_core::AdapterError;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The platform's side of the conformance checks, implemented per
/// platform over its fake.
#[async_trait]
pub trait Peer: Send + Sync {
    /// A user sends a direct message; returns the chat id the adapter
    /// reports in `Source.chat_id` (and sends to, to answer).
    async fn user_dm(&self, text: &str) -> String;

    /// The platform answers the adapter's next attempt to send a message
    /// with a rate limit of `retry_after`.
    async fn rate_limit_next_call(&self, retry_after: Duration);

    /// The platform delivers an event of a kind the adapter does not know.
    async fn push_unknown_event(&self);

    /// Strings that must never appear in `Debug` output, errors or logs
    /// (tokens, secrets). At least one, none empty.
    fn secrets(&self) -> Vec<String>;

    /// The current texts (after edits) of the messages the adapter created
    /// in `chat_id` and has not deleted, in order, as the platform shows
    /// them (formatting removed).
    async fn messages(&self, chat_id: &str) -> Vec<String>;

    /// When the adapter's edits of messages in `chat_id` reached the
    /// platform (tokio clock), in order; `None` when the platform does not
    /// record it, in which case the edit check measures around the calls.
    async fn edit_arrivals(&self, _chat_id: &str) -> Option<Vec<Instant>> {
        None
    }

    /// Waits until the adapter, just started, is receiving (for example,
    /// its first long poll arrived), so events pushed afterwards are not
    /// lost to start-up. Returns at once by default.
    async fn wait_until_receiving(&self) {}
}

/// What the suite checks: an adapter and the peer driving its platform.
pub struct Subject {
    pub adapter: Arc<dyn Adapter>,
    pub peer: Arc<dyn Peer>,
}

impl std::fmt::Debug for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subject")
            .field("adapter", &self.adapter)
            .finish_non_exhaustive()
    }
}

/// Fails when `text` (described by `what`) contains any of `secrets`.
/// The failure message does not repeat the secret.
///
/// # Panics
/// When a secret shows, or a secret is empty.
pub fn assert_hides_secrets(what: &str, text: &str, secrets: &[String]) {
    for (i, secret) in secrets.iter().enumerate() {
        assert!(!secret.is_empty(), "secret #{i} is empty");
        if let Some(at) = text.find(secret.as_str()) {
            let start = text[..at]
                .char_indices()
                .rev()
                .nth(60)
                .map_or(0, |(i, _)| i);
            panic!(
                "{what} shows secret #{i} at byte {at}, after: {:?}",
                &text[start..at]
            );
        }
    }
}

/// Fails when the `Debug` output of `value` contains any of `secrets`
/// (for an adapter's concrete type and its configuration; the suite
/// itself only sees `Arc<dyn Adapter>`).
///
/// # Panics
/// As [`assert_hides_secrets`].
pub fn assert_debug_hides_secrets(value: &dyn std::fmt::Debug, secrets: &[String]) {
    assert_hides_secrets("the Debug output", &format!("{value:?}"), secrets);
    assert_hides_secrets("the pretty Debug output", &format!("{value:#?}"), secrets);
}

/// Expands to the conformance suite: a module `adapter_conformance` with
/// one `#[tokio::test]` per check, each building its subject by awaiting
/// `$subject` (an `async` block or a call of an `async fn` returning
/// [`Subject`]; items of the invoking module are in scope).
#[macro_export]
macro_rules! adapter_conformance_tests {
    ($subject:expr $(,)?) => {
        /// The adapter conformance suite (`hermod_testkit::conformance`).
        mod adapter_conformance {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sends_report_every_message_id() {
                $crate::conformance::sends_report_every_message_id(async { $subject.await }).await;
            }

            #[tokio::test]
            async fn long_texts_are_split_within_the_limit() {
                $crate::conformance::long_texts_are_split_within_the_limit(async {
                    $subject.await
                })
                .await;
            }

            #[tokio::test]
            async fn edits_keep_the_minimum_interval() {
                $crate::conformance::edits_keep_the_minimum_interval(async { $subject.await })
                    .await;
            }

            #[tokio::test]
            async fn run_stops_within_a_second_of_shutdown() {
                $crate::conformance::run_stops_within_a_second_of_shutdown(async {
                    $subject.await
                })
                .await;
            }

            #[tokio::test]
            async fn rate_limits_are_surfaced() {
                $crate::conformance::rate_limits_are_surfaced(async { $subject.await }).await;
            }

            #[tokio::test]
            async fn unknown_events_are_ignored() {
                $crate::conformance::unknown_events_are_ignored(async { $subject.await }).await;
            }

            #[tokio::test]
            async fn secrets_stay_hidden() {
                $crate::conformance::secrets_stay_hidden(async { $subject.await }).await;
            }
        }
    };
}
