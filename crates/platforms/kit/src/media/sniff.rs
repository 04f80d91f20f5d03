//! The MIME type of a download from its first bytes, and whether it
//! contradicts the type the platform or the server declared.
//!
//! Detection is the `infer` crate's table of magic numbers (without its
//! default features it has no dependencies). Its answers are normalized to
//! the names platforms use (`audio/ogg` for Opus in Ogg, `audio/wav`,
//! `audio/mp4`), and every ZIP-based format is `application/zip` unless
//! the declared type is an office document format, whose container it is.

/// How many leading bytes are kept for sniffing.
pub(crate) const HEAD: usize = 8 * 1024;

/// The type `head` shows, normalized; `None` when its bytes match no
/// known signature (plain text, an unknown format, too few bytes).
pub(crate) fn sniff(head: &[u8]) -> Option<&'static str> {
    let found = infer::get(head)?.mime_type();
    Some(match found {
        "audio/opus" | "audio/ogg" | "application/ogg" => "audio/ogg",
        "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "audio/wav",
        "audio/m4a" | "audio/x-m4a" => "audio/mp4",
        _ if is_zip_based(found) => "application/zip",
        other => other,
    })
}

/// The type to record: the sniffed one, except that a declared office
/// document stays itself when its bytes are a ZIP; the declared one when
/// sniffing cannot tell.
pub(crate) fn resolve(declared: Option<&str>, sniffed: Option<&'static str>) -> Option<String> {
    match (declared, sniffed) {
        (Some(declared), Some("application/zip")) if is_office(declared) => {
            Some(declared.to_owned())
        }
        (_, Some(sniffed)) => Some(sniffed.to_owned()),
        (declared, None) => declared.map(str::to_owned),
    }
}

/// Whether bytes sniffed as `sniffed` contradict the `declared` type.
/// Only types a reader acts on by kind are checked: images, audio, video
/// and PDF. A JPEG declared as PNG is still an image and passes; an image
/// whose bytes match nothing known, or a "PDF" holding a ZIP, does not.
pub(crate) fn contradicts(declared: &str, sniffed: Option<&str>) -> bool {
    let declared_family = family(declared);
    if !matches!(
        declared_family,
        "image" | "audio" | "video" | "application/pdf"
    ) {
        return false;
    }
    let Some(sniffed) = sniffed else {
        // Only types sniffing always recognizes are refused unrecognized;
        // a rarer image or audio format may simply be missing from the table.
        return is_always_recognized(declared);
    };
    let sniffed_family = family(sniffed);
    match declared_family {
        // An MP4 or WebM container holds audio as well as video.
        "audio" | "video" => !matches!(sniffed_family, "audio" | "video"),
        same => sniffed_family != same,
    }
}

/// `image`, `audio`, `video`, or the whole type for the rest
/// (`application/pdf`).
fn family(mime: &str) -> &str {
    match mime.split_once('/') {
        Some((top @ ("image" | "audio" | "video"), _)) => top,
        _ => mime,
    }
}

fn is_always_recognized(mime: &str) -> bool {
    matches!(
        mime,
        "image/jpeg"
            | "image/jpg"
            | "image/png"
            | "image/gif"
            | "image/webp"
            | "application/pdf"
            | "audio/ogg"
            | "audio/opus"
            | "audio/mpeg"
            | "audio/mp3"
            | "audio/wav"
            | "audio/x-wav"
            | "video/mp4"
    )
}

fn is_zip_based(mime: &str) -> bool {
    mime == "application/zip"
        || mime == "application/epub+zip"
        || mime == "application/java-archive"
        || is_office(mime)
}

/// The office formats whose files are ZIP containers: OOXML and ODF.
fn is_office(mime: &str) -> bool {
    mime.starts_with("application/vnd.openxmlformats-officedocument.")
        || mime.starts_with("application/vnd.oasis.opendocument.")
        || matches!(
            mime,
            "application/vnd.ms-word.document.macroenabled.12"
                | "application/vnd.ms-excel.sheet.macroenabled.12"
                | "application/vnd.ms-powerpoint.presentation.macroenabled.12"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0";
    const GIF: &[u8] = b"GIF89a\x01\0\x01\0";
    const WEBP: &[u8] = b"RIFF\0\0\0\0WEBPVP8 ";
    const PDF: &[u8] = b"%PDF-1.7\n";
    const OPUS: &[u8] = b"OggS\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0OpusHead";
    const MP3: &[u8] = b"ID3\x03\0\0\0\0\0\0";
    const M4A: &[u8] = b"\0\0\0\x20ftypM4A \0\0\0\0";
    const MP4: &[u8] = b"\0\0\0\x20ftypisom\0\0\0\0";
    const WAV: &[u8] = b"RIFF\0\0\0\0WAVEfmt ";
    const WEBM: &[u8] = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm\x42\x87\x81\x04";
    const ZIP: &[u8] = b"PK\x03\x04\x14\0\0\0\0\0";

    #[test]
    fn the_types_that_matter_are_recognized_by_their_bytes() {
        // A WebM header is recognized within a whole first block.
        let mut webm = WEBM.to_vec();
        webm.resize(300, 0);
        for (bytes, mime) in [
            (PNG, "image/png"),
            (JPEG, "image/jpeg"),
            (GIF, "image/gif"),
            (WEBP, "image/webp"),
            (PDF, "application/pdf"),
            (OPUS, "audio/ogg"),
            (MP3, "audio/mpeg"),
            (M4A, "audio/mp4"),
            (MP4, "video/mp4"),
            (WAV, "audio/wav"),
            (&webm, "video/webm"),
            (ZIP, "application/zip"),
        ] {
            assert_eq!(sniff(bytes), Some(mime), "{mime}");
        }
        assert_eq!(sniff(b"hello, world"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn the_declared_type_is_kept_only_when_sniffing_cannot_tell() {
        assert_eq!(
            resolve(Some("image/png"), sniff(JPEG)).as_deref(),
            Some("image/jpeg")
        );
        assert_eq!(
            resolve(Some("text/plain"), None).as_deref(),
            Some("text/plain")
        );
        assert_eq!(resolve(None, None), None);
        let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        assert_eq!(resolve(Some(docx), sniff(ZIP)).as_deref(), Some(docx));
        let odt = "application/vnd.oasis.opendocument.text";
        assert_eq!(resolve(Some(odt), sniff(ZIP)).as_deref(), Some(odt));
        // A ZIP named like a text file is a ZIP.
        assert_eq!(
            resolve(Some("text/plain"), sniff(ZIP)).as_deref(),
            Some("application/zip")
        );
    }

    #[test]
    fn an_image_audio_or_pdf_whose_bytes_are_something_else_contradicts() {
        assert!(contradicts("image/png", sniff(ZIP)));
        assert!(contradicts("image/png", None));
        assert!(contradicts("application/pdf", sniff(PNG)));
        assert!(contradicts("audio/ogg", sniff(PDF)));
        assert!(contradicts("audio/mpeg", None));
        // Within a family, or a container of both, is not a contradiction.
        assert!(!contradicts("image/png", sniff(JPEG)));
        assert!(!contradicts("audio/mp4", sniff(MP4)));
        assert!(!contradicts("video/mp4", sniff(M4A)));
        // Rarer formats missing from the table, and other declared types.
        assert!(!contradicts("image/heic", None));
        assert!(!contradicts("audio/flac", None));
        assert!(!contradicts("text/plain", sniff(ZIP)));
        assert!(!contradicts("application/zip", sniff(PNG)));
    }
}
