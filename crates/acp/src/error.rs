//! [`AcpError`]: what went wrong between hermod and the agent process, and
//! how each kind reaches the chat as an [`AgentError`].

use crate::protocol::RpcError;
use hermod_agent::AgentError;

/// A failure of the agent process or of the protocol.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AcpError {
    /// The program could not be started.
    #[error(
        "cannot start the ACP agent `{command}`: {reason}; check agent.acp.command and agent.acp.cwd"
    )]
    Spawn { command: String, reason: String },
    /// The process ended (or closed its output) while hermod needed it.
    #[error("the ACP agent exited ({status}){}", last_line(.stderr))]
    Exited {
        status: String,
        /// The last line it wrote to stderr, which usually says why.
        stderr: Option<String>,
    },
    /// The agent did not answer in time.
    #[error("the ACP agent did not answer {what} within {secs} s")]
    Timeout { what: &'static str, secs: u64 },
    /// The agent answered a request with a JSON-RPC error.
    #[error("the ACP agent refused {method}: {error}")]
    Rpc { method: String, error: RpcError },
    /// The agent sent something hermod cannot work with.
    #[error("the ACP agent broke the protocol: {0}")]
    Protocol(String),
    /// The connection was shut down by hermod.
    #[error("the ACP agent was shut down")]
    Shutdown,
}

fn last_line(stderr: &Option<String>) -> String {
    match stderr {
        Some(line) => format!("; its last words on stderr: {line}"),
        None => String::new(),
    }
}

impl From<AcpError> for AgentError {
    fn from(err: AcpError) -> Self {
        match err {
            AcpError::Protocol(_) => AgentError::Protocol(err.to_string()),
            AcpError::Rpc { ref error, .. } => AgentError::Rejected {
                // JSON-RPC codes are negative; a status reads better as 502
                // (the agent is upstream of hermod, and it failed).
                status: 502,
                message: format!("{err} [{}]", error.code),
            },
            AcpError::Shutdown => AgentError::Cancelled,
            // Not running: the next turn starts it again.
            AcpError::Spawn { .. } | AcpError::Exited { .. } => {
                AgentError::Process(err.to_string())
            }
            AcpError::Timeout { .. } => AgentError::Transient(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_reads_with_its_status_and_last_words() {
        let err = AcpError::Exited {
            status: "exit status: 3".into(),
            stderr: Some("Traceback: KeyError".into()),
        };
        let agent: AgentError = err.into();
        assert_eq!(agent.kind(), "process");
        let shown = agent.to_string();
        assert!(shown.contains("exit status: 3"), "{shown}");
        assert!(shown.contains("Traceback: KeyError"), "{shown}");
    }
}
