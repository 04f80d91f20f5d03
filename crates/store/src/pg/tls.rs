//! TLS for PostgreSQL connections, on rustls.
//!
//! Every connection is opened with [`MakeRustls`]; tokio-postgres then
//! follows the URL's `sslmode` itself: `disable` stays plain, `prefer`
//! (the default) uses TLS when the server offers it, `require` insists on
//! it. Whenever TLS is used the server's certificate and host name are
//! checked, against the system's CA certificates plus those of the
//! optional `sslrootcert` file. So libpq's `verify-ca` and `verify-full`
//! both mean `require` here, and `require` is as strict as `verify-full`
//! (libpq's `require` checks nothing without a root certificate file).
//!
//! Under `prefer` a certificate that cannot be checked does not stop the
//! connection: the pool connects again encrypted but unchecked (see
//! `pool.rs`), which is what libpq's `prefer` always does — never in
//! plain text when the server offers TLS. A URL that must reach the right
//! server says `sslmode=require`.
//!
//! tokio-postgres refuses options it does not know, so [`prepare_url`]
//! takes `sslrootcert` out of the URL and rewrites the libpq modes it
//! lacks before the URL is parsed.
//!
//! Channel binding: none ([`ChannelBinding::none`]). SCRAM logins work,
//! without the `-PLUS` variant; `channel_binding=require` cannot be met.

use crate::StoreError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use tokio_rustls::TlsConnector;

/// A database URL ready for tokio-postgres, and the CA file it named.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Prepared {
    pub(crate) url: String,
    /// `sslrootcert`, unless absent or `system` (the system's roots only).
    pub(crate) root_cert: Option<PathBuf>,
}

/// Takes `sslrootcert` out of `url` and maps the `sslmode`s tokio-postgres
/// does not know: `verify-ca` and `verify-full` become `require` (hermod
/// always checks the certificate and the host name), `allow` becomes
/// `prefer`. Works on both the `postgres://` form and libpq's `key=value`
/// form; text it cannot read is returned unchanged, for the parser's error.
pub(crate) fn prepare_url(url: &str) -> Result<Prepared, StoreError> {
    let mut root_cert = None;
    let url = if let Some((base, query)) = url
        .split_once('?')
        .filter(|_| url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslrootcert" => root_cert = Some(percent_decode(value)?),
                "sslmode" => kept.push(format!("sslmode={}", mode(value))),
                _ => kept.push(pair.to_owned()),
            }
        }
        if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else if let Some(pairs) = key_values(url) {
        let mut kept = Vec::new();
        for (key, value) in pairs {
            match key.as_str() {
                "sslrootcert" => root_cert = Some(value),
                "sslmode" => kept.push(format!("sslmode={}", mode(&value))),
                _ => kept.push(format!(
                    "{key}='{}'",
                    value.replace('\\', "\\\\").replace('\'', "\\'")
                )),
            }
        }
        kept.join(" ")
    } else {
        url.to_owned()
    };
    Ok(Prepared {
        url,
        root_cert: root_cert.filter(|c| c != "system").map(PathBuf::from),
    })
}

/// libpq's `sslmode` in tokio-postgres's words.
fn mode(value: &str) -> &str {
    match value {
        "verify-ca" | "verify-full" => "require",
        "allow" => "prefer",
        other => other,
    }
}

/// Decodes `%XX` escapes in a URL's query value.
fn percent_decode(value: &str) -> Result<String, StoreError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| {
        StoreError::CannotOpen(format!(
            "the database URL's sslrootcert `{value}` is not UTF-8 once decoded"
        ))
    })
}

