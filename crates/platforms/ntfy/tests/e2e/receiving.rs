//! Receiving: each message answered once, our own echo ignored, a restart
//! and a dropped stream resumed with `since=`.

use crate::support::{TOPIC, World, replies, texts, within};
use hermod_store::Store;
use hermod_testkit::ScriptedAgent;
use hermod_testkit::ntfy::NtfyMessage;

#[tokio::test]
async fn each_message_is_answered_once_and_our_echo_is_not() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world.fake.publish(TOPIC, "hello");
    let first = replies(&world, 1).await;
    assert_eq!(texts(&first), ["echo: hello (0 earlier)"]);
    assert_eq!(first[0].tags, ["hermod"], "replies carry our tag");
    // The reply came back on the stream (ntfy echoes every publish). Had
    // it been answered, that answer would come before the next one: the
    // topic is one session, answered in order.
    world.fake.publish(TOPIC, "again");
    let both = replies(&world, 2).await;
    assert_eq!(
        texts(&both),
        ["echo: hello (0 earlier)", "echo: again (2 earlier)"]
    );
    assert_eq!(world.fake.published(TOPIC).len(), 2);
    running.stop().await;
}

#[tokio::test]
async fn a_message_tagged_as_ours_is_not_answered() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world.fake.publish_message(NtfyMessage {
        id: String::new(),
        time: 0,
        topic: TOPIC.into(),
        message: "from another hermod on this topic".into(),
        title: None,
        tags: vec!["hermod".into()],
        markdown: false,
        attachment: false,
        by_client: false,
        file: None,
    });
    world.fake.publish(TOPIC, "from a user");
    let answered = replies(&world, 1).await;
    assert_eq!(texts(&answered), ["echo: from a user (0 earlier)"]);
    world.fake.publish(TOPIC, "next");
    let answered = replies(&world, 2).await;
    assert_eq!(answered.len(), 2, "{:?}", texts(&answered));
    assert!(answered[1].message.starts_with("echo: next"));
    running.stop().await;
}

#[tokio::test]
async fn a_restart_resumes_with_since_and_answers_nothing_twice() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    let one = world.fake.publish(TOPIC, "one");
    replies(&world, 1).await;
    running.stop().await;
    let first = world.fake.subscriptions();
    assert_eq!(first[0].since, None, "a first start asks for no history");

    let saved = world
        .store
        .setting(&format!("ntfy:since:{TOPIC}"))
        .await
        .unwrap()
        .expect("the cursor was saved");
    let saved: String = serde_json::from_str(&saved).unwrap();
    let ids: Vec<String> = world
        .fake
        .messages(TOPIC)
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert!(ids.contains(&saved), "{saved} is a message id of {ids:?}");
    assert!(ids.iter().position(|i| *i == saved) >= ids.iter().position(|i| *i == one));

    // While the gateway is down.
    world.fake.publish(TOPIC, "two");
    let running = world.start(ScriptedAgent::echo()).await;
    let subscriptions = within("a new subscription", world.fake.wait_for_subscriptions(2)).await;
    assert_eq!(subscriptions[1].since.as_deref(), Some(saved.as_str()));
    let answered = replies(&world, 2).await;
    assert!(
        answered[1].message.starts_with("echo: two"),
        "{:?}",
        texts(&answered)
    );
    world.fake.publish(TOPIC, "three");
    let answered = replies(&world, 3).await;
    assert_eq!(answered.len(), 3, "{:?}", texts(&answered));
    assert!(answered[2].message.starts_with("echo: three"));
    assert!(
        !answered
            .iter()
            .skip(1)
            .any(|m| m.message.starts_with("echo: one")),
        "one was answered twice: {:?}",
        texts(&answered)
    );
    running.stop().await;
}

#[tokio::test]
async fn a_dropped_stream_is_opened_again_from_the_last_message() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world.fake.publish(TOPIC, "before");
    replies(&world, 1).await;
    world.fake.drop_streams();
    let subscriptions = within("a new subscription", world.fake.wait_for_subscriptions(2)).await;
    let last = subscriptions[1].since.clone().expect("resumed with since");
    assert!(world.fake.messages(TOPIC).iter().any(|m| m.id == last));
    world.fake.publish(TOPIC, "after");
    let answered = replies(&world, 2).await;
    assert_eq!(answered.len(), 2, "{:?}", texts(&answered));
    assert!(answered[1].message.starts_with("echo: after"));
    running.stop().await;
}

#[tokio::test]
async fn a_silent_stream_is_taken_for_dead_and_opened_again() {
    let world = World::new().await;
    let config = hermod_ntfy::NtfyConfig {
        keepalive_timeout_secs: 1,
        ..world.config()
    };
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    // The fake sends no keepalives: after a second of silence the adapter
    // opens the stream again.
    within(
        "a second subscription",
        world.fake.wait_for_subscriptions(2),
    )
    .await;
    world.fake.publish(TOPIC, "still there?");
    replies(&world, 1).await;
    running.stop().await;
}

#[tokio::test]
async fn keepalives_keep_a_quiet_stream_open() {
    let fake = hermod_testkit::ntfy::FakeNtfy::builder()
        .with_keepalive(std::time::Duration::from_millis(100))
        .start()
        .await;
    let world = World::on(fake);
    let config = hermod_ntfy::NtfyConfig {
        keepalive_timeout_secs: 1,
        ..world.config()
    };
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    // 30 keepalives, 100 ms apart: three times the read timeout with no
    // message, and the stream is still the first one.
    within("30 keepalives", world.fake.wait_for_keepalives(30)).await;
    assert_eq!(
        world.fake.subscriptions().len(),
        1,
        "the stream was reopened"
    );
    world.fake.publish(TOPIC, "quiet, not dead");
    replies(&world, 1).await;
    running.stop().await;
}
