//! [`EmailError`]: what goes wrong talking to the IMAP and SMTP servers,
//! classified so the receive loop knows whether to retry and the outbox
//! whether to send again.

use hermod_core::AdapterError;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The connection could not be made or broke.
    #[error("{0}")]
    Io(String),
    /// The server did not answer in time.
    #[error("timed out {0}")]
    Timeout(&'static str),
    /// The server closed the connection (BYE, or end of stream).
    #[error("{0}")]
    Closed(String),
    /// The server said something we cannot follow.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// TLS could not be set up, or the server offers no STARTTLS when it
    /// was asked for.
    #[error("{0}")]
    Tls(String),
    /// The login was refused: retrying will not help.
    #[error("{0}")]
    Auth(String),
    /// The server refused a command (IMAP NO/BAD, SMTP 5xx).
    #[error("{0}")]
    Refused(String),
    /// SMTP 4xx: try again later.
    #[error("{0}")]
    Transient(String),
    /// SMTP 421/450/451 that said how long to wait.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Duration,
    },
}

impl From<EmailError> for AdapterError {
    fn from(e: EmailError) -> Self {
        match e {
            EmailError::Auth(m) => AdapterError::Auth(m),
            EmailError::Refused(m) => AdapterError::Rejected(m),
            EmailError::RateLimited { retry_after, .. } => AdapterError::RateLimited {
                retry_after: Some(retry_after),
            },
            EmailError::Tls(m) => AdapterError::Startup(m),
            other => AdapterError::Transient(other.to_string()),
        }
    }
}

impl From<hermod_adapter_kit::KitError> for EmailError {
    fn from(e: hermod_adapter_kit::KitError) -> Self {
        use hermod_adapter_kit::KitError;
        match e {
            KitError::Tls(m) => EmailError::Tls(m),
            other => EmailError::Io(other.to_string()),
        }
    }
}