/// The pairs of libpq's `key=value` form (spaces allowed around `=`,
/// values in single quotes with backslash escapes), or `None` when `text`
/// is not in that form.
fn key_values(text: &str) -> Option<Vec<(String, String)>> {
    let mut chars = text.chars().peekable();
    let mut pairs = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Some(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if key.is_empty() || chars.next() != Some('=') {
            return None;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next()? {
                    '\'' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next()?);
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

/// Opens TLS sessions for tokio-postgres. Cheap to clone.
#[derive(Clone)]
pub(crate) struct MakeRustls {
    /// The connector, or why certificate checks could not be set up (said
    /// when a server offers TLS, so plain connections still work).
    connector: Result<TlsConnector, Arc<str>>,
    /// The `sslrootcert` file, for messages.
    root_cert: Option<Arc<Path>>,
}

impl MakeRustls {
    /// Trusts the system's CA certificates plus those in `root_cert` (PEM).
    /// Fails with [`StoreError::CannotOpen`] naming the file when it is
    /// missing or holds no certificate.
    pub(crate) fn new(root_cert: Option<&Path>) -> Result<Self, StoreError> {
        let extra = match root_cert {
            Some(path) => read_certificates(path)?,
            None => Vec::new(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let connector =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, Arc::clone(&provider))
                .map_err(|e| format!("cannot set up certificate checks: {e}"))
                .and_then(|verifier| {
                    let config = rustls::ClientConfig::builder_with_provider(provider)
                        .with_safe_default_protocol_versions()
                        .map_err(|e| format!("cannot set up TLS: {e}"))?
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(verifier))
                        .with_no_client_auth();
                    Ok(TlsConnector::from(Arc::new(config)))
                })
                .map_err(Arc::from);
        Ok(Self {
            connector,
            root_cert: root_cert.map(Arc::from),
        })
    }
}

impl MakeRustls {
    /// Encrypts without checking the server's certificate: `prefer`'s
    /// second try, when the certificate could not be checked (libpq's
    /// `prefer` never checks it). Protects against reading on the wire,
    /// not against a server that is not the one named.
    pub(crate) fn unchecked(&self) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(Unchecked(Arc::clone(&provider)));
        let connector = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|config| {
                let config = config
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth();
                TlsConnector::from(Arc::new(config))
            })
            .map_err(|e| Arc::from(format!("cannot set up TLS: {e}")));
        Self {
            connector,
            root_cert: self.root_cert.clone(),
        }
    }
}

/// Accepts any certificate, still checking that the server holds its key
/// (the handshake's signatures), for `prefer`'s unchecked second try.
#[derive(Debug)]
struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The certificates of a PEM file, or an error naming the file.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let shown = path.display();
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| {
            StoreError::CannotOpen(format!(
                "cannot read the database's CA file (sslrootcert) {shown}: {e}"
            ))
        })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            StoreError::CannotOpen(format!(
                "the database's CA file (sslrootcert) {shown} is not valid PEM: {e}"
            ))
        })?;
    if certificates.is_empty() {
        return Err(StoreError::CannotOpen(format!(
            "the database's CA file (sslrootcert) {shown} holds no certificate \
             (expected PEM blocks `BEGIN CERTIFICATE`)"
        )));
    }
    Ok(certificates)
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = TlsError;

    /// Never fails: `host` is checked at the handshake, which happens only
    /// when the server offers TLS (never on a Unix socket, whose empty
    /// host name is no server name).
    fn make_tls_connect(&mut self, host: &str) -> Result<RustlsConnect, TlsError> {
        Ok(RustlsConnect {
            tls: self.clone(),
            host: host.to_owned(),
        })
    }
}

/// One handshake, with the host name the certificate must carry.
pub(crate) struct RustlsConnect {
    tls: MakeRustls,
    host: String,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = TlsError;
    type Future = Pin<Box<dyn Future<Output = Result<RustlsStream<S>, TlsError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let Self { tls, host } = self;
            let connector = tls.connector.as_ref().map_err(|why| {
                TlsError::refused(format!(
                    "{why}; no server certificate can be checked: set sslrootcert=<CA file> \
                     in the database URL"
                ))
            })?;
            let name = ServerName::try_from(host.clone()).map_err(|_| {
                TlsError::refused(format!(
                    "`{host}` is not a host name a certificate can be checked against"
                ))
            })?;
            let session = connector
                .connect(name, stream)
                .await
                .map_err(|e| TlsError::from_handshake(&e, &host, tls.root_cert.as_deref()))?;
            Ok(RustlsStream(session))
        })
    }
}

/// Why a TLS handshake failed.
#[derive(Debug)]
pub(crate) struct TlsError {
    /// The settings or the server's certificate must change; retrying
    /// cannot help. Otherwise the network broke the handshake off.
    refused: bool,
    message: String,
}

