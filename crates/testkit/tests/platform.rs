//! Exercises [`TestPlatform`]: its adapter methods on their own, and a real
//! gateway (SQLite in memory, the LLM agent against the fake LLM) driven
//! through it.

#![cfg(feature = "platform")]

use hermod_agent::{LlmAgent, LlmConfig, ToolRegistry};
use hermod_core::{Adapter, AdapterError, CoreError, Gateway, GatewayConfig, Messenger};
use hermod_model::{Capabilities, ChatTarget, ChatType, Edit, MessageRef, Outbound, PlatformId};
use hermod_store::SqliteStore;
use hermod_testkit::{FakeLlm, SentMessage, TestPlatform};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn outbound(chat: &str, thread: Option<&str>, text: &str) -> Outbound {
    Outbound {
        target: ChatTarget {
            chat_id: chat.into(),
            thread_id: thread.map(str::to_owned),
        },
        text: text.into(),
        reply_to: None,
        attachments: Vec::new(),
        idempotency_key: None,
    }
}

fn message(chat: &str, id: &str) -> MessageRef {
    MessageRef {
        target: ChatTarget {
            chat_id: chat.into(),
            thread_id: None,
        },
        message_id: id.into(),
    }
}

fn edit(chat: &str, id: &str, text: &str) -> Edit {
    Edit {
        message: message(chat, id),
        text: text.into(),
    }
}

#[tokio::test]
async fn sends_edits_and_deletes_are_recorded_per_chat() {
    let platform = TestPlatform::new("test");
    assert_eq!(platform.id(), PlatformId::from_static("test"));
    let caps = platform.capabilities();
    assert!(caps.can_edit && caps.can_delete);
    assert_eq!((caps.max_message_len, caps.command_prefix), (4096, '/'));

    let first = platform.send(outbound("a", None, "one")).await.unwrap();
    let second = platform
        .send(outbound("b", Some("t"), "two"))
        .await
        .unwrap();
    let third = platform.send(outbound("a", None, "three")).await.unwrap();
    assert_eq!(first.message_ids, ["1"]);
    assert_eq!(second.message_ids, ["2"]);
    assert_eq!(third.message_ids, ["3"]);
    assert_eq!(platform.next_message_id(), "4", "one sequence per platform");

    platform.edit(edit("a", "1", "one, edited")).await.unwrap();
    platform.edit(edit("a", "1", "one, again")).await.unwrap();
    platform.delete(message("a", "3")).await.unwrap();

    let a = platform.sent("a");
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].text, "one");
    assert_eq!(a[0].edits, ["one, edited", "one, again"]);
    assert_eq!(a[0].current_text(), "one, again");
    assert!(a[1].deleted);
    assert_eq!(
        platform.sent("b"),
        [SentMessage {
            id: "2".into(),
            chat_id: "b".into(),
            thread_id: Some("t".into()),
            text: "two".into(),
            reply_to: None,
            edits: Vec::new(),
            deleted: false,
            attachments: Vec::new(),
        }]
    );
    assert_eq!(platform.sent_in_thread("b", "t").len(), 1);
    assert!(platform.sent_in_thread("b", "other").is_empty());
    let order: Vec<String> = platform.all_sent().into_iter().map(|m| m.id).collect();
    assert_eq!(order, ["1", "2", "3"]);
    assert_eq!(platform.send_attempts(), 3);
}

