//! The Bot API's other file sends, as the documentation describes them:
//! `sendVoice` (a voice message: "an .OGG file encoded with OPUS, or in
//! .MP3 format, or in .M4A format"), `sendAudio` (music: MP3 or M4A),
//! `sendVideo` (MPEG4) and `sendSticker` (WEBP, TGS or WEBM; no caption).
//! Bots may send files up to 50 MB. Each message records the method it was
//! sent with ([`super::FakeMessage::sent_with`]).

use super::faults::ApiError;
use super::methods::{self, MAX_CAPTION};
use super::server::Params;
use super::state::{Shared, State};
use serde_json::{Value, json};

const MAX_FILE: usize = 50 << 20;

/// Which of the methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Voice,
    Audio,
    Video,
    Sticker,
}

impl Kind {
    /// The parameter holding the file, and the message field it becomes.
    fn field(self) -> &'static str {
        match self {
            Kind::Voice => "voice",
            Kind::Audio => "audio",
            Kind::Video => "video",
            Kind::Sticker => "sticker",
        }
    }

    fn method(self) -> &'static str {
        match self {
            Kind::Voice => "sendVoice",
            Kind::Audio => "sendAudio",
            Kind::Video => "sendVideo",
            Kind::Sticker => "sendSticker",
        }
    }

    /// Whether a file of this MIME type (as the upload declared it; none
    /// declared is taken on trust) is one the method takes.
    fn accepts(self, mime: Option<&str>) -> bool {
        let Some(mime) = mime else { return true };
        match self {
            Kind::Voice => matches!(
                mime,
                "audio/ogg"
                    | "audio/opus"
                    | "audio/mpeg"
                    | "audio/mp4"
                    | "audio/m4a"
                    | "audio/x-m4a"
            ),
            Kind::Audio => mime.starts_with("audio/"),
            Kind::Video => mime.starts_with("video/"),
            Kind::Sticker => matches!(
                mime,
                "image/webp" | "application/x-tgsticker" | "video/webm"
            ),
        }
    }
}

/// `sendVoice`, `sendAudio`, `sendVideo`, `sendSticker` with an uploaded
/// file (`multipart/form-data`) or an HTTP URL.
pub(crate) fn send(
    shared: &Shared,
    s: &mut State,
    p: &Params,
    kind: Kind,
) -> Result<Value, ApiError> {
    methods::chat(s, p.chat_id()?)?;
    let field = kind.field();
    let (bytes, mime, name) = match (p.uploads.get(field), p.str(field)) {
        (Some(upload), _) => (
            upload.bytes.clone(),
            upload.mime_type.clone(),
            upload.file_name.clone(),
        ),
        (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
            (Vec::new(), None, url.rsplit('/').next().map(str::to_owned))
        }
        _ => {
            return Err(ApiError::bad_request(format!(
                "there is no {field} in the request"
            )));
        }
    };
    if p.uploads.contains_key(field) && bytes.is_empty() {
        return Err(ApiError::bad_request("file must be non-empty"));
    }
    if bytes.len() > MAX_FILE {
        return Err(ApiError::bad_request("file is too big"));
    }
    if !kind.accepts(mime.as_deref()) {
        return Err(ApiError::bad_request(format!(
            "wrong file type for {}",
            kind.method()
        )));
    }
    let caption_raw = match kind {
        // "sendSticker" has no caption parameter.
        Kind::Sticker => String::new(),
        _ => p.str("caption").unwrap_or_default(),
    };
    let parse_mode = p.str("parse_mode").filter(|m| !m.is_empty());
    let caption = methods::format(
        &caption_raw,
        parse_mode.as_deref(),
        p.json("caption_entities")?,
    )?;
    if methods::utf16_len(&caption.text) > MAX_CAPTION {
        return Err(ApiError::bad_request("message caption is too long"));
    }
    let size = bytes.len();
    let extension = name
        .as_deref()
        .and_then(|n| n.rsplit_once('.'))
        .map_or("bin", |(_, e)| e)
        .to_owned();
    let file_id = s.store_file(field, &extension, bytes);
    let unique_id = s.files.get(&file_id).map(|f| f.unique_id.clone());
    let mut object = json!({
        "file_id": file_id,
        "file_unique_id": unique_id,
        "file_size": size,
    });
    match kind {
        Kind::Voice | Kind::Audio => {
            object["duration"] = json!(2);
            object["mime_type"] = json!(mime.unwrap_or_else(|| "audio/ogg".into()));
        }
        Kind::Video => {
            object["duration"] = json!(2);
            object["width"] = json!(320);
            object["height"] = json!(240);
        }
        Kind::Sticker => {
            object["type"] = json!("regular");
            object["width"] = json!(512);
            object["height"] = json!(512);
            object["is_animated"] = json!(false);
            object["is_video"] = json!(false);
        }
    }
    if kind == Kind::Audio
        && let Some(name) = name
    {
        object["file_name"] = json!(name);
    }
    let mut envelope = methods::envelope(shared, s, p)?;
    envelope.record.file_id = Some(file_id);
    envelope.record.sent_with = Some(kind.method().to_owned());
    envelope.message.insert(field.into(), object);
    if !caption.text.is_empty() {
        envelope
            .message
            .insert("caption".into(), json!(caption.text));
        envelope.record.caption = Some(caption.text);
        envelope.record.raw_text = caption_raw;
        envelope.record.parse_mode = parse_mode;
        envelope.record.entities = caption.entities;
    }
    Ok(methods::store(s, envelope))
}
