//! Files: photos and documents users send (`PhotoSize`, `Document`),
//! `sendPhoto`/`sendDocument` uploads, `getFile` and the download URL
//! `/file/bot<token>/<file_path>`.

use super::faults::ApiError;
use super::methods::{self, MAX_CAPTION};
use super::server::{Params, Upload};
use super::state::{Shared, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::Digest;

/// The sides of the sizes a photo is offered in, smallest first.
const PHOTO_SIDES: [u32; 3] = [90, 320, 800];
const MAX_PHOTO: usize = 10 << 20;
const MAX_DOCUMENT: usize = 50 << 20;
/// Bots may download files up to this size.
const MAX_DOWNLOAD: usize = 20 << 20;

/// What `send_media` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Media {
    Photo,
    Document,
}

/// Stores a photo; returns its `PhotoSize` array, largest last, each size
/// with its own `file_id` and `file_unique_id`.
pub(crate) fn photo_sizes(s: &mut State, bytes: &[u8]) -> Vec<Value> {
    PHOTO_SIDES
        .iter()
        .map(|side| {
            let file_id = s.store_file("photos", "jpg", bytes.to_vec());
            let unique_id = s.files.get(&file_id).map(|f| f.unique_id.clone());
            json!({
                "file_id": file_id,
                "file_unique_id": unique_id,
                "width": side,
                "height": side,
                "file_size": bytes.len(),
            })
        })
        .collect()
}

/// Stores a document; returns its `Document` object.
pub(crate) fn document(s: &mut State, file_name: &str, mime_type: &str, bytes: Vec<u8>) -> Value {
    let extension = file_name.rsplit_once('.').map_or("bin", |(_, e)| e);
    let size = bytes.len();
    let file_id = s.store_file("documents", extension, bytes);
    let unique_id = s.files.get(&file_id).map(|f| f.unique_id.clone());
    json!({
        "file_id": file_id,
        "file_unique_id": unique_id,
        "file_name": file_name,
        "mime_type": mime_type,
        "file_size": size,
    })
}

/// A voice message's `Voice` object: its bytes kept under `voice/` with
/// the extension of `mime_type` (`oga` for Telegram's OGG/Opus).
pub(crate) fn voice(s: &mut State, mime_type: &str, bytes: Vec<u8>) -> Value {
    let extension = match mime_type {
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "audio/mpeg" => "mp3",
        _ => "oga",
    };
    let size = bytes.len();
    let file_id = s.store_file("voice", extension, bytes);
    let unique_id = s.files.get(&file_id).map(|f| f.unique_id.clone());
    json!({
        "file_id": file_id,
        "file_unique_id": unique_id,
        "duration": 2,
        "mime_type": mime_type,
        "file_size": size,
    })
}

/// A still sticker's `Sticker` object (a WEBP under `stickers/`).
pub(crate) fn sticker(s: &mut State, bytes: Vec<u8>, emoji: &str, set_name: &str) -> Value {
    let size = bytes.len();
    // Telegram's unique id names the sticker, whoever sends it and however
    // often: here, its bytes.
    let digest = sha2::Sha256::digest(&bytes);
    let unique_id: String = hermod_model::to_hex(&digest[..6]);
    let unique_id = format!("AgADst{unique_id}");
    let file_id = s.store_file("stickers", "webp", bytes);
    if let Some(file) = s.files.get_mut(&file_id) {
        file.unique_id.clone_from(&unique_id);
    }
    json!({
        "file_id": file_id,
        "file_unique_id": unique_id,
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": false,
        "is_video": false,
        "emoji": emoji,
        "set_name": set_name,
        "file_size": size,
    })
}

