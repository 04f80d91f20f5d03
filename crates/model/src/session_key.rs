//! Session keys: the routing key that decides which conversation a message
//! belongs to. The format is the one users of the Hermes gateway know:
//! `agent:main:<platform>:dm:<chat_id>[:<thread>]` and
//! `agent:main:<platform>:<chat_type>:<chat_id>[:<thread>][:<user>]`.

use crate::source::{ChatType, Source};
use serde::{Deserialize, Serialize};

/// A routing key. Messages with the same key are handled in order by one
/// session worker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionKey(String);

impl SessionKey {
    /// Wraps a key read back from storage.
    pub fn from_raw(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Builds the key for `source` under `policy`.
    pub fn build(source: &Source, policy: &SessionKeyPolicy) -> Self {
        let ns = match policy.profile.as_deref() {
            None | Some("") | Some("default") => "main",
            Some(profile) => profile,
        };
        let mut parts: Vec<&str> = vec!["agent", ns, source.platform.as_str()];
        let participant = source.participant();
        if source.chat_type.is_dm() {
            parts.push("dm");
            if let Some(chat) = source.chat_id.as_deref().or(participant) {
                parts.push(chat);
            }
            if let Some(thread) = source.thread_id.as_deref() {
                parts.push(thread);
            }
        } else {
            parts.push(source.chat_type.as_str());
            if let Some(chat) = source.chat_id.as_deref() {
                parts.push(chat);
            }
            if let Some(thread) = source.thread_id.as_deref() {
                parts.push(thread);
            }
            let isolate = if source.thread_id.is_some() || source.chat_type == ChatType::Thread {
                policy.thread_sessions_per_user
            } else {
                policy.group_sessions_per_user
            };
            if isolate && let Some(user) = participant {
                parts.push(user);
            }
        }
        Self(parts.join(":"))
    }
}

impl std::fmt::Display for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How keys are built: per-user isolation in groups and threads, and the
/// profile namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeyPolicy {
    pub group_sessions_per_user: bool,
    pub thread_sessions_per_user: bool,
    pub profile: Option<String>,
}

