//! Per-user state kept across sessions: the notes the agent keeps about a
//! user ([`MemoryNote`]) and the approval keys the user granted for good
//! ([`ApprovalGrant`]). Both belong to an [`Owner`].

use hermod_model::{PlatformId, Source};

/// A user, as far as per-user state goes: a platform and that platform's
/// user id. Two sources with the same platform and user id are the same
/// owner, whatever chat they came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    pub platform: PlatformId,
    pub user_id: String,
}

impl Owner {
    pub fn new(platform: PlatformId, user_id: impl Into<String>) -> Self {
        Self {
            platform,
            user_id: user_id.into(),
        }
    }

    /// The owner of a message from `source`; `None` when the source names
    /// no user (such a message has no per-user state).
    pub fn of(source: &Source) -> Option<Self> {
        source
            .user_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .map(|id| Self::new(source.platform.clone(), id))
    }
}

/// One of a user's notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryNote {
    /// Assigned by the store; only ever increases.
    pub id: i64,
    pub text: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// An approval key a user answered "always" to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalGrant {
    pub key: String,
    pub granted_at_ms: i64,
}
