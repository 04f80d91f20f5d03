//! The Slack adapter end to end: a real gateway (SQLite store, scripted
//! agent) talking to a fake Slack over HTTP and websockets, in real time
//! (real sockets: tokio's paused clock would jump over their waits).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod channels;
mod conversation;
mod events_api;
mod exactly_once;
mod faults;
mod files;
mod reactions;
mod reading;
mod restart;
mod sending;
mod socket;
mod support;
mod threads;
