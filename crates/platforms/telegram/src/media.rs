//! Downloading the files of inbound messages into the media directory
//! (`HERMOD_HOME/media`), with a size cap.
//!
//! A file is named after Telegram's `file_unique_id` (stable for the same
//! file), plus its original name when it has one, so a redelivered message
//! finds its file already there. A file that cannot be had (too large, or
//! the download failed) is skipped; the caller notes that in the text.

use crate::api::BotApi;
use crate::error::TelegramError;
use crate::inbound::MediaRef;
use crate::types::{File, GetFile};
use hermod_model::{Attachment, AttachmentKind};
use std::path::{Path, PathBuf};

/// Why a file was not downloaded, for the note in the message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped(pub String);

/// Downloads `media` into `dir`, refusing files over `max_bytes`.
pub(crate) async fn fetch(
    api: &BotApi,
    media: &MediaRef,
    dir: &Path,
    max_bytes: u64,
) -> Result<Attachment, Skipped> {
    let too_large = || {
        Skipped(format!(
            "it is larger than {} (TELEGRAM_MEDIA_MAX_BYTES)",
            human_size(max_bytes)
        ))
    };
    if media.size.is_some_and(|size| size > max_bytes) {
        return Err(too_large());
    }
    let file: File = api
        .call(
            "getFile",
            &GetFile {
                file_id: media.file_id.clone(),
            },
        )
        .await
        .map_err(|e| failed(&e))?;
    if file.file_size.is_some_and(|size| size > max_bytes) {
        return Err(too_large());
    }
    let Some(remote) = file.file_path else {
        return Err(Skipped(
            "Telegram gave no download path (bots cannot download files over 20 MB)".into(),
        ));
    };
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| Skipped(format!("the media directory cannot be created: {e}")))?;
    let dest = dir.join(local_name(media, &remote));
    if tokio::fs::try_exists(&dest).await.unwrap_or(false) {
        return Ok(attachment(media, &dest));
    }
    match api.download(&remote, &dest, max_bytes).await {
        Ok(_) => Ok(attachment(media, &dest)),
        Err(TelegramError::Io(reason)) if reason.contains("larger than") => Err(too_large()),
        Err(e) => Err(failed(&e)),
    }
}

fn failed(err: &TelegramError) -> Skipped {
    tracing::warn!(error = %err, "downloading an inbound file failed");
    Skipped("the download from Telegram failed".into())
}

fn attachment(media: &MediaRef, path: &Path) -> Attachment {
    Attachment {
        kind: media.kind,
        location: path.display().to_string(),
        mime_type: media
            .mime_type
            .clone()
            .or_else(|| guess_mime(path).map(str::to_owned)),
    }
}

/// `<unique id>[-<original name>]<extension>`, with only safe characters.
fn local_name(media: &MediaRef, remote_path: &str) -> PathBuf {
    let id = if media.unique_id.is_empty() {
        &media.file_id
    } else {
        &media.unique_id
    };
    let mut name = sanitize(id);
    match media.file_name.as_deref().map(sanitize) {
        Some(original) if !original.is_empty() => {
            name.push('-');
            name.push_str(&original);
        }
        _ => {
            let ext = Path::new(remote_path)
                .extension()
                .and_then(|e| e.to_str())
                .map(sanitize)
                .filter(|e| !e.is_empty())
                .or_else(|| default_extension(media.kind).map(str::to_owned));
            if let Some(ext) = ext {
                name.push('.');
                name.push_str(&ext);
            }
        }
    }
    PathBuf::from(name)
}

/// Letters, digits, `-`, `_` and `.` (not leading); the rest becomes `_`.
fn sanitize(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    cleaned.trim_start_matches('.').to_owned()
}

fn default_extension(kind: AttachmentKind) -> Option<&'static str> {
    match kind {
        AttachmentKind::Photo => Some("jpg"),
        AttachmentKind::Voice => Some("ogg"),
        AttachmentKind::Video => Some("mp4"),
        AttachmentKind::Audio | AttachmentKind::Document => None,
    }
}

fn guess_mime(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "ogg" | "oga" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "mp4" => "video/mp4",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        _ => return None,
    })
}

/// `20 MB`, `512 KB`, `100 bytes`.
pub(crate) fn human_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else if bytes >= MB {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    } else if bytes >= KB {
        format!("{} KB", bytes / KB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(kind: AttachmentKind, name: Option<&str>) -> MediaRef {
        MediaRef {
            kind,
            file_id: "BQAD/x".into(),
            unique_id: "AgAD1".into(),
            file_name: name.map(str::to_owned),
            mime_type: None,
            size: None,
        }
    }

    #[test]
    fn local_names_are_safe_and_stable() {
        assert_eq!(
            local_name(&media(AttachmentKind::Photo, None), "photos/file_3.jpg"),
            PathBuf::from("AgAD1.jpg")
        );
        assert_eq!(
            local_name(
                &media(AttachmentKind::Document, Some("../../etc/pass wd.txt")),
                "documents/file_9"
            ),
            PathBuf::from("AgAD1-_.._etc_pass_wd.txt")
        );
        assert_eq!(
            local_name(&media(AttachmentKind::Voice, None), "voice/file_2"),
            PathBuf::from("AgAD1.ogg")
        );
        let mut no_unique = media(AttachmentKind::Document, None);
        no_unique.unique_id.clear();
        assert_eq!(
            local_name(&no_unique, "documents/file_1"),
            PathBuf::from("BQAD_x")
        );
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(20 * 1024 * 1024), "20 MB");
        assert_eq!(human_size(1536 * 1024), "1.5 MB");
        assert_eq!(human_size(2048), "2 KB");
        assert_eq!(human_size(10), "10 bytes");
    }

    #[test]
    fn mime_types_are_guessed_from_extensions() {
        assert_eq!(guess_mime(Path::new("a.JPG")), Some("image/jpeg"));
        assert_eq!(guess_mime(Path::new("a.bin")), None);
    }
}
