//! [`KitError`]: what can go wrong in the kit's blocks, classified so an
//! adapter can decide (retry, skip, stop) and map it onto core's
//! [`AdapterError`].

use hermod_core::AdapterError;

/// A failure in one of the kit's blocks. Messages say what went wrong and
/// what to do; none holds a secret or a URL (URLs may carry tokens).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KitError {
    /// The store refused a read or write; it may pass (disk full, busy).
    #[error("the database cannot be used: {0}")]
    Store(String),
    /// A stored value cannot be read as its type (written by another
    /// version, or edited by hand).
    #[error("the saved {key} cannot be read ({reason}); it is ignored")]
    Corrupt { key: String, reason: String },
    /// The webhook listener cannot listen on its address.
    #[error("cannot listen for webhooks on {addr}: {reason} (set WEBHOOK_HOST and WEBHOOK_PORT)")]
    Bind { addr: String, reason: String },
    /// A webhook route is malformed or taken by another adapter.
    #[error("{0}")]
    Route(String),
    /// A download is larger than the cap.
    #[error("the file is larger than {}", crate::media::human_size(*.max_bytes))]
    TooLarge { max_bytes: u64 },
    /// A download's bytes are not the image, audio or PDF the platform or
    /// the server declared; the file is not kept.
    #[error("the file is said to be {declared} but its content is {found}")]
    Mismatch { declared: String, found: String },
    /// A download failed in a way that may pass (network, 5xx).
    #[error("the download failed: {0}")]
    Download(String),
    /// A local file could not be written or read.
    #[error("{0}")]
    Io(String),
    /// A websocket could not be opened or broke.
    #[error("the websocket connection failed: {0}")]
    Websocket(String),
    /// A TCP connection could not be opened, or its TLS handshake failed
    /// (which may pass: a restarting server, a certificate being renewed).
    #[error("{0}")]
    Connect(String),
    /// TLS cannot be set up as configured (an unreadable CA file).
    #[error("{0}")]
    Tls(String),
}

impl From<hermod_store::StoreError> for KitError {
    fn from(err: hermod_store::StoreError) -> Self {
        KitError::Store(err.to_string())
    }
}

impl From<KitError> for AdapterError {
    fn from(err: KitError) -> Self {
        match err {
            KitError::Store(_)
            | KitError::Download(_)
            | KitError::Websocket(_)
            | KitError::Connect(_) => AdapterError::Transient(err.to_string()),
            KitError::Bind { .. } | KitError::Route(_) | KitError::Tls(_) => {
                AdapterError::Startup(err.to_string())
            }
            KitError::Corrupt { .. }
            | KitError::TooLarge { .. }
            | KitError::Mismatch { .. }
            | KitError::Io(_) => AdapterError::Rejected(err.to_string()),
        }
    }
}
