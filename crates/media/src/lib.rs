//! What hermod's model is given of a message's files.
//!
//! [`Reader`] is the gateway's [`hermod_core::MediaReader`]: images become
//! image parts scaled to a longest edge ([`image`]), or descriptions by a
//! vision model when the main model cannot see; documents and PDFs become
//! their text up to a cap ([`document`]); voice and audio become their
//! transcripts; anything else is named with its type, size and path.
//! PDFs can be read in a child process ([`worker`]).

mod describe;
pub mod document;
pub mod image;
mod reader;
pub mod worker;

pub use describe::{Describer, Subject};
pub use reader::{
    DEFAULT_DOCUMENT_MAX_CHARS, DEFAULT_MAX_IMAGE_EDGE, ImageInput, Reader, ReaderConfig,
};
