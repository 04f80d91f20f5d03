//! Answers to approval requests, and what they leave behind.
//!
//! A request is answered once (`/approve`), for the rest of the session
//! (`/approve session`: later requests with the same key in that session
//! are approved without asking), or always (`/approve always`: remembered
//! for the user in the store until `/approvals revoke`), or denied. The
//! gateway's [`Grants`] keeps the session grants in memory (a bounded
//! number of sessions) and hands each turn an [`ApprovalPolicy`] that
//! consults them and the store. It also knows every open request of every
//! running turn by id, so a source that is not a chat (the HTTP API) can
//! answer one by its id.

use crate::error::CoreError;
use hermod_agent::{ApprovalDecision, ApprovalPolicy, TurnControl};
use hermod_model::{PlatformId, SessionId};
use hermod_store::{Owner, Store};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tracing::warn;

/// Sessions whose "for this session" grants are kept; the oldest are
/// forgotten first (their next request is asked again).
const SESSIONS_KEPT: usize = 1024;

/// How a user answers an approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalChoice {
    /// This request only.
    Once,
    /// This request and every later one with the same key in the session.
    Session,
    /// Like [`ApprovalChoice::Session`], and remembered for the user in
    /// later sessions too, until revoked.
    Always,
    Deny {
        reason: Option<String>,
    },
}

impl ApprovalChoice {
    /// The names clients send: `once`, `session`, `always`, `deny`.
    pub const NAMES: [&'static str; 4] = ["once", "session", "always", "deny"];

    /// The choice named `name` (one of [`ApprovalChoice::NAMES`]); a
    /// `reason` only counts for `deny`.
    pub fn parse(name: &str, reason: Option<String>) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "once" => Self::Once,
            "session" => Self::Session,
            "always" => Self::Always,
            "deny" => Self::Deny {
                reason: reason
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty()),
            },
            _ => return None,
        })
    }

    fn decision(&self) -> ApprovalDecision {
        match self {
            Self::Deny { reason } => ApprovalDecision::Denied {
                reason: reason.clone(),
            },
            _ => ApprovalDecision::Approved,
        }
    }
}

/// Why an answer was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalAnswerError {
    /// No running turn has this request (or it is not the caller's).
    #[error("no approval request with this id is waiting")]
    NotFound,
    /// The request exists but is no longer open: it was answered, timed
    /// out, or its turn was interrupted.
    #[error("this approval request was already answered, timed out or withdrawn")]
    Closed,
    /// `always` needs a user to remember it for.
    #[error(
        "this request's conversation names no user, so it cannot be approved always; use once or session"
    )]
    NoUser,
    /// Only the user whose turn asked may approve a key for good, for
    /// themselves.
    #[error("only the user whose request this is can approve it always; use once or session")]
    NotAsker,
    /// The grant could not be stored; nothing was answered.
    #[error("the grant could not be stored: {0}")]
    Storage(String),
}

/// What an answer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The key of the request answered.
    pub key: String,
    /// How many open requests the answer settled (more than one when a
    /// session or always grant covered other open requests with the key).
    pub settled: usize,
}

/// An open request of a running turn.
#[derive(Debug)]
struct Open {
    turn: u64,
    session: SessionId,
    platform: PlatformId,
    /// The user whose turn asked; `always` is remembered for them.
    owner: Option<Owner>,
    control: TurnControl,
}

#[derive(Debug, Default)]
struct Inner {
    /// "For this session" grants by session.
    sessions: HashMap<SessionId, HashSet<String>>,
    /// Sessions in the order they were first granted something.
    order: VecDeque<SessionId>,
    /// Open requests by id.
    open: HashMap<String, Open>,
}

/// The gateway's approval grants and open requests. Shared by every
/// session worker.
pub(crate) struct Grants {
    store: Arc<dyn Store>,
    clock: crate::clock::Clock,
    inner: Mutex<Inner>,
    next_turn: AtomicU64,
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants").finish_non_exhaustive()
    }
}

