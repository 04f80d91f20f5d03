//! The tools through their public constructors, against real processes,
//! files and a local HTTP server. One binary for all of them; Unix only,
//! like the terminal's process groups and the symlinks the file tests make.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod approval;
mod files;
mod support;
mod terminal;
mod web_fetch;
