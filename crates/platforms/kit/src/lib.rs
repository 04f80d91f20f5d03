//! What every hermod platform adapter shares, so a new platform is its own
//! protocol and little else.

mod backoff;
mod connection;
mod error;
mod media;
mod pacer;
mod poll;
mod state;
#[cfg(test)]
mod testing;
mod webhook;

pub use backoff::{Backoff, RECONNECT_BASE, RECONNECT_MAX};
pub use connection::{Connection, ConnectionState, truncate};
pub use error::KitError;
pub use media::{MediaDir, MediaFile, guess_mime, human_size, local_name};
pub use pacer::{Call, Limit, Pacer, PacerLimits, Wait};
pub use poll::{FetchError, Handled, PollSource, poll};
pub use state::{AdapterState, StateKey};
pub use webhook::{
    DEFAULT_MAX_BODY, DEFAULT_WEBHOOK_HOST, DEFAULT_WEBHOOK_PORT, Registration, SecretHeader,
    Verdict, Verifier, WebhookConfig, WebhookHandler, WebhookListener,
};
