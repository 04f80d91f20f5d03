//! The Mattermost adapter end to end: a real gateway (SQLite store,
//! scripted agent) connected to a fake Mattermost server over HTTP and
//! its websocket, in real time.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod access;
mod channels;
mod conversation;
mod exactly_once;
mod faults;
mod files;
mod reconnect;
mod support;
