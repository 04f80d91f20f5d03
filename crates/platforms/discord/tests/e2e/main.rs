//! The Discord adapter end to end: a real gateway (SQLite store, scripted
//! agent) talking to `FakeDiscord` over HTTP and its gateway websocket.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod conversation;
mod files;
mod gateway;
mod interactions;
mod reactions;
mod support;
mod threads;
