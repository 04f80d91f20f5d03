#![doc = include_str!("../README.md")]

mod adapter;
mod api;
mod commands;
mod config;
mod error;
mod gateway;
mod inbound;
mod outbound;
mod platform;
mod receive;
mod types;

pub use adapter::DiscordAdapter;
pub use config::{
    AllowBots, DEFAULT_API_BASE_URL, DEFAULT_MEDIA_MAX_BYTES, DiscordConfig, ReplyToMode,
};

/// The platform name of Discord in session keys, config and the store.
pub const PLATFORM: hermod_model::PlatformId = hermod_model::PlatformId::from_static("discord");

/// The state of the gateway connection, for status displays: the kit's,
/// shared by every adapter.
pub use hermod_adapter_kit::ConnectionState;
