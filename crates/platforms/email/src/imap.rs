//! IMAP: the byte-level connection ([`wire`]) and the commands on it
//! ([`client`]).

pub(crate) mod client;
pub(crate) mod wire;

pub(crate) use client::{Imap, Woke};
