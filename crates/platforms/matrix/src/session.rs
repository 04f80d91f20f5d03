//! Who the adapter is on the homeserver: the access token from
//! `MATRIX_ACCESS_TOKEN`, or a password login whose token and device are
//! kept in the store so a restart reuses the device instead of creating a
//! new one each time; `whoami` tells the bot's own user id.

use crate::adapter::MatrixAdapter;
use crate::api::MatrixError;
use crate::config::Credentials;
use crate::event::Bot;
use hermod_adapter_kit::{AdapterState, StateKey};
use hermod_model::Secret;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tracing::{info, warn};

/// A password login's result, per user id.
const SESSION: StateKey<StoredSession> = StateKey::new("session");

#[derive(Clone, Serialize, Deserialize)]
struct StoredSession {
    user_id: String,
    device_id: Option<String>,
    access_token: String,
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("user_id", &self.user_id)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl MatrixAdapter {
    /// The bot's identity, logging in first if needed. Later calls answer
    /// from memory.
    pub(crate) async fn ready(&self) -> Result<Bot, MatrixError> {
        let mut session = self.inner.session.lock().await;
        if let Some(bot) = session.as_ref() {
            return Ok(bot.clone());
        }
        let mut bot = self.log_in().await?;
        // For mentions by name; a bot without one is mentioned by id.
        bot.display_name = self
            .api()
            .display_name(&bot.user_id)
            .await
            .unwrap_or_default();
        *session = Some(bot.clone());
        Ok(bot)
    }

    /// After a 401: a password session is forgotten (in memory, and its
    /// token in the store), so the next [`MatrixAdapter::ready`] logs in
    /// again; `false` for a configured token, which only its owner can
    /// renew.
    pub(crate) async fn forget_password_session(&self) -> bool {
        let Some(Credentials::Password { user_id, .. }) = self.config().credentials() else {
            return false;
        };
        *self.inner.session.lock().await = None;
        info!("the Matrix session was logged out; logging in again");
        let state = self.session_state(&user_id);
        if let Some(mut stored) = state.load_or_warn().await {
            // The device is kept: the next login reuses it.
            stored.access_token.clear();
            if let Err(e) = state.save(&stored).await {
                warn!(error = %e, "cannot update the stored Matrix session");
            }
        }
        true
    }

    fn session_state(&self, user_id: &str) -> AdapterState<StoredSession> {
        AdapterState::new(
            Arc::clone(self.store()),
            &crate::PLATFORM,
            SESSION.scoped(user_id),
        )
    }

    async fn log_in(&self) -> Result<Bot, MatrixError> {
        let credentials = self.config().credentials().ok_or_else(|| {
            MatrixError::Rejected("no MATRIX_ACCESS_TOKEN or MATRIX_PASSWORD is set".into())
        })?;
        match credentials {
            Credentials::Token(token) => {
                self.api().set_token(token);
                let me = self.api().whoami().await?;
                info!(user = me.user_id, device = ?me.device_id, "logged in to Matrix with the access token");
                Ok(Bot::new(me.user_id))
            }
            Credentials::Password { user_id, password } => {
                self.password_session(&user_id, &password).await
            }
        }
    }

    /// The stored session of `user_id` if its token still works, else a
    /// new login on the stored (or configured) device.
    async fn password_session(&self, user_id: &str, password: &Secret) -> Result<Bot, MatrixError> {
        let state = self.session_state(user_id);
        let stored = state.load_or_warn().await;
        let mut device = self.config().device_id.clone();
        if let Some(stored) = &stored {
            device = device.or(stored.device_id.clone());
        }
        if let Some(stored) = stored.filter(|s| !s.access_token.is_empty()) {
            self.api().set_token(Secret::new(stored.access_token));
            match self.api().whoami().await {
                Ok(me) => {
                    info!(user = me.user_id, device = ?me.device_id, "resumed the stored Matrix session");
                    return Ok(Bot::new(me.user_id));
                }
                Err(MatrixError::Unauthorized { .. }) => {
                    info!("the stored Matrix session was logged out; logging in again");
                }
                Err(e) => return Err(e),
            }
        }
        let (me, token) = self
            .api()
            .login(user_id, password, device.as_deref())
            .await?;
        info!(user = me.user_id, device = ?me.device_id, "logged in to Matrix with the password");
        let session = StoredSession {
            user_id: me.user_id.clone(),
            device_id: me.device_id.clone(),
            access_token: token.expose().to_owned(),
        };
        if let Err(e) = state.save(&session).await {
            warn!(error = %e, "cannot keep the Matrix session; the next start logs in again");
        }
        Ok(Bot::new(me.user_id))
    }
}
