//! [`McpManager`]: every configured server, supervised in the background,
//! its tools offered to the agent as a [`ToolSource`].
//!
//! Starting returns at once: each server connects in a task of its own,
//! so a slow or dead server delays neither the gateway nor the other
//! servers; its tools appear when it is up. Shutdown stops every
//! supervisor and closes every session (child processes are asked to
//! exit, then killed).

use crate::config::ServerSpec;
use crate::listing::{ReloadSummary, ServerListing, ServerState, ToolListing};
use crate::server::{Backoff, Phase, Server, supervise};
use crate::transport::{Connector, RmcpConnector};
use hermod_agent::{Tool, ToolSource};
use std::sync::Arc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How the manager supervises its servers.
#[derive(Debug, Clone, Copy, Default)]
pub struct McpOptions {
    /// The wait before reconnecting a server that failed.
    pub backoff: Backoff,
}

/// The MCP servers of `mcp_servers:`. Cheap to clone; the servers stop
/// when the last clone is dropped or at [`McpManager::shutdown`].
#[derive(Debug, Clone)]
pub struct McpManager {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    servers: Vec<Arc<Server>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl McpManager {
    /// Starts supervising `specs` (from [`crate::resolve_all`]) in the
    /// background; must be called within a tokio runtime.
    pub fn start(specs: Vec<ServerSpec>) -> Self {
        Self::start_with(specs, McpOptions::default())
    }

    /// [`McpManager::start`] with other options.
    pub fn start_with(specs: Vec<ServerSpec>, options: McpOptions) -> Self {
        let connector: Arc<dyn Connector> = Arc::new(RmcpConnector);
        Self::start_on(specs, options, &connector)
    }

    pub(crate) fn start_on(
        specs: Vec<ServerSpec>,
        options: McpOptions,
        connector: &Arc<dyn Connector>,
    ) -> Self {
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let mut servers = Vec::new();
        for spec in specs {
            let enabled = spec.enabled;
            let (server, requests) = Server::new(spec);
            if enabled {
                tasks.spawn(supervise(
                    server.clone(),
                    connector.clone(),
                    options.backoff,
                    requests,
                    shutdown.clone(),
                ));
            }
            servers.push(server);
        }
        tasks.close();
        Self {
            inner: Arc::new(Inner {
                servers,
                shutdown,
                tasks,
            }),
        }
    }

    /// The servers' tools for [`hermod_agent::ToolRegistry::add_source`].
    pub fn tool_source(&self) -> Arc<dyn ToolSource> {
        Arc::new(self.clone())
    }

    /// Each server with its transport, state and tools, in name order
    /// (for `hermod mcp list`).
    pub fn list(&self) -> Vec<ServerListing> {
        let now = Instant::now();
        self.inner
            .servers
            .iter()
            .map(|server| {
                let state = match server.shared.phase() {
                    Phase::Disabled => ServerState::Disabled,
                    Phase::Connecting => ServerState::Connecting,
                    Phase::Connected(_) => ServerState::Connected,
                    Phase::Failed { error, retry_at } => ServerState::Failed {
                        error,
                        retry_in: retry_at.saturating_duration_since(now),
                    },
                    Phase::Stopped => ServerState::Stopped,
                };
                ServerListing {
                    name: server.name().to_owned(),
                    transport: server.shared.spec.transport.kind(),
                    state,
                    tools: server
                        .tools()
                        .iter()
                        .map(|t| ToolListing {
                            name: t.name().to_owned(),
                            remote_name: t.remote_name().to_owned(),
                            description: t.description().to_owned(),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Waits until every enabled server has connected or failed at least
    /// once since the start (for a listing that says more than
    /// "connecting"); each wait is bounded by its `connect_timeout`.
    pub async fn settled(&self) {
        for server in &self.inner.servers {
            if server.shared.spec.enabled {
                let mut attempts = server.attempts();
                // An error means the supervisor is gone: nothing to wait for.
                let _settled = attempts.wait_for(|n| *n > 0).await;
            }
        }
    }

    /// Reconnects every enabled server and lists its tools again, waiting
    /// until each has connected or failed; the summary says which.
    pub async fn reload(&self) -> ReloadSummary {
        let pending: Vec<_> = self.inner.servers.iter().map(|s| s.reload()).collect();
        for done in pending {
            // A dropped ack means the supervisor stopped: that server is done too.
            let _done = done.await;
        }
        ReloadSummary {
            servers: self.list(),
        }
    }

    /// A subscription to every change of the servers' states and tools,
    /// for waiting on one without polling: take it, check what you wait
    /// for, then await [`Changes::next`] before checking again, so no
    /// change between the check and the wait is missed.
    pub fn changes(&self) -> Changes {
        Changes {
            watches: self.inner.servers.iter().map(|s| s.changes()).collect(),
        }
    }

    /// Stops every server and waits until their sessions are closed and
    /// their processes gone.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.wait().await;
    }
}

impl ToolSource for McpManager {
    /// The tools of the connected servers, server by server.
    fn tools(&self) -> Vec<Arc<dyn Tool>> {
        self.inner
            .servers
            .iter()
            .filter(|s| s.is_connected())
            .flat_map(|s| s.tools())
            .map(|t| t as Arc<dyn Tool>)
            .collect()
    }

    /// Any server's tool, connected or not: a call to a server that is
    /// down answers that it is restarting and when it is retried.
    fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        let servers = &self.inner.servers;
        // A connected server's tool first, should two servers' names clash.
        let (up, down): (Vec<_>, Vec<_>) = servers.iter().partition(|s| s.is_connected());
        up.into_iter()
            .chain(down)
            .flat_map(|s| s.tools())
            .find(|t| t.name() == name)
            .map(|t| t as Arc<dyn Tool>)
    }
}

/// Changes of the servers since the subscription or the last
/// [`Changes::next`]; see [`McpManager::changes`].
#[derive(Debug)]
pub struct Changes {
    watches: Vec<tokio::sync::watch::Receiver<u64>>,
}

impl Changes {
    /// Resolves once any server's state or tools changed since the last
    /// call (or the subscription); never for a manager without servers.
    pub async fn next(&mut self) {
        if self.watches.is_empty() {
            return std::future::pending().await;
        }
        let waits = self.watches.iter_mut().map(|w| Box::pin(w.changed()));
        // A sender lives as long as its server, so no error comes first.
        let _changed = futures_util::future::select_all(waits).await;
    }
}
