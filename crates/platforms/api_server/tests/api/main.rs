//! The API server end to end: a real listening socket on loopback, the real
//! router and store, and either the real LLM client against the scripted
//! fake upstream or an in-process agent. One test binary.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod admin_jobs;
mod admin_sessions;
mod approvals;
mod bodies;
mod capabilities;
mod chat;
mod concurrency;
mod connections;
mod cors;
mod dashboard;
mod errors;
mod files;
mod health;
mod idempotency;
mod images;
mod interrupts;
mod models;
mod reasoning;
mod responses;
mod runs;
mod security;
mod session_key;
mod sessions;
mod support;
mod tools;
mod web;
