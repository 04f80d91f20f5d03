//! Hermes' reactions on the message a turn answers (`MATRIX_REACTIONS`,
//! on by default): 👀 while the agent works, then ✅ when it answered or
//! ❌ when it failed (nothing when the turn was stopped), the 👀 redacted.
//! Reactions are `m.reaction` events with an `m.annotation` relation.
//!
//! They are cosmetic: each goes now or not at all (a spare slot of the
//! pacer), and a failure is only logged by core.

use crate::adapter::MatrixAdapter;
use crate::outbound::nonce;
use async_trait::async_trait;
use hermod_adapter_kit::Call;
use hermod_core::{AdapterError, Reactions, TurnEnded};
use hermod_model::MessageRef;
use serde_json::json;

/// While the agent works.
pub const WORKING: &str = "\u{1f440}";
/// Answered.
pub const DONE: &str = "\u{2705}";
/// Failed.
pub const FAILED: &str = "\u{274c}";

/// The content of reaction `key` on `event`.
pub(crate) fn reaction(event: &str, key: &str) -> serde_json::Value {
    json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": event, "key": key}})
}

impl MatrixAdapter {
    /// Sends reaction `key` on `message` if a spare slot is free; its id.
    async fn react(&self, message: &MessageRef, key: &str) -> Result<Option<String>, AdapterError> {
        let room = message.target.chat_id.as_str();
        if !self.pacer().try_spare(room) {
            return Ok(None);
        }
        self.ready().await.map_err(|e| self.noted(room, e))?;
        let txn = format!("hermod-react-{}", nonce());
        self.api()
            .send(
                room,
                "m.reaction",
                &txn,
                &reaction(&message.message_id, key),
            )
            .await
            .map(Some)
            .map_err(|e| self.noted(room, e))
    }
}

#[async_trait]
impl Reactions for MatrixAdapter {
    async fn turn_started(&self, message: &MessageRef) -> Result<(), AdapterError> {
        if let Some(id) = self.react(message, WORKING).await? {
            self.working().insert(
                (message.target.chat_id.clone(), message.message_id.clone()),
                id,
            );
        }
        Ok(())
    }

    async fn turn_ended(&self, message: &MessageRef, ended: TurnEnded) -> Result<(), AdapterError> {
        let key = (message.target.chat_id.clone(), message.message_id.clone());
        let working = self.working().remove(&key);
        if let Some(id) = working {
            let room = message.target.chat_id.as_str();
            self.pacer().acquire(room, Call::Undo).await.map_err(|w| {
                AdapterError::RateLimited {
                    retry_after: Some(w.0),
                }
            })?;
            let txn = format!("hermod-redact-{}", nonce());
            self.api()
                .redact(room, &id, &txn)
                .await
                .map_err(|e| self.noted(room, e))?;
        }
        match ended {
            TurnEnded::Answered => self.react(message, DONE).await.map(drop),
            TurnEnded::Failed => self.react(message, FAILED).await.map(drop),
            TurnEnded::Stopped => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_are_annotations() {
        assert_eq!(
            reaction("$msg", WORKING),
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": "$msg", "key": "👀"}})
        );
    }
}
