//! Images for vision models: decoded, scaled down to a longest edge, and
//! encoded as a `data:` URL.

/// An image ready for an image content part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaledImage {
    /// `data:image/jpeg;base64,...`
    pub data_url: String,
    pub width: u32,
    pub height: u32,
}

/// Why an image could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("the image could not be decoded: {0}")]
    Undecodable(String),
}

/// Decodes `bytes` and scales the image so its longest edge is at most
/// `max_edge` pixels. Blocking: run it off the async runtime.
pub fn scale_for_model(_bytes: &[u8], _max_edge: u32) -> Result<ScaledImage, ImageError> {
    Err(ImageError::Undecodable("not built yet".into()))
}
