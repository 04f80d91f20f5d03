//! Attachments of incoming mail saved into the media directory (the
//! kit's safe local names, its size cap) and handed on as attachments.
//!
//! The kit downloads files over HTTP; mail brings its files inline, so
//! they are written here. A file over the cap, or one that cannot be
//! written, is left out with a WARN: the mail's text still goes through.

use crate::adapter::EmailAdapter;
use crate::mail::inbound::{Incoming, Part};
use hermod_adapter_kit::{MediaFile, local_name};
use hermod_model::{Attachment, AttachmentKind};
use sha2::{Digest, Sha256};
use tracing::warn;

/// What kind of file a MIME type is.
fn kind(mime: &str) -> AttachmentKind {
    match mime.split('/').next().unwrap_or_default() {
        "image" => AttachmentKind::Photo,
        "audio" => AttachmentKind::Audio,
        "video" => AttachmentKind::Video,
        _ => AttachmentKind::Document,
    }
}

impl EmailAdapter {
    /// Saves the attachments of the mail keyed `key`.
    pub(crate) async fn save_parts(&self, incoming: &Incoming, key: &str) -> Vec<Attachment> {
        let mut saved = Vec::new();
        for (i, part) in incoming.attachments.iter().enumerate() {
            match self.save_part(part, key, i).await {
                Ok(attachment) => saved.push(attachment),
                Err(reason) => warn!(
                    file = part.file_name.as_deref().unwrap_or("(unnamed)"),
                    reason, "an attachment was left out"
                ),
            }
        }
        saved
    }

    async fn save_part(&self, part: &Part, key: &str, index: usize) -> Result<Attachment, String> {
        let media = self.media();
        let size = part.bytes.len() as u64;
        if size > media.max_bytes() {
            return Err(format!(
                "{} is over the {} limit",
                hermod_adapter_kit::human_size(size),
                hermod_adapter_kit::human_size(media.max_bytes())
            ));
        }
        // The same mail, the same names: a mail fetched again overwrites
        // its own files.
        let digest = Sha256::digest(format!("{key}\n{index}").as_bytes());
        let file = MediaFile {
            kind: kind(&part.mime_type),
            id: format!("mail{}", hermod_model::to_hex(&digest[..8])),
            file_name: part.file_name.clone(),
            extension: part.mime_type.split('/').nth(1).map(str::to_owned),
            mime_type: Some(part.mime_type.clone()),
            size: Some(size),
        };
        tokio::fs::create_dir_all(media.path())
            .await
            .map_err(|e| format!("the media directory cannot be created: {e}"))?;
        let path = media.path().join(local_name(&file));
        tokio::fs::write(&path, &part.bytes)
            .await
            .map_err(|e| format!("cannot save it: {e}"))?;
        // The same bytes, the same id, whoever sends them: what caches of
        // descriptions key on.
        let content = Sha256::digest(&part.bytes);
        Ok(Attachment {
            mime_type: Some(part.mime_type.clone()),
            file_name: part.file_name.clone(),
            unique_id: Some(hermod_model::to_hex(&content[..16])),
            ..Attachment::new(file.kind, path.display().to_string())
        })
    }
}
