//! The IRC adapter against a real IRC server, ngircd (`HERMOD_NGIRCD`):
//! the shared conformance checks, then end to end through a gateway
//! (SQLite store, scripted agent), with raw IRC clients as the users.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod conformance;
mod faults;
mod receiving;
mod sending;
mod support;
mod tls;