impl Grants {
    pub(crate) fn new(store: Arc<dyn Store>, clock: crate::clock::Clock) -> Self {
        Self {
            store,
            clock,
            inner: Mutex::default(),
            next_turn: AtomicU64::new(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update is a single insert or removal.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The policy for one turn of `owner` (who asks).
    pub(crate) fn policy(self: &Arc<Self>, owner: Option<Owner>) -> Arc<dyn ApprovalPolicy> {
        Arc::new(TurnPolicy {
            grants: Arc::clone(self),
            owner,
        })
    }

    /// Where a new turn's requests are recorded; they are forgotten when
    /// the returned value is dropped (the turn ended).
    pub(crate) fn begin_turn(self: &Arc<Self>) -> TurnRequests {
        TurnRequests {
            grants: Arc::clone(self),
            turn: self.next_turn.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn session_has(&self, session: &SessionId, key: &str) -> bool {
        self.lock()
            .sessions
            .get(session)
            .is_some_and(|keys| keys.contains(key))
    }

    /// The keys approved for the rest of `session`, sorted.
    pub(crate) fn session_keys(&self, session: &SessionId) -> Vec<String> {
        let mut keys: Vec<String> = self
            .lock()
            .sessions
            .get(session)
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }

    /// Takes back a key's grant for `session`; returns whether it had one.
    pub(crate) fn forget_session_key(&self, session: &SessionId, key: &str) -> bool {
        self.lock()
            .sessions
            .get_mut(session)
            .is_some_and(|keys| keys.remove(key))
    }

    fn grant_session(&self, session: &SessionId, key: &str) {
        let mut inner = self.lock();
        if !inner.sessions.contains_key(session) {
            inner.order.push_back(session.clone());
            while inner.order.len() > SESSIONS_KEPT {
                if let Some(oldest) = inner.order.pop_front() {
                    inner.sessions.remove(&oldest);
                }
            }
        }
        inner
            .sessions
            .entry(session.clone())
            .or_default()
            .insert(key.to_owned());
    }

    /// Answers the open request `request_id` of a turn on `platform`.
    /// `by` is the answering user when known: only the asking user may
    /// approve `always` for themselves (`None`: the platform vouches for
    /// its caller, as the API's key holder owns its sessions).
    pub(crate) async fn answer(
        &self,
        platform: &PlatformId,
        request_id: &str,
        choice: &ApprovalChoice,
        by: Option<&Owner>,
    ) -> Result<Answered, ApprovalAnswerError> {
        let (control, session, owner) = {
            let inner = self.lock();
            match inner.open.get(request_id) {
                Some(open) if &open.platform == platform => (
                    open.control.clone(),
                    open.session.clone(),
                    open.owner.clone(),
                ),
                _ => return Err(ApprovalAnswerError::NotFound),
            }
        };
        let Some(request) = control
            .approvals()
            .requests()
            .into_iter()
            .find(|r| r.id == request_id)
        else {
            return Err(ApprovalAnswerError::Closed);
        };
        if *choice == ApprovalChoice::Always {
            let owner = match (&owner, by) {
                (Some(owner), Some(by)) if owner != by => {
                    return Err(ApprovalAnswerError::NotAsker);
                }
                (Some(owner), _) => owner,
                (None, _) => return Err(ApprovalAnswerError::NoUser),
            };
            let at = self.clock.now_ms();
            self.store
                .approval_grant(owner, &request.key, at)
                .await
                .map_err(|e| ApprovalAnswerError::Storage(CoreError::from(e).to_string()))?;
        }
        let decision = choice.decision();
        if !control.resolve_approval(request_id, decision) {
            return Err(ApprovalAnswerError::Closed);
        }
        let mut settled = 1;
        if matches!(choice, ApprovalChoice::Session | ApprovalChoice::Always) {
            self.grant_session(&session, &request.key);
            for other in control.approvals().requests() {
                if other.key == request.key
                    && control.resolve_approval(&other.id, ApprovalDecision::Approved)
                {
                    settled += 1;
                }
            }
        }
        Ok(Answered {
            key: request.key,
            settled,
        })
    }
}

/// One turn's open requests, answerable by id until the turn ends.
#[derive(Debug)]
pub(crate) struct TurnRequests {
    grants: Arc<Grants>,
    turn: u64,
}

impl TurnRequests {
    /// Remembers an announced request of this turn.
    pub(crate) fn track(
        &self,
        request_id: &str,
        session: &SessionId,
        platform: &PlatformId,
        owner: Option<Owner>,
        control: &TurnControl,
    ) {
        self.grants.lock().open.insert(
            request_id.to_owned(),
            Open {
                turn: self.turn,
                session: session.clone(),
                platform: platform.clone(),
                owner,
                control: control.clone(),
            },
        );
    }
}

impl Drop for TurnRequests {
    fn drop(&mut self) {
        let turn = self.turn;
        self.grants.lock().open.retain(|_, open| open.turn != turn);
    }
}

/// One turn's view of the grants.
#[derive(Debug)]
struct TurnPolicy {
    grants: Arc<Grants>,
    owner: Option<Owner>,
}

#[async_trait::async_trait]
impl ApprovalPolicy for TurnPolicy {
    async fn pre_approved(&self, session: &SessionId, key: &str) -> bool {
        if self.grants.session_has(session, key) {
            return true;
        }
        let Some(owner) = &self.owner else {
            return false;
        };
        match self.grants.store.approval_granted(owner, key).await {
            Ok(granted) => granted,
            Err(e) => {
                warn!(error = %e, "cannot read approval grants; asking the user");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    #[test]
    fn choices_by_name() {
        assert_eq!(
            ApprovalChoice::parse("once", None),
            Some(ApprovalChoice::Once)
        );
        assert_eq!(
            ApprovalChoice::parse(" Session ", Some("ignored".into())),
            Some(ApprovalChoice::Session)
        );
        assert_eq!(
            ApprovalChoice::parse("always", None),
            Some(ApprovalChoice::Always)
        );
        assert_eq!(
            ApprovalChoice::parse("deny", Some("  too risky ".into())),
            Some(ApprovalChoice::Deny {
                reason: Some("too risky".into())
            })
        );
        assert_eq!(
            ApprovalChoice::parse("deny", Some("  ".into())),
            Some(ApprovalChoice::Deny { reason: None })
        );
        assert_eq!(ApprovalChoice::parse("yes", None), None);
        for name in ApprovalChoice::NAMES {
            assert!(ApprovalChoice::parse(name, None).is_some());
        }
    }

    /// A turn with two open requests of the key `rm`, tracked for alice
    /// on the `chat` platform; returns the grants, the tracking, the ids
    /// and the tools' tasks.
    async fn two_requests() -> (
        Arc<Grants>,
        TurnRequests,
        Vec<String>,
        Vec<tokio::task::JoinHandle<ApprovalDecision>>,
    ) {
        let store = Arc::new(hermod_store::SqliteStore::open_in_memory().unwrap());
        let grants = Arc::new(Grants::new(store, crate::clock::Clock::System));
        let (control, _cancel, _steer) = TurnControl::new();
        let (events, mut rx) = tokio::sync::mpsc::channel(4);
        let session = SessionId::parse("s-1").unwrap();
        let requests = grants.begin_turn();
        let mut ids = Vec::new();
        let mut tasks = Vec::new();
        for call in ["c1", "c2"] {
            let ctx = hermod_agent::ToolContext::new(
                session.clone(),
                call,
                tokio_util::sync::CancellationToken::new(),
            )
            .with_approvals(
                "shell",
                control.approvals().clone(),
                events.clone(),
                std::time::Duration::from_secs(60),
            );
            tasks.push(tokio::spawn(async move {
                ctx.request_approval_for("rm", "rm -rf x").await
            }));
            let Some(hermod_agent::AgentEvent::ApprovalRequested { request_id, .. }) =
                rx.recv().await
            else {
                panic!("no request");
            };
            requests.track(
                &request_id,
                &session,
                &PlatformId::new("chat"),
                Some(Owner::new(PlatformId::new("chat"), "alice")),
                &control,
            );
            ids.push(request_id);
        }
        (grants, requests, ids, tasks)
    }

    #[tokio::test]
    async fn answers_reach_only_their_platforms_open_requests() {
        let (grants, requests, ids, tasks) = two_requests().await;
        let chat = PlatformId::new("chat");
        let bob = Owner::new(chat.clone(), "bob");
        assert_eq!(
            grants
                .answer(
                    &PlatformId::new("api"),
                    &ids[0],
                    &ApprovalChoice::Once,
                    None
                )
                .await,
            Err(ApprovalAnswerError::NotFound),
            "another platform cannot answer it"
        );
        assert_eq!(
            grants
                .answer(&chat, &ids[0], &ApprovalChoice::Always, Some(&bob))
                .await,
            Err(ApprovalAnswerError::NotAsker)
        );
        let done = grants
            .answer(&chat, &ids[0], &ApprovalChoice::Session, None)
            .await
            .unwrap();
        assert_eq!((done.key.as_str(), done.settled), ("rm", 2));
        for task in tasks {
            assert!(task.await.unwrap().is_approved());
        }
        assert!(grants.session_has(&SessionId::parse("s-1").unwrap(), "rm"));
        assert_eq!(
            grants
                .answer(&chat, &ids[1], &ApprovalChoice::Once, None)
                .await,
            Err(ApprovalAnswerError::Closed)
        );
        drop(requests);
        assert_eq!(
            grants
                .answer(&chat, &ids[1], &ApprovalChoice::Once, None)
                .await,
            Err(ApprovalAnswerError::NotFound),
            "forgotten once the turn ended"
        );
    }

    #[tokio::test]
    async fn always_is_stored_for_the_asking_user() {
        let (grants, _requests, ids, _tasks) = two_requests().await;
        let chat = PlatformId::new("chat");
        let alice = Owner::new(chat.clone(), "alice");
        let done = grants
            .answer(&chat, &ids[1], &ApprovalChoice::Always, Some(&alice))
            .await
            .unwrap();
        assert_eq!(done.settled, 2);
        assert!(grants.store.approval_granted(&alice, "rm").await.unwrap());
        let policy = grants.policy(Some(alice));
        let other_session = SessionId::parse("s-2").unwrap();
        assert!(policy.pre_approved(&other_session, "rm").await);
        assert!(!policy.pre_approved(&other_session, "curl").await);
        let bob = grants.policy(Some(Owner::new(chat, "bob")));
        assert!(!bob.pre_approved(&other_session, "rm").await);
    }

    #[test]
    fn session_grants_are_bounded() {
        let store = Arc::new(hermod_store::SqliteStore::open_in_memory().unwrap());
        let grants = Grants::new(store, crate::clock::Clock::System);
        let id = |n: usize| SessionId::parse(&format!("s-{n}")).unwrap();
        for n in 0..=SESSIONS_KEPT {
            grants.grant_session(&id(n), "rm");
        }
        grants.grant_session(&id(5), "curl");
        assert!(
            !grants.session_has(&id(0), "rm"),
            "the oldest was forgotten"
        );
        assert!(grants.session_has(&id(1), "rm"));
        assert!(grants.session_has(&id(5), "curl") && grants.session_has(&id(5), "rm"));
        assert!(grants.session_has(&id(SESSIONS_KEPT), "rm"));
        assert_eq!(grants.lock().sessions.len(), SESSIONS_KEPT);
    }
}
