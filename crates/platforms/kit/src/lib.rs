//! What every hermod platform adapter shares, so a new platform is its own
//! protocol and little else. This is the "for free" part of the adapter
//! contract (`adapter-contract.md`): each block below carries one MUST or
//! SHOULD of the contract, is tested once here (timing rules with paused
//! time), and names no platform — the platform supplies its numbers,
//! endpoints and payloads.
//!
//! | block | what a new platform gets |
//! |---|---|
//! | [`Pacer`] | sends and edits kept within published limits — per chat, per group, global, each a sliding window with a configurable burst; flood control after a refusal ([`Pacer::block`]); new messages before edits, and edit cadences that stretch with the number of replies streaming at once |
//! | [`AdapterState`] / [`StateKey`] | typed values kept between runs (offsets, sync tokens, resume tokens) in the store's settings under `<platform>:<name>[:<scope>]`, never a hand-formatted key |
//! | [`poll`] / [`PollSource`] | a long-polling loop that saves its cursor only after what it acknowledges was recorded, skips what it cannot place without looping, and backs off on every failed round |
//! | [`Connection`] / [`Backoff`] | the receive loop's state (connecting / connected / retrying / failed), exponential backoff with jitter from 1 s to 5 minutes on tokio's clock, the platform's `retry_after` honoured, health reported degraded and running again, secrets masked in every reason |
//! | [`WebhookListener`] | the one inbound HTTP listener of every webhook platform (`WEBHOOK_HOST`/`WEBHOOK_PORT`, default `127.0.0.1:8644`), a path per platform, started by the first route, a body limit per route (a declared length over it refused before reading), a [`Verifier`] that checks the signature or secret on headers and raw bytes in constant time before the body is parsed ([`SecretHeader`] for shared secrets), refusals answered in the platform's words ([`WebhookHandler::refused`]), and `GET` probes for health checks ([`RouteSpec::probe`]) |
//! | [`MediaDir`] / [`MediaCleanup`] | inbound files downloaded into `HERMOD_HOME/media` with a size cap, a MIME type sniffed from the bytes (a file whose bytes contradict its declared image, audio or PDF type is refused, [`KitError::Mismatch`]), safe stable names, never a partial file; one cleanup task per gateway deletes files older than `HERMOD_MEDIA_MAX_AGE_DAYS` (default 30) and the oldest while the directory is over `HERMOD_MEDIA_MAX_MB` (default 1024), at start and hourly |
//! | [`config`] | environment variables declared once beside their fields ([`config::EnvSettings`]), from which applying them, listing them and checking their limits all follow; shared choices ([`config::ReplyToMode`]), the id-list readers, URL checks that name the setting, whether a token is set, where inbound files go |
//! | [`inbound`] | the same message text on every platform: a replied-to message quoted in front of the reply |
//! | [`tls`] | TCP connections for line protocols: TLS from the first byte or after STARTTLS, the platform verifier the HTTP client uses, an optional CA file for private certificates, a connect deadline |
//! | [`ws`] | a websocket client over rustls: connect with a deadline, text frames with pings answered, the peer's close code for the platform's [`ws::AfterClose`] table, closing within a second on shutdown, and a [`ws::Heartbeat`] with zombie detection |
//!
//! What stays in the adapter: its configuration type (Hermes's variable
//! names), its API client on an injectable base URL, the pure conversions
//! payload → `InboundEvent` and `Outbound` → request, its error
//! classification onto `AdapterError`, and its capabilities.
//!
//! Loops return a classified `AdapterError` for what they cannot go on
//! from (credentials refused, configuration wrong) and handle transient
//! failures themselves through [`Connection::retry`]; core's supervisor
//! around `run` sees only the former.

mod backoff;
pub mod config;
mod connection;
mod error;
pub mod inbound;
mod media;
mod pacer;
mod poll;
mod state;
#[cfg(test)]
mod testing;
pub mod tls;
mod webhook;
pub mod ws;

pub use backoff::{Backoff, RECONNECT_BASE, RECONNECT_MAX};
pub use connection::{Connection, ConnectionState, STABLE_AFTER, truncate};
pub use error::KitError;
pub use media::{
    CLEANUP_EVERY, CleanupReport, DEFAULT_MEDIA_MAX_AGE_DAYS, DEFAULT_MEDIA_MAX_MB, MediaCleanup,
    MediaDir, MediaFile, MediaRetention, cleanup, guess_mime, human_size, local_name,
};
pub use pacer::{Call, Limit, Pacer, PacerLimits, Wait};
pub use poll::{FetchError, Handled, PollSource, poll};
pub use state::{AdapterState, StateKey};
pub use webhook::{
    DEFAULT_MAX_BODY, DEFAULT_WEBHOOK_HOST, DEFAULT_WEBHOOK_PORT, Registration, RouteSpec,
    SecretHeader, Verdict, Verifier, WebhookConfig, WebhookHandler, WebhookListener,
};

/// An HTTP client with hermod's defaults, for an adapter built outside a
/// gateway (the gateway hands every platform its shared one,
/// `BuildContext::http`).
pub fn http_client() -> Result<hermod_http::HttpClient, hermod_core::AdapterError> {
    hermod_http::HttpClient::new()
        .map_err(|e| hermod_core::AdapterError::Startup(format!("cannot set up HTTP: {e}")))
}
