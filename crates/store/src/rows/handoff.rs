//! How handoffs map to and from rows, the same for every backend: each
//! backend reads a `handoffs` row into [`RawHandoff`], and the checks that
//! turn it into a [`Handoff`] (and the encoding of an outcome) live here
//! once.

use super::session_id;
use crate::{Handoff, HandoffOutcome, HandoffState, StoreError};
use hermod_model::{ChatTarget, PlatformId};

/// The `handoffs` columns in the order every backend reads them into [`RawHandoff`].
pub(crate) const HANDOFF_COLUMNS: &str =
    "session_id, platform, state, error, destination_json, requested_at_ms, updated_at_ms";

/// A `handoffs` row as stored.
pub(crate) struct RawHandoff {
    pub(crate) session: String,
    pub(crate) platform: String,
    pub(crate) state: String,
    pub(crate) error: Option<String>,
    pub(crate) destination: Option<String>,
    pub(crate) requested_at_ms: i64,
    pub(crate) updated_at_ms: i64,
}

impl RawHandoff {
    /// The handoff, with its state and destination checked.
    pub(crate) fn decode(self) -> Result<Handoff, StoreError> {
        let state = HandoffState::parse(&self.state).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "handoff of session {} has an unknown state {:?}",
                self.session, self.state
            ))
        })?;
        let destination = self
            .destination
            .map(|json| serde_json::from_str::<ChatTarget>(&json))
            .transpose()
            .map_err(|e| {
                StoreError::Corrupt(format!(
                    "handoff of session {} has an unreadable destination: {e}",
                    self.session
                ))
            })?;
        Ok(Handoff {
            session: session_id(self.session)?,
            platform: PlatformId::new(self.platform),
            state,
            error: self.error,
            destination,
            requested_at_ms: self.requested_at_ms,
            updated_at_ms: self.updated_at_ms,
        })
    }
}

/// The columns a finished handoff sets, ready to bind.
pub(crate) struct EncodedOutcome<'a> {
    pub(crate) state: HandoffState,
    /// Why it failed (failed only).
    pub(crate) error: Option<&'a str>,
    /// The destination as JSON (completed only).
    pub(crate) destination_json: Option<String>,
}

/// Splits how a handoff ended into its stored columns.
pub(crate) fn encode_outcome(outcome: &HandoffOutcome) -> Result<EncodedOutcome<'_>, StoreError> {
    Ok(match outcome {
        HandoffOutcome::Completed(target) => EncodedOutcome {
            state: HandoffState::Completed,
            error: None,
            destination_json: Some(serde_json::to_string(target).map_err(|e| {
                StoreError::Invalid(format!("cannot encode the handoff destination: {e}"))
            })?),
        },
        HandoffOutcome::Failed(reason) => EncodedOutcome {
            state: HandoffState::Failed,
            error: Some(reason.as_str()),
            destination_json: None,
        },
    })
}
