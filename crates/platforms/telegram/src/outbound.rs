//! [`Outbound`]s and edits → Bot API request parameters: a pure
//! conversion.
//!
//! Text is rendered to HTML parts that fit Telegram's limit
//! ([`crate::render`]) and sent with `parse_mode: "HTML"`; the plain-text
//! variant of each part is kept for when Telegram refuses the HTML.
//! Attachments go with the method of their kind (see [`FileMethod`]); the
//! text becomes the first file's caption when it fits one caption (and
//! the file takes captions), and is sent as message(s) before the files
//! otherwise. Empty text sends no message.

use crate::config::ReplyToMode;
use crate::render::{MAX_CAPTION, MAX_MESSAGE, PARSE_MODE, Part, render_parts};
use crate::types::{ChatId, EditMessageText, ReplyParameters, SendMessage};
use hermod_core::AdapterError;
use hermod_model::{Attachment, AttachmentKind, ChatTarget, Outbound};

/// Where a message goes, as the Bot API takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub chat_id: ChatId,
    /// A forum topic.
    pub thread_id: Option<i64>,
}

impl Target {
    pub(crate) fn parse(target: &ChatTarget) -> Result<Self, AdapterError> {
        let thread_id = match target.thread_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(raw.parse().map_err(|_| {
                AdapterError::Rejected(format!("{raw:?} is not a Telegram topic id"))
            })?),
        };
        if target.chat_id.trim().is_empty() {
            return Err(AdapterError::Rejected("no chat id".into()));
        }
        Ok(Self {
            chat_id: ChatId::parse(&target.chat_id),
            thread_id,
        })
    }

    /// The key pacing and flood control use for this chat.
    pub(crate) fn chat_key(&self) -> String {
        match &self.chat_id {
            ChatId::Id(id) => id.to_string(),
            ChatId::Username(name) => name.to_ascii_lowercase(),
        }
    }

    /// Groups and channels have negative ids; Telegram allows them fewer
    /// messages per minute than private chats.
    pub(crate) fn is_group(&self) -> bool {
        match &self.chat_id {
            ChatId::Id(id) => *id < 0,
            ChatId::Username(_) => true,
        }
    }
}

/// A Telegram message id from core's string form.
pub(crate) fn message_id(raw: &str) -> Result<i64, AdapterError> {
    raw.trim()
        .parse()
        .map_err(|_| AdapterError::NotFound(format!("{raw:?} is not a Telegram message id")))
}

/// The message a reply threads to, per `TELEGRAM_REPLY_TO_MODE`: `first`
/// is true for the first message of a reply.
pub(crate) fn reply_parameters(
    reply_to: Option<i64>,
    mode: ReplyToMode,
    first: bool,
) -> Option<ReplyParameters> {
    let thread = match mode {
        ReplyToMode::Off => false,
        ReplyToMode::First => first,
        ReplyToMode::All => true,
    };
    reply_to
        .filter(|_| thread)
        .map(|message_id| ReplyParameters {
            message_id,
            allow_sending_without_reply: true,
        })
}

/// `sendMessage` with a rendered part as HTML.
pub(crate) fn send_message(
    target: &Target,
    part: &Part,
    reply: Option<ReplyParameters>,
) -> SendMessage {
    SendMessage {
        chat_id: target.chat_id.clone(),
        text: part.html.clone(),
        parse_mode: Some(PARSE_MODE),
        message_thread_id: target.thread_id,
        reply_parameters: reply,
    }
}

/// The same message as plain text, for when Telegram cannot parse the HTML.
pub(crate) fn as_plain(message: &SendMessage, part: &Part) -> SendMessage {
    SendMessage {
        text: part.plain.clone(),
        parse_mode: None,
        ..message.clone()
    }
}

/// `editMessageText` with a rendered part; `html` false for the plain
/// fallback.
pub(crate) fn edit_message(target: &Target, id: i64, part: &Part, html: bool) -> EditMessageText {
    EditMessageText {
        chat_id: target.chat_id.clone(),
        message_id: id,
        text: if html {
            part.html.clone()
        } else {
            part.plain.clone()
        },
        parse_mode: html.then_some(PARSE_MODE),
    }
}

/// Which upload method a file goes with: each kind natively (Bot API
/// `sendPhoto`, `sendVoice`, `sendAudio`, `sendVideo`, `sendSticker`),
/// anything else as `sendDocument`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileMethod {
    Photo,
    Voice,
    Audio,
    Video,
    Sticker,
    Document,
}

impl FileMethod {
    /// The method for an attachment. A voice message must be "an .OGG file
    /// encoded with OPUS, or in .MP3 format, or in .M4A format"; other
    /// audio marked as voice goes as audio.
    pub(crate) fn for_attachment(attachment: &Attachment) -> Self {
        match attachment.kind {
            AttachmentKind::Photo => FileMethod::Photo,
            AttachmentKind::Voice if voice_format(attachment.mime_type.as_deref()) => {
                FileMethod::Voice
            }
            AttachmentKind::Voice | AttachmentKind::Audio => FileMethod::Audio,
            AttachmentKind::Video => FileMethod::Video,
            AttachmentKind::Sticker => FileMethod::Sticker,
            AttachmentKind::Document => FileMethod::Document,
        }
    }

