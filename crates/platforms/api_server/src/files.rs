//! Files a reply names with `MEDIA:` lines, as the HTTP API returns them:
//! the gateway checked them against its allowed directories (they arrive
//! as [`TurnEvent::Files`](hermod_core::TurnEvent::Files)); here each
//! becomes a Markdown link with a `data:` URL appended to the assistant's
//! content — an image link for pictures, so chat UIs show them — or, over
//! [`MAX_INLINE_BYTES`], a line naming the file, since a response that
//! carries a large video inline would be slower than useful.

use base64::Engine;
use hermod_core::ReplyMedia;
use hermod_model::{Attachment, AttachmentKind};
use tracing::warn;

/// The largest file sent inline as a `data:` URL.
pub(crate) const MAX_INLINE_BYTES: u64 = 8 << 20;

/// What follows the reply's text: the refused files' notes, then a line per
/// file. Empty when there is nothing.
pub(crate) fn appendix(media: &ReplyMedia) -> String {
    let mut lines = media.notes.clone();
    lines.extend(media.attachments.iter().map(link));
    lines.join("\n")
}

/// The reply's final text with its files: `text` (already without
/// directives) and the appendix, a blank line apart.
pub(crate) fn with_files(text: &str, media: &ReplyMedia) -> String {
    let appendix = media
        .attachments
        .iter()
        .map(link)
        .collect::<Vec<_>>()
        .join("\n");
    match (text.trim().is_empty(), appendix.is_empty()) {
        (_, true) => text.to_owned(),
        (true, false) => appendix,
        (false, false) => format!("{text}\n\n{appendix}"),
    }
}

/// One file as a Markdown line.
fn link(attachment: &Attachment) -> String {
    let name = hermod_core::attachment_name(attachment);
    let size = std::fs::metadata(&attachment.location).map(|m| m.len());
    match size {
        Ok(size) if size > MAX_INLINE_BYTES => format!(
            "📎 {name} ({:.1} MB) is too large to include in this response.",
            size as f64 / 1_048_576.0
        ),
        Ok(_) => match std::fs::read(&attachment.location) {
            Ok(bytes) => {
                let mime = attachment
                    .mime_type
                    .as_deref()
                    .unwrap_or("application/octet-stream");
                let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                let bang = if attachment.kind == AttachmentKind::Photo {
                    "!"
                } else {
                    ""
                };
                format!("{bang}[{name}](data:{mime};base64,{data})")
            }
            Err(e) => unreadable(&name, &e),
        },
        Err(e) => unreadable(&name, &e),
    }
}

fn unreadable(name: &str, error: &std::io::Error) -> String {
    warn!(file = %name, %error, "a file of the reply could not be read");
    format!("⚠️ I couldn't attach {name}: it cannot be read")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_files_are_inline_and_large_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("dot.png");
        std::fs::write(&png, b"\x89PNG").unwrap();
        let big = dir.path().join("big.bin");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_INLINE_BYTES + 1).unwrap();
        let mut photo = Attachment::new(AttachmentKind::Photo, png.display().to_string())
            .with_mime("image/png");
        photo.file_name = Some("dot.png".into());
        let media = ReplyMedia {
            text: "Done.".into(),
            attachments: vec![
                photo,
                Attachment::new(AttachmentKind::Document, big.display().to_string()),
            ],
            notes: vec!["⚠️ I couldn't attach /etc/passwd: no".into()],
        };
        let text = with_files("Done.", &media);
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "Done.",
                "",
                "![dot.png](data:image/png;base64,iVBORw==)",
                "📎 big.bin (8.0 MB) is too large to include in this response."
            ]
        );
        assert!(appendix(&media).starts_with("⚠️ I couldn't attach /etc/passwd: no\n![dot.png]"));
    }
}
