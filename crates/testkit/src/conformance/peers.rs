//! Ready-made [`Peer`]s: [`TelegramPeer`] over a [`FakeTelegram`], and
//! [`TestPlatformPeer`] over the in-process [`TestPlatform`].

use super::{Peer, Subject};
use crate::platform::{CallKind, TestPlatform};
use crate::telegram::{FakeTelegram, FakeUser, Fault};
use async_trait::async_trait;
use hermod_core::AdapterError;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The Telegram side of the suite: a user (id 4242) writing to the bot of
/// a [`FakeTelegram`]. Works for polling adapters, and for webhook ones:
/// once a webhook is set, what the peer queues is delivered to it.
#[derive(Debug)]
pub struct TelegramPeer {
    fake: FakeTelegram,
    user: FakeUser,
    extra_secrets: Vec<String>,
}

impl TelegramPeer {
    pub fn new(fake: FakeTelegram) -> Self {
        let user = fake.user(4242, "Conformance");
        Self {
            fake,
            user,
            extra_secrets: Vec::new(),
        }
    }

    /// Another string that must stay hidden (the bot token and a webhook's
    /// secret token are checked already).
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.extra_secrets.push(secret.into());
        self
    }

    pub fn fake(&self) -> &FakeTelegram {
        &self.fake
    }

    pub fn user(&self) -> &FakeUser {
        &self.user
    }

    /// Hands queued updates to the webhook, when one is set.
    async fn deliver(&self) {
        if self.fake.webhook().is_some() {
            self.fake.deliver_pending_webhook().await;
        }
    }
}

/// A chat id as the fake records it: a JSON number or string.
fn chat_id_of(params: &Value) -> String {
    match &params["chat_id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[async_trait]
impl Peer for TelegramPeer {
    async fn user_dm(&self, text: &str) -> String {
        self.user.dm(text);
        self.deliver().await;
        self.user.id().to_string()
    }

    async fn rate_limit_next_call(&self, retry_after: Duration) {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        self.fake.fail_next(
            "sendMessage",
            Fault::TooManyRequests {
                retry_after: secs.max(1),
            },
        );
    }

    async fn push_unknown_event(&self) {
        self.fake.push_raw_update(json!({
            "poll": {
                "id": "5123456789012345678",
                "question": "Lunch?",
                "options": [
                    {"text": "Yes", "voter_count": 1},
                    {"text": "No", "voter_count": 0},
                ],
                "total_voter_count": 1,
                "is_closed": false,
                "is_anonymous": true,
                "type": "regular",
                "allows_multiple_answers": false,
            }
        }));
        // A kind newer than any adapter.
        self.fake
            .push_raw_update(json!({"hermod_future_kind": {"id": 7, "note": "from the future"}}));
        self.deliver().await;
    }

    fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![self.fake.token()];
        secrets.extend(self.fake.webhook().and_then(|(_, secret)| secret));
        secrets.extend(self.extra_secrets.iter().cloned());
        secrets
    }

    async fn messages(&self, chat_id: &str) -> Vec<String> {
        let Ok(chat_id) = chat_id.parse() else {
            return Vec::new();
        };
        self.fake
            .bot_messages(chat_id)
            .iter()
            .filter(|m| !m.deleted)
            .map(|m| m.current_text().to_owned())
            .collect()
    }

    async fn edit_arrivals(&self, chat_id: &str) -> Option<Vec<Instant>> {
        let arrivals = self
            .fake
            .calls_of("editMessageText")
            .into_iter()
            .filter(|call| chat_id_of(&call.params) == chat_id)
            .map(|call| call.at)
            .collect();
        Some(arrivals)
    }

    async fn wait_until_receiving(&self) {
        self.fake.wait_for_receiver().await;
    }
}

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
        self.platform
            .sent(chat_id)
            .iter()
            .filter(|m| !m.deleted)
            .map(|m| m.current_text().to_owned())
            .collect()
    }

    async fn edit_arrivals(&self, chat_id: &str) -> Option<Vec<Instant>> {
        let arrivals = self
            .platform
            .calls()
            .into_iter()
            .filter(|c| c.kind == CallKind::Edit && c.chat_id == chat_id)
            .map(|c| c.at)
            .collect();
        Some(arrivals)
    }

    async fn wait_until_receiving(&self) {
        self.platform.wait_running().await;
    }
}
