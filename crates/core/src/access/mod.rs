//! Who may talk to the agent: allowlists, pairing, and command tiers.
//!
//! Default deny. A user is allowed, in this order, by the platform's
//! allow-all switch, the platform vouching for them (an allowed role), the
//! platform's allowlist, the global allowlist, an approved pairing, or the
//! global allow-all switch. Platforms that
//! authenticate their callers themselves (the HTTP API's key) skip this.
//! Refused messages are logged at INFO, once a minute per sender
//! ([`Refusals`]).

mod pairing;
mod refusals;
mod tiers;

pub use pairing::{ApproveOutcome, Pairing, PairingRequest};
pub(crate) use pairing::{CODE_LEN, TOO_MANY_MESSAGE, code_message};
pub(crate) use refusals::Refusals;
pub(crate) use tiers::Tier;

use crate::config::{DmBehavior, GatewayConfig};
use hermod_model::{Capabilities, Source};
use hermod_store::{Store, StoreError};

/// The verdict on one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Allowed,
    /// Not allowed; in a DM, do this.
    Denied(DmBehavior),
}

/// Whether `id` matches an allowlist: `*`, the id itself, or for `user@host`
/// ids the part before `@` (a chat network's own host). Where ids are
/// `addresses` (email), only the whole address matches, ignoring case.
fn listed(list: &[String], id: &str, addresses: bool) -> bool {
    if addresses {
        return list
            .iter()
            .any(|entry| entry == "*" || entry.eq_ignore_ascii_case(id));
    }
    let short = id.split('@').next().unwrap_or(id);
    list.iter()
        .any(|entry| entry == "*" || entry == id || entry == short)
}

/// The verdict on a message from `source`; `vouched` when its platform
/// vouches for the sender (an allowed role).
pub(crate) async fn check(
    config: &GatewayConfig,
    caps: &Capabilities,
    source: &Source,
    vouched: bool,
    store: &dyn Store,
) -> Result<Access, StoreError> {
    if caps.authenticates_callers {
        return Ok(Access::Allowed);
    }
    let platform = config.platform(&source.platform);
    let denied = Access::Denied(config.dm_behavior(source.platform.as_str()));
    let Some(user) = source.participant() else {
        return Ok(denied);
    };
    let ids: Vec<&str> = [source.user_id.as_deref(), source.user_id_alt.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let allowed = platform.allow_all_users
        || vouched
        || ids.iter().any(|id| {
            let addresses = caps.user_ids_are_addresses;
            listed(&platform.allowed_users, id, addresses)
                || listed(&config.allowed_users, id, addresses)
        });
    if allowed {
        return Ok(Access::Allowed);
    }
    if store.is_approved(&source.platform, user).await? {
        return Ok(Access::Allowed);
    }
    if config.allow_all_users {
        return Ok(Access::Allowed);
    }
    Ok(denied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_matching() {
        let list = vec!["alice".to_owned(), "42".to_owned()];
        assert!(listed(&list, "alice", false));
        assert!(listed(&list, "alice@example.org", false));
        assert!(listed(&list, "42", false));
        assert!(!listed(&list, "bob", false));
        assert!(!listed(&list, "ali", false));
        assert!(listed(&["*".to_owned()], "anyone", false));
        assert!(!listed(&[], "anyone", false));
    }

    #[test]
    fn addresses_match_whole_and_ignoring_case() {
        let list = vec!["Jane@Example.org".to_owned(), "bob".to_owned()];
        assert!(listed(&list, "jane@example.org", true));
        assert!(listed(&list, "JANE@EXAMPLE.ORG", true));
        assert!(!listed(&list, "jane@evil.example", true), "another domain");
        assert!(
            !listed(&list, "bob@evil.example", true),
            "a bare name admits no one"
        );
        assert!(listed(&["*".to_owned()], "anyone@example.org", true));
    }
}
