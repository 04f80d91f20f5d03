#![doc = include_str!("../README.md")]

mod adapter;
mod config;
mod error;
mod imap;
pub mod mail;
mod media;
mod net;
mod platform;
mod receive;
mod send;
mod smtp;

pub use adapter::{EmailAdapter, MAX_MESSAGE_CHARS};
pub use config::{EmailConfig, IMAPS_PORT, SMTPS_PORT, Security};
pub use error::EmailError;

/// The state of the connection to the IMAP server, for status displays:
/// the kit's, shared by every adapter.
pub use hermod_adapter_kit::ConnectionState;

/// The platform name of email in session keys, config and the store.
pub const PLATFORM: hermod_model::PlatformId = hermod_model::PlatformId::from_static("email");
