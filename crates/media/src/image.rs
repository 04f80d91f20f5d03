//! Images for vision models: decoded, scaled down to a longest edge, and
//! encoded as a `data:` URL.
//!
//! An image that is already small enough is passed through as its original
//! bytes: no re-encode, so no quality lost and no CPU spent. Anything else is
//! decoded (the first frame of a GIF), scaled so its longest edge is
//! `max_edge`, and encoded as a JPEG.
//!
//! Decoding is bounded before any pixel is allocated: the header's size is
//! checked against [`MAX_MEGAPIXELS`], and the decoder runs under
//! [`image::Limits`], so a small file claiming 60000×60000 pixels is refused
//! instead of allocating gigabytes.

use std::io::Cursor;

use base64::Engine as _;
use image::codecs::gif::GifDecoder;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{AnimationDecoder, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The largest image decoded, in millions of pixels. A 40-megapixel RGBA
/// image is 160 MB decoded; phone cameras stay below (48 MP sensors save
/// 12 MP by default).
pub const MAX_MEGAPIXELS: u64 = 40;

/// What the decoder may allocate in all: a 40-megapixel image at four bytes
/// a pixel, plus room for the codec's own buffers.
const MAX_DECODER_ALLOC: u64 = MAX_MEGAPIXELS * 1_000_000 * 4 + 64 * 1024 * 1024;

/// Originals up to this size are passed through when their edges fit. Above
/// it the image is re-encoded even if small: providers cap image payloads
/// (around 5 MB), and a request is sent as base64, a third larger.
pub const MAX_PASSTHROUGH_BYTES: usize = 4 * 1024 * 1024;

/// JPEG quality of a re-encoded image: no visible artefacts on photos or on
/// text in screenshots, at about a tenth of a PNG's size.
const JPEG_QUALITY: u8 = 85;

/// An image ready for an image content part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaledImage {
    /// `data:image/jpeg;base64,...`
    pub data_url: String,
    /// Width in pixels of the image in `data_url`.
    pub width: u32,
    /// Height in pixels of the image in `data_url`.
    pub height: u32,
    /// MIME type of the image in `data_url`: the original's when passed
    /// through, `image/jpeg` when re-encoded.
    pub mime: String,
    /// Size in bytes of the encoded image (before base64), for logs and for
    /// callers that budget a request's size.
    pub bytes: usize,
}

/// Why an image could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Not a JPEG, PNG, WebP or GIF, or damaged.
    #[error(
        "the image could not be decoded (it is not a JPEG, PNG, WebP or GIF, or it is damaged): {0}"
    )]
    Undecodable(String),
    /// The header claims more pixels than [`MAX_MEGAPIXELS`].
    #[error("the image is {width}×{height} pixels, over the {MAX_MEGAPIXELS}-megapixel limit")]
    TooLarge { width: u32, height: u32 },
    /// Decoding would allocate more than the decoder is allowed (an image
    /// within the pixel limit but with wide pixels, or a hostile file).
    #[error("decoding the image would need more memory than allowed: {0}")]
    OverMemoryLimit(String),
    /// The scaled image could not be encoded; not expected with valid pixels.
    #[error("the scaled image could not be encoded: {0}")]
    Unencodable(String),
}

/// Decodes `bytes` and scales the image so its longest edge is at most
/// `max_edge` pixels (a `max_edge` of 0 is taken as 1). Blocking: run it off
/// the async runtime.
///
/// A JPEG, PNG, WebP or single-frame GIF whose edges are within `max_edge`
/// and whose size is within [`MAX_PASSTHROUGH_BYTES`] comes back as its
/// original bytes. Anything else is scaled (keeping its aspect ratio, the
/// longest edge becoming `max_edge`), turned upright by its EXIF
/// orientation, and encoded as a JPEG with any transparency flattened onto
/// white. JPEG rather than PNG even for images with transparency: a model
/// sees no transparency, white is what a chat client shows behind it, and a
/// screenshot as a JPEG is a fraction of its PNG size.
pub fn scale_for_model(bytes: &[u8], max_edge: u32) -> Result<ScaledImage, ImageError> {
    let max_edge = max_edge.max(1);
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageError::Undecodable(e.to_string()))?;
    let Some(format) = reader.format() else {
        return Err(ImageError::Undecodable(
            "its first bytes are not those of a known image format".into(),
        ));
    };
    reader.limits(decoder_limits());
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_MEGAPIXELS * 1_000_000 {
        return Err(ImageError::TooLarge { width, height });
    }
    if decoder.total_bytes() > MAX_DECODER_ALLOC {
        return Err(ImageError::OverMemoryLimit(format!(
            "{} MB of pixels",
            decoder.total_bytes() / 1_000_000
        )));
    }

    if width <= max_edge
        && height <= max_edge
        && bytes.len() <= MAX_PASSTHROUGH_BYTES
        && passes_through(format, bytes)
    {
        return Ok(encoded(bytes, format.to_mime_type(), width, height));
    }

    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(classify)?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    let (width, height) = scaled_size(image.width(), image.height(), max_edge);
    let rgb = flatten_onto_white(&image);
    let rgb = resized(rgb, width, height);
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|e| ImageError::Unencodable(e.to_string()))?;
    Ok(encoded(&jpeg, "image/jpeg", width, height))
}

