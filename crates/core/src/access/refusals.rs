//! [`Refusals`]: the log line an operator reads to learn why the bot does
//! not answer someone — a message from a sender who is not allowed, with
//! the platform, user and chat, never the text.
//!
//! A stranger who writes a lot would flood the log, so each sender is
//! logged at most once a minute (tokio's clock).

use hermod_model::{PlatformId, Source};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;
use tracing::info;

/// How often one sender's refused messages are logged.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// When each sender's refusal was last logged. Entries older than
/// [`LOG_EVERY`] are dropped as new ones come, so the map holds only the
/// senders of the last minute.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    logged: Mutex<HashMap<(PlatformId, String), Instant>>,
}

impl Refusals {
    /// Logs (INFO) that a message from `source`'s sender was refused,
    /// unless that sender's last one was logged less than a minute ago.
    pub(crate) fn note(&self, source: &Source) {
        let user = source.user_id.as_deref().unwrap_or("unknown");
        let now = Instant::now();
        {
            let mut logged = self.logged.lock().unwrap_or_else(PoisonError::into_inner);
            let key = (source.platform.clone(), user.to_owned());
            if logged.get(&key).is_some_and(|at| now - *at < LOG_EVERY) {
                return;
            }
            logged.retain(|_, at| now - *at < LOG_EVERY);
            logged.insert(key, now);
        }
        info!(
            platform = %source.platform,
            user,
            chat = source.chat_id.as_deref().unwrap_or("unknown"),
            "refused a message from a user who is not allowed (add them to the allowlist, \
             or approve their pairing code, to let them talk to the agent); further ones \
             from them are not logged for a minute"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::ChatType;

    fn source(user: &str) -> Source {
        let mut source = Source::dm(PlatformId::from_static("test"), user);
        source.chat_type = ChatType::Dm;
        source.user_id = Some(user.to_owned());
        source
    }

    #[tokio::test(start_paused = true)]
    async fn old_entries_are_forgotten() {
        let refusals = Refusals::default();
        refusals.note(&source("a"));
        refusals.note(&source("b"));
        tokio::time::advance(LOG_EVERY).await;
        refusals.note(&source("c"));
        let logged = refusals
            .logged
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        assert_eq!(logged.len(), 1, "{logged:?}");
    }
}
