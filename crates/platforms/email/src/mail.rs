//! Mail as text: incoming mail read ([`inbound`]) with its quoted history
//! stripped ([`quote`]) and its sender's authentication checked
//! ([`auth`]), replies built ([`outbound`]). No I/O.

pub mod auth;
pub mod inbound;
pub mod outbound;
pub mod quote;
