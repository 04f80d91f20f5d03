//! The Home Assistant adapter end to end: a real gateway (SQLite store,
//! scripted agent) connected to the fake Home Assistant of `../fake`
//! over a websocket and REST.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

#[path = "../fake/mod.rs"]
mod fake;

mod access;
mod faults;
mod receiving;
mod sending;
mod support;
mod timing;
