#![doc = include_str!("../README.md")]

mod adapter;
mod api;
mod config;
mod files;
mod platform;
mod receive;
mod socket;
mod types;

pub use adapter::{MAX_POST_CHARS, MattermostAdapter};
pub use config::{DEFAULT_MEDIA_MAX_BYTES, MattermostConfig, ReplyMode};

/// The platform name of Mattermost in session keys, config and the store.
pub const PLATFORM: hermod_model::PlatformId = hermod_model::PlatformId::from_static("mattermost");

/// The state of the connection to Mattermost, for status displays: the
/// kit's, shared by every adapter.
pub use hermod_adapter_kit::ConnectionState;
