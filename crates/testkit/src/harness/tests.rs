//! The harness around the in-process [`TestPlatform`] and an adapter whose
//! credentials are refused.

use super::*;
use crate::{ScriptedAgent, SentMessage, Step, TestPlatform};
use async_trait::async_trait;
use hermod_core::{
    Adapter, AdapterContext, AdapterError, ComponentState, Messenger, StreamingConfig,
};
use hermod_model::{Capabilities, PlatformId};
use hermod_store::Store;
use std::future::pending;
use std::time::Duration;

/// An adapter whose platform refuses its credentials at once.
#[derive(Debug, Clone)]
struct Refused;

#[async_trait]
impl Adapter for Refused {
    fn id(&self) -> PlatformId {
        PlatformId::from_static("refused")
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn run(&self, _ctx: AdapterContext) -> Result<(), AdapterError> {
        Err(AdapterError::Auth("the token was refused".into()))
    }

    fn messenger(&self) -> Option<&dyn Messenger> {
        None
    }
}

#[tokio::test]
async fn a_started_gateway_lets_anyone_talk_keeps_its_work_in_the_home_and_stops() {
    let home = TestHome::new();
    let platform = TestPlatform::new("harnessed");
    let running = home
        .gateway(ScriptedAgent::echo())
        .start(platform.clone())
        .await;
    running.connected().await;
    assert_eq!(running.state(), Some(ComponentState::Running));

    platform.user("ann").dm("hello").await.unwrap();
    let answer = platform.wait_for("ann", finished(1, SentMessage::current_text));
    let answer = within("the answer", answer).await;
    assert_eq!(answer[0].current_text(), "echo: hello (0 earlier)");
    home.drained().await;
    let sessions = home.store.list_sessions(Default::default()).await.unwrap();
    assert_eq!(sessions.len(), 1, "the conversation is in the home's store");

    running.stop().await;
    assert!(!platform.is_running(), "the gateway stopped its adapter");
}

#[tokio::test]
async fn failed_waits_for_the_reason_the_gateway_gives() {
    let home = TestHome::new();
    let running = home.gateway(ScriptedAgent::echo()).start(Refused).await;
    let reason = running.failed().await;
    assert!(reason.contains("the token was refused"), "{reason}");
    running.stop().await;
}

#[tokio::test]
async fn drained_waits_for_the_reply_to_be_delivered() {
    let home = TestHome::new();
    let platform = TestPlatform::new("harnessed");
    let agent = ScriptedAgent::scripted(|_| vec![Step::Text("done".into())]);
    // Not streamed: the whole reply is one delivery from the outbox.
    let running = home
        .gateway(agent)
        .streaming(StreamingConfig {
            enabled: false,
            ..StreamingConfig::default()
        })
        .start(platform.clone())
        .await;
    platform.hold();
    platform.user("bea").dm("hello").await.unwrap();
    within("the reply to be held", platform.wait_for_held(1)).await;

    // Only a negative check waits a fixed time: a slow machine makes it
    // weaker, never wrong.
    let mut drained = std::pin::pin!(home.drained());
    let early = tokio::time::timeout(Duration::from_millis(300), &mut drained).await;
    assert!(early.is_err(), "drained while a reply was held back");
    platform.release();
    drained.await;
    assert_eq!(platform.sent("bea").len(), 1);
    running.stop().await;
}

#[tokio::test]
async fn a_direct_adapter_submits_to_a_gateway_that_never_runs() {
    let home = TestHome::new();
    let platform = TestPlatform::new("harnessed");
    let direct = home.gateway(ScriptedAgent::echo()).direct(platform.clone());
    let run = direct.spawn();
    within("run to start", platform.wait_running()).await;
    platform.user("cy").dm("direct").await.unwrap();
    let answer = platform.wait_for("cy", finished(1, SentMessage::current_text));
    let answer = within("the answer", answer).await;
    assert_eq!(answer[0].current_text(), "echo: direct (0 earlier)");

    direct.health().degraded("harnessed", "slow platform");
    assert_eq!(direct.degraded_reason(), "slow platform");
    direct.ctx.shutdown.cancel();
    assert_eq!(within("run to return", run).await.unwrap(), Ok(()));
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "timed out after 30s waiting for nothing")]
async fn within_names_what_never_came() {
    within("nothing", pending::<()>()).await;
}

#[test]
fn a_reply_is_finished_when_enough_messages_show_no_cursor() {
    let done = finished(2, String::as_str);
    assert!(done(&["one".into(), "two".into()]));
    assert!(!done(&["one".into()]), "too few");
    assert!(!done(&["one".into(), "tw ▉".into()]), "still streaming");
    assert_eq!(texts(&["a".to_owned()], String::as_str), ["a"]);
}
