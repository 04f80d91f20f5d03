#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

//! Against a local TLS server whose self-signed certificate `openssl`
//! makes for the test.

use super::*;
use rustls::pki_types::PrivateKeyDer;
use std::process::Command;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const WAIT: Duration = Duration::from_secs(10);

/// A certificate for `localhost` and its key, in a temporary directory;
/// `None` (skipped) where `openssl` is missing, except under CI.
fn certificate() -> Option<(tempfile::TempDir, PathBuf, PathBuf)> {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        // A server certificate, not a CA: rustls refuses a CA certificate
        // as a server's own, self-signed or not.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match made {
        Ok(out) if out.status.success() => Some((dir, cert, key)),
        other => {
            assert!(
                std::env::var_os("CI").is_none(),
                "openssl is needed under CI to make a test certificate: {other:?}"
            );
            eprintln!("skipped: openssl cannot make a test certificate");
            None
        }
    }
}

fn acceptor(cert: &Path, key: &Path) -> TlsAcceptor {
    let chain = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

/// A server that, on each connection, optionally waits for `STARTTLS`,
/// then speaks TLS and echoes one line back in upper case.
async fn server(acceptor: TlsAcceptor, starttls: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if starttls {
                    let mut line = String::new();
                    let mut reader = BufReader::new(&mut tcp);
                    reader.read_line(&mut line).await.unwrap();
                    assert_eq!(line, "STARTTLS\r\n");
                    tcp.write_all(b"OK go ahead\r\n").await.unwrap();
                }
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut tls = BufReader::new(tls);
                let mut line = String::new();
                tls.read_line(&mut line).await.unwrap();
                tls.get_mut()
                    .write_all(line.to_uppercase().as_bytes())
                    .await
                    .unwrap();
                tls.get_mut().flush().await.unwrap();
            });
        }
    });
    port
}

async fn exchange(stream: Stream, line: &str) -> String {
    let mut stream = BufReader::new(stream);
    stream.get_mut().write_all(line.as_bytes()).await.unwrap();
    stream.get_mut().flush().await.unwrap();
    let mut answer = String::new();
    stream.read_line(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn a_server_with_a_private_certificate_is_trusted_through_the_ca_file() {
    let Some((_dir, cert, key)) = certificate() else {
        return;
    };
    let port = server(acceptor(&cert, &key), false).await;
    let tls = Tls::new(Some(&cert)).unwrap();
    let stream = Stream::connect("localhost", port, Some(&tls), WAIT)
        .await
        .unwrap();
    assert!(stream.is_tls());
    assert_eq!(exchange(stream, "hello\r\n").await, "HELLO\r\n");
}

#[tokio::test]
async fn without_the_ca_file_the_certificate_is_refused() {
    let Some((_dir, cert, key)) = certificate() else {
        return;
    };
    let port = server(acceptor(&cert, &key), false).await;
    let tls = Tls::new(None).unwrap();
    let err = Stream::connect("localhost", port, Some(&tls), WAIT)
        .await
        .unwrap_err();
    let KitError::Connect(message) = &err else {
        panic!("expected a connect error, got {err:?}");
    };
    assert!(
        message.contains("TLS handshake with localhost failed"),
        "{message}"
    );
    assert!(message.contains("CA file"), "says what to do: {message}");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let Some((_dir, cert, key)) = certificate() else {
        return;
    };
    let port = server(acceptor(&cert, &key), false).await;
    let tls = Tls::new(Some(&cert)).unwrap();
    // The certificate names `localhost`, not the address.
    let err = Stream::connect("127.0.0.1", port, Some(&tls), WAIT)
        .await
        .unwrap_err();
    assert!(matches!(err, KitError::Connect(_)), "{err:?}");
}

#[tokio::test]
async fn starttls_upgrades_a_plain_connection() {
    let Some((_dir, cert, key)) = certificate() else {
        return;
    };
    let port = server(acceptor(&cert, &key), true).await;
    let tls = Tls::new(Some(&cert)).unwrap();
    let mut stream = BufReader::new(
        Stream::connect("localhost", port, None, WAIT)
            .await
            .unwrap(),
    );
    assert!(!stream.get_ref().is_tls());
    stream.get_mut().write_all(b"STARTTLS\r\n").await.unwrap();
    let mut answer = String::new();
    stream.read_line(&mut answer).await.unwrap();
    assert_eq!(answer, "OK go ahead\r\n");
    let upgraded = stream
        .into_inner()
        .start_tls(&tls, "localhost", WAIT)
        .await
        .unwrap();
    assert!(upgraded.is_tls());
    assert_eq!(exchange(upgraded, "secret\r\n").await, "SECRET\r\n");
}

#[tokio::test]
async fn a_plain_connection_talks_plainly() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tcp = BufReader::new(tcp);
        let mut line = String::new();
        tcp.read_line(&mut line).await.unwrap();
        tcp.get_mut()
            .write_all(line.to_uppercase().as_bytes())
            .await
            .unwrap();
    });
    let stream = Stream::connect("127.0.0.1", port, None, WAIT)
        .await
        .unwrap();
    assert_eq!(exchange(stream, "ping\r\n").await, "PING\r\n");
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_naming_the_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = Stream::connect("127.0.0.1", port, None, WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KitError::Connect(m) if m.contains(&format!("127.0.0.1:{port}"))),
        "{err:?}"
    );
    assert!(matches!(
        AdapterErrorKind::of(err),
        AdapterErrorKind::Transient
    ));
}

#[test]
fn an_unusable_ca_file_is_a_startup_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let err = Tls::new(Some(&missing)).unwrap_err();
    assert!(
        matches!(&err, KitError::Tls(m) if m.contains("missing.pem")),
        "{err:?}"
    );
    assert!(matches!(
        AdapterErrorKind::of(err),
        AdapterErrorKind::Startup
    ));

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificates here\n").unwrap();
    let err = Tls::new(Some(&empty)).unwrap_err();
    assert!(
        matches!(&err, KitError::Tls(m) if m.contains("holds no certificate")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_silent_server_is_given_up_on_at_the_deadline() {
    // Accepts the connection but never answers the TLS hello.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _held = tokio::spawn(async move {
        let (_tcp, _) = listener.accept().await.unwrap();
        std::future::pending::<()>().await;
    });
    let tls = Tls::new(None).unwrap();
    let err = Stream::connect("localhost", port, Some(&tls), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KitError::Connect(m) if m.contains("took longer")),
        "{err:?}"
    );
}

/// The class an adapter's caller sees for a kit error.
enum AdapterErrorKind {
    Transient,
    Startup,
    Other,
}

impl AdapterErrorKind {
    fn of(err: KitError) -> Self {
        match hermod_core::AdapterError::from(err) {
            hermod_core::AdapterError::Transient(_) => Self::Transient,
            hermod_core::AdapterError::Startup(_) => Self::Startup,
            _ => Self::Other,
        }
    }
}
