#![doc = include_str!("../README.md")]

mod adapter;
mod config;
mod flood;
mod inbound;
mod platform;
mod probe;
mod proto;
mod register;
mod session;
mod text;
mod transport;

pub use adapter::IrcAdapter;
pub use config::{Channel, DEFAULT_NICKNAME, IrcConfig, PLAIN_PORT, TLS_PORT};

/// The platform name of IRC in session keys, config and the store.
pub const PLATFORM: hermod_model::PlatformId = hermod_model::PlatformId::from_static("irc");

/// The state of the connection to the server, for status displays: the
/// kit's, shared by every adapter.
pub use hermod_adapter_kit::ConnectionState;
