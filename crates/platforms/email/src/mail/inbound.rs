//! A fetched mail read into an [`Incoming`] (or the reason it is not
//! answered): sender, threading headers, the text the model sees and the
//! attached files. Pure: no I/O.
//!
//! Not answered, so that two bots cannot mail each other forever: mail
//! from our own address; automatic mail (RFC 3834 `Auto-Submitted` other
//! than `no`, `Precedence: bulk|list|junk`, `X-Autoreply`,
//! `X-Autorespond`, `X-Auto-Response-Suppress`); mailing-list mail
//! (`List-Id`, `List-Unsubscribe`); and no-reply senders (`noreply@`,
//! `mailer-daemon@`, ...), as Hermes does.

use super::auth::{self, Verdict};
use super::quote::strip_quoted;
use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders};

/// Address fragments of senders that are machines (Hermes' list).
const NOREPLY: &[&str] = &[
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "mailer-daemon",
    "postmaster",
    "bounce",
    "notifications@",
    "automated@",
    "auto-confirm",
    "auto-reply",
    "automailer",
];

/// A mail to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The sender's address, in lower case: the chat and the user.
    pub from: String,
    pub from_name: Option<String>,
    /// `Message-ID` without angle brackets.
    pub message_id: Option<String>,
    /// The conversation's first message: `References`' first id, else
    /// `In-Reply-To`, else this mail's own id.
    pub thread: Option<String>,
    /// `References` then `In-Reply-To`, each once, oldest first.
    pub references: Vec<String>,
    pub subject: String,
    /// What the model is given: the text body (HTML reduced to text),
    /// quoted history stripped, the subject in front of a new thread.
    pub text: String,
    pub attachments: Vec<Part>,
    /// Whether the receiving server authenticated the `From:` domain.
    pub sender: Verdict,
}

/// How mail is read.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// Our address, in lower case.
    pub own: String,
    /// Leave files out (Hermes' `skip_attachments`).
    pub skip_attachments: bool,
    /// The server whose `Authentication-Results` is trusted.
    pub authserv_id: Option<String>,
}

/// A file attached to a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub file_name: Option<String>,
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

/// Why a mail is not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Not a mail we can read at all.
    Malformed(String),
    /// From our own address.
    Own,
    /// Sent by a machine or a list: the reason, for the log.
    Automated(String),
}

/// Reads `raw` (a whole RFC 5322 message).
pub fn read(raw: &[u8], reading: &Reading) -> Result<Incoming, Skip> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| Skip::Malformed("not an RFC 5322 message".into()))?;
    let author = message
        .from()
        .and_then(|a| a.first())
        .ok_or_else(|| Skip::Malformed("no From: address".into()))?;
    let from = author
        .address()
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| a.contains('@'))
        .ok_or_else(|| Skip::Malformed("no From: address".into()))?;
    if from == reading.own {
        return Err(Skip::Own);
    }
    if let Some(reason) = automated(&message, &from) {
        return Err(Skip::Automated(reason));
    }
    let message_id = message.message_id().map(clean_id);
    let mut references: Vec<String> = ids(message.references());
    for id in ids(message.in_reply_to()) {
        if !references.contains(&id) {
            references.push(id);
        }
    }
    let thread = references.first().cloned().or_else(|| message_id.clone());
    let subject = message.subject().unwrap_or_default().trim().to_owned();
    let body = message.body_text(0).unwrap_or_default();
    let body = strip_quoted(&body.replace("\r\n", "\n"));
    let text = if subject.is_empty() || is_reply(&subject) {
        body
    } else {
        format!("[Subject: {subject}]\n\n{body}")
    };
    let sender = auth::verify(&message, &from, reading.authserv_id.as_deref());
    let attachments = if reading.skip_attachments {
        Vec::new()
    } else {
        parts(&message)
    };
    Ok(Incoming {
        from,
        from_name: author
            .name()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        message_id,
        thread,
        references,
        subject,
        text: text.trim().to_owned(),
        attachments,
        sender,
    })
}

/// Whether a subject is a reply's (`Re:`, `RE:`, `Aw:`, `Sv:`).
pub fn is_reply(subject: &str) -> bool {
    let lower = subject.trim_start().to_ascii_lowercase();
    ["re:", "aw:", "sv:", "re :"]
        .iter()
        .any(|p| lower.starts_with(p))
}

fn automated(message: &Message<'_>, from: &str) -> Option<String> {
    if let Some(pattern) = NOREPLY.iter().find(|p| from.contains(*p)) {
        return Some(format!("the sender looks automatic ({pattern})"));
    }
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
    };
    if let Some(value) = header("Auto-Submitted")
        && value.split(';').next().map(str::trim) != Some("no")
    {
        return Some(format!("Auto-Submitted: {value}"));
    }
    if let Some(value) = header("Precedence")
        && matches!(value.as_str(), "bulk" | "list" | "junk")
    {
        return Some(format!("Precedence: {value}"));
    }
    for name in [
        "List-Id",
        "List-Unsubscribe",
        "X-Autoreply",
        "X-Autorespond",
        "X-Auto-Response-Suppress",
    ] {
        if header(name).is_some() {
            return Some(format!("it has {name}"));
        }
    }
    None
}

fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![clean_id(id)],
        HeaderValue::TextList(list) => list.iter().map(|id| clean_id(id)).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|id| !id.is_empty())
    .collect()
}

fn parts(message: &Message<'_>) -> Vec<Part> {
    message
        .attachments()
        .filter(|part| !part.is_message())
        .map(|part| {
            let mime_type = part.content_type().map_or_else(
                || "application/octet-stream".to_owned(),
                |ct| match ct.subtype() {
                    Some(sub) => format!("{}/{sub}", ct.ctype()).to_ascii_lowercase(),
                    None => ct.ctype().to_ascii_lowercase(),
                },
            );
            Part {
                file_name: part.attachment_name().map(str::to_owned),
                mime_type,
                bytes: part.contents().to_vec(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "agent@example.com";

    fn read(raw: &[u8], own: &str, skip_attachments: bool) -> Result<Incoming, Skip> {
        super::read(
            raw,
            &Reading {
                own: own.to_owned(),
                skip_attachments,
                authserv_id: None,
            },
        )
    }

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!("{headers}\r\n\r\n{body}").into_bytes()
    }

    #[test]
    fn a_plain_mail_is_read_with_its_thread() {
        let raw = mail(
            "From: Jane Doe <Jane@Example.org>\r\nTo: agent@example.com\r\nSubject: Plans\r\nMessage-ID: <m1@example.org>",
            "Hi there\r\n",
        );
        let incoming = read(&raw, OWN, false).unwrap();
        assert_eq!(incoming.from, "jane@example.org");
        assert_eq!(incoming.from_name.as_deref(), Some("Jane Doe"));
        assert_eq!(incoming.message_id.as_deref(), Some("m1@example.org"));
        assert_eq!(incoming.thread.as_deref(), Some("m1@example.org"));
        assert_eq!(incoming.text, "[Subject: Plans]\n\nHi there");
    }

    #[test]
    fn a_reply_keeps_its_root_and_loses_its_quote() {
        let raw = mail(
            "From: jane@example.org\r\nSubject: Re: Plans\r\nMessage-ID: <m3@example.org>\r\nIn-Reply-To: <r2@example.com>\r\nReferences: <m1@example.org> <r2@example.com>",
            "Yes please.\r\n\r\nOn Mon, Agent <agent@example.com> wrote:\r\n> Shall I?\r\n",
        );
        let incoming = read(&raw, OWN, false).unwrap();
        assert_eq!(incoming.thread.as_deref(), Some("m1@example.org"));
        assert_eq!(incoming.references, ["m1@example.org", "r2@example.com"]);
        assert_eq!(incoming.text, "Yes please.");
    }

    #[test]
    fn html_only_mail_is_reduced_to_text() {
        let raw = mail(
            "From: jane@example.org\r\nSubject: Re: x\r\nContent-Type: text/html; charset=utf-8",
            "<html><body><p>Hello <b>world</b></p><script>x()</script></body></html>",
        );
        let text = read(&raw, OWN, false).unwrap().text;
        assert!(text.contains("Hello world"), "{text:?}");
        assert!(!text.contains('<'), "{text:?}");
    }

    #[test]
    fn own_automatic_and_list_mail_is_skipped() {
        let own = mail("From: Agent <AGENT@example.com>\r\nSubject: x", "x");
        assert_eq!(read(&own, OWN, false), Err(Skip::Own));
        for header in [
            "Auto-Submitted: auto-replied",
            "Precedence: bulk",
            "List-Id: <list.example.org>",
            "X-Autoreply: yes",
            "X-Autorespond: x",
        ] {
            let raw = mail(&format!("From: jane@example.org\r\n{header}"), "away");
            assert!(
                matches!(read(&raw, OWN, false), Err(Skip::Automated(_))),
                "{header}"
            );
        }
        let fine = mail("From: jane@example.org\r\nAuto-Submitted: no", "hi");
        assert!(read(&fine, OWN, false).is_ok());
        let noreply = mail("From: noreply@shop.example", "deal");
        assert!(matches!(
            read(&noreply, OWN, false),
            Err(Skip::Automated(_))
        ));
        assert!(matches!(read(b"", OWN, false), Err(Skip::Malformed(_))));
        let nobody = mail("Subject: who?", "x");
        assert!(matches!(read(&nobody, OWN, false), Err(Skip::Malformed(_))));
    }

    #[test]
    fn attachments_come_with_their_names_and_types() {
        let raw = mail(
            "From: jane@example.org\r\nSubject: Re: files\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b",
            "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n",
        );
        let incoming = read(&raw, OWN, false).unwrap();
        assert_eq!(incoming.text, "see attached");
        assert_eq!(
            incoming.attachments,
            [Part {
                file_name: Some("report.pdf".into()),
                mime_type: "application/pdf".into(),
                bytes: b"%PDF-1.4\n".to_vec(),
            }]
        );
        assert!(read(&raw, OWN, true).unwrap().attachments.is_empty());
    }
}
