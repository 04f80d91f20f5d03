//! [`Smtp`]: the SMTP submission client (RFC 5321, 3207, 4954): greeting,
//! EHLO, STARTTLS, AUTH PLAIN or LOGIN, MAIL/RCPT/DATA with dot-stuffing,
//! QUIT. Replies are classified: 4xx is transient (421 or 450/451 that
//! say "try again in N seconds" become a rate limit), 535 and other
//! refused logins are credentials, other 5xx a rejection.

use crate::error::EmailError;
use base64::Engine;
use hermod_model::Secret;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// One SMTP reply: its code and its text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// What this reply means when `step` expected success.
    fn error(&self, step: &str) -> EmailError {
        let message = format!(
            "the SMTP server answered {step} with {} {}",
            self.code,
            self.text()
        );
        match self.code {
            530 | 534 | 535 | 538 | 454 if step.starts_with("AUTH") => EmailError::Auth(message),
            400..=499 => match retry_after(&self.text()) {
                Some(retry_after) => EmailError::RateLimited {
                    message,
                    retry_after,
                },
                None => EmailError::Transient(message),
            },
            _ => EmailError::Refused(message),
        }
    }
}

/// "try again in 30 seconds" (or minutes) in a 4xx reply's text.
fn retry_after(text: &str) -> Option<Duration> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find(" in ")?;
    let mut words = lower[at + 4..].split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    let unit = words.next()?;
    let secs = if unit.starts_with("sec") || unit == "s" {
        n
    } else if unit.starts_with("min") {
        n * 60
    } else {
        return None;
    };
    Some(Duration::from_secs(secs))
}

/// An SMTP session over a byte stream.
#[derive(Debug)]
pub(crate) struct Smtp<S> {
    stream: BufReader<S>,
    timeout: Duration,
    /// The EHLO keywords (`STARTTLS`, `AUTH PLAIN LOGIN`, `SIZE 1000`).
    extensions: Vec<String>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Smtp<S> {
    /// Reads the 220 greeting.
    pub(crate) async fn greet(stream: S, timeout: Duration) -> Result<Self, EmailError> {
        let mut smtp = Self::resume(stream, timeout);
        let reply = smtp.reply().await?;
        if reply.code != 220 {
            return Err(reply.error("the connection"));
        }
        Ok(smtp)
    }

    /// Wraps a stream after STARTTLS (EHLO must be sent again).
    pub(crate) fn resume(stream: S, timeout: Duration) -> Self {
        Self {
            stream: BufReader::new(stream),
            timeout,
            extensions: Vec::new(),
        }
    }

    /// EHLO, keeping the extensions announced.
    pub(crate) async fn ehlo(&mut self, name: &str) -> Result<(), EmailError> {
        let reply = self.command(&format!("EHLO {name}")).await?;
        if reply.code != 250 {
            return Err(reply.error("EHLO"));
        }
        self.extensions = reply.lines.into_iter().skip(1).collect();
        Ok(())
    }

    /// The parameters of extension `name`, if announced.
    fn extension(&self, name: &str) -> Option<Vec<String>> {
        self.extensions.iter().find_map(|line| {
            let mut words = line.split_whitespace();
            let keyword = words.next()?;
            keyword
                .eq_ignore_ascii_case(name)
                .then(|| words.map(|w| w.to_ascii_uppercase()).collect())
        })
    }

    /// Sends STARTTLS and hands back the stream for the TLS handshake.
    pub(crate) async fn starttls(mut self) -> Result<S, EmailError> {
        if self.extension("STARTTLS").is_none() {
            return Err(EmailError::Tls(
                "the SMTP server offers no STARTTLS; set EMAIL_SMTP_SECURITY=tls \
                 (port 465) if it speaks TLS"
                    .into(),
            ));
        }
        let reply = self.command("STARTTLS").await?;
        if reply.code != 220 {
            return Err(reply.error("STARTTLS"));
        }
        Ok(self.stream.into_inner())
    }

    /// Logs in with PLAIN or LOGIN when the server announces AUTH; a
    /// server that announces none (a local relay) is used without.
    pub(crate) async fn auth(&mut self, user: &str, password: &Secret) -> Result<(), EmailError> {
        let Some(mechanisms) = self.extension("AUTH") else {
            return Ok(());
        };
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        if mechanisms.iter().any(|m| m == "PLAIN") {
            let token = b64(&format!("\0{user}\0{}", password.expose()));
            let reply = self.command(&format!("AUTH PLAIN {token}")).await?;
            return match reply.code {
                235 => Ok(()),
                _ => Err(reply.error("AUTH PLAIN")),
            };
        }
        if mechanisms.iter().any(|m| m == "LOGIN") {
            for (step, answer) in [("AUTH LOGIN", None), ("AUTH LOGIN user", Some(b64(user)))] {
                let reply = match answer {
                    None => self.command("AUTH LOGIN").await?,
                    Some(line) => self.command(&line).await?,
                };
                if reply.code != 334 {
                    return Err(reply.error(step));
                }
            }
            let reply = self.command(&b64(password.expose())).await?;
            return match reply.code {
                235 => Ok(()),
                _ => Err(reply.error("AUTH LOGIN")),
            };
        }
        Err(EmailError::Auth(format!(
            "the SMTP server offers neither AUTH PLAIN nor LOGIN (it offers {})",
            mechanisms.join(" ")
        )))
    }

    /// Sends one message from `from` to `to`; `message` is the whole RFC
    /// 5322 text with CRLF line ends.
    pub(crate) async fn send(
        &mut self,
        from: &str,
        to: &[String],
        message: &[u8],
    ) -> Result<(), EmailError> {
        let reply = self.command(&format!("MAIL FROM:<{from}>")).await?;
        if reply.code != 250 {
            return Err(reply.error("MAIL FROM"));
        }
        for rcpt in to {
            let reply = self.command(&format!("RCPT TO:<{rcpt}>")).await?;
            if !matches!(reply.code, 250 | 251) {
                return Err(reply.error("RCPT TO"));
            }
        }
        let reply = self.command("DATA").await?;
        if reply.code != 354 {
            return Err(reply.error("DATA"));
        }
        let data = dot_stuffed(message);
        self.write(&data).await?;
        let reply = self.reply().await?;
        if reply.code != 250 {
            return Err(reply.error("the message"));
        }
        Ok(())
    }

    /// QUIT; errors are of no interest any more.
    pub(crate) async fn quit(mut self) {
        let _ = self.command("QUIT").await;
    }

    async fn command(&mut self, line: &str) -> Result<Reply, EmailError> {
        self.write(format!("{line}\r\n").as_bytes()).await?;
        self.reply().await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), EmailError> {
        let stream = self.stream.get_mut();
        let write = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        tokio::time::timeout(self.timeout, write)
            .await
            .map_err(|_| EmailError::Timeout("writing to the SMTP server"))?
            .map_err(|e| EmailError::Io(format!("writing to the SMTP server: {e}")))
    }

    /// Reads one reply, every line of a multi-line one.
    async fn reply(&mut self) -> Result<Reply, EmailError> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(self.timeout, self.stream.read_line(&mut line))
                .await
                .map_err(|_| EmailError::Timeout("waiting for the SMTP server"))?
                .map_err(|e| EmailError::Io(format!("reading from the SMTP server: {e}")))?;
            if n == 0 {
                return Err(EmailError::Closed(
                    "the SMTP server closed the connection".into(),
                ));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| {
                    EmailError::Protocol(format!(
                        "the SMTP server sent a line without a reply code: {}",
                        hermod_adapter_kit::truncate(line, 80)
                    ))
                })?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or_default().to_owned());
            if !more {
                return Ok(Reply { code, lines });
            }
        }
    }
}

