//! [`Supervisor`]: the one agent process all sessions share (ACP
//! multiplexes sessions on one connection), started on the first turn and
//! restarted on a later turn after it died, with exponential backoff.

use crate::config::AcpConfig;
use crate::connection::Connection;
use crate::error::AcpError;
use std::sync::Arc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
struct State {
    current: Option<Arc<Connection>>,
    /// Deaths (and failed starts) since the last healthy turn.
    deaths: u32,
    /// No start before this (the backoff after the last death).
    not_before: Option<Instant>,
    generation: u64,
}

/// Starts, shares and restarts the agent process.
#[derive(Debug)]
pub(crate) struct Supervisor {
    config: Arc<AcpConfig>,
    /// A tokio mutex: held across a start, so concurrent turns wait for
    /// the same process instead of starting one each.
    state: tokio::sync::Mutex<State>,
}

/// Why no connection could be had.
#[derive(Debug)]
pub(crate) enum Unavailable {
    Failed(AcpError),
    /// The turn was interrupted while waiting.
    Cancelled,
}

impl Supervisor {
    pub(crate) fn new(config: Arc<AcpConfig>) -> Self {
        Self {
            config,
            state: tokio::sync::Mutex::default(),
        }
    }

    /// The running agent, started (after the backoff, if it died) when
    /// there is none.
    pub(crate) async fn connection(
        &self,
        cancel: &CancellationToken,
    ) -> Result<Arc<Connection>, Unavailable> {
        let mut state = tokio::select! {
            () = cancel.cancelled() => return Err(Unavailable::Cancelled),
            state = self.state.lock() => state,
        };
        if let Some(current) = &state.current {
            if !current.is_dead() {
                return Ok(current.clone());
            }
            state.current = None;
            Self::record_death(&self.config, &mut state);
        }
        if let Some(not_before) = state.not_before {
            if not_before > Instant::now() {
                tracing::info!(
                    target: crate::connection::LOG_TARGET,
                    wait_ms = u64::try_from((not_before - Instant::now()).as_millis()).unwrap_or(u64::MAX),
                    deaths = state.deaths,
                    "waiting before restarting the ACP agent"
                );
            }
            tokio::select! {
                () = cancel.cancelled() => return Err(Unavailable::Cancelled),
                () = tokio::time::sleep_until(not_before) => {}
            }
        }
        state.generation += 1;
        let started = tokio::select! {
            () = cancel.cancelled() => return Err(Unavailable::Cancelled),
            started = Connection::start(&self.config, state.generation) => started,
        };
        match started {
            Ok(connection) => {
                let connection = Arc::new(connection);
                state.current = Some(connection.clone());
                Ok(connection)
            }
            Err(err) => {
                Self::record_death(&self.config, &mut state);
                Err(Unavailable::Failed(err))
            }
        }
    }

    fn record_death(config: &AcpConfig, state: &mut State) {
        state.deaths = state.deaths.saturating_add(1);
        state.not_before = Some(Instant::now() + config.restart_delay(state.deaths));
    }

    /// A turn completed on `connection`: the agent works, so the next death
    /// starts the backoff from the beginning.
    pub(crate) fn healthy(&self, connection: &Connection) {
        // Never waits: the lock is only held longer while a start is under
        // way, which means this connection is being replaced anyway.
        let Ok(mut state) = self.state.try_lock() else {
            return;
        };
        if state
            .current
            .as_ref()
            .is_some_and(|c| c.generation == connection.generation)
        {
            state.deaths = 0;
            state.not_before = None;
        }
    }

    /// Kills the agent process, if one runs.
    pub(crate) async fn shutdown(&self) {
        let current = self.state.lock().await.current.take();
        if let Some(connection) = current {
            connection.shutdown().await;
        }
    }

    /// What the running agent can do, if one runs.
    pub(crate) async fn running(&self) -> Option<Arc<Connection>> {
        self.state
            .lock()
            .await
            .current
            .clone()
            .filter(|c| !c.is_dead())
    }
}
