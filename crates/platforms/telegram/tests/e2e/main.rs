//! The Telegram adapter end to end: a real gateway (SQLite store, scripted
//! agent) talking to a fake Bot API server over HTTP, in real time.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod acp;
mod conversation;
mod crash;
mod faults;
mod groups;
mod media;
mod reading;
mod receiving;
mod restart;
mod results;
mod sending;
mod support;
mod threads;
mod tools;
mod webhook;
