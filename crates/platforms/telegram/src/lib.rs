#![doc = include_str!("../README.md")]

mod adapter;
mod api;
mod config;
mod error;
mod inbound;
mod media;
mod outbound;
mod platform;
mod poll;
mod receive;
mod render;
mod types;
mod webhook;

pub use adapter::TelegramAdapter;
pub use config::{DEFAULT_API_BASE_URL, DEFAULT_MEDIA_MAX_BYTES, ReplyToMode, TelegramConfig};

/// The platform name of Telegram in session keys, config and the store.
pub const PLATFORM: hermod_model::PlatformId = hermod_model::PlatformId::from_static("telegram");

/// The state of the connection to Telegram, for status displays: the
/// kit's, shared by every adapter.
pub use hermod_adapter_kit::ConnectionState;
