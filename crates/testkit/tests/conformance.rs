//! Runs the adapter conformance suite against [`TestPlatform`] (which
//! passes with splitting and edit pacing on), and shows that each check
//! catches the failure it is about.

#![cfg(feature = "platform")]

use async_trait::async_trait;
use hermod_core::{Adapter, AdapterContext, AdapterError, Messenger};
use hermod_model::{Capabilities, Edit, LengthUnit, MessageRef, Outbound, PlatformId, Sent};
use hermod_testkit::TestPlatform;
use hermod_testkit::conformance::{self, Peer, Subject, TestPlatformPeer};
use std::sync::Arc;
use std::time::Duration;

/// Short limits and intervals, so the suite runs fast.
fn capabilities() -> Capabilities {
    Capabilities {
        max_message_len: 300,
        length_unit: LengthUnit::Utf16,
        min_edit_interval: Duration::from_millis(200),
        ..TestPlatform::default_capabilities()
    }
}

async fn test_platform() -> Subject {
    TestPlatformPeer::subject(TestPlatform::with_capabilities(
        "conformance",
        capabilities(),
    ))
}

hermod_testkit::adapter_conformance_tests!(test_platform());

/// A [`TestPlatform`] with one behaviour broken.
struct Broken {
    platform: TestPlatform,
    fault: Fault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Logs the peer's secret on every send.
    LeaksSecret,
    /// Turns rate limits into transient failures.
    HidesRateLimits,
    /// Keeps running after shutdown.
    IgnoresShutdown,
    /// Has no messenger, as if it only answered requests.
    NoMessenger,
}

const LEAKED: &str = "leaked-secret-1234";

#[async_trait]
impl Adapter for Broken {
    fn id(&self) -> PlatformId {
        self.platform.id()
    }

    fn capabilities(&self) -> Capabilities {
        self.platform.capabilities()
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        let result = self.platform.run(ctx).await;
        if self.fault == Fault::IgnoresShutdown {
            std::future::pending::<()>().await;
        }
        result
    }

    fn messenger(&self) -> Option<&dyn Messenger> {
        (self.fault != Fault::NoMessenger).then_some(self as &dyn Messenger)
    }
}

#[async_trait]
impl Messenger for Broken {
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        if self.fault == Fault::LeaksSecret {
            tracing::debug!(token = LEAKED, "sending");
        }
        match self.platform.send(message).await {
            Err(AdapterError::RateLimited { .. }) if self.fault == Fault::HidesRateLimits => {
                Err(AdapterError::Transient("try again".into()))
            }
            other => other,
        }
    }

    async fn edit(&self, edit: Edit) -> Result<(), AdapterError> {
        self.platform.edit(edit).await
    }

    async fn delete(&self, message: MessageRef) -> Result<(), AdapterError> {
        self.platform.delete(message).await
    }
}

/// The [`TestPlatformPeer`] with [`LEAKED`] as its secret.
struct LeakWatcher(TestPlatformPeer);

#[async_trait]
impl Peer for LeakWatcher {
    async fn user_dm(&self, text: &str) -> String {
        self.0.user_dm(text).await
    }

    async fn rate_limit_next_call(&self, retry_after: Duration) {
        self.0.rate_limit_next_call(retry_after).await;
    }

    async fn push_unknown_event(&self) {}

    fn secrets(&self) -> Vec<String> {
        vec![LEAKED.to_owned()]
    }

    async fn messages(&self, chat_id: &str) -> Vec<String> {
        self.0.messages(chat_id).await
    }

    async fn wait_until_receiving(&self) {
        self.0.wait_until_receiving().await;
    }
}

/// A conformant [`TestPlatform`] except for `fault`.
async fn broken(fault: Fault) -> Subject {
    let platform = TestPlatform::with_capabilities("broken", capabilities());
    let Subject { peer, .. } = TestPlatformPeer::subject(platform.clone());
    let peer: Arc<dyn Peer> = match fault {
        Fault::LeaksSecret => Arc::new(LeakWatcher(TestPlatformPeer::new(platform.clone()))),
        _ => peer,
    };
    Subject {
        adapter: Arc::new(Broken { platform, fault }),
        peer,
    }
}

/// A [`TestPlatform`] as it is by default: refusing long texts and
/// editing without pacing.
async fn plain() -> Subject {
    let platform = TestPlatform::with_capabilities("plain", capabilities());
    Subject {
        adapter: platform.adapter(),
        peer: Arc::new(TestPlatformPeer::new(platform)),
    }
}

#[tokio::test]
#[should_panic(expected = "sending")]
async fn refusing_long_texts_fails_the_split_check() {
    conformance::long_texts_are_split_within_the_limit(plain()).await;
}

#[tokio::test]
#[should_panic(expected = "min_edit_interval")]
async fn unpaced_edits_fail_the_interval_check() {
    conformance::edits_keep_the_minimum_interval(plain()).await;
}

#[tokio::test]
#[should_panic(expected = "shows secret #0")]
async fn a_logged_secret_fails_the_secret_check() {
    conformance::secrets_stay_hidden(broken(Fault::LeaksSecret)).await;
}

#[tokio::test]
#[should_panic(expected = "shows secret #0")]
async fn a_logged_secret_fails_every_check() {
    conformance::sends_report_every_message_id(broken(Fault::LeaksSecret)).await;
}

#[tokio::test]
#[should_panic(expected = "expected RateLimited")]
async fn a_hidden_rate_limit_fails_the_rate_limit_check() {
    conformance::rate_limits_are_surfaced(broken(Fault::HidesRateLimits)).await;
}

#[tokio::test]
#[should_panic(expected = "did not return within 1s")]
async fn ignoring_shutdown_fails_the_run_check() {
    conformance::run_stops_within_a_second_of_shutdown(broken(Fault::IgnoresShutdown)).await;
}

#[tokio::test]
#[should_panic(expected = "a chat adapter must have a messenger")]
async fn a_chat_adapter_without_a_messenger_fails_every_check() {
    conformance::sends_report_every_message_id(broken(Fault::NoMessenger)).await;
}

#[tokio::test]
async fn splitting_and_pacing_are_off_by_default() {
    let platform = TestPlatform::with_capabilities("defaults", capabilities());
    let long = Outbound {
        target: hermod_model::ChatTarget {
            chat_id: "a".into(),
            thread_id: None,
        },
        text: "x ".repeat(200),
        reply_to: None,
        attachments: Vec::new(),
        idempotency_key: None,
    };
    assert_eq!(
        platform.send(long.clone()).await,
        Err(AdapterError::TooLong)
    );
    platform.split_long_texts(true);
    let sent = platform.send(long).await.unwrap();
    assert_eq!(sent.message_ids, ["1", "2"]);
    assert_eq!(platform.sent("a")[1].reply_to, None);
}
