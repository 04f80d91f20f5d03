//! [`PeerListener`]: a fake's local port. Its connections carry a [`Cut`],
//! which a handler takes with `ConnectInfo<Cut>` to close the connection
//! without any answer, as a dying load balancer would.

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Cuts one connection: its reads and writes fail from then on, so the
/// server closes it without answering. Handlers get it as
/// `ConnectInfo<Cut>`.
#[derive(Debug, Clone, Default)]
pub struct Cut(Arc<AtomicBool>);

impl Cut {
    /// Cuts the connection. The response the handler returns after this
    /// is never written: the connection fails first.
    pub fn cut(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cut(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn check(&self) -> io::Result<()> {
        if self.is_cut() {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "cut by the fake",
            ))
        } else {
            Ok(())
        }
    }
}

impl Connected<IncomingStream<'_, CuttableListener>> for Cut {
    fn connect_info(stream: IncomingStream<'_, CuttableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A bound local port, not yet serving. Bind first when the app needs
/// its own address (URLs it hands out), then [`PeerListener::serve`].
#[derive(Debug)]
pub struct PeerListener {
    listener: TcpListener,
    addr: SocketAddr,
}

impl PeerListener {
    /// Binds `127.0.0.1:0`.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a fake peer binds a local port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        Self { listener, addr }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `app` until `shutdown` is cancelled; spawn the future (on
    /// the fake's task tracker, if it has one). Handlers may extract
    /// `ConnectInfo<Cut>`.
    pub async fn serve(self, app: Router, shutdown: CancellationToken) {
        // Serving only ends early when accepting fails for good; clients
        // then see connection errors, which is the right signal.
        let _ = axum::serve(
            CuttableListener(self.listener),
            app.into_make_service_with_connect_info::<Cut>(),
        )
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    }
}

/// A TCP listener whose connections carry a [`Cut`].
#[derive(Debug)]
pub struct CuttableListener(TcpListener);

impl Listener for CuttableListener {
    type Io = CuttableStream;
    type Addr = Cut;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, _)) => {
                    let cut = Cut::default();
                    let stream = CuttableStream {
                        inner,
                        cut: cut.clone(),
                    };
                    return (stream, cut);
                }
                // Out of file descriptors and the like: try again shortly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(Cut::default())
    }
}

/// A connection that fails once its [`Cut`] is cut.
#[derive(Debug)]
pub struct CuttableStream {
    inner: TcpStream,
    cut: Cut,
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.cut.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.cut.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.cut.check()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.cut.check()?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ConnectInfo;
    use axum::routing::get;

    #[tokio::test]
    async fn serves_on_the_reported_address_and_cuts_on_demand() {
        let app = Router::new().route("/ok", get(|| async { "fine" })).route(
            "/cut",
            get(|ConnectInfo(cut): ConnectInfo<Cut>| async move {
                cut.cut();
                "never written"
            }),
        );
        let listener = PeerListener::bind().await;
        let addr = listener.addr();
        assert!(addr.ip().is_loopback());
        let shutdown = CancellationToken::new();
        tokio::spawn(listener.serve(app, shutdown.clone()));
        let client = hermod_http::HttpClient::new()
            .expect("an HTTP client")
            .reqwest()
            .clone();
        let ok = client
            .get(format!("http://{addr}/ok"))
            .send()
            .await
            .expect("an answer");
        assert_eq!(ok.text().await.expect("a body"), "fine");
        let cut = client.get(format!("http://{addr}/cut")).send().await;
        assert!(cut.is_err(), "no answer on a cut connection: {cut:?}");
        shutdown.cancel();
    }
}
