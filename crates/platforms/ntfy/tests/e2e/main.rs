//! The ntfy adapter end to end: a real gateway (SQLite store, scripted
//! agent) subscribed to a fake ntfy server over HTTP, in real time.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod access;
mod faults;
mod files;
mod receiving;
mod sending;
mod support;