    pub(crate) fn method(self) -> &'static str {
        match self {
            FileMethod::Photo => "sendPhoto",
            FileMethod::Voice => "sendVoice",
            FileMethod::Audio => "sendAudio",
            FileMethod::Video => "sendVideo",
            FileMethod::Sticker => "sendSticker",
            FileMethod::Document => "sendDocument",
        }
    }

    /// The form field holding the file.
    pub(crate) fn field(self) -> &'static str {
        match self {
            FileMethod::Photo => "photo",
            FileMethod::Voice => "voice",
            FileMethod::Audio => "audio",
            FileMethod::Video => "video",
            FileMethod::Sticker => "sticker",
            FileMethod::Document => "document",
        }
    }

    /// Every method but `sendSticker` takes a caption.
    pub(crate) fn has_caption(self) -> bool {
        self != FileMethod::Sticker
    }
}

/// Formats `sendVoice` takes (an unknown type is tried as a voice message).
fn voice_format(mime: Option<&str>) -> bool {
    match mime {
        None => true,
        Some(m) => matches!(
            m,
            "audio/ogg" | "audio/opus" | "audio/mpeg" | "audio/mp4" | "audio/m4a" | "audio/x-m4a"
        ),
    }
}

/// One file to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileSend {
    pub attachment: Attachment,
    pub method: FileMethod,
    pub caption: Option<Part>,
}

/// Everything one [`Outbound`] becomes, in sending order: text messages,
/// then files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub texts: Vec<Part>,
    pub files: Vec<FileSend>,
}

pub(crate) fn plan(outbound: &Outbound) -> Plan {
    let mut texts = render_parts(&outbound.text, MAX_MESSAGE);
    let mut files: Vec<FileSend> = outbound
        .attachments
        .iter()
        .map(|attachment| FileSend {
            attachment: attachment.clone(),
            method: FileMethod::for_attachment(attachment),
            caption: None,
        })
        .collect();
    if let Some(first) = files.first_mut()
        && first.method.has_caption()
        && texts.len() == 1
        && texts[0].fits(MAX_CAPTION)
    {
        first.caption = texts.pop();
    }
    Plan { texts, files }
}

