//! Files both ways. In: signal-cli keeps what it received under its own
//! data directory and names each file by an `id`; `getAttachment` gives
//! its bytes as base64, which are saved into `HERMOD_HOME/media` (size
//! capped, the type sniffed from the bytes, never a partial file). Out:
//! each file as a data URI (`data:<mime>;filename=<name>;base64,...`),
//! which signal-cli accepts wherever it takes a path, so the daemon need
//! not see hermod's files.

use crate::adapter::SignalAdapter;
use crate::envelope::FileRef;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hermod_adapter_kit::{KitError, MediaDir, MediaFile, guess_mime, local_name};
use hermod_core::AdapterError;
use hermod_model::Attachment;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// The longest a `getAttachment` call may take (large files come base64
/// in one answer).
const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

impl SignalAdapter {
    /// Fetches `file` into the media directory; `author` or `group_id`
    /// say whose message it came with, as `getAttachment` asks.
    pub(crate) async fn fetch(
        &self,
        file: &FileRef,
        author: &str,
        group_id: Option<&str>,
    ) -> Result<Attachment, KitError> {
        let dir = MediaDir::new(
            self.config().media_dir(),
            self.config().max_attachment_bytes(),
        );
        dir.check_size(file.size)?;
        let media = MediaFile {
            kind: file.kind,
            id: file.id.clone(),
            file_name: file.filename.clone(),
            extension: file
                .id
                .rsplit_once('.')
                .map(|(_, ext)| ext.to_owned())
                .filter(|ext| ext.len() <= 5 && ext.bytes().all(|b| b.is_ascii_alphanumeric())),
            mime_type: file.content_type.clone(),
            size: file.size,
        };
        let name = local_name(&media);
        let dest = dir.path().join(&name);
        if !tokio::fs::try_exists(&dest).await.unwrap_or(false) {
            let mut params = json!({"id": file.id});
            match group_id {
                Some(group) => params["groupId"] = json!(group),
                None => params["recipient"] = json!(author),
            }
            let result = self
                .api()
                .call("getAttachment", params, Some(FETCH_TIMEOUT))
                .await
                .map_err(|e| KitError::Download(e.to_string()))?;
            let encoded = result
                .get("data")
                .and_then(|d| d.as_str())
                .or_else(|| result.as_str())
                .ok_or_else(|| KitError::Download("getAttachment answered no data".into()))?;
            let bytes = STANDARD.decode(encoded.trim()).map_err(|e| {
                KitError::Download(format!("getAttachment's data is not base64: {e}"))
            })?;
            dir.check_size(Some(bytes.len() as u64))?;
            save(dir.path(), &name, &bytes).await?;
        }
        let mime = file
            .content_type
            .clone()
            .or_else(|| guess_mime(&dest).map(str::to_owned));
        let mut attachment = Attachment::new(file.kind, dest.to_string_lossy().into_owned());
        attachment.mime_type = mime;
        attachment.file_name = file.filename.clone();
        attachment.unique_id = Some(file.id.clone());
        Ok(attachment)
    }
}

/// Writes `bytes` as `dir/name`, through a hidden partial file renamed
/// into place, so no reader sees half a file.
async fn save(dir: &Path, name: &Path, bytes: &[u8]) -> Result<(), KitError> {
    let io = |e: std::io::Error| KitError::Io(format!("cannot save a received file: {e}"));
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let dest = dir.join(name);
    if dest.parent() != Some(dir) {
        return Err(KitError::Io(format!(
            "the file name {} would leave the media directory",
            name.display()
        )));
    }
    let partial = dir.join(format!(".{}.part", name.display()));
    tokio::fs::write(&partial, bytes).await.map_err(io)?;
    tokio::fs::rename(&partial, &dest).await.map_err(io)
}

/// The files of a reply as data URIs.
pub(crate) async fn data_uris(attachments: &[Attachment]) -> Result<Vec<String>, AdapterError> {
    let mut uris = Vec::with_capacity(attachments.len());
    for attachment in attachments {
        let path = Path::new(&attachment.location);
        let bytes = tokio::fs::read(path).await.map_err(|e| {
            AdapterError::Rejected(format!("cannot read {} to send it: {e}", path.display()))
        })?;
        let mime = attachment
            .mime_type
            .clone()
            .or_else(|| guess_mime(path).map(str::to_owned))
            .unwrap_or_else(|| "application/octet-stream".into());
        let name = attachment
            .file_name
            .clone()
            .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()));
        uris.push(data_uri(&mime, name.as_deref(), &bytes));
    }
    Ok(uris)
}

/// `data:<mime>;filename=<name>;base64,<data>`; `;` and `,` would end the
/// name early, so they are left out of it.
pub(crate) fn data_uri(mime: &str, name: Option<&str>, bytes: &[u8]) -> String {
    let name = name
        .map(|n| n.replace([';', ',', '/', '\\'], "_"))
        .filter(|n| !n.is_empty())
        .map(|n| format!(";filename={n}"))
        .unwrap_or_default();
    format!("data:{mime}{name};base64,{}", STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uris_carry_type_and_a_safe_name() {
        assert_eq!(
            data_uri("image/png", Some("a;b,c.png"), b"hi"),
            "data:image/png;filename=a_b_c.png;base64,aGk="
        );
        assert_eq!(data_uri("text/plain", None, b""), "data:text/plain;base64,");
    }
}
