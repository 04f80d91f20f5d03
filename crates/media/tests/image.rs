//! `image::scale_for_model` against images made in the test with the
//! `image` crate, and against damaged and hostile bytes.

use std::io::Cursor;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hermod_media::image::{ImageError, ScaledImage, scale_for_model};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

/// A gradient, so encoders and filters have something to work on.
fn gradient(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    })
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).expect("encode");
    bytes.into_inner()
}

fn payload(scaled: &ScaledImage) -> (String, Vec<u8>) {
    let (head, data) = scaled.data_url.split_once(',').expect("a data URL");
    let mime = head
        .strip_prefix("data:")
        .and_then(|h| h.strip_suffix(";base64"))
        .expect("data:<mime>;base64");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("base64");
    (mime.to_owned(), bytes)
}

#[test]
fn a_wide_image_is_scaled_to_the_longest_edge_keeping_its_aspect_ratio() {
    let png = encode(
        &DynamicImage::ImageRgb8(gradient(3000, 1000)),
        ImageFormat::Png,
    );
    let scaled = scale_for_model(&png, 1568).unwrap();
    assert_eq!((scaled.width, scaled.height), (1568, 523));
    let (mime, bytes) = payload(&scaled);
    assert_eq!(mime, "image/jpeg");
    assert_eq!(scaled.mime, "image/jpeg");
    assert_eq!(scaled.bytes, bytes.len());
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (1568, 523));
}

#[test]
fn a_tall_image_is_scaled_by_its_height() {
    let jpeg = encode(
        &DynamicImage::ImageRgb8(gradient(600, 2400)),
        ImageFormat::Jpeg,
    );
    let scaled = scale_for_model(&jpeg, 800).unwrap();
    assert_eq!((scaled.width, scaled.height), (200, 800));
}

#[test]
fn a_small_jpeg_passes_through_byte_for_byte() {
    let jpeg = encode(
        &DynamicImage::ImageRgb8(gradient(640, 480)),
        ImageFormat::Jpeg,
    );
    let scaled = scale_for_model(&jpeg, 1568).unwrap();
    assert_eq!((scaled.width, scaled.height), (640, 480));
    let (mime, bytes) = payload(&scaled);
    assert_eq!(mime, "image/jpeg");
    assert_eq!(bytes, jpeg);
}

#[test]
fn small_png_webp_and_still_gif_pass_through_with_their_own_type() {
    let image = DynamicImage::ImageRgba8(RgbaImage::from_pixel(32, 16, Rgba([10, 20, 30, 128])));
    for (format, mime) in [
        (ImageFormat::Png, "image/png"),
        (ImageFormat::WebP, "image/webp"),
        (ImageFormat::Gif, "image/gif"),
    ] {
        let original = encode(&image, format);
        let scaled = scale_for_model(&original, 64).unwrap();
        let (got_mime, bytes) = payload(&scaled);
        assert_eq!(got_mime, mime);
        assert_eq!(bytes, original, "{mime} was re-encoded");
        assert_eq!((scaled.width, scaled.height), (32, 16));
    }
}

#[test]
fn an_animated_gif_is_reencoded_as_its_first_frame() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame};
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut bytes);
        for colour in [[255, 0, 0, 255], [0, 0, 255, 255]] {
            let frame = Frame::from_parts(
                RgbaImage::from_pixel(20, 10, Rgba(colour)),
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            );
            encoder.encode_frame(frame).unwrap();
        }
    }
    let scaled = scale_for_model(&bytes, 64).unwrap();
    let (mime, jpeg) = payload(&scaled);
    assert_eq!(mime, "image/jpeg");
    let first = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    let [r, _, b] = first.get_pixel(10, 5).0;
    assert!(
        r > 200 && b < 60,
        "not the red first frame: {:?}",
        first.get_pixel(10, 5)
    );
}

#[test]
fn transparency_is_flattened_onto_white_when_reencoded() {
    let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(200, 100, Rgba([0, 0, 0, 0])));
    let png = encode(&clear, ImageFormat::Png);
    let scaled = scale_for_model(&png, 50).unwrap();
    let (_, jpeg) = payload(&scaled);
    let pixel = image::load_from_memory(&jpeg)
        .unwrap()
        .to_rgb8()
        .get_pixel(25, 12)
        .0;
    assert!(pixel.iter().all(|&c| c > 245), "not white: {pixel:?}");
}

#[test]
fn damaged_bytes_are_undecodable() {
    let png = encode(&DynamicImage::ImageRgb8(gradient(64, 64)), ImageFormat::Png);
    for bytes in [&b"definitely not an image"[..], &png[..40], &[]] {
        match scale_for_model(bytes, 1568) {
            Err(ImageError::Undecodable(_)) => {}
            other => panic!("damaged bytes gave {other:?}"),
        }
    }
    let message = scale_for_model(b"nope", 10).unwrap_err().to_string();
    assert!(
        message.starts_with("the image could not be decoded (it is not a JPEG, PNG, WebP or GIF")
    );
}

/// A PNG whose IHDR claims `width`×`height` pixels of `colour_type` (0 is
/// 8-bit grey, 6 is 8-bit RGBA), followed by an IDAT of only 16 zero bytes
/// and IEND: the shape of a decompression bomb, a few dozen bytes claiming
/// gigabytes.
fn png_claiming(width: u32, height: u32, colour_type: u8) -> Vec<u8> {
    let mut header = width.to_be_bytes().to_vec();
    header.extend(height.to_be_bytes());
    header.extend([8, colour_type, 0, 0, 0]);
    // A zlib stream with one stored block of 16 zero bytes.
    let mut zlib = vec![0x78, 0x01, 0x01, 16, 0, !16, 0xFF];
    zlib.extend([0u8; 16]);
    zlib.extend(16u32.to_be_bytes()); // Adler-32 of 16 zero bytes: a = 1, b = 16
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (&b"IHDR"[..], &header[..]),
        (b"IDAT", &zlib),
        (b"IEND", &[]),
    ] {
        png.extend(
            u32::try_from(data.len())
                .expect("a short chunk")
                .to_be_bytes(),
        );
        let mut chunk = kind.to_vec();
        chunk.extend(data);
        png.extend(&chunk);
        png.extend(crc32(&chunk).to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn a_decompression_bomb_header_is_refused_before_decoding() {
    let bomb = png_claiming(100_000, 100_000, 6);
    let started = Instant::now();
    let err = scale_for_model(&bomb, 1568).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        err,
        ImageError::TooLarge {
            width: 100_000,
            height: 100_000
        }
    );
    assert_eq!(
        err.to_string(),
        "the image is 100000×100000 pixels, over the 40-megapixel limit"
    );
}

#[test]
fn an_image_just_within_the_pixel_limit_is_not_refused_for_its_size() {
    // 8000×5000 grey is exactly 40 megapixels: refused only for the
    // missing pixel data, after the size checks let it through.
    let png = png_claiming(8000, 5000, 0);
    assert!(matches!(
        scale_for_model(&png, 1568),
        Err(ImageError::Undecodable(_))
    ));
    let png = png_claiming(8001, 5000, 0);
    assert!(matches!(
        scale_for_model(&png, 1568),
        Err(ImageError::TooLarge { .. })
    ));
}
