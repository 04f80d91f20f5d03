//! The websocket client of Socket Mode, on tokio-tungstenite (rustls with
//! the system's CA certificates, on the ring provider hermod-http
//! installs). Kept to this one module so that it can move to the adapter
//! kit's shared websocket client without touching the rest.
//!
//! The URL `apps.connections.open` hands out carries a one-use ticket: it
//! is never logged, and no error here holds it.

use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// An open websocket.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(crate) use tokio_tungstenite::tungstenite::Message;

/// Opens the websocket at `url` (`wss://`, or `ws://` for a local peer)
/// within `timeout`.
pub(crate) async fn connect(url: &str, timeout: Duration) -> Result<Socket, String> {
    hermod_http::install_crypto_provider();
    match tokio::time::timeout(timeout, tokio_tungstenite::connect_async(url)).await {
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err(format!(
            "the websocket did not open within {} s",
            timeout.as_secs()
        )),
    }
}

/// A connection error in words, without the URL.
fn describe(error: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match error {
        Error::Http(response) => {
            format!("the websocket was refused with HTTP {}", response.status())
        }
        Error::Url(_) => "the websocket URL Slack gave cannot be used".to_owned(),
        Error::Io(e) => format!("the websocket could not connect: {}", e.kind()),
        other => format!("the websocket failed: {other}"),
    }
}
