//! The email adapter end to end: a real gateway (SQLite store, scripted
//! agent) reading a real Dovecot over IMAP and replying through a real
//! aiosmtpd over SMTP, in real time. Every test starts its own servers
//! (about a second) and skips without them outside CI (see
//! `support::servers`).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod access;
mod conformance;
mod faults;
mod receiving;
mod restart;
mod sending;
mod support;
