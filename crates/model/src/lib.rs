//! hermod's vocabulary: the pure types and algorithms every other crate shares.
//!
//! Nothing here performs I/O or knows about a particular chat platform; a
//! platform is only ever a [`PlatformId`] value.

mod capabilities;
mod command;
mod delivery_target;
mod env;
mod hex;
mod ids;
mod inbound;
mod list;
mod message;
mod outbound;
mod secret;
mod session_key;
mod source;
pub mod text;

pub use capabilities::{Capabilities, LengthUnit, MarkdownDialect};
pub use command::{ParsedCommand, parse_command};
pub use delivery_target::DeliveryTarget;
pub use env::{EnvVars, describe_type};
pub use hex::to_hex;
pub use ids::{IdError, SessionId};
pub use inbound::{Attachment, AttachmentKind, InboundEvent, TurnOptions};
pub use list::{deserialize_list, split_list};
pub use message::{ChatMessage, Content, ContentPart, ImageUrl, Role, ToolCall, Usage};
pub use outbound::{ChatTarget, Edit, MessageRef, Outbound, Sent};
pub use secret::Secret;
pub use session_key::{SessionKey, SessionKeyPolicy};
pub use source::{ChatType, PlatformId, Source};