impl TlsError {
    fn refused(message: String) -> Self {
        Self {
            refused: true,
            message,
        }
    }

    fn from_handshake(e: &io::Error, host: &str, root_cert: Option<&Path>) -> Self {
        let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
            return Self {
                refused: false,
                message: format!("the TLS handshake with {host} broke off: {e}"),
            };
        };
        let message = match (tls, root_cert) {
            (rustls::Error::InvalidCertificate(_), Some(file)) => format!(
                "the server's certificate was refused ({tls}); check that {} holds the CA \
                 that signed it and that it names the host {host}",
                file.display()
            ),
            (rustls::Error::InvalidCertificate(_), None) => format!(
                "the server's certificate was refused ({tls}); set sslrootcert=<CA file> in \
                 the database URL to trust the server's CA, or give the server a certificate \
                 from a CA the system trusts that names the host {host}"
            ),
            _ => format!("the TLS handshake with {host} failed: {tls}"),
        };
        Self::refused(message)
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TlsError {}

/// The TLS failure inside a client error, if it is one.
fn tls_error(e: &tokio_postgres::Error) -> Option<&TlsError> {
    std::error::Error::source(e)?.downcast_ref::<TlsError>()
}

/// Whether connecting failed on a certificate or TLS setting (not the
/// network): under `prefer`, the server then counts as offering no TLS.
pub(crate) fn refused(e: &tokio_postgres::Error) -> bool {
    tls_error(e).is_some_and(|tls| tls.refused)
}

/// The [`StoreError`] for a failed TLS negotiation, `None` for other
/// failures; `db` names the database.
pub(crate) fn classify(e: &tokio_postgres::Error, db: &str) -> Option<StoreError> {
    if let Some(tls) = tls_error(e) {
        let message = format!("{db}: {tls}");
        return Some(if tls.refused {
            StoreError::CannotOpen(message)
        } else {
            StoreError::Busy(message)
        });
    }
    // tokio-postgres's own words when `sslmode=require` meets a server
    // without TLS.
    let source = std::error::Error::source(e)?.to_string();
    (source == "server does not support TLS").then(|| {
        StoreError::CannotOpen(format!(
            "{db}: the server does not offer TLS, which sslmode=require demands; enable \
             ssl on the server or change sslmode"
        ))
    })
}

/// A TLS session to the server.
pub(crate) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(url: &str) -> (String, Option<String>) {
        let p = prepare_url(url).unwrap();
        (p.url, p.root_cert.map(|c| c.display().to_string()))
    }

    #[test]
    fn url_loses_sslrootcert_and_libpq_modes() {
        assert_eq!(
            prepared("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem"),
            (
                "postgres://u@h/db?sslmode=require".into(),
                Some("/etc/ca.pem".into())
            )
        );
        assert_eq!(
            prepared("postgresql://u@h/db?sslrootcert=/ca.pem"),
            ("postgresql://u@h/db".into(), Some("/ca.pem".into()))
        );
        assert_eq!(
            prepared("postgres://u@h/db?sslmode=verify-ca&application_name=x"),
            (
                "postgres://u@h/db?sslmode=require&application_name=x".into(),
                None
            )
        );
        assert_eq!(
            prepared("postgres://u@h/db?sslrootcert=system&sslmode=allow"),
            ("postgres://u@h/db?sslmode=prefer".into(), None)
        );
        assert_eq!(
            prepared("postgres://u@h/db"),
            ("postgres://u@h/db".into(), None)
        );
    }

    #[test]
    fn key_value_form_loses_sslrootcert_and_libpq_modes() {
        assert_eq!(
            prepared("host=h user = u sslmode=verify-full sslrootcert='/my ca/it\\'s.pem'"),
            (
                "host='h' user='u' sslmode=require".into(),
                Some("/my ca/it's.pem".into())
            )
        );
        // Unreadable text goes to the parser as it was.
        assert_eq!(prepared("host='h"), ("host='h".into(), None));
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let Err(StoreError::CannotOpen(message)) =
            MakeRustls::new(Some(Path::new("/nonexistent/ca.pem")))
        else {
            panic!("a missing CA file is refused");
        };
        assert!(message.contains("/nonexistent/ca.pem"), "{message}");
    }
}