#[tokio::test]
async fn it_refuses_what_a_real_platform_would() {
    let platform = TestPlatform::new("test");
    let too_long = "x".repeat(4097);
    assert_eq!(
        platform.send(outbound("a", None, &too_long)).await,
        Err(AdapterError::TooLong)
    );
    assert!(matches!(
        platform.send(outbound("a", None, " \n")).await,
        Err(AdapterError::Rejected(_))
    ));
    assert!(
        platform
            .send(outbound("a", None, &"x".repeat(4096)))
            .await
            .is_ok()
    );
    assert!(matches!(
        platform.edit(edit("a", "99", "x")).await,
        Err(AdapterError::NotFound(_))
    ));
    assert!(matches!(
        platform.edit(edit("other-chat", "1", "x")).await,
        Err(AdapterError::NotFound(_))
    ));
    platform.delete(message("a", "1")).await.unwrap();
    assert!(matches!(
        platform.delete(message("a", "1")).await,
        Err(AdapterError::NotFound(_))
    ));
    assert!(matches!(
        platform.edit(edit("a", "1", "x")).await,
        Err(AdapterError::NotFound(_))
    ));

    let read_only = TestPlatform::with_capabilities("ro", Capabilities::default());
    read_only.send(outbound("a", None, "hi")).await.unwrap();
    assert!(matches!(
        read_only.edit(edit("a", "1", "x")).await,
        Err(AdapterError::Unsupported(_))
    ));
    assert!(matches!(
        read_only.delete(message("a", "1")).await,
        Err(AdapterError::Unsupported(_))
    ));
}

#[tokio::test]
async fn injected_failures_come_in_order() {
    let platform = TestPlatform::new("test");
    platform.fail_next_send(AdapterError::Transient("flaky".into()));
    platform.fail_next_send(AdapterError::Auth("revoked".into()));
    platform.fail_next_edit(AdapterError::NotFound("gone".into()));
    assert_eq!(
        platform.send(outbound("a", None, "1")).await,
        Err(AdapterError::Transient("flaky".into()))
    );
    assert_eq!(
        platform.send(outbound("a", None, "2")).await,
        Err(AdapterError::Auth("revoked".into()))
    );
    let sent = platform.send(outbound("a", None, "3")).await.unwrap();
    assert_eq!(sent.message_ids, ["1"], "failed sends use no id");
    assert_eq!(
        platform.edit(edit("a", "1", "x")).await,
        Err(AdapterError::NotFound("gone".into()))
    );
    platform.edit(edit("a", "1", "x")).await.unwrap();
    assert_eq!(platform.send_attempts(), 3);
    assert_eq!(platform.all_sent().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn rate_limits_follow_the_tokio_clock() {
    let platform = TestPlatform::new("test");
    platform.rate_limit_for(Duration::from_secs(10));
    tokio::time::advance(Duration::from_secs(4)).await;
    assert_eq!(
        platform.send(outbound("a", None, "x")).await,
        Err(AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(6))
        })
    );
    assert!(matches!(
        platform.edit(edit("a", "1", "x")).await,
        Err(AdapterError::RateLimited { .. })
    ));
    tokio::time::advance(Duration::from_secs(6)).await;
    assert!(platform.send(outbound("a", None, "x")).await.is_ok());

    platform.rate_limit_for(Duration::from_secs(60));
    platform.clear_rate_limit();
    assert!(platform.send(outbound("a", None, "y")).await.is_ok());
}

#[tokio::test]
async fn waiting_is_woken_by_sends_and_edits() {
    let platform = TestPlatform::new("test");
    let waiter = {
        let platform = platform.clone();
        tokio::spawn(async move { platform.wait_for_messages("a", 2).await })
    };
    let edited = {
        let platform = platform.clone();
        tokio::spawn(async move { platform.wait_for_text("a", |t| t == "done").await })
    };
    let attempts = {
        let platform = platform.clone();
        tokio::spawn(async move { platform.wait_for_send_attempts(3).await })
    };
    platform.send(outbound("a", None, "first")).await.unwrap();
    platform
        .send(outbound("b", None, "elsewhere"))
        .await
        .unwrap();
    platform.send(outbound("a", None, "second")).await.unwrap();
    let messages = waiter.await.unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].text, "second");
    attempts.await.unwrap();

    platform.edit(edit("a", "1", "done")).await.unwrap();
    assert_eq!(edited.await.unwrap().id, "1");
    let both = platform
        .wait_for("a", |m| m.iter().any(|m| !m.edits.is_empty()))
        .await;
    assert_eq!(both.len(), 2);
}

