#![doc = include_str!("../README.md")]

/// The platform name of Home Assistant in session keys, config and the store.
pub const PLATFORM: hermod_model::PlatformId = hermod_model::PlatformId::from_static("homeassistant");
