//! A session's own choices for its turns: a personality (a system prompt
//! preset, `/personality`) and a reasoning effort (`/reasoning`). Kept in
//! the store's settings under the session's id, so they last as long as
//! the session (a `/new` session starts without them) and survive restarts.

use crate::config::{ContextConfig, REASONING_LEVELS};
use hermod_model::SessionId;
use hermod_store::{Store, StoreError};

fn personality_key(session: &SessionId) -> String {
    format!("personality:{session}")
}

fn reasoning_key(session: &SessionId) -> String {
    format!("reasoning:{session}")
}

/// The session's personality, if it chose one.
pub(crate) async fn personality(
    store: &dyn Store,
    session: &SessionId,
) -> Result<Option<String>, StoreError> {
    store.setting(&personality_key(session)).await
}

/// Sets (`Some`, a name) or clears the session's personality.
pub(crate) async fn set_personality(
    store: &dyn Store,
    session: &SessionId,
    name: Option<&str>,
    at_ms: i64,
) -> Result<(), StoreError> {
    let key = personality_key(session);
    match name {
        Some(name) => store.set_setting(&key, name, at_ms).await,
        None => store.delete_setting(&key).await.map(drop),
    }
}

/// The reasoning effort the session chose, if it chose one.
pub(crate) async fn reasoning(
    store: &dyn Store,
    session: &SessionId,
) -> Result<Option<String>, StoreError> {
    Ok(store
        .setting(&reasoning_key(session))
        .await?
        .filter(|level| REASONING_LEVELS.contains(&level.as_str())))
}

/// Sets (`Some`, a level) or clears the session's reasoning effort.
pub(crate) async fn set_reasoning(
    store: &dyn Store,
    session: &SessionId,
    level: Option<&str>,
    at_ms: i64,
) -> Result<(), StoreError> {
    let key = reasoning_key(session);
    match level {
        Some(level) => store.set_setting(&key, level, at_ms).await,
        None => store.delete_setting(&key).await.map(drop),
    }
}

/// What a session's turns are sent besides the conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Presets {
    /// The personality's prompt, added to the system prompt.
    pub(crate) personality_prompt: Option<String>,
    /// The session's effort, else the configured default.
    pub(crate) reasoning_effort: Option<String>,
}

impl Presets {
    /// A session's presets (none for a session the store does not have).
    pub(crate) async fn of(
        store: &dyn Store,
        config: &ContextConfig,
        session: &SessionId,
    ) -> Result<Self, StoreError> {
        // A personality removed from the configuration since is dropped.
        let personality_prompt = personality(store, session)
            .await?
            .and_then(|name| config.personalities().get(&name).map(|p| p.prompt()))
            .filter(|prompt| !prompt.is_empty());
        let reasoning_effort = reasoning(store, session)
            .await?
            .or_else(|| config.reasoning_effort.clone());
        Ok(Self {
            personality_prompt,
            reasoning_effort,
        })
    }

    /// The turn's system prompt: the source's, then the personality's.
    pub(crate) fn system_prompt(&self, from_source: Option<&str>) -> Option<String> {
        let parts: Vec<&str> = [from_source, self.personality_prompt.as_deref()]
            .into_iter()
            .flatten()
            .filter(|p| !p.trim().is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join("\n\n"))
    }
}