/// The text fields of an upload (everything but the file itself).
pub(crate) fn file_fields(
    target: &Target,
    caption: Option<&Part>,
    html: bool,
    reply: Option<&ReplyParameters>,
) -> Vec<(&'static str, String)> {
    let mut fields = vec![(
        "chat_id",
        match &target.chat_id {
            ChatId::Id(id) => id.to_string(),
            ChatId::Username(name) => name.clone(),
        },
    )];
    if let Some(thread) = target.thread_id {
        fields.push(("message_thread_id", thread.to_string()));
    }
    if let Some(caption) = caption {
        if html {
            fields.push(("caption", caption.html.clone()));
            fields.push(("parse_mode", PARSE_MODE.to_owned()));
        } else {
            fields.push(("caption", caption.plain.clone()));
        }
    }
    if let Some(reply) = reply
        && let Ok(json) = serde_json::to_string(reply)
    {
        fields.push(("reply_parameters", json));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(thread: Option<&str>) -> Target {
        Target::parse(&ChatTarget {
            chat_id: "-100200".into(),
            thread_id: thread.map(str::to_owned),
        })
        .unwrap()
    }

    fn outbound(text: &str, attachments: Vec<Attachment>) -> Outbound {
        Outbound {
            target: ChatTarget {
                chat_id: "42".into(),
                thread_id: None,
            },
            text: text.into(),
            reply_to: Some("7".into()),
            attachments,
            idempotency_key: None,
        }
    }

    #[test]
    fn a_message_is_html_in_its_topic_replying_to_the_user() {
        let t = target(Some("99"));
        let part = Part::render("**hi** & bye");
        let reply = reply_parameters(Some(7), ReplyToMode::First, true);
        let request = serde_json::to_value(send_message(&t, &part, reply)).unwrap();
        assert_eq!(
            request,
            json!({
                "chat_id": -100200,
                "text": "<b>hi</b> &amp; bye",
                "parse_mode": "HTML",
                "message_thread_id": 99,
                "reply_parameters": {"message_id": 7, "allow_sending_without_reply": true}
            })
        );
        let plain = serde_json::to_value(as_plain(&send_message(&t, &part, None), &part)).unwrap();
        assert_eq!(
            plain,
            json!({"chat_id": -100200, "text": "hi & bye", "message_thread_id": 99})
        );
    }

    #[test]
    fn reply_threading_follows_the_mode() {
        assert!(reply_parameters(Some(7), ReplyToMode::First, true).is_some());
        assert!(reply_parameters(Some(7), ReplyToMode::First, false).is_none());
        assert!(reply_parameters(Some(7), ReplyToMode::All, false).is_some());
        assert!(reply_parameters(Some(7), ReplyToMode::Off, true).is_none());
        assert!(reply_parameters(None, ReplyToMode::All, true).is_none());
    }

    #[test]
    fn long_text_becomes_several_fitting_messages() {
        let text = "word ".repeat(2000);
        let plan = plan(&outbound(&text, vec![]));
        assert_eq!(plan.texts.len(), 3);
        assert!(plan.texts.iter().all(|p| p.fits(MAX_MESSAGE)));
        assert!(plan.files.is_empty());
    }

    #[test]
    fn text_is_a_caption_when_it_fits_one() {
        let photo = Attachment::new(AttachmentKind::Photo, "/tmp/a.jpg").with_mime("image/jpeg");
        let doc = Attachment::new(AttachmentKind::Voice, "/tmp/b.ogg");
        let p = plan(&outbound("look *here*", vec![photo.clone(), doc]));
        assert!(p.texts.is_empty());
        assert_eq!(p.files[0].method, FileMethod::Photo);
        assert_eq!(
            p.files[0].caption.as_ref().unwrap().html,
            "look <i>here</i>"
        );
        assert_eq!(p.files[1].method, FileMethod::Voice);
        assert!(p.files[1].caption.is_none());

        let long = plan(&outbound(&"x".repeat(2000), vec![photo]));
        assert_eq!(long.texts.len(), 1);
        assert!(long.files[0].caption.is_none());
    }

    #[test]
    fn every_kind_goes_with_its_own_method() {
        let with = |kind, mime: &str| {
            FileMethod::for_attachment(&Attachment::new(kind, "/tmp/f").with_mime(mime)).method()
        };
        assert_eq!(with(AttachmentKind::Photo, "image/png"), "sendPhoto");
        assert_eq!(with(AttachmentKind::Voice, "audio/ogg"), "sendVoice");
        assert_eq!(with(AttachmentKind::Voice, "audio/x-wav"), "sendAudio");
        assert_eq!(with(AttachmentKind::Audio, "audio/mpeg"), "sendAudio");
        assert_eq!(with(AttachmentKind::Video, "video/mp4"), "sendVideo");
        assert_eq!(with(AttachmentKind::Sticker, "image/webp"), "sendSticker");
        assert_eq!(
            with(AttachmentKind::Document, "application/pdf"),
            "sendDocument"
        );
        assert_eq!(FileMethod::Voice.field(), "voice");
    }

    #[test]
    fn files_alone_send_no_text_and_stickers_take_no_caption() {
        let voice = Attachment::new(AttachmentKind::Voice, "/tmp/a.ogg").with_mime("audio/ogg");
        let p = plan(&outbound("", vec![voice]));
        assert!(p.texts.is_empty());
        assert!(p.files[0].caption.is_none());
        let sticker = Attachment::new(AttachmentKind::Sticker, "/tmp/s.webp");
        let p = plan(&outbound("hi", vec![sticker]));
        assert_eq!(p.texts.len(), 1);
        assert!(p.files[0].caption.is_none());
    }

    #[test]
    fn upload_fields_carry_thread_caption_and_reply() {
        let part = Part::render("*cap*");
        let reply = reply_parameters(Some(5), ReplyToMode::All, false);
        let fields = file_fields(&target(Some("3")), Some(&part), true, reply.as_ref());
        assert_eq!(
            fields,
            vec![
                ("chat_id", "-100200".to_owned()),
                ("message_thread_id", "3".to_owned()),
                ("caption", "<i>cap</i>".to_owned()),
                ("parse_mode", "HTML".to_owned()),
                (
                    "reply_parameters",
                    r#"{"message_id":5,"allow_sending_without_reply":true}"#.to_owned()
                ),
            ]
        );
        let plain = file_fields(&target(None), Some(&part), false, None);
        assert_eq!(plain[1], ("caption", "cap".to_owned()));
    }

    #[test]
    fn edits_and_ids() {
        let part = Part::render("`x`");
        let edit = serde_json::to_value(edit_message(&target(None), 12, &part, true)).unwrap();
        assert_eq!(
            edit,
            json!({"chat_id": -100200, "message_id": 12, "text": "<code>x</code>", "parse_mode": "HTML"})
        );
        assert_eq!(message_id(" 12 ").unwrap(), 12);
        assert!(matches!(message_id("abc"), Err(AdapterError::NotFound(_))));
        assert!(
            Target::parse(&ChatTarget {
                chat_id: "1".into(),
                thread_id: Some("topic".into())
            })
            .is_err()
        );
        assert!(target(None).is_group());
        assert_eq!(target(None).chat_key(), "-100200");
    }
}
