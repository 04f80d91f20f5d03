//! PDFs read in a child process.
//!
//! A PDF is the one file whose parsing hermod does not bound well in time
//! or memory: a crafted file can send a parser round in circles or inflate
//! its streams far beyond its size. Read in the gateway, such a file would
//! keep a thread busy until the process ends, or take the process down;
//! read in a child, it costs only the child, which is killed at the time
//! limit (and which the kernel's OOM killer, choosing the largest process,
//! picks before the gateway).
//!
//! The child is the hermod binary itself, run as
//! `hermod extract-text --max-chars N [--mime TYPE] <path>`: it writes one
//! JSON object to stdout, [`Extracted`], and exits 0.

use crate::document::{self, DocumentError, DocumentText};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// The subcommand the child runs.
pub const SUBCOMMAND: &str = "extract-text";

/// What the child writes: the document's text, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Extracted {
    Text {
        text: String,
        truncated: bool,
        total_chars: usize,
    },
    NotText,
    Unreadable {
        reason: String,
    },
}

impl From<Result<DocumentText, DocumentError>> for Extracted {
    fn from(read: Result<DocumentText, DocumentError>) -> Self {
        match read {
            Ok(doc) => Extracted::Text {
                text: doc.text,
                truncated: doc.truncated,
                total_chars: doc.total_chars,
            },
            Err(DocumentError::NotText) => Extracted::NotText,
            Err(DocumentError::Unreadable(reason)) => Extracted::Unreadable { reason },
        }
    }
}

impl From<Extracted> for Result<DocumentText, DocumentError> {
    fn from(extracted: Extracted) -> Self {
        match extracted {
            Extracted::Text {
                text,
                truncated,
                total_chars,
            } => Ok(DocumentText {
                text,
                truncated,
                total_chars,
            }),
            Extracted::NotText => Err(DocumentError::NotText),
            Extracted::Unreadable { reason } => Err(DocumentError::Unreadable(reason)),
        }
    }
}

/// The child's side: reads `path` and returns the JSON line to print.
pub fn extract(path: &Path, mime: Option<&str>, max_chars: usize) -> String {
    let extracted = Extracted::from(document::read_text(path, mime, None, max_chars));
    serde_json::to_string(&extracted).unwrap_or_else(|e| {
        format!(r#"{{"outcome":"unreadable","reason":"the text could not be encoded: {e}"}}"#)
    })
}

/// Runs `program` as the child that reads PDFs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfWorker {
    program: PathBuf,
}

impl PdfWorker {
    /// `program` understands [`SUBCOMMAND`]: in the gateway, its own binary.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
        }
    }

    /// The text of the PDF at `path`, read by a child that is killed after
    /// `limit`; `None` when the child could not be started (the binary was
    /// replaced or removed while the gateway ran, say): the caller reads
    /// the file itself.
    pub async fn read(
        &self,
        path: &Path,
        mime: Option<&str>,
        max_chars: usize,
        limit: Duration,
    ) -> Option<Result<DocumentText, DocumentError>> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .arg(SUBCOMMAND)
            .arg("--max-chars")
            .arg(max_chars.to_string());
        if let Some(mime) = mime {
            command.arg("--mime").arg(mime);
        }
        command
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                tracing::warn!(
                    program = %self.program.display(),
                    error = %e,
                    "the PDF reader could not be started; reading the PDF in the gateway"
                );
                return None;
            }
        };
        let stdout = child.stdout.take()?;
        // The text is at most `max_chars` characters of up to four bytes,
        // escaped in JSON: anything longer is not the reader's answer.
        let most = max_chars.saturating_mul(12).saturating_add(4096);
        let mut output = Vec::new();
        let run = async {
            let mut limited = stdout.take(most as u64 + 1);
            limited.read_to_end(&mut output).await?;
            if output.len() > most {
                // It would block on a pipe nobody reads any more.
                child.start_kill()?;
            }
            child.wait().await
        };
        Some(match tokio::time::timeout(limit, run).await {
            Err(_) => {
                // Dropping `child` (with the future) kills it.
                tracing::warn!(path = %path.display(), "the PDF reader ran out of time; stopped");
                Err(DocumentError::Unreadable(format!(
                    "reading it took longer than {} seconds",
                    limit.as_secs()
                )))
            }
            Ok(Err(e)) => Err(DocumentError::Unreadable(format!(
                "the PDF reader failed: {e}"
            ))),
            Ok(Ok(_)) if output.len() > most => Err(DocumentError::Unreadable(
                "the PDF reader's answer was too long".to_owned(),
            )),
            Ok(Ok(status)) if !status.success() => {
                tracing::warn!(path = %path.display(), %status, "the PDF reader failed");
                Err(DocumentError::Unreadable(format!(
                    "the PDF reader stopped ({status}); the file may be damaged or built to \
                     exhaust its reader"
                )))
            }
            Ok(Ok(_)) => match serde_json::from_slice::<Extracted>(&output) {
                Ok(extracted) => extracted.into(),
                Err(e) => Err(DocumentError::Unreadable(format!(
                    "the PDF reader's answer could not be read: {e}"
                ))),
            },
        })
    }
}
