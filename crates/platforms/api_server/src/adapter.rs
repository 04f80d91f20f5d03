//! [`ApiServer`]: the API server as an [`Adapter`]. It binds its listener
//! first (so the address is known, and a port in use is a startup error),
//! then serves until shutdown, finishing the requests it has.

use crate::config::{ApiServerConfig, key_problem};
use crate::server::{AppState, routes};
use async_trait::async_trait;
use hermod_core::{Adapter, AdapterContext, AdapterError};
use hermod_model::{Capabilities, Edit, MarkdownDialect, MessageRef, Outbound, PlatformId, Sent};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tracing::info;

pub struct ApiServer {
    config: ApiServerConfig,
    local_addr: SocketAddr,
    /// Taken by `run`; an adapter runs once.
    listener: Mutex<Option<TcpListener>>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl ApiServer {
    /// Validates the configuration and binds the listening socket.
    pub async fn bind(config: ApiServerConfig) -> Result<Self, AdapterError> {
        config.validate().map_err(AdapterError::Startup)?;
        let Some(key) = &config.key else {
            return Err(AdapterError::Startup(
                "the API server needs API_SERVER_KEY (at least 16 characters)".into(),
            ));
        };
        if let Some(problem) = key_problem(key) {
            return Err(AdapterError::Startup(problem));
        }
        let addr = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&addr).await.map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                "another process is using it; stop it or set API_SERVER_PORT"
            } else {
                "check API_SERVER_HOST and API_SERVER_PORT"
            };
            AdapterError::Startup(format!(
                "the API server cannot listen on {addr}: {e} ({hint})"
            ))
        })?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| AdapterError::Startup(format!("cannot read the bound address: {e}")))?;
        Ok(Self {
            config,
            local_addr,
            listener: Mutex::new(Some(listener)),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

#[async_trait]
impl Adapter for ApiServer {
    fn id(&self) -> PlatformId {
        crate::PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_message_len: usize::MAX,
            markdown: MarkdownDialect::Markdown,
            // Every request carries the API key; there are no users to check.
            authenticates_callers: true,
            ..Capabilities::default()
        }
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| AdapterError::Startup("the API server is already running".into()))?;
        let key = self.config.key.clone().unwrap_or_default();
        let state = AppState {
            inbound: ctx.inbound,
            key: Arc::new(key),
            model_name: Arc::from(self.config.model_name.as_str()),
        };
        let app = routes(state, self.config.max_body_bytes);
        info!(address = %self.local_addr, "API server listening");
        axum::serve(listener, app)
            .with_graceful_shutdown(ctx.shutdown.cancelled_owned())
            .await
            .map_err(|e| AdapterError::Transient(format!("the API server stopped: {e}")))
    }

    async fn send(&self, _message: Outbound) -> Result<Sent, AdapterError> {
        Err(AdapterError::Unsupported(
            "the API server answers requests; it cannot send on its own",
        ))
    }

    async fn edit(&self, _edit: Edit) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported(
            "the API server cannot edit messages",
        ))
    }

    async fn delete(&self, _message: MessageRef) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported(
            "the API server cannot delete messages",
        ))
    }
}
