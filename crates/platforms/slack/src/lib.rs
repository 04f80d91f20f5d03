#![doc = include_str!("../README.md")]

mod adapter;
mod api;
mod config;
mod error;
mod events;
mod files;
mod inbound;
mod memory;
mod outbound;
mod platform;
mod receive;
mod render;
mod socket;
mod types;
mod uploads;

pub use adapter::SlackAdapter;
pub use config::{
    AllowBots, DEFAULT_API_BASE_URL, DEFAULT_MEDIA_MAX_BYTES, EVENTS_PATH, ReceiveMode, SlackConfig,
};

/// The platform name of Slack in session keys, config and the store.
pub const PLATFORM: hermod_model::PlatformId = hermod_model::PlatformId::from_static("slack");

/// The state of the connection to Slack, for status displays: the kit's,
/// shared by every adapter.
pub use hermod_adapter_kit::ConnectionState;