/// `message` with CRLF line ends, every line starting with `.` given a
/// second one (RFC 5321 §4.5.2), and the terminating `.` line.
pub(crate) fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    let mut at_line_start = true;
    let mut previous = 0u8;
    for &b in message {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
        previous = b;
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn dots_are_stuffed_and_line_ends_made_crlf() {
        assert_eq!(
            dot_stuffed(b".a\r\nb\n.\r\nc"),
            b"..a\r\nb\r\n..\r\nc\r\n.\r\n"
        );
        assert_eq!(dot_stuffed(b"x\r\n"), b"x\r\n.\r\n");
    }

    #[test]
    fn replies_are_classified() {
        let reply = |code, text: &str| Reply {
            code,
            lines: vec![text.to_owned()],
        };
        assert!(matches!(
            reply(421, "4.7.0 Try again in 30 seconds").error("the message"),
            EmailError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(30)
        ));
        assert!(matches!(
            reply(451, "4.3.0 Try again in 2 minutes").error("DATA"),
            EmailError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(120)
        ));
        for code in [421, 450, 451, 452] {
            assert!(matches!(
                reply(code, "busy").error("RCPT TO"),
                EmailError::Transient(_)
            ));
        }
        assert!(matches!(
            reply(535, "5.7.8 bad").error("AUTH PLAIN"),
            EmailError::Auth(_)
        ));
        assert!(matches!(
            reply(550, "no such user").error("RCPT TO"),
            EmailError::Refused(_)
        ));
        assert!(matches!(
            reply(554, "spam").error("the message"),
            EmailError::Refused(_)
        ));
    }

    #[tokio::test]
    async fn a_message_is_submitted_with_auth_plain() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let peer = tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            server.write_all(b"220 mx ready\r\n").await.unwrap();
            let answers: [&[u8]; 7] = [
                b"250-mx\r\n250-AUTH LOGIN PLAIN\r\n250 8BITMIME\r\n",
                b"235 ok\r\n",
                b"250 ok\r\n",
                b"250 ok\r\n",
                b"354 go\r\n",
                b"250 queued\r\n",
                b"221 bye\r\n",
            ];
            for answer in answers {
                loop {
                    let n = server.read(&mut buf).await.unwrap();
                    seen.extend_from_slice(&buf[..n]);
                    if seen.ends_with(b"\r\n") {
                        break;
                    }
                }
                server.write_all(answer).await.unwrap();
            }
            String::from_utf8(seen).unwrap()
        });
        let mut smtp = Smtp::greet(client, Duration::from_secs(5)).await.unwrap();
        smtp.ehlo("localhost").await.unwrap();
        smtp.auth("bot@x", &Secret::new("pw")).await.unwrap();
        smtp.send("bot@x", &["u@y".into()], b"Subject: s\r\n\r\n.hidden\r\n")
            .await
            .unwrap();
        smtp.quit().await;
        let seen = peer.await.unwrap();
        assert!(seen.contains("AUTH PLAIN AGJvdEB4AHB3\r\n"), "{seen}");
        assert!(seen.contains("RCPT TO:<u@y>\r\n"));
        assert!(seen.contains("\r\n\r\n..hidden\r\n.\r\n"), "{seen}");
        assert!(seen.ends_with("QUIT\r\n"));
    }
}
