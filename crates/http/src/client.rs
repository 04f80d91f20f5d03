//! Building the process-wide HTTP client: rustls with the ring provider,
//! timeouts and the `User-Agent`.

use crate::error::HttpError;
use std::sync::Once;
use std::time::Duration;

/// The `User-Agent` every outbound request carries.
pub const USER_AGENT: &str = concat!("hermod/", env!("CARGO_PKG_VERSION"));

/// Installs rustls' ring crypto provider as the process default. Safe to
/// call any number of times, from any thread; a provider installed earlier
/// (by us or anyone else) is kept.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An error only means a provider is already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Timeouts and identity of an [`HttpClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Bound on establishing a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Bound on a whole request, body included. `None` for streaming use,
    /// where the caller bounds the wait for each chunk instead.
    pub timeout: Option<Duration>,
    /// Bound on each read from the connection; resets after every read.
    pub read_timeout: Option<Duration>,
    /// Overrides [`USER_AGENT`].
    pub user_agent: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            timeout: None,
            read_timeout: None,
            user_agent: None,
        }
    }
}

/// A configured [`reqwest::Client`]. Cheap to clone; clones share the
/// connection pool.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    /// A client with [`HttpConfig::default`].
    pub fn new() -> Result<Self, HttpError> {
        Self::with_config(&HttpConfig::default())
    }

    /// Builds a client that verifies servers against the system's CA
    /// certificates. Without any on the system (a minimal container), the
    /// client still works for plain HTTP and every HTTPS connection fails
    /// verification; a warning says so.
    pub fn with_config(config: &HttpConfig) -> Result<Self, HttpError> {
        install_crypto_provider();
        match builder(config).build() {
            Ok(inner) => Ok(Self { inner }),
            Err(err) => {
                let reason = crate::error::describe(&err.without_url());
                let inner = builder(config)
                    .tls_certs_only(std::iter::empty())
                    .build()
                    .map_err(|e| HttpError::Setup(crate::error::describe(&e.without_url())))?;
                tracing::warn!(
                    %reason,
                    "cannot use the system's CA certificates; HTTPS connections will fail"
                );
                Ok(Self { inner })
            }
        }
    }

    /// The underlying client, to build requests with.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }
}

fn builder(config: &HttpConfig) -> reqwest::ClientBuilder {
    let mut builder = reqwest::Client::builder()
        .tls_backend_rustls()
        .user_agent(config.user_agent.as_deref().unwrap_or(USER_AGENT))
        .connect_timeout(config.connect_timeout);
    if let Some(timeout) = config.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(timeout) = config.read_timeout {
        builder = builder.read_timeout(timeout);
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_tls_client_without_panicking() {
        HttpClient::new().expect("default client");
        let config = HttpConfig {
            connect_timeout: Duration::from_secs(1),
            timeout: Some(Duration::from_secs(5)),
            read_timeout: Some(Duration::from_secs(2)),
            user_agent: Some("test/1".into()),
        };
        HttpClient::with_config(&config).expect("configured client");
        // A second install attempt is harmless.
        install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }

    #[test]
    fn the_fallback_without_system_certificates_builds() {
        install_crypto_provider();
        builder(&HttpConfig::default())
            .tls_certs_only(std::iter::empty())
            .build()
            .expect("a client with an empty root store");
    }

    #[test]
    fn user_agent_names_the_version() {
        assert!(USER_AGENT.starts_with("hermod/"));
        assert!(USER_AGENT.len() > "hermod/".len());
    }
}
