#![doc = include_str!("../README.md")]

mod adapter;
mod api;
mod config;
mod event;
mod media;
mod outbound;
mod platform;
mod reactions;
mod receive;
mod session;
mod sync;

pub use adapter::{IDEMPOTENCY_WINDOW, MIN_EDIT_INTERVAL, MatrixAdapter};
pub use config::{DEFAULT_MAX_MESSAGE_LENGTH, MatrixConfig};
pub use reactions::{DONE, FAILED, WORKING};
pub use receive::ENCRYPTED_NOTICE;

/// The platform name of Matrix in session keys, config and the store.
pub const PLATFORM: hermod_model::PlatformId = hermod_model::PlatformId::from_static("matrix");

/// The state of the connection to the homeserver, for status displays:
/// the kit's, shared by every adapter.
pub use hermod_adapter_kit::ConnectionState;
