#![doc = include_str!("../README.md")]

mod adapter;
mod api;
mod config;
mod lines;
mod platform;
mod receive;
mod types;

pub use adapter::NtfyAdapter;
pub use config::{DEFAULT_SERVER_URL, NtfyConfig};

/// The platform name of ntfy in session keys, config and the store.
pub const PLATFORM: hermod_model::PlatformId = hermod_model::PlatformId::from_static("ntfy");

/// The tag every message hermod publishes carries, so the adapter knows
/// its own messages when ntfy streams them back on the topic.
pub const BOT_TAG: &str = "hermod";

/// The state of the connection to ntfy, for status displays: the kit's,
/// shared by every adapter.
pub use hermod_adapter_kit::ConnectionState;