/// The file a `photo`/`document` parameter names: an upload, `attach://`
/// an upload, a known `file_id`, or an HTTP URL (not fetched: no bytes).
fn resolve(s: &State, p: &Params, field: &str) -> Result<Upload, ApiError> {
    if let Some(upload) = p.uploads.get(field) {
        return Ok(upload.clone());
    }
    let Some(reference) = p.str(field) else {
        return Err(ApiError::bad_request(format!(
            "there is no {field} in the request"
        )));
    };
    if let Some(name) = reference.strip_prefix("attach://") {
        return p
            .uploads
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::bad_request(format!("file {name} not found")));
    }
    if let Some(file) = s.files.get(&reference) {
        return Ok(Upload {
            file_name: file.path.rsplit('/').next().map(str::to_owned),
            mime_type: None,
            bytes: file.bytes.clone(),
        });
    }
    if reference.starts_with("http://") || reference.starts_with("https://") {
        return Ok(Upload {
            file_name: reference.rsplit('/').next().map(str::to_owned),
            mime_type: None,
            bytes: Vec::new(),
        });
    }
    Err(ApiError::bad_request(
        "wrong remote file identifier specified: Wrong string length",
    ))
}

/// `sendPhoto` and `sendDocument`.
pub(crate) fn send_media(
    shared: &Shared,
    s: &mut State,
    p: &Params,
    media: Media,
) -> Result<Value, ApiError> {
    let (field, limit) = match media {
        Media::Photo => ("photo", MAX_PHOTO),
        Media::Document => ("document", MAX_DOCUMENT),
    };
    methods::chat(s, p.chat_id()?)?;
    let file = resolve(s, p, field)?;
    if file.bytes.len() > limit {
        return Err(ApiError::bad_request("file is too big"));
    }
    if file.bytes.is_empty() && p.uploads.contains_key(field) {
        return Err(ApiError::bad_request("file must be non-empty"));
    }
    let caption_raw = p.str("caption").unwrap_or_default();
    let parse_mode = p.str("parse_mode").filter(|m| !m.is_empty());
    let caption = methods::format(
        &caption_raw,
        parse_mode.as_deref(),
        p.json("caption_entities")?,
    )?;
    if methods::utf16_len(&caption.text) > MAX_CAPTION {
        return Err(ApiError::bad_request("message caption is too long"));
    }
    let mut envelope = methods::envelope(shared, s, p)?;
    match media {
        Media::Photo => {
            let sizes = photo_sizes(s, &file.bytes);
            envelope.record.photo = true;
            envelope.record.file_id = sizes
                .last()
                .and_then(|size| size["file_id"].as_str().map(str::to_owned));
            envelope.message.insert("photo".into(), json!(sizes));
        }
        Media::Document => {
            let name = file.file_name.unwrap_or_else(|| "document".to_owned());
            let mime = file
                .mime_type
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            let document = document(s, &name, &mime, file.bytes);
            envelope.record.document = Some(name);
            envelope.record.file_id = document["file_id"].as_str().map(str::to_owned);
            envelope.message.insert("document".into(), document);
        }
    }
    if !caption.text.is_empty() {
        envelope
            .message
            .insert("caption".into(), json!(caption.text));
        if !caption.entities.is_empty() {
            envelope
                .message
                .insert("caption_entities".into(), json!(caption.entities));
        }
        envelope.record.caption = Some(caption.text);
        envelope.record.raw_text = caption_raw;
        envelope.record.parse_mode = parse_mode;
        envelope.record.entities = caption.entities;
    }
    Ok(methods::store(s, envelope))
}

/// `getFile`: the `File` object with its download path.
pub(crate) fn get_file(s: &State, p: &Params) -> Result<Value, ApiError> {
    let file_id = p.str("file_id").unwrap_or_default();
    let file = s
        .files
        .get(&file_id)
        .ok_or_else(|| ApiError::bad_request("invalid file_id"))?;
    if file.bytes.len() > MAX_DOWNLOAD {
        return Err(ApiError::bad_request("file is too big"));
    }
    Ok(json!({
        "file_id": file_id,
        "file_unique_id": file.unique_id,
        "file_size": file.bytes.len(),
        "file_path": file.path,
    }))
}

/// Serves the bytes of the file at `path`.
pub(crate) fn download(shared: &Shared, path: &str) -> Response {
    let bytes = shared
        .lock()
        .files
        .values()
        .find(|f| f.path == path)
        .map(|f| f.bytes.clone());
    match bytes {
        Some(bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            bytes,
        )
            .into_response(),
        None => ApiError::not_found().into_response(),
    }
}
