//! Socket Mode.
