//! [`AcpAgent`]: hermod's [`Agent`] backed by an external ACP agent process.

use crate::config::AcpConfig;
use crate::protocol::AgentCapabilities;
use crate::sessions::Sessions;
use crate::supervisor::Supervisor;
use crate::turn::{Shared, Turn};
use hermod_agent::{Agent, TurnControl, TurnHandle, TurnRequest};
use hermod_store::Store;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Events buffered between a turn's task and its consumer.
const EVENT_BUFFER: usize = 256;

/// Runs every turn through one external agent speaking the Agent Client
/// Protocol over stdio. The process starts on the first turn, is shared by
/// all sessions (one ACP session per hermod session, remembered in the
/// store), and is restarted with backoff by the turn after it died.
/// Cheap to clone; clones share the process.
#[derive(Debug, Clone)]
pub struct AcpAgent {
    shared: Shared,
}

impl AcpAgent {
    /// An agent that runs `config.command`; `store` keeps which ACP session
    /// holds each hermod session (settings `acp.session.<session id>`).
    pub fn new(config: AcpConfig, store: Arc<dyn Store>) -> Self {
        let config = Arc::new(config);
        Self {
            shared: Shared {
                supervisor: Arc::new(Supervisor::new(config.clone())),
                sessions: Arc::new(Sessions::new(store)),
                config,
            },
        }
    }

    pub fn config(&self) -> &AcpConfig {
        &self.shared.config
    }

    /// What the running agent said it can do; `None` before the first turn
    /// started it, or after it died.
    pub async fn capabilities(&self) -> Option<AgentCapabilities> {
        let connection = self.shared.supervisor.running().await?;
        Some(connection.init.agent_capabilities.clone())
    }

    /// Kills the agent process and everything it started (its process
    /// group). A later turn starts it again.
    pub async fn shutdown(&self) {
        self.shared.supervisor.shutdown().await;
    }
}

impl Agent for AcpAgent {
    fn run_turn(&self, request: TurnRequest) -> TurnHandle {
        let (control, cancel, steer) = TurnControl::new();
        let (events, receiver) = mpsc::channel(EVENT_BUFFER);
        let turn = Turn::new(self.shared.clone(), control.clone(), cancel, steer, events);
        tokio::spawn(turn.run(request));
        TurnHandle {
            events: receiver,
            control,
        }
    }
}
