#![doc = include_str!("../README.md")]

mod adapter;
mod config;
mod error;
mod inbound;
mod outbound;
mod server;

pub use adapter::ApiServer;
pub use config::ApiServerConfig;

/// The platform name of the API server in session keys and the store.
pub const PLATFORM: hermod_model::PlatformId = hermod_model::PlatformId::from_static("api_server");
