//! Sending: a reply rendered as plain text, split at 50,000 characters,
//! each part a mail in the conversation's thread (its subject,
//! `In-Reply-To` and `References` from the stored thread context), the
//! files attached to the last part; all parts over one SMTP session.

use crate::adapter::{EmailAdapter, MAX_MESSAGE_CHARS};
use crate::error::EmailError;
use crate::mail::outbound::{self, Draft, File, Origin, ThreadContext};
use hermod_adapter_kit::{Call, Wait};
use hermod_core::AdapterError;
use hermod_model::text::split_message;
use hermod_model::{Attachment, LengthUnit, Outbound, Sent};
use tracing::{info, warn};

/// The subject of a mail that answers no thread (a scheduled delivery).
const NEW_SUBJECT: &str = "A message from your agent";

fn rate_limited(Wait(wait): Wait) -> AdapterError {
    AdapterError::RateLimited {
        retry_after: Some(wait),
    }
}

/// Whether `to` can be a recipient: one address, nothing SMTP would read
/// as syntax.
fn is_address(to: &str) -> bool {
    let valid = |c: char| !c.is_whitespace() && !c.is_control() && !"<>,;\"()".contains(c);
    matches!(to.split_once('@'), Some((local, domain))
        if !local.is_empty() && !domain.is_empty() && to.chars().all(valid))
}

impl EmailAdapter {
    pub(crate) async fn send_mail(&self, message: Outbound) -> Result<Sent, AdapterError> {
        let to = message.target.chat_id.trim().to_ascii_lowercase();
        if !is_address(&to) {
            return Err(AdapterError::NotFound(format!(
                "{to:?} is not an email address"
            )));
        }
        self.pacer().check(&to).map_err(rate_limited)?;
        let thread = message.target.thread_id.as_deref();
        let context = match thread {
            Some(root) => self
                .thread_state(root)
                .load_or_warn()
                .await
                .unwrap_or_default(),
            None => ThreadContext::default(),
        };
        let subject = if thread.is_some() {
            outbound::reply_subject(&context.subject)
        } else {
            NEW_SUBJECT.to_owned()
        };
        let reply_to = message.reply_to.clone().or(context.last.clone());
        let references = match &reply_to {
            Some(id) => ThreadContext::with_reply_to(context.references.clone(), id),
            None => context.references.clone(),
        };
        let text = hermod_render::to_plain(&message.text);
        let mut pieces: Vec<String> = split_message(&text, MAX_MESSAGE_CHARS, LengthUnit::Chars)
            .into_iter()
            .filter(|piece| !piece.trim().is_empty())
            .collect();
        let files = read_files(&message.attachments).await?;
        if pieces.is_empty() && !files.is_empty() {
            pieces.push(String::new());
        }
        if pieces.is_empty() {
            return Ok(Sent::default());
        }
        self.pacer()
            .acquire(&to, Call::Send { group: false })
            .await
            .map_err(rate_limited)?;
        let from = self.config().address();
        let domain = self.config().domain();
        let mut mails = Vec::with_capacity(pieces.len());
        let last = pieces.len() - 1;
        for (i, piece) in pieces.iter().enumerate() {
            let origin = Origin {
                to: &to,
                thread,
                reply_to: reply_to.as_deref(),
                key: message.idempotency_key.as_deref(),
            };
            let id = outbound::message_id(&domain, origin, piece, i);
            let draft = Draft {
                from: &from,
                to: &to,
                subject: subject.clone(),
                message_id: id.clone(),
                in_reply_to: reply_to.clone(),
                references: references.clone(),
                text: piece,
                files: if i == last { files.clone() } else { Vec::new() },
            };
            let bytes = outbound::build(draft).map_err(|e| {
                AdapterError::Rejected(format!("the reply cannot be written as a mail: {e}"))
            })?;
            mails.push((id, bytes));
        }
        let result = self.submit(&from, &to, &mails).await;
        match result {
            Ok(()) => {
                info!(to, parts = mails.len(), "reply mailed");
                Ok(Sent {
                    message_ids: mails.into_iter().map(|(id, _)| id).collect(),
                })
            }
            Err((sent, e)) => {
                if let EmailError::RateLimited { retry_after, .. } = &e {
                    self.pacer().block(&to, *retry_after);
                }
                if sent > 0 {
                    // The outbox sends the reply again; the parts already
                    // sent carry the same Message-IDs, so clients show
                    // them once.
                    warn!(sent, total = mails.len(), error = %e, "a reply was mailed in part");
                }
                Err(self.masked(e))
            }
        }
    }

    /// Sends `mails` over one SMTP session; on failure, how many went.
    async fn submit(
        &self,
        from: &str,
        to: &str,
        mails: &[(String, Vec<u8>)],
    ) -> Result<(), (usize, EmailError)> {
        let mut smtp = crate::net::smtp(self.config(), self.tls())
            .await
            .map_err(|e| (0, e))?;
        let recipients = [to.to_owned()];
        for (i, (_, bytes)) in mails.iter().enumerate() {
            smtp.send(from, &recipients, bytes)
                .await
                .map_err(|e| (i, e))?;
        }
        smtp.quit().await;
        Ok(())
    }
}

/// The files of a reply, read from disk (core checked that they are in
/// allowed directories).
async fn read_files(attachments: &[Attachment]) -> Result<Vec<File>, AdapterError> {
    let mut files = Vec::with_capacity(attachments.len());
    for attachment in attachments {
        let path = std::path::Path::new(&attachment.location);
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| AdapterError::Rejected(format!("cannot read {}: {e}", path.display())))?;
        let name = attachment
            .file_name
            .clone()
            .or_else(|| path.file_name().and_then(|n| n.to_str()).map(str::to_owned))
            .unwrap_or_else(|| "attachment".to_owned());
        let mime_type = attachment
            .mime_type
            .clone()
            .or_else(|| hermod_adapter_kit::guess_mime(path).map(str::to_owned))
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        files.push(File {
            name,
            mime_type,
            bytes,
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_must_be_single_addresses() {
        assert!(is_address("jane@example.org"));
        for bad in [
            "jane",
            "@x",
            "a@",
            "a b@x",
            "a@x>",
            "a@x,b@y",
            "a@x\r\nRCPT",
        ] {
            assert!(!is_address(bad), "{bad:?}");
        }
    }
}
