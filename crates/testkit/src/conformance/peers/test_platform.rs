//! [`TestPlatformPeer`]: the suite's user on the in-process
//! [`TestPlatform`].

use super::{arrivals, shown};
use crate::conformance::{Peer, Subject};
use crate::platform::{CallKind, SentMessage, TestPlatform};
use async_trait::async_trait;
use hermod_core::AdapterError;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The user id (and DM chat id) [`TestPlatformPeer`] writes as.
const TEST_USER: &str = "conformance-user";

/// The [`TestPlatform`] side of the suite. The platform is in-process, so
/// there are no unknown events to push, and its one "secret" is a string
/// nothing ever uses.
#[derive(Debug, Clone)]
pub struct TestPlatformPeer {
    platform: TestPlatform,
}

impl TestPlatformPeer {
    pub fn new(platform: TestPlatform) -> Self {
        Self { platform }
    }

    /// `platform` with what the suite expects of an adapter turned on
    /// (splitting long texts, pacing edits), and its peer.
    pub fn subject(platform: TestPlatform) -> Subject {
        platform.split_long_texts(true);
        platform.pace_edits(true);
        Subject {
            adapter: platform.adapter(),
            peer: Arc::new(Self::new(platform)),
        }
    }
}

#[async_trait]
impl Peer for TestPlatformPeer {
    async fn user_dm(&self, text: &str) -> String {
        self.platform
            .user(TEST_USER)
            .dm(text)
            .await
            .unwrap_or_else(|e| panic!("the gateway refused a DM: {e}"));
        TEST_USER.to_owned()
    }

    async fn rate_limit_next_call(&self, retry_after: Duration) {
        self.platform.fail_next_send(AdapterError::RateLimited {
            retry_after: Some(retry_after),
        });
    }

    async fn push_unknown_event(&self) {}

    fn secrets(&self) -> Vec<String> {
        vec!["test-platform-secret-never-used".to_owned()]
    }

    async fn messages(&self, chat_id: &str) -> Vec<String> {
        let messages = self.platform.sent(chat_id);
        shown(&messages, |m| m.deleted, SentMessage::current_text)
    }

    async fn edit_arrivals(&self, chat_id: &str) -> Option<Vec<Instant>> {
        arrivals(
            self.platform.calls(),
            |c| c.kind == CallKind::Edit && c.chat_id == chat_id,
            |c| c.at,
        )
    }

    async fn wait_until_receiving(&self) {
        self.platform.wait_running().await;
    }
}
