//! A reply built as a mail: `Subject: Re: ...`, `In-Reply-To` and
//! `References` so clients thread it, a plain-text body, files as MIME
//! parts, and `Auto-Submitted: auto-replied` (RFC 3834) so other bots do
//! not answer it.
//!
//! The `Message-ID` is derived from what is sent — recipient, thread,
//! the message replied to, the text, the part number — so a reply sent
//! again after a crash carries the same id and clients show it once.

use super::inbound::is_reply;
use sha2::{Digest, Sha256};

/// What a reply needs to know about its conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ThreadContext {
    /// The subject of the conversation (without `Re:`).
    pub subject: String,
    /// `References` of the last mail received, then its own id: what our
    /// reply's `References` carries (RFC 5322 §3.6.4).
    pub references: Vec<String>,
    /// The last mail received in the thread: what we reply to when core
    /// names no message.
    pub last: Option<String>,
}

/// The longest `References` kept: enough for clients to thread, short
/// enough for servers that limit header lines.
const MAX_REFERENCES: usize = 20;

impl ThreadContext {
    /// `references` plus `id`, each once, the first (the root) and the
    /// newest kept when it grows long.
    pub fn with_reply_to(mut references: Vec<String>, id: &str) -> Vec<String> {
        if !references.iter().any(|r| r == id) {
            references.push(id.to_owned());
        }
        if references.len() > MAX_REFERENCES {
            let excess = references.len() - MAX_REFERENCES;
            references.drain(1..=excess);
        }
        references
    }
}

/// A file to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

/// One mail to send.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub text: &'a str,
    pub files: Vec<File>,
}

/// The subject of a reply in a thread about `subject`.
pub fn reply_subject(subject: &str) -> String {
    let subject = subject.trim();
    if subject.is_empty() {
        "Re: your message".to_owned()
    } else if is_reply(subject) {
        subject.to_owned()
    } else {
        format!("Re: {subject}")
    }
}

/// What a reply's Message-ID is derived from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub to: &'a str,
    pub thread: Option<&'a str>,
    pub reply_to: Option<&'a str>,
    /// Core's idempotency key, where it gives one (files).
    pub key: Option<&'a str>,
}

/// A stable Message-ID for part `part` of a reply: the same inputs give
/// the same id.
pub fn message_id(domain: &str, origin: Origin<'_>, text: &str, part: usize) -> String {
    let mut hash = Sha256::new();
    let Origin {
        to,
        thread,
        reply_to,
        key,
    } = origin;
    for field in [
        to,
        thread.unwrap_or(""),
        reply_to.unwrap_or(""),
        key.unwrap_or(""),
        text,
    ] {
        hash.update(field.as_bytes());
        hash.update([0]);
    }
    hash.update(part.to_le_bytes());
    let digest = hash.finalize();
    format!("hermod.{}@{domain}", hermod_model::to_hex(&digest[..12]))
}

/// The mail as bytes, CRLF line ends.
pub fn build(draft: Draft<'_>) -> std::io::Result<Vec<u8>> {
    let mut builder = mail_builder::MessageBuilder::new()
        .from(draft.from)
        .to(draft.to)
        .subject(draft.subject)
        .message_id(draft.message_id)
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-replied"),
        )
        .text_body(draft.text.to_owned());
    if let Some(id) = draft.in_reply_to {
        builder = builder.in_reply_to(id);
    }
    if !draft.references.is_empty() {
        builder = builder.references(draft.references);
    }
    for file in draft.files {
        builder = builder.attachment(file.mime_type, file.name, file.bytes);
    }
    builder.write_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_get_one_re() {
        assert_eq!(reply_subject("Plans"), "Re: Plans");
        assert_eq!(reply_subject("RE: Plans"), "RE: Plans");
        assert_eq!(reply_subject(""), "Re: your message");
    }

    #[test]
    fn message_ids_are_stable_and_distinct() {
        let origin = Origin {
            to: "u@y",
            thread: Some("t"),
            reply_to: Some("m"),
            key: None,
        };
        let a = message_id("x.org", origin, "hi", 0);
        assert_eq!(a, message_id("x.org", origin, "hi", 0));
        assert_ne!(a, message_id("x.org", origin, "hi", 1));
        assert_ne!(a, message_id("x.org", origin, "ho", 0));
        let keyed = Origin {
            key: Some("f123"),
            ..origin
        };
        assert_ne!(a, message_id("x.org", keyed, "hi", 0));
        assert!(a.starts_with("hermod.") && a.ends_with("@x.org"), "{a}");
    }

    #[test]
    fn references_keep_the_root_and_the_newest() {
        let many: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
        let refs = ThreadContext::with_reply_to(many, "new");
        assert_eq!(refs.len(), MAX_REFERENCES);
        assert_eq!(refs[0], "m0");
        assert_eq!(refs.last().map(String::as_str), Some("new"));
        assert_eq!(ThreadContext::with_reply_to(vec!["a".into()], "a"), ["a"]);
    }

    #[test]
    fn a_reply_is_threaded_and_marked_automatic() {
        let raw = build(Draft {
            from: "agent@x.org",
            to: "jane@y.org",
            subject: reply_subject("Plans"),
            message_id: "hermod.1@x.org".into(),
            in_reply_to: Some("m2@y.org".into()),
            references: vec!["m1@y.org".into(), "m2@y.org".into()],
            text: "Sure.\n.dot line",
            files: vec![File {
                name: "a.txt".into(),
                mime_type: "text/plain".into(),
                bytes: b"file body".to_vec(),
            }],
        })
        .unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.subject(), Some("Re: Plans"));
        assert_eq!(parsed.message_id(), Some("hermod.1@x.org"));
        assert_eq!(parsed.in_reply_to().as_text(), Some("m2@y.org"));
        assert_eq!(parsed.references().as_text_list().map(<[_]>::len), Some(2));
        assert_eq!(
            parsed.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
        assert_eq!(
            parsed
                .body_text(0)
                .map(|t| t.replace("\r\n", "\n"))
                .as_deref()
                .map(str::trim_end),
            Some("Sure.\n.dot line")
        );
        assert_eq!(parsed.attachment_count(), 1);
    }
}
