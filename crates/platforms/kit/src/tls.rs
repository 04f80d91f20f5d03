//! TCP connections with optional TLS, for platforms that speak a line
//! protocol over a raw socket (IRC, IMAP, SMTP): connect with a deadline,
//! TLS from the first byte or after the protocol's STARTTLS, certificates
//! checked by the same platform verifier the HTTP client uses, plus an
//! optional CA file for servers with a private or self-signed certificate.
//!
//! The protocol stays in the adapter: when to ask for STARTTLS, and what
//! the server must answer first.

use crate::error::KitError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Certificate checking for TLS connections: the system's roots, plus the
/// certificates of an optional PEM file. Cheap to clone.
#[derive(Clone)]
pub struct Tls {
    connector: TlsConnector,
    /// The extra CA file, for messages.
    ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// TLS that trusts the system's roots and, when `ca_file` is given, the
    /// certificates in that PEM file too (a private CA or a server's
    /// self-signed certificate; a self-signed one must be made as a server
    /// certificate, `basicConstraints=CA:FALSE`, since a CA certificate is
    /// refused as a server's own).
    pub fn new(ca_file: Option<&Path>) -> Result<Self, KitError> {
        let extra = match ca_file {
            Some(path) => read_certificates(path)?,
            None => Vec::new(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                .map_err(|e| {
                    KitError::Tls(format!(
                        "cannot set up certificate checks: {e}; check the system's CA certificates"
                    ))
                })?;
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| KitError::Tls(format!("cannot set up TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
            ca_file: ca_file.map(Path::to_path_buf),
        })
    }
}

/// The certificates of a PEM file, or an error naming the file.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, KitError> {
    let shown = path.display();
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| KitError::Tls(format!("cannot read the CA file {shown}: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| KitError::Tls(format!("the CA file {shown} is not valid PEM: {e}")))?;
    if certificates.is_empty() {
        return Err(KitError::Tls(format!(
            "the CA file {shown} holds no certificate (expected PEM blocks `BEGIN CERTIFICATE`)"
        )));
    }
    Ok(certificates)
}

/// A connected socket, plain or TLS. Reads and writes go through to
/// whichever it is.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// Connects to `host:port` within `timeout`, with TLS from the first
    /// byte when `tls` is given.
    pub async fn connect(
        host: &str,
        port: u16,
        tls: Option<&Tls>,
        timeout: Duration,
    ) -> Result<Self, KitError> {
        let work = async {
            let tcp = TcpStream::connect((host, port))
                .await
                .map_err(|e| KitError::Connect(format!("cannot connect to {host}:{port}: {e}")))?;
            // Line protocols send small commands and wait for answers.
            let _ = tcp.set_nodelay(true);
            match tls {
                Some(tls) => handshake(tcp, tls, host).await,
                None => Ok(Self::Plain(tcp)),
            }
        };
        tokio::time::timeout(timeout, work).await.map_err(|_| {
            KitError::Connect(format!(
                "connecting to {host}:{port} took longer than {}s",
                timeout.as_secs()
            ))
        })?
    }

    /// Starts TLS on a plain connection, after the protocol's STARTTLS
    /// was accepted; `host` is the name the certificate must carry.
    pub async fn start_tls(
        self,
        tls: &Tls,
        host: &str,
        timeout: Duration,
    ) -> Result<Self, KitError> {
        let Self::Plain(tcp) = self else {
            return Err(KitError::Tls("the connection already uses TLS".into()));
        };
        tokio::time::timeout(timeout, handshake(tcp, tls, host))
            .await
            .map_err(|_| {
                KitError::Connect(format!(
                    "the TLS handshake with {host} took longer than {}s",
                    timeout.as_secs()
                ))
            })?
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }
}

async fn handshake(tcp: TcpStream, tls: &Tls, host: &str) -> Result<Stream, KitError> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| KitError::Tls(format!("`{host}` is not a valid server name for TLS")))?;
    let stream = tls.connector.connect(name, tcp).await.map_err(|e| {
        let hint = if tls.ca_file.is_some() {
            "check the server's certificate and the CA file"
        } else {
            "check the server's certificate; a private CA needs a CA file setting"
        };
        KitError::Connect(format!("the TLS handshake with {host} failed: {e}; {hint}"))
    })?;
    Ok(Stream::Tls(Box::new(stream)))
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests;
