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
