#![doc = include_str!("../README.md")]

mod adapter;
mod api;
mod config;
mod envelope;
pub mod format;
mod media;
mod platform;
mod receive;
mod sse;

pub use adapter::SignalAdapter;
pub use config::{DEFAULT_HTTP_URL, SignalConfig};

/// The platform name of Signal in session keys, config and the store.
pub const PLATFORM: hermod_model::PlatformId = hermod_model::PlatformId::from_static("signal");

/// The state of the connection to signal-cli, for status displays: the
/// kit's, shared by every adapter.
pub use hermod_adapter_kit::ConnectionState;
