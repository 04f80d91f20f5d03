//! The Matrix adapter against a real Synapse (PyPI `matrix-synapse`,
//! found through `HERMOD_SYNAPSE_PYTHON`; skipped with a note when unset
//! outside CI, failing under `CI=true`): the shared conformance suite and
//! end-to-end tests through a real gateway with the scripted agent. One
//! Synapse serves the whole binary; each test registers its own users and
//! rooms, and talks to Synapse through its own small proxy that can
//! rate-limit a send, fail syncs or slip in a malformed event.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod access;
mod conformance;
mod faults;
mod proxy;
mod receiving;
mod sending;
mod support;
mod synapse;
