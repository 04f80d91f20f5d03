//! What every hermod platform adapter shares, so a new platform is its own
//! protocol and little else.

mod backoff;
mod connection;
mod error;
mod media;
mod pacer;
mod state;
#[cfg(test)]
mod testing;

pub use backoff::{Backoff, RECONNECT_BASE, RECONNECT_MAX};
pub use connection::{Connection, ConnectionState, truncate};
pub use error::KitError;
pub use media::{MediaDir, MediaFile, guess_mime, human_size, local_name};
pub use pacer::{Call, Limit, Pacer, PacerLimits, Wait};
pub use state::{AdapterState, StateKey};
