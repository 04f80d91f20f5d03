//! Building blocks for fakes of chat platforms (peers), so a new fake is
//! mostly the platform's own payloads. The Telegram, Discord and Slack
//! fakes are built from them.
//!
//! - [`PeerListener`]: serves an axum [`Router`](axum::Router) on
//!   `127.0.0.1:0`, reports the address, and lets a handler [`Cut`] its
//!   connection (a scripted "connection dropped" fault).
//! - [`Watched`]: the fake's state behind one mutex, with change
//!   notification; [`Watched::wait_until`] and [`Watched::wait_for`] are
//!   woken by changes and never poll.
//! - [`Recorder`] and [`RequestHead`]: the calls a fake received, and the
//!   request facts (method, path, query, headers of interest, time) its
//!   call records are made of.
//! - [`FaultQueue`] and [`Verdict`]: failures scripted per route ("the
//!   next N calls fail like this"), and carrying out what was decided for
//!   a call (answer, fail, answer late, or drop the connection).
//! - [`read_body`]: a request body as JSON, a form or multipart parts.
//! - [`socket`]: a websocket server scaffold: a registry of open
//!   connections to write to, and the loop that writes, reads, closes
//!   with a code or drops.

mod body;
mod faults;
mod listener;
mod recorder;
pub mod socket;
mod watched;

pub use body::{Body, BodyError, Part, ReadBody, form_fields, read_body};
pub use faults::{FaultQueue, Verdict, whole_seconds};
pub use listener::{Cut, PeerListener};
pub use recorder::{Recorder, RequestHead};
pub use watched::Watched;
