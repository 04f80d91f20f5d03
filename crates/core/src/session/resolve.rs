//! Which session a message belongs to: the one the source pinned, or the
//! routing key's current session, replaced by a fresh one when the reset
//! policy says so.

use crate::error::CoreError;
use crate::hooks::{self, HookEvent};
use crate::session::reset::{self, ResetReason};
use crate::session::worker::WorkerDeps;
use hermod_model::{InboundEvent, SessionId, SessionKey};
use hermod_store::{NewSession, SessionRecord, Store, StoreError};
use tracing::debug;

/// The session a turn runs in.
pub(crate) struct Resolved {
    pub(crate) id: SessionId,
    /// Created for this message.
    pub(crate) fresh: bool,
    pub(crate) model_override: Option<String>,
    /// The previous session was reset; tell the user.
    pub(crate) reset: Option<ResetReason>,
}

/// The current session of a routing key (not ended), if any.
pub(crate) async fn latest_session(
    store: &dyn Store,
    key: &SessionKey,
) -> Result<Option<SessionRecord>, StoreError> {
    let Some(id) = store.route(key).await? else {
        return Ok(None);
    };
    Ok(store
        .session(&id)
        .await?
        .filter(|r| r.ended_at_ms.is_none()))
}

/// Finds the session an event belongs to, creating it when needed, and
/// applies the reset policy to routed sessions.
pub(crate) async fn resolve(
    deps: &WorkerDeps,
    key: &SessionKey,
    event: &InboundEvent,
) -> Result<Resolved, CoreError> {
    let store = deps.store.as_ref();
    if let Some(requested) = &event.session_id {
        if let Some(record) = store.session(requested).await? {
            return Ok(Resolved {
                id: record.id,
                fresh: false,
                model_override: record.model_override,
                reset: None,
            });
        }
        return create(deps, requested.clone(), key, event, false, None).await;
    }
    let now = deps.clock.now_ms();
    let mut reset = None;
    if let Some(record) = latest_session(store, key).await? {
        let policy = deps
            .config
            .reset_policy(&event.source.platform, &event.source.chat_type);
        match reset::due(&policy, record.updated_at_ms, now, &deps.timezone) {
            None => {
                return Ok(Resolved {
                    id: record.id,
                    fresh: false,
                    model_override: record.model_override,
                    reset: None,
                });
            }
            Some(reason) => {
                store.end_session(&record.id, reason.as_str(), now).await?;
                debug!(session = %record.id, reason = reason.as_str(), "session reset");
                for name in [hooks::SESSION_END, hooks::SESSION_RESET] {
                    deps.hooks.emit(
                        HookEvent::about(name, &event.source)
                            .with("session_id", record.id.as_str())
                            .with("reason", reason.as_str()),
                    );
                }
                reset = Some(reason);
            }
        }
    }
    create(deps, deps.clock.new_session_id(), key, event, true, reset).await
}

async fn create(
    deps: &WorkerDeps,
    id: SessionId,
    key: &SessionKey,
    event: &InboundEvent,
    route: bool,
    reset: Option<ResetReason>,
) -> Result<Resolved, CoreError> {
    let now = deps.clock.now_ms();
    let new = NewSession {
        id: id.clone(),
        key: key.clone(),
        source: event.source.clone(),
        created_at_ms: now,
    };
    let fresh = match deps.store.create_session(new).await {
        Ok(_) => true,
        // Created concurrently under the same id by another worker: continue it.
        Err(StoreError::Conflict(_)) => false,
        Err(e) => return Err(e.into()),
    };
    if route {
        deps.store.set_route(key, &id, now).await?;
    }
    if fresh {
        deps.hooks.emit(
            HookEvent::about(hooks::SESSION_START, &event.source)
                .with("session_id", id.as_str())
                .with("session_key", key.as_str()),
        );
    }
    Ok(Resolved {
        id,
        fresh,
        model_override: None,
        reset,
    })
}
