//! [`ApiServer`]: the API server as an [`Adapter`]. It binds its listener
//! first (so the address is known, and a port in use is a startup error),
//! then serves until shutdown, finishing the requests it has.

use crate::body::BodyBudget;
use crate::config::ApiServerConfig;
use crate::cors::Cors;
use crate::key::key_problem;
use crate::listener::{Limits, serve};
use crate::server::{AppState, SessionAccess, routes};
use async_trait::async_trait;
use hermod_core::{
    Adapter, AdapterContext, AdapterError, CronJobs, Messenger, Metrics, StatusBoard,
};
use hermod_model::{Capabilities, MarkdownDialect, PlatformId};
use hermod_store::Store;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{info, warn};

pub struct ApiServer {
    config: ApiServerConfig,
    local_addr: SocketAddr,
    /// Taken by `run`; an adapter runs once.
    listener: Mutex<Option<TcpListener>>,
    /// Where the platform of a session named by a request is looked up.
    store: Option<Arc<dyn Store>>,
    /// What `/health/detailed` serves: the process's status, published by
    /// whoever runs the gateway (empty until then).
    status: StatusBoard,
    /// What `/metrics` renders; `None` serves 404 (no gateway records into it).
    metrics: Option<Metrics>,
    /// The scheduled jobs `/api/jobs` serves; `None` serves 404.
    cron: Option<CronJobs>,
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
                "the API server needs API_SERVER_KEY (a random key of at least 16 characters)"
                    .into(),
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
            store: None,
            status: StatusBoard::default(),
            metrics: None,
            cron: None,
        })
    }

    /// The gateway's store, where the server checks that a session a request
    /// names (`X-Hermod-Session-Id`) is one the API created. Without it,
    /// requests naming a session are refused unless
    /// `allow_platform_sessions` is set.
    pub fn with_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Where `/health/detailed` reads the gateway's status.
    pub fn with_status(mut self, status: StatusBoard) -> Self {
        self.status = status;
        self
    }

    /// The gateway's metrics, served at `/metrics` behind the key.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The gateway's scheduled jobs, served at `/api/jobs` behind the key.
    pub fn with_cron(mut self, cron: CronJobs) -> Self {
        self.cron = Some(cron);
        self
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

    /// Requests come to whichever gateway a load balancer picks.
    fn receiving(&self) -> hermod_core::Receiving {
        hermod_core::Receiving::Everywhere
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
        let config = &self.config;
        if self.store.is_none() && !config.allow_platform_sessions {
            warn!(
                "the API server has no store to check session owners: requests naming a session will be refused"
            );
        }
        let health = ctx.inbound.health().clone();
        // The socket was bound when the server was built: it is connected.
        health.recovered(crate::PLATFORM.as_str());
        let state = AppState {
            inbound: ctx.inbound,
            key: Arc::new(config.key.clone().unwrap_or_default()),
            model_name: Arc::from(config.model_name.as_str()),
            bodies: Arc::new(BodyBudget::new(config.body_budget(), config.max_body_bytes)),
            sessions: SessionAccess {
                store: self.store.clone(),
                allow_platform_sessions: config.allow_platform_sessions,
            },
            store_stateless: config.store_stateless,
            reasoning_content: config.reasoning_content,
            tools_warned: Arc::default(),
            cors: Cors::new(&config.cors_origins),
            status: self.status.clone(),
            metrics: self.metrics.clone(),
            chat_answers: crate::idempotency::IdempotencyCache::new(),
            slots: crate::slots::RunSlots::new(config.max_concurrent_runs),
            cron: self.cron.clone(),
            responses: crate::responses::ResponsesState::new(config),
            runs: crate::runs::RunsState::new(config),
            web: crate::web::WebState::new(config),
        };
        let limits = Limits {
            max_connections: config.max_connections,
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
        };
        info!(address = %self.local_addr, max_connections = limits.max_connections, "API server listening");
        serve(listener, routes(state), limits, health, ctx.shutdown).await;
        Ok(())
    }

    /// Replies go back to the request that asked; there is no chat to
    /// send to on its own.
    fn messenger(&self) -> Option<&dyn Messenger> {
        None
    }

    fn chat_endpoint(&self) -> Option<hermod_core::ChatEndpoint> {
        Some(hermod_core::ChatEndpoint {
            base_url: format!("http://{}/v1", crate::platform::reachable(self.local_addr)),
            key: self.config.key.clone()?,
        })
    }
}
