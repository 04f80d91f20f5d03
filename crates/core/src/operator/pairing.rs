//! Pairing requests as an admin page handles them: the pending ones
//! (without their codes: only salted hashes are stored), and an answer to
//! one, named by the code its user was given or by its id from the list.

use super::Operator;
use crate::access::{ApproveOutcome, CODE_LEN, Pairing};
use crate::error::CoreError;
use hermod_model::PlatformId;
use hermod_store::{ApprovedUser, PendingPairing};
use serde::Serialize;

/// A pending request as listed: never its code or the code's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingRequest {
    /// Names the request in [`Operator::approve_pairing`] and
    /// [`Operator::deny_pairing`] without its code.
    pub id: String,
    pub platform: PlatformId,
    pub user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    /// Unix milliseconds; the request is gone after this.
    pub expires_at_ms: i64,
}

impl From<PendingPairing> for PendingRequest {
    fn from(p: PendingPairing) -> Self {
        Self {
            id: p.id.to_string(),
            platform: p.platform,
            user_id: p.user_id,
            user_name: p.user_name,
            created_at_ms: p.created_at_ms,
            expires_at_ms: p.expires_at_ms,
        }
    }
}

/// The answer to an approval or a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairingAnswer {
    /// The request's user may talk to the agent now.
    Approved {
        user_id: String,
        user_name: Option<String>,
    },
    /// The request is gone; its user stays unknown.
    Denied {
        user_id: String,
        user_name: Option<String>,
    },
    /// No pending request has that id or code (wrong, expired or already
    /// answered). `failures_left`: a code was tried and counted towards
    /// the lockout, as `hermod pairing approve` counts it.
    NotFound { failures_left: Option<u32> },
    /// Too many wrong codes: approvals by code on this platform are locked
    /// until then (Unix milliseconds).
    LockedOut { until_ms: i64 },
}

impl Operator {
    /// Every pending pairing request, by platform then age, and every
    /// approved user, by platform then approval time.
    pub async fn pairings(&self) -> Result<(Vec<PendingRequest>, Vec<ApprovedUser>), CoreError> {
        let deps = self.deps();
        let (pending, approved) = Pairing::new(deps.store.as_ref())
            .list(None, deps.clock.now_ms())
            .await?;
        let pending = pending.into_iter().map(PendingRequest::from).collect();
        Ok((pending, approved))
    }

    /// Approves the request `reference` on `platform`: a request's `id`
    /// from [`Operator::pairings`], or the code its user was given.
    /// A code goes through [`Pairing::approve`], so wrong codes count
    /// towards its lockout exactly as on the command line; an id is the
    /// owner picking a listed request, not a guess, and is not counted.
    pub async fn approve_pairing(
        &self,
        platform: &PlatformId,
        reference: &str,
    ) -> Result<PairingAnswer, CoreError> {
        let deps = self.deps();
        let pairing = Pairing::new(deps.store.as_ref());
        let now = deps.clock.now_ms();
        if let Some(request) = self.listed(platform, reference).await? {
            if !pairing.grant(&request, now).await? {
                // Refused or approved from elsewhere since it was listed.
                return Ok(PairingAnswer::NotFound {
                    failures_left: None,
                });
            }
            return Ok(PairingAnswer::Approved {
                user_id: request.user_id,
                user_name: request.user_name,
            });
        }
        // An all-digit reference of another length than a code's can
        // only be an id.
        if is_id(reference) && reference.len() != CODE_LEN {
            return Ok(PairingAnswer::NotFound {
                failures_left: None,
            });
        }
        Ok(match pairing.approve(platform, reference, now).await? {
            ApproveOutcome::Approved { user_id, user_name } => {
                PairingAnswer::Approved { user_id, user_name }
            }
            ApproveOutcome::NoMatch { failures_left } => PairingAnswer::NotFound {
                failures_left: Some(failures_left),
            },
            ApproveOutcome::LockedOut { until_ms } => PairingAnswer::LockedOut { until_ms },
        })
    }

    /// Refuses the request `reference` on `platform` (an id or a code, as
    /// for [`Operator::approve_pairing`]; a wrong code is not counted,
    /// since refusing grants nothing).
    pub async fn deny_pairing(
        &self,
        platform: &PlatformId,
        reference: &str,
    ) -> Result<PairingAnswer, CoreError> {
        let deps = self.deps();
        let pairing = Pairing::new(deps.store.as_ref());
        let request = match self.listed(platform, reference).await? {
            Some(request) => Some(request),
            None => {
                pairing
                    .pending_with_code(platform, reference, deps.clock.now_ms())
                    .await?
            }
        };
        let Some(request) = request else {
            return Ok(PairingAnswer::NotFound {
                failures_left: None,
            });
        };
        if !pairing.deny(&request).await? {
            // Answered by someone else in between.
            return Ok(PairingAnswer::NotFound {
                failures_left: None,
            });
        }
        Ok(PairingAnswer::Denied {
            user_id: request.user_id,
            user_name: request.user_name,
        })
    }

    /// The pending request on `platform` whose id is `reference`.
    async fn listed(
        &self,
        platform: &PlatformId,
        reference: &str,
    ) -> Result<Option<PendingPairing>, CoreError> {
        if !is_id(reference) {
            return Ok(None);
        }
        let deps = self.deps();
        let pending = deps
            .store
            .pending_pairings(Some(platform), deps.clock.now_ms())
            .await?;
        Ok(pending.into_iter().find(|p| p.id.to_string() == reference))
    }
}

/// Whether `reference` has the form of a request id (digits only). A code
/// can be all digits too (its alphabet has 2 to 9), so an id is looked up
/// first and a code of that form is still tried as a code.
fn is_id(reference: &str) -> bool {
    !reference.is_empty() && reference.bytes().all(|b| b.is_ascii_digit())
}