fn decoder_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    limits
}

/// Sorts the `image` crate's errors into ours: a limit hit is not damage.
fn classify(error: image::ImageError) -> ImageError {
    match error {
        image::ImageError::Limits(e) => ImageError::OverMemoryLimit(e.to_string()),
        other => ImageError::Undecodable(other.to_string()),
    }
}

/// Whether the original bytes of an image of `format` can be sent as they
/// are. Providers take JPEG, PNG and WebP, and GIF only when not animated.
fn passes_through(format: ImageFormat, bytes: &[u8]) -> bool {
    match format {
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP => true,
        ImageFormat::Gif => is_single_frame_gif(bytes),
        _ => false,
    }
}

/// Decodes at most two frames; anything unreadable counts as animated, so
/// the image takes the re-encode path.
fn is_single_frame_gif(bytes: &[u8]) -> bool {
    let Ok(mut decoder) = GifDecoder::new(Cursor::new(bytes)) else {
        return false;
    };
    if decoder.set_limits(decoder_limits()).is_err() {
        return false;
    }
    let mut frames = decoder.into_frames();
    matches!(frames.next(), Some(Ok(_))) && frames.next().is_none()
}

/// `image` scaled down to `width`×`height`.
///
/// From twice the size or more, `thumbnail`'s area average: every source
/// pixel counts once, so no aliasing, at a sixth of CatmullRom's time
/// (0.12 s against 0.75 s for 12 megapixels to 1568 pixels at opt-level
/// "s" on one core). Closer than that the area average aliases, and
/// CatmullRom keeps text in screenshots sharper than Triangle does.
fn resized(image: image::RgbImage, width: u32, height: u32) -> image::RgbImage {
    if (width, height) == image.dimensions() {
        image
    } else if image.width() >= width.saturating_mul(2) && image.height() >= height.saturating_mul(2)
    {
        image::imageops::thumbnail(&image, width, height)
    } else {
        image::imageops::resize(&image, width, height, FilterType::CatmullRom)
    }
}

/// The size with the longest edge at `max_edge` and the aspect ratio kept
/// (rounded, at least one pixel); the size itself when it already fits.
fn scaled_size(width: u32, height: u32, max_edge: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= max_edge {
        return (width, height);
    }
    let scale = |edge: u32| {
        let scaled =
            (u64::from(edge) * u64::from(max_edge) + u64::from(longest) / 2) / u64::from(longest);
        u32::try_from(scaled).unwrap_or(max_edge).clamp(1, max_edge)
    };
    (scale(width), scale(height))
}

/// The image as 8-bit RGB, transparent pixels blended onto white.
fn flatten_onto_white(image: &DynamicImage) -> image::RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let blend = |c: u8| {
            let c = u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a));
            // `c` is at most 255 * 255, so the quotient fits a u8.
            u8::try_from((c + 127) / 255).unwrap_or(u8::MAX)
        };
        image::Rgb([blend(r), blend(g), blend(b)])
    })
}

fn encoded(bytes: &[u8], mime: &str, width: u32, height: u32) -> ScaledImage {
    let prefix = format!("data:{mime};base64,");
    let mut data_url = String::with_capacity(prefix.len() + bytes.len().div_ceil(3) * 4);
    data_url.push_str(&prefix);
    base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut data_url);
    ScaledImage {
        data_url,
        width,
        height,
        mime: mime.to_owned(),
        bytes: bytes.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_size_keeps_the_aspect_ratio_and_rounds() {
        assert_eq!(scaled_size(3000, 1000, 1568), (1568, 523));
        assert_eq!(scaled_size(1000, 3000, 1568), (523, 1568));
        assert_eq!(scaled_size(4000, 4000, 1568), (1568, 1568));
        assert_eq!(scaled_size(100_000, 1, 1568), (1568, 1));
        assert_eq!(scaled_size(800, 600, 1568), (800, 600));
    }

    #[test]
    fn transparency_is_flattened_onto_white() {
        let mut rgba = image::RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, image::Rgba([0, 0, 0, 255]));
        let rgb = flatten_onto_white(&DynamicImage::ImageRgba8(rgba));
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(rgb.get_pixel(1, 0).0, [0, 0, 0]);
    }
}