/// A gateway with the platform, an in-memory store and the LLM agent
/// against `fake`.
fn gateway(platform: &TestPlatform, fake: &FakeLlm) -> (Gateway, CancellationToken) {
    let store = Arc::new(SqliteStore::open_in_memory().expect("an in-memory store"));
    let agent = Arc::new(LlmAgent::new(
        LlmConfig::new(fake.base_url(), "test-model"),
        ToolRegistry::new(),
    ));
    let config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    let gateway = Gateway::builder(store, agent, config)
        .adapter(platform.adapter())
        .build()
        .expect("the gateway builds");
    (gateway, CancellationToken::new())
}

#[tokio::test]
async fn a_dm_gets_its_reply_through_the_gateway() {
    let fake = FakeLlm::start().await;
    let platform = TestPlatform::new("test");
    let (gateway, shutdown) = gateway(&platform, &fake);
    let running = tokio::spawn(gateway.run(shutdown.clone()));
    platform.wait_running().await;
    assert!(platform.is_running());
    assert!(platform.inbound().is_some());

    let alice = platform.user("alice");
    let asked = alice.dm("hello").await.unwrap();
    let reply = platform
        .wait_for_text("alice", |t| t == "echo: hello")
        .await;
    assert_eq!(reply.reply_to.as_deref(), Some(asked.as_str()));
    assert_eq!(reply.thread_id, None);
    assert!(reply.id.parse::<u64>().unwrap() > asked.parse::<u64>().unwrap());

    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    let user = sent[0].messages().last().cloned().unwrap();
    assert_eq!(user["content"], "hello");

    shutdown.cancel();
    platform.wait_stopped().await;
    running.await.unwrap();
    assert!(!platform.is_running());
    assert_eq!(alice.dm("anyone?").await, Err(CoreError::ShuttingDown));
}

#[tokio::test]
async fn groups_and_threads_are_answered_where_they_were_asked() {
    let fake = FakeLlm::start().await;
    let platform = TestPlatform::new("test");
    let (gateway, shutdown) = gateway(&platform, &fake);
    let running = tokio::spawn(gateway.run(shutdown.clone()));

    // Users may write before the gateway runs the platform: they wait.
    let bob = platform.user("bob").named("Bob B.");
    assert_eq!(bob.name(), "Bob B.");
    let event = bob.thread_event("g1", "t1", "x");
    assert_eq!(event.source.chat_type, ChatType::Thread);
    assert_eq!(event.source.user_id.as_deref(), Some("bob"));
    assert_eq!(event.source.user_name.as_deref(), Some("Bob B."));

    bob.say_in_group("g1", "in the group").await.unwrap();
    platform
        .wait_for_text("g1", |t| t == "echo: in the group")
        .await;
    bob.say_in_thread("g1", "t1", "in the thread")
        .await
        .unwrap();
    let reply = platform
        .wait_for_text("g1", |t| t == "echo: in the thread")
        .await;
    assert_eq!(reply.thread_id.as_deref(), Some("t1"));
    assert_eq!(platform.sent_in_thread("g1", "t1"), [reply]);
    assert_eq!(platform.wait_for_messages("g1", 2).await.len(), 2);
    assert!(platform.sent("bob").is_empty(), "no DM was written");

    let sent = bob.send(bob.dm_event("direct")).await.unwrap();
    let reply = platform.wait_for_text("bob", |t| t == "echo: direct").await;
    assert_eq!(reply.reply_to, Some(sent));
    assert_eq!(platform.all_sent().len(), 3);

    shutdown.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn a_failed_delivery_is_recorded_as_an_attempt() {
    let fake = FakeLlm::start().await;
    let platform = TestPlatform::new("test");
    let (gateway, shutdown) = gateway(&platform, &fake);
    let running = tokio::spawn(gateway.run(shutdown.clone()));
    platform.fail_next_send(AdapterError::Rejected("chat is read-only".into()));

    platform.user("carol").dm("hi").await.unwrap();
    platform.wait_for_send_attempts(1).await;
    platform.user("carol").dm("again").await.unwrap();
    platform
        .wait_for_text("carol", |t| t == "echo: again")
        .await;
    assert!(platform.send_attempts() >= 2);

    shutdown.cancel();
    running.await.unwrap();
}
