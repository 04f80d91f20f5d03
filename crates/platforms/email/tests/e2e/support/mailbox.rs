//! The test's side of the mail: messages put into the bot's INBOX with
//! IMAP APPEND (a few raw commands, independent of the adapter's client),
//! and the replies aiosmtpd stored, read back with mail-parser.

use super::servers::{BOT, PASSWORD, Servers};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A mail to deliver to the bot.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub subject: String,
    pub message_id: String,
    pub headers: Vec<String>,
    pub body: String,
}

impl Mail {
    /// A plain mail from `from` with a fresh Message-ID.
    pub fn new(from: &str, subject: &str, body: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            from: from.to_owned(),
            subject: subject.to_owned(),
            message_id: format!("t{n}.{}@example.org", std::process::id()),
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    pub fn header(mut self, line: &str) -> Self {
        self.headers.push(line.to_owned());
        self
    }

    /// A reply to `to` (a sent mail), threaded as a mail client does.
    pub fn replying_to(mut self, to: &SentMail) -> Self {
        let mut references = to.references.clone();
        references.push(to.message_id.clone());
        let refs: Vec<String> = references.iter().map(|r| format!("<{r}>")).collect();
        self.headers
            .push(format!("In-Reply-To: <{}>", to.message_id));
        self.headers.push(format!("References: {}", refs.join(" ")));
        self
    }

    pub fn raw(&self) -> String {
        let mut raw = format!(
            "From: {}\r\nTo: {BOT}\r\nSubject: {}\r\nMessage-ID: <{}>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n",
            self.from, self.subject, self.message_id
        );
        for header in &self.headers {
            raw.push_str(header);
            raw.push_str("\r\n");
        }
        raw.push_str("\r\n");
        raw.push_str(&self.body.replace('\n', "\r\n").replace("\r\r\n", "\r\n"));
        raw.push_str("\r\n");
        raw
    }
}

impl Servers {
    /// Delivers `mail` into the bot's INBOX.
    pub async fn deliver(&self, mail: &Mail) {
        self.append(mail.raw().as_bytes()).await;
    }

    /// APPENDs `raw` to the bot's INBOX, as it is.
    pub async fn append(&self, raw: &[u8]) {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.imap_port))
            .await
            .unwrap();
        let (read, mut write) = tokio::io::split(stream);
        let mut lines = BufReader::new(read).lines();
        let mut expect = async |prefix: &str| loop {
            let line = lines.next_line().await.unwrap().expect("dovecot answered");
            if line.starts_with(prefix) {
                return line;
            }
        };
        expect("* OK").await;
        write
            .write_all(format!("a LOGIN \"{BOT}\" \"{PASSWORD}\"\r\n").as_bytes())
            .await
            .unwrap();
        assert!(expect("a ").await.starts_with("a OK"));
        write
            .write_all(format!("b APPEND INBOX {{{}}}\r\n", raw.len()).as_bytes())
            .await
            .unwrap();
        expect("+").await;
        write.write_all(raw).await.unwrap();
        write.write_all(b"\r\n").await.unwrap();
        let done = expect("b ").await;
        assert!(done.starts_with("b OK"), "APPEND failed: {done}");
        write.write_all(b"c LOGOUT\r\n").await.unwrap();
    }

    /// Every mail aiosmtpd received, in order.
    pub fn sent(&self) -> Vec<SentMail> {
        let dir = self.smtp_maildir().join("new");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut files: Vec<(u64, std::path::PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|e| (order(&e.file_name().to_string_lossy()), e.path()))
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| std::fs::read(path).ok())
            .map(|raw| SentMail::parse(&raw))
            .collect()
    }

    /// The mails sent to `to`.
    pub fn sent_to(&self, to: &str) -> Vec<SentMail> {
        self.sent().into_iter().filter(|m| m.to == to).collect()
    }
}

/// Python's Maildir names end in `Q<counter>`: the order of delivery.
fn order(name: &str) -> u64 {
    name.split('Q')
        .nth(1)
        .and_then(|rest| rest.split('.').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// A mail the bot sent.
#[derive(Debug, Clone)]
pub struct SentMail {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub auto_submitted: Option<String>,
    /// The text body, line ends as `\n`, trailing space trimmed.
    pub text: String,
    /// (file name, bytes) of each attachment.
    pub files: Vec<(String, Vec<u8>)>,
}

impl SentMail {
    fn parse(raw: &[u8]) -> Self {
        use mail_parser::{HeaderValue, MimeHeaders};
        let m = mail_parser::MessageParser::default().parse(raw).unwrap();
        let address = |a: Option<&mail_parser::Address<'_>>| {
            a.and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_owned()
        };
        let references = match m.references() {
            HeaderValue::Text(t) => vec![t.to_string()],
            HeaderValue::TextList(l) => l.iter().map(ToString::to_string).collect(),
            _ => Vec::new(),
        };
        Self {
            from: address(m.from()),
            to: address(m.to()),
            subject: m.subject().unwrap_or_default().to_owned(),
            message_id: m.message_id().unwrap_or_default().to_owned(),
            in_reply_to: m.in_reply_to().as_text().map(str::to_owned),
            references,
            auto_submitted: m.header_raw("Auto-Submitted").map(|v| v.trim().to_owned()),
            text: m
                .body_text(0)
                .map(|t| t.replace("\r\n", "\n").trim_end().to_owned())
                .unwrap_or_default(),
            files: m
                .attachments()
                .map(|a| {
                    (
                        a.attachment_name().unwrap_or_default().to_owned(),
                        a.contents().to_vec(),
                    )
                })
                .collect(),
        }
    }
}
