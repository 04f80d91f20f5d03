#![doc = include_str!("../README.md")]

mod adapter;
mod admin;
mod approvals;
mod body;
mod chat;
mod config;
mod cors;
mod error;
mod files;
mod idempotency;
mod inbound;
mod key;
mod listener;
mod models;
mod outbound;
mod platform;
mod responses;
mod runs;
mod security;
mod server;
mod slots;
mod stream;
mod web;

pub use adapter::ApiServer;
pub use config::ApiServerConfig;

/// The platform name of the API server in session keys and the store.
pub const PLATFORM: hermod_model::PlatformId = hermod_model::PlatformId::from_static("api_server");
