//! Sending: long replies split within 4096 characters with the Markdown
//! kept, a resent reply replacing its notification, and notify services.

use crate::fake::MESSAGE_EVENT;
use crate::support::{World, notifications, subscribed, texts, within};
use hermod_core::{AdapterError, Messenger};
use hermod_testkit::ScriptedAgent;
use hermod_testkit::agent::Step;
use hermod_testkit::harness::outbound;
use serde_json::json;

#[tokio::test]
async fn a_long_markdown_reply_is_split_within_4096_characters() {
    let world = World::new().await;
    let paragraph = "**Heating** is on in the *hall* 🔥 and the windows are closed. ";
    let reply = format!("{} The end.", paragraph.repeat(200));
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(reply.clone())]);
    let running = world.start(agent).await;
    subscribed(&world, 1).await;
    world
        .fake
        .fire(MESSAGE_EVENT, &json!({"text": "status report"}));
    let pieces = within("a split reply", async {
        loop {
            let all = world.fake.wait_for_notifications(1).await;
            if all.iter().any(|n| n.message.contains("The end.")) {
                return all;
            }
            world.fake.wait_for_notifications(all.len() + 1).await;
        }
    })
    .await;
    assert!(pieces.len() >= 3, "{} pieces", pieces.len());
    for piece in &pieces {
        let chars = piece.message.chars().count();
        assert!(chars <= 4096, "a notification of {chars} characters");
        assert!(piece.message.contains("**Heating**"), "Markdown is kept");
    }
    let words: usize = texts(&pieces)
        .iter()
        .map(|t| t.matches("Heating").count())
        .sum();
    assert_eq!(words, 200, "no paragraph lost");
    running.stop().await;
}

#[tokio::test]
async fn a_reply_sent_again_replaces_its_notification() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    let messenger: &dyn Messenger = &running.adapter;
    let first = messenger
        .send(outbound("ha_events", "The alarm is armed."))
        .await
        .unwrap();
    // The outbox sending it again after a crash: the same notification.
    let again = messenger
        .send(outbound("ha_events", "The alarm is armed."))
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(world.fake.notifications().len(), 1);
    messenger
        .send(outbound("ha_events", "The alarm is disarmed."))
        .await
        .unwrap();
    assert_eq!(
        texts(&notifications(&world, 2).await),
        ["The alarm is armed.", "The alarm is disarmed."]
    );
    running.stop().await;
}

#[tokio::test]
async fn a_notify_chat_pushes_plain_text_through_that_service() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    let messenger: &dyn Messenger = &running.adapter;
    let sent = messenger
        .send(outbound("notify.fake_phone", "**Dinner** is _ready_"))
        .await
        .unwrap();
    assert_eq!(sent.message_ids.len(), 1);
    let calls = world.fake.calls();
    let call = calls.last().unwrap();
    assert_eq!(
        (call.domain.as_str(), call.service.as_str()),
        ("notify", "fake_phone")
    );
    assert_eq!(
        call.data,
        json!({"title": "Hermes Agent", "message": "Dinner is ready"})
    );
    assert!(world.fake.notifications().is_empty());
    // A notify message is no notification: it cannot be dismissed.
    let deleted = messenger
        .delete(hermod_testkit::harness::message_ref(
            "notify.fake_phone",
            &sent.message_ids[0],
        ))
        .await;
    assert!(
        matches!(deleted, Err(AdapterError::Unsupported(_))),
        "{deleted:?}"
    );
    // A service Home Assistant does not have: refused, not retried.
    let missing = messenger
        .send(outbound("notify.no_such_phone", "hello"))
        .await;
    assert!(
        matches!(missing, Err(AdapterError::Rejected(_))),
        "{missing:?}"
    );
    running.stop().await;
}

#[tokio::test]
async fn scheduled_output_to_the_home_channel_becomes_a_notification() {
    use hermod_model::DeliveryTarget;
    let world = World::new().await;
    let direct = world.direct(world.config());
    let run = direct.spawn();
    subscribed(&world, 1).await;
    // An automation makes the events chat the home channel, as a user
    // would send /sethome in a chat.
    world.fake.fire(MESSAGE_EVENT, &json!({"text": "/sethome"}));
    let confirmed = notifications(&world, 1).await;
    assert!(
        confirmed[0].message.to_lowercase().contains("home"),
        "{confirmed:?}"
    );
    let home = DeliveryTarget::Home {
        platform: hermod_homeassistant::PLATFORM,
    };
    let receipt = within(
        "the delivery",
        direct.ctx.inbound.deliveries().deliver(
            &home,
            None,
            "**Daily** report: all lights off.",
            "job-1:run-1",
        ),
    )
    .await
    .unwrap();
    assert_eq!(receipt.message_ids.len(), 1);
    let all = notifications(&world, 2).await;
    assert_eq!(all[1].message, "**Daily** report: all lights off.");
    assert_eq!(all[1].id, receipt.message_ids[0]);
    direct.ctx.shutdown.cancel();
    assert_eq!(run.await.unwrap(), Ok(()));
}
