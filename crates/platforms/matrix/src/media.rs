//! Files: inbound `m.image`/`m.file`/`m.audio`/`m.video` downloaded
//! through the authenticated media endpoint (`/_matrix/client/v1/media`,
//! v1.11; the legacy `/_matrix/media/v3` for older homeservers) into the
//! kit's media directory; outbound files uploaded (`/_matrix/media/v3/upload`)
//! and sent as their message type.

use crate::adapter::MatrixAdapter;
use crate::event::Media;
use crate::outbound::file_content;
use hermod_adapter_kit::{KitError, MediaFile, guess_mime};
use hermod_core::AdapterError;
use hermod_model::{Attachment, AttachmentKind};
use std::path::Path;

impl MatrixAdapter {
    /// Downloads `media` into the media directory.
    pub(crate) async fn download(&self, media: &Media) -> Result<Attachment, KitError> {
        let Some((v1, v3)) = self.api().download_urls(&media.mxc) else {
            return Err(KitError::Download(format!(
                "{} is not an mxc:// URI",
                media.mxc
            )));
        };
        let file = MediaFile {
            kind: media.kind,
            // `server/media` is stable: the same file, the same id.
            id: media
                .mxc
                .trim_start_matches("mxc://")
                .replace(['/', ':'], "_"),
            file_name: media.file_name.clone(),
            extension: None,
            mime_type: media.mime_type.clone(),
            size: media.size,
        };
        let dir = &self.inner.media;
        match dir.download(self.api().get(v1), &file).await {
            Ok(attachment) => Ok(attachment),
            Err(e @ (KitError::TooLarge { .. } | KitError::Mismatch { .. } | KitError::Io(_))) => {
                Err(e)
            }
            // A homeserver before v1.11 has no authenticated endpoint.
            Err(_) => dir.download(self.api().get(v3), &file).await,
        }
    }

    /// Uploads `file` (a local path) and sends it to `room`; returns the
    /// event id.
    pub(crate) async fn send_file(
        &self,
        room: &str,
        thread: Option<&str>,
        file: &Attachment,
        txn: &str,
        caption: Option<&str>,
    ) -> Result<String, AdapterError> {
        let path = Path::new(&file.location);
        let bytes = tokio::fs::read(path).await.map_err(|e| {
            AdapterError::Rejected(format!(
                "cannot read the file to send ({}): {e}",
                path.display()
            ))
        })?;
        let name = file
            .file_name
            .clone()
            .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "file".to_owned());
        let mime = file
            .mime_type
            .clone()
            .or_else(|| guess_mime(path).map(str::to_owned))
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let size = bytes.len();
        let mxc = self
            .api()
            .upload(bytes, &mime, &name)
            .await
            .map_err(AdapterError::from)?;
        let mut content = file_content(msgtype_of(file.kind), &mxc, &name, &mime, size, caption);
        crate::outbound::relate(&mut content, thread, None);
        self.send_event(room, txn, &content).await
    }
}

/// The message type a file is sent as.
fn msgtype_of(kind: AttachmentKind) -> &'static str {
    match kind {
        AttachmentKind::Photo | AttachmentKind::Sticker => "m.image",
        AttachmentKind::Audio | AttachmentKind::Voice => "m.audio",
        AttachmentKind::Video => "m.video",
        AttachmentKind::Document => "m.file",
    }
}
