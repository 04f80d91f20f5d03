//! The shared outbound HTTP client: TLS, timeouts, retry honouring Retry-After, error classification.
//!
//! Every crate that talks to the outside world over HTTP builds its
//! [`reqwest::Client`] through [`HttpClient`], turns failures into an
//! [`HttpError`] (with [`classify_status`] or `From<reqwest::Error>`), and
//! retries the retryable ones with [`retry`] and a [`RetryPolicy`].
//!
//! Nothing here logs a URL: URLs may carry secrets (bot tokens live in the
//! path of some platform APIs), so errors are stripped of them.

mod client;
mod error;
mod retry;
mod retry_after;

pub use client::{HttpClient, HttpConfig, USER_AGENT, install_crypto_provider};
pub use error::{HttpError, classify_status};
pub use retry::{RetryPolicy, retry, sleep_or_cancel};
pub use retry_after::{parse_retry_after, parse_retry_after_at, retry_hint, whole_seconds};

pub use reqwest;
