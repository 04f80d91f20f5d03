//! [`Sessions`]: which ACP session holds each hermod session's
//! conversation, kept in the store's settings (`acp.session.<id>`) so a
//! restarted gateway (or agent) can `session/load` it.

use crate::config::AcpConfig;
use crate::connection::{Connection, LOG_TARGET};
use crate::error::AcpError;
use crate::protocol::{self, NewSessionResponse};
use hermod_model::SessionId;
use hermod_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The settings key holding the ACP session id of a hermod session.
pub fn setting_key(session: &SessionId) -> String {
    format!("acp.session.{session}")
}

/// The ACP session a turn runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub acp_id: String,
    /// A new ACP session: it knows nothing of the conversation yet.
    pub fresh: bool,
}

/// The mapping, in memory per connection and in the store.
pub(crate) struct Sessions {
    store: Arc<dyn Store>,
    /// hermod session → (connection generation, ACP session id).
    live: Mutex<HashMap<SessionId, (u64, String)>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl Sessions {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            live: Mutex::default(),
        }
    }

    /// The ACP session for `session` on `connection`: the one already open
    /// there, else the stored one loaded (when the agent can), else a new
    /// one.
    pub(crate) async fn resolve(
        &self,
        connection: &Connection,
        config: &AcpConfig,
        session: &SessionId,
    ) -> Result<Resolved, AcpError> {
        let open = self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(session)
            .filter(|(generation, _)| *generation == connection.generation)
            .map(|(_, id)| id.clone());
        if let Some(acp_id) = open {
            return Ok(Resolved {
                acp_id,
                fresh: false,
            });
        }
        let cwd = config.session_cwd();
        let key = setting_key(session);
        if connection.init.agent_capabilities.load_session {
            let stored = match self.store.setting(&key).await {
                Ok(stored) => stored,
                Err(err) => {
                    tracing::warn!(target: LOG_TARGET, %session, error = %err, "cannot read the ACP session of a hermod session; starting a new one");
                    None
                }
            };
            if let Some(acp_id) = stored {
                // The history the agent replays arrives as session/update
                // notifications while nobody is subscribed: it is not shown.
                let loaded = connection
                    .request_within(
                        "session/load",
                        protocol::load_session_params(&cwd, &acp_id),
                        config.startup_timeout(),
                    )
                    .await;
                match loaded {
                    // A v1 agent answers a load with an object; some answer
                    // `null` for a session they no longer have (Hermes does).
                    Ok(serde_json::Value::Null) => {
                        tracing::info!(target: LOG_TARGET, %session, acp_session = %acp_id, "the agent no longer has the ACP session; starting a new one");
                    }
                    Ok(_) => {
                        tracing::info!(target: LOG_TARGET, %session, acp_session = %acp_id, "ACP session loaded");
                        self.remember(connection.generation, session, &acp_id);
                        return Ok(Resolved {
                            acp_id,
                            fresh: false,
                        });
                    }
                    Err(AcpError::Rpc { error, .. }) => {
                        tracing::info!(target: LOG_TARGET, %session, acp_session = %acp_id, %error, "the agent cannot load the ACP session; starting a new one");
                    }
                    Err(err) => return Err(err),
                }
            }
        }
        let answer = connection
            .request_within(
                "session/new",
                protocol::new_session_params(&cwd),
                config.startup_timeout(),
            )
            .await?;
        let created: NewSessionResponse = serde_json::from_value(answer)
            .map_err(|e| AcpError::Protocol(format!("unreadable session/new answer: {e}")))?;
        let acp_id = created.session_id;
        tracing::info!(target: LOG_TARGET, %session, acp_session = %acp_id, "ACP session created");
        if let Err(err) = self.store.set_setting(&key, &acp_id, now_ms()).await {
            tracing::warn!(target: LOG_TARGET, %session, error = %err, "cannot store the ACP session id; a restart will start a new ACP session");
        }
        self.remember(connection.generation, session, &acp_id);
        Ok(Resolved {
            acp_id,
            fresh: true,
        })
    }

    fn remember(&self, generation: u64, session: &SessionId, acp_id: &str) {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(session.clone(), (generation, acp_id.to_owned()));
    }

    /// Forgets `session`'s ACP session (it is broken), so its next turn
    /// starts a new one.
    pub(crate) async fn forget(&self, session: &SessionId) {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(session);
        if let Err(err) = self.store.delete_setting(&setting_key(session)).await {
            tracing::warn!(target: LOG_TARGET, %session, error = %err, "cannot forget the ACP session id");
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
