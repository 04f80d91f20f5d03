#![doc = include_str!("../README.md")]

mod adapter;
mod api;
mod config;
mod events;
mod outbound;
mod platform;
mod protocol;
mod receive;

pub use adapter::HomeAssistantAdapter;
pub use config::{DEFAULT_NOTIFICATION_TITLE, DEFAULT_URL, HomeAssistantConfig};
pub use events::EVENTS_CHAT;
pub use outbound::MAX_MESSAGE_CHARS;

/// The platform name of Home Assistant in session keys, config and the store.
pub const PLATFORM: hermod_model::PlatformId =
    hermod_model::PlatformId::from_static("homeassistant");

/// The state of the connection to Home Assistant, for status displays:
/// the kit's, shared by every adapter.
pub use hermod_adapter_kit::ConnectionState;
