//! [`AdapterState`]: a typed value an adapter keeps between runs — an
//! update offset, a sync token, a gateway session to resume — in the
//! store's settings, under `<platform>:<name>[:<scope>]`.
//!
//! The key is a [`StateKey<T>`], declared once as a constant, so an
//! adapter never formats setting keys by hand and cannot read a value as
//! another type than it wrote. Values are JSON (a number is stored as its
//! digits, so keys written before the kit read the same).

use crate::error::KitError;
use hermod_model::PlatformId;
use hermod_store::Store;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use tracing::warn;

/// The name of a value of type `T` in an adapter's state, optionally
/// narrowed to one account (`scoped`: a bot id, a workspace).
pub struct StateKey<T> {
    name: &'static str,
    scope: Option<String>,
    // `fn() -> T`: the key neither owns nor borrows a `T`.
    value: PhantomData<fn() -> T>,
}

impl<T> StateKey<T> {
    /// `name` is a plain word (`offset`, `resume`): letters, digits, `_`
    /// and `-`, so keys stay readable and cannot collide through `:`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            scope: None,
            value: PhantomData,
        }
    }

    /// The same value kept per account: `<platform>:<name>:<scope>`.
    pub fn scoped(self, scope: impl fmt::Display) -> Self {
        Self {
            scope: Some(scope.to_string()),
            ..self
        }
    }
}

impl<T> Clone for StateKey<T> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            scope: self.scope.clone(),
            value: PhantomData,
        }
    }
}

impl<T> fmt::Debug for StateKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateKey")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .finish()
    }
}

/// One typed value of one adapter's state, in the store.
pub struct AdapterState<T> {
    store: Arc<dyn Store>,
    key: String,
    value: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for AdapterState<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterState")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<T> Clone for AdapterState<T> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            key: self.key.clone(),
            value: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> AdapterState<T> {
    /// `platform`'s value under `key`.
    ///
    /// # Panics
    ///
    /// When the key's name is not a plain word — a programming error in
    /// the adapter's constant, caught by its first test.
    pub fn new(store: Arc<dyn Store>, platform: &PlatformId, key: StateKey<T>) -> Self {
        let StateKey { name, scope, .. } = key;
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "state key names are plain words, not {name:?}"
        );
        let key = match scope {
            Some(scope) => format!("{platform}:{name}:{scope}"),
            None => format!("{platform}:{name}"),
        };
        Self {
            store,
            key,
            value: PhantomData,
        }
    }

    /// The setting's key, for logs.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The saved value, if any.
    pub async fn load(&self) -> Result<Option<T>, KitError> {
        let Some(raw) = self.store.setting(&self.key).await? else {
            return Ok(None);
        };
        serde_json::from_str(raw.trim())
            .map(Some)
            .map_err(|e| KitError::Corrupt {
                key: self.key.clone(),
                reason: e.to_string(),
            })
    }

    /// The saved value, or `None` (with a WARN) when it cannot be read or
    /// the store fails: for cursors, where starting without one only
    /// means fetching again what the inbox then drops as seen.
    pub async fn load_or_warn(&self) -> Option<T> {
        self.load()
            .await
            .inspect_err(|e| warn!(key = %self.key, error = %e, "starting without saved state"))
            .ok()
            .flatten()
    }

    /// Saves `value`, replacing what was there.
    pub async fn save(&self, value: &T) -> Result<(), KitError> {
        let raw = serde_json::to_string(value).map_err(|e| KitError::Corrupt {
            key: self.key.clone(),
            reason: e.to_string(),
        })?;
        self.store
            .set_setting(&self.key, &raw, hermod_core::now_ms())
            .await?;
        Ok(())
    }

    /// Forgets the value (a session that can no longer be resumed).
    /// Returns whether one was saved.
    pub async fn clear(&self) -> Result<bool, KitError> {
        Ok(self.store.delete_setting(&self.key).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_store::SqliteStore;
    use serde::Deserialize;

    const PLATFORM: PlatformId = PlatformId::from_static("demo");
    const OFFSET: StateKey<i64> = StateKey::new("offset");

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Resume {
        session_id: String,
        sequence: u64,
    }

    fn store() -> Arc<dyn Store> {
        Arc::new(SqliteStore::open_in_memory().unwrap())
    }

    #[tokio::test]
    async fn values_round_trip_under_the_platforms_key() {
        let store = store();
        let offset = AdapterState::new(Arc::clone(&store), &PLATFORM, OFFSET.scoped(42));
        assert_eq!(offset.key(), "demo:offset:42");
        assert_eq!(offset.load().await.unwrap(), None);
        offset.save(&1234).await.unwrap();
        assert_eq!(offset.load().await.unwrap(), Some(1234));
        // Stored as its digits: keys written before the kit read the same.
        assert_eq!(
            store.setting("demo:offset:42").await.unwrap().as_deref(),
            Some("1234")
        );
        let resume = AdapterState::new(Arc::clone(&store), &PLATFORM, StateKey::new("resume"));
        let value = Resume {
            session_id: "abc".into(),
            sequence: 7,
        };
        resume.save(&value).await.unwrap();
        assert_eq!(resume.load().await.unwrap(), Some(value));
        assert!(resume.clear().await.unwrap());
        assert_eq!(resume.load().await.unwrap(), None);
        // Another scope is another value.
        let other = AdapterState::new(store, &PLATFORM, OFFSET.scoped(43));
        assert_eq!(other.load().await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_unreadable_value_is_reported_and_loaded_as_none() {
        let store = store();
        store.set_setting("demo:offset", "\"x\"", 0).await.unwrap();
        let offset = AdapterState::new(store, &PLATFORM, OFFSET);
        let err = offset.load().await.unwrap_err();
        assert!(matches!(err, KitError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("demo:offset"), "{err}");
        assert_eq!(offset.load_or_warn().await, None);
    }

    #[test]
    #[should_panic(expected = "plain words")]
    fn names_with_separators_are_refused() {
        let _ = AdapterState::new(store(), &PLATFORM, StateKey::<i64>::new("a:b"));
    }
}
