//! Admin/user tiers for slash commands, per platform and scope (DM or group).
//! Gating is on for a scope only when it has an admin list.

use crate::config::PlatformPolicy;
use hermod_model::Source;
use std::collections::BTreeSet;

/// Commands every user may run, even where gating is on.
const ALWAYS: [&str; 2] = ["help", "whoami"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tier {
    /// No gating in this scope.
    Unrestricted,
    Admin,
    /// May run only these commands (canonical names).
    User(BTreeSet<String>),
}

impl Tier {
    pub(crate) fn of(policy: &PlatformPolicy, source: &Source) -> Tier {
        let (admins, users) = if source.chat_type.is_dm() {
            let users = if policy.user_allowed_commands.is_empty() {
                &policy.group_user_allowed_commands
            } else {
                &policy.user_allowed_commands
            };
            (&policy.allow_admin_from, users)
        } else {
            (
                &policy.group_allow_admin_from,
                &policy.group_user_allowed_commands,
            )
        };
        if admins.is_empty() {
            return Tier::Unrestricted;
        }
        let ids = [source.user_id.as_deref(), source.user_id_alt.as_deref()];
        if ids
            .into_iter()
            .flatten()
            .any(|id| admins.iter().any(|a| a == id))
        {
            return Tier::Admin;
        }
        let mut allowed: BTreeSet<String> = ALWAYS.iter().map(|s| (*s).to_owned()).collect();
        allowed.extend(
            users
                .iter()
                .map(|c| c.trim().trim_start_matches('/').to_lowercase()),
        );
        Tier::User(allowed)
    }

    pub(crate) fn may_run(&self, command: &str) -> bool {
        match self {
            Tier::Unrestricted | Tier::Admin => true,
            Tier::User(allowed) => allowed.contains(command),
        }
    }

    pub(crate) fn label(&self) -> &'static str {
        match self {
            Tier::Unrestricted => "unrestricted",
            Tier::Admin => "admin",
            Tier::User(_) => "user",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::{ChatType, PlatformId};

    fn source(user: &str, chat_type: ChatType) -> Source {
        Source {
            chat_type,
            user_id: Some(user.into()),
            ..Source::dm(PlatformId::from_static("t"), "c")
        }
    }

    #[test]
    fn gating_only_with_an_admin_list() {
        let policy = PlatformPolicy::default();
        assert_eq!(
            Tier::of(&policy, &source("u", ChatType::Dm)),
            Tier::Unrestricted
        );
    }

    #[test]
    fn admins_users_and_scopes() {
        let policy = PlatformPolicy {
            allow_admin_from: vec!["boss".into()],
            group_user_allowed_commands: vec!["/Status".into()],
            ..Default::default()
        };
        assert_eq!(
            Tier::of(&policy, &source("boss", ChatType::Dm)),
            Tier::Admin
        );
        let user = Tier::of(&policy, &source("u", ChatType::Dm));
        // The DM scope falls back to the group user list when its own is empty.
        assert!(user.may_run("status") && user.may_run("help") && user.may_run("whoami"));
        assert!(!user.may_run("new"));
        // Admin lists are never shared across scopes: no group admins, no gating.
        assert_eq!(
            Tier::of(&policy, &source("u", ChatType::Group)),
            Tier::Unrestricted
        );
    }
}
