//! Inbound files: a post's `file_ids` downloaded with the token
//! (`GET /files/{id}/info`, then `GET /files/{id}`) into the media
//! directory, with the size cap, as attachments of the kind their MIME
//! type says. A file that cannot be had is logged and left out; the
//! message still goes through.

use crate::adapter::MattermostAdapter;
use crate::api::FileInfo;
use hermod_adapter_kit::MediaFile;
use hermod_model::{Attachment, AttachmentKind};
use tracing::warn;

/// The kind of attachment a MIME type makes (audio as a voice message,
/// as Hermes treats it, so it is transcribed).
pub(crate) fn kind_of(mime: &str) -> AttachmentKind {
    match mime.split('/').next().unwrap_or_default() {
        "image" => AttachmentKind::Photo,
        "audio" => AttachmentKind::Voice,
        "video" => AttachmentKind::Video,
        _ => AttachmentKind::Document,
    }
}

/// What the kit needs to know of a file to download it.
pub(crate) fn media_file(info: &FileInfo) -> MediaFile {
    MediaFile {
        kind: kind_of(&info.mime_type),
        id: info.id.clone(),
        file_name: Some(info.name.clone()).filter(|n| !n.is_empty()),
        extension: Some(info.extension.clone()).filter(|e| !e.is_empty()),
        mime_type: Some(info.mime_type.clone()).filter(|m| !m.is_empty()),
        size: info.size,
    }
}

impl MattermostAdapter {
    /// Downloads the files of a post; those that fail are left out.
    pub(crate) async fn download(&self, file_ids: &[String]) -> Vec<Attachment> {
        let mut attachments = Vec::new();
        for id in file_ids {
            let info = match self.api().file_info(id).await {
                Ok(info) => info,
                Err(e) => {
                    warn!(file = id, error = %e, "cannot read a file's details; leaving it out");
                    continue;
                }
            };
            let file = media_file(&info);
            match self
                .media()
                .download(self.api().file_request(id), &file)
                .await
            {
                Ok(attachment) => attachments.push(attachment),
                Err(e) => warn!(file = id, error = %e, "cannot download a file; leaving it out"),
            }
        }
        attachments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_make_kinds() {
        assert_eq!(kind_of("image/png"), AttachmentKind::Photo);
        assert_eq!(kind_of("audio/ogg"), AttachmentKind::Voice);
        assert_eq!(kind_of("video/mp4"), AttachmentKind::Video);
        assert_eq!(kind_of("application/pdf"), AttachmentKind::Document);
        assert_eq!(kind_of(""), AttachmentKind::Document);
    }

    #[test]
    fn file_infos_become_media_files() {
        let info: FileInfo = serde_json::from_str(
            r#"{"id":"f1","user_id":"u","post_id":"p","create_at":1,"update_at":1,"delete_at":0,"name":"cat.png","extension":"png","size":42,"mime_type":"image/png","width":1,"height":1,"has_preview_image":true}"#,
        )
        .unwrap_or_else(|e| panic!("a file info: {e}"));
        let file = media_file(&info);
        assert_eq!(file.kind, AttachmentKind::Photo);
        assert_eq!(file.file_name.as_deref(), Some("cat.png"));
        assert_eq!(file.size, Some(42));
    }
}
