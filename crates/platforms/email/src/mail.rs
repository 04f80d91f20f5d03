//! Mail as text: incoming mail read ([`inbound`]) with its quoted history
//! stripped ([`quote`]), replies built ([`outbound`]). No I/O.

pub mod inbound;
pub mod outbound;
pub mod quote;
