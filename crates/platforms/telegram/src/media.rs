//! Downloading the files of inbound messages into the media directory
//! (`HERMOD_HOME/media`) through the kit's [`MediaDir`]: `getFile` for
//! the download path, then the download itself, capped.
//!
//! A file is named after Telegram's `file_unique_id` (stable for the same
//! file), plus its original name when it has one, so a redelivered message
//! finds its file already there. A file that cannot be had (too large, or
//! the download failed) is skipped; the caller notes that in the text.

use crate::api::BotApi;
use crate::inbound::MediaRef;
use crate::types::{File, GetFile};
use hermod_adapter_kit::{KitError, MediaDir, MediaFile, human_size};
use hermod_model::Attachment;
use std::path::Path;

/// Why a file was not downloaded, for the note in the message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped(pub String);

/// Downloads `media` into `dir`, refusing files over its cap.
pub(crate) async fn fetch(
    api: &BotApi,
    media: &MediaRef,
    dir: &MediaDir,
) -> Result<Attachment, Skipped> {
    let too_large = || {
        Skipped(format!(
            "it is larger than {} (TELEGRAM_MEDIA_MAX_BYTES)",
            human_size(dir.max_bytes())
        ))
    };
    dir.check_size(media.size).map_err(|_| too_large())?;
    let file: File = api
        .call(
            "getFile",
            &GetFile {
                file_id: media.file_id.clone(),
            },
        )
        .await
        .map_err(|e| failed(&e))?;
    dir.check_size(file.file_size).map_err(|_| too_large())?;
    let Some(remote) = file.file_path else {
        return Err(Skipped(
            "Telegram gave no download path (bots cannot download files over 20 MB)".into(),
        ));
    };
    match dir
        .download(api.file_request(&remote), &media_file(media, &remote))
        .await
    {
        Ok(attachment) => Ok(Attachment {
            unique_id: Some(media.unique_id.clone()).filter(|id| !id.is_empty()),
            label: media.label.clone(),
            ..attachment
        }),
        Err(KitError::TooLarge { .. }) => Err(too_large()),
        Err(e @ KitError::Mismatch { .. }) => Err(Skipped(e.to_string())),
        Err(e) => Err(failed(&e)),
    }
}

fn failed(err: &dyn std::fmt::Display) -> Skipped {
    tracing::warn!(error = %err, "downloading an inbound file failed");
    Skipped("the download from Telegram failed".into())
}

/// What the kit needs to name and type the file.
fn media_file(media: &MediaRef, remote_path: &str) -> MediaFile {
    let id = if media.unique_id.is_empty() {
        &media.file_id
    } else {
        &media.unique_id
    };
    MediaFile {
        kind: media.kind,
        id: id.clone(),
        file_name: media.file_name.clone(),
        extension: Path::new(remote_path)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_owned),
        mime_type: media.mime_type.clone(),
        size: media.size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_adapter_kit::local_name;
    use hermod_model::AttachmentKind;
    use std::path::PathBuf;

    fn media(kind: AttachmentKind, name: Option<&str>) -> MediaRef {
        MediaRef {
            kind,
            file_id: "BQAD/x".into(),
            unique_id: "AgAD1".into(),
            file_name: name.map(str::to_owned),
            mime_type: None,
            size: None,
            label: None,
        }
    }

    #[test]
    fn files_are_named_after_the_unique_id_and_the_remote_extension() {
        let name = |m: &MediaRef, remote: &str| local_name(&media_file(m, remote));
        assert_eq!(
            name(&media(AttachmentKind::Photo, None), "photos/file_3.jpg"),
            PathBuf::from("AgAD1.jpg")
        );
        assert_eq!(
            name(
                &media(AttachmentKind::Document, Some("report.pdf")),
                "documents/file_9"
            ),
            PathBuf::from("AgAD1-report.pdf")
        );
        let mut no_unique = media(AttachmentKind::Document, None);
        no_unique.unique_id.clear();
        assert_eq!(
            name(&no_unique, "documents/file_1"),
            PathBuf::from("BQAD_x")
        );
    }
}
