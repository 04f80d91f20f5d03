#![doc = include_str!("../README.md")]

/// The platform name of Matrix in session keys, config and the store.
pub const PLATFORM: hermod_model::PlatformId = hermod_model::PlatformId::from_static("matrix");