impl Default for SessionKeyPolicy {
    fn default() -> Self {
        Self {
            group_sessions_per_user: true,
            thread_sessions_per_user: false,
            profile: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::PlatformId;

    fn group(user: &str) -> Source {
        Source {
            chat_type: ChatType::Group,
            user_id: Some(user.into()),
            ..Source::dm(PlatformId::from_static("telegram"), "-100")
        }
    }

    #[test]
    fn dm_key() {
        let s = Source::dm(PlatformId::from_static("telegram"), "42");
        let key = SessionKey::build(&s, &SessionKeyPolicy::default());
        assert_eq!(key.as_str(), "agent:main:telegram:dm:42");
    }

    #[test]
    fn group_isolated_per_user_by_default() {
        let policy = SessionKeyPolicy::default();
        assert_eq!(
            SessionKey::build(&group("7"), &policy).as_str(),
            "agent:main:telegram:group:-100:7"
        );
        let shared = SessionKeyPolicy {
            group_sessions_per_user: false,
            ..policy
        };
        assert_eq!(
            SessionKey::build(&group("7"), &shared).as_str(),
            "agent:main:telegram:group:-100"
        );
    }

    #[test]
    fn threads_shared_by_default_and_alt_id_wins() {
        let mut s = group("7");
        s.thread_id = Some("5".into());
        s.user_id_alt = Some("u-7".into());
        let policy = SessionKeyPolicy::default();
        assert_eq!(
            SessionKey::build(&s, &policy).as_str(),
            "agent:main:telegram:group:-100:5"
        );
        let per_user = SessionKeyPolicy {
            thread_sessions_per_user: true,
            ..policy
        };
        assert_eq!(
            SessionKey::build(&s, &per_user).as_str(),
            "agent:main:telegram:group:-100:5:u-7"
        );
    }

    #[test]
    fn profile_replaces_main() {
        let s = Source::dm(PlatformId::from_static("api_server"), "abc");
        let policy = SessionKeyPolicy {
            profile: Some("work".into()),
            ..Default::default()
        };
        assert_eq!(
            SessionKey::build(&s, &policy).as_str(),
            "agent:work:api_server:dm:abc"
        );
        let default = SessionKeyPolicy {
            profile: Some("default".into()),
            ..Default::default()
        };
        assert_eq!(
            SessionKey::build(&s, &default).as_str(),
            "agent:main:api_server:dm:abc"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::source::PlatformId;
    use proptest::prelude::*;

    fn id() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_@.-]{1,12}"
    }

    fn chat_type() -> impl Strategy<Value = ChatType> {
        prop_oneof![
            Just(ChatType::Dm),
            Just(ChatType::Group),
            Just(ChatType::Channel),
            Just(ChatType::Thread),
            Just(ChatType::Forum),
        ]
    }

    prop_compose! {
        /// A group-like source that has a chat and a sender.
        fn group_source()(
            base in source(),
            chat_type in prop_oneof![Just(ChatType::Group), Just(ChatType::Channel), Just(ChatType::Thread), Just(ChatType::Forum)],
            chat in id(),
            user in id(),
        ) -> Source {
            Source { chat_type, chat_id: Some(chat), user_id: Some(user), ..base }
        }
    }

    prop_compose! {
        fn dm_source()(base in source()) -> Source {
            Source { chat_type: ChatType::Dm, ..base }
        }
    }

    prop_compose! {
        fn source()(
            chat_type in chat_type(),
            chat in proptest::option::of(id()),
            user in proptest::option::of(id()),
            alt in proptest::option::of(id()),
            thread in proptest::option::of(id()),
        ) -> Source {
            Source {
                platform: PlatformId::from_static("telegram"),
                chat_type,
                chat_id: chat,
                chat_name: None,
                user_id: user,
                user_id_alt: alt,
                user_name: None,
                thread_id: thread,
                is_bot: false,
            }
        }
    }

    prop_compose! {
        fn policy()(group in any::<bool>(), thread in any::<bool>(), profile in proptest::option::of("[a-z]{1,6}")) -> SessionKeyPolicy {
            SessionKeyPolicy { group_sessions_per_user: group, thread_sessions_per_user: thread, profile }
        }
    }

    proptest! {
        #[test]
        fn keys_have_the_documented_shape(s in source(), p in policy()) {
            let key = SessionKey::build(&s, &p);
            let parts: Vec<&str> = key.as_str().split(':').collect();
            let ns = match p.profile.as_deref() { None | Some("default") => "main", Some(x) => x };
            prop_assert_eq!(parts[0], "agent");
            prop_assert_eq!(parts[1], ns);
            prop_assert_eq!(parts[2], "telegram");
            let kind = if s.chat_type.is_dm() { "dm" } else { s.chat_type.as_str() };
            prop_assert_eq!(parts[3], kind);
            // Nothing but the known components, in order.
            let mut expected: Vec<&str> = vec![];
            if s.chat_type.is_dm() {
                if let Some(c) = s.chat_id.as_deref().or(s.participant()) { expected.push(c); }
                if let Some(t) = s.thread_id.as_deref() { expected.push(t); }
            } else {
                if let Some(c) = s.chat_id.as_deref() { expected.push(c); }
                if let Some(t) = s.thread_id.as_deref() { expected.push(t); }
            }
            prop_assert_eq!(&parts[4..4 + expected.len()], &expected[..]);
        }

        #[test]
        fn group_members_are_isolated_only_when_configured(s in group_source(), p in policy(), other in id()) {
            prop_assume!(Some(other.as_str()) != s.participant());
            let mut t = s.clone();
            t.user_id = Some(other);
            t.user_id_alt = None;
            let threaded = s.thread_id.is_some() || s.chat_type == ChatType::Thread;
            let isolate = if threaded { p.thread_sessions_per_user } else { p.group_sessions_per_user };
            let same = SessionKey::build(&s, &p) == SessionKey::build(&t, &p);
            prop_assert_eq!(same, !isolate);
        }

        #[test]
        fn the_alternate_user_id_wins(s in source(), p in policy(), alt in id()) {
            let mut a = s;
            a.user_id_alt = Some(alt);
            let mut b = a.clone();
            b.user_id = Some(format!("{}x", b.user_id.clone().unwrap_or_default()));
            // Changing the primary id never changes the key when an alternate id exists.
            prop_assert_eq!(SessionKey::build(&a, &p), SessionKey::build(&b, &p));
        }

        #[test]
        fn dms_ignore_group_policies(s in dm_source(), p in policy()) {
            let flipped = SessionKeyPolicy {
                group_sessions_per_user: !p.group_sessions_per_user,
                thread_sessions_per_user: !p.thread_sessions_per_user,
                profile: p.profile.clone(),
            };
            prop_assert_eq!(SessionKey::build(&s, &p), SessionKey::build(&s, &flipped));
        }
    }
}
