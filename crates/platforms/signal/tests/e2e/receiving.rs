//! Receiving: each message answered once; the account's own messages,
//! receipts and stories not at all; a restart and a dropped stream
//! resumed with `Last-Event-ID`; replays dropped by the inbox.

use crate::support::{USER, World, listening, replies, texts, within};
use hermod_store::Store;
use hermod_testkit::ScriptedAgent;
use hermod_testkit::signal::FakeSignal;

#[tokio::test]
async fn a_direct_message_is_answered_once_to_its_sender() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "hello");
    let sent = replies(&world, 1).await;
    assert_eq!(texts(&sent), ["echo: hello (0 earlier)"]);
    assert_eq!(sent[0].recipients, [USER]);
    assert_eq!(sent[0].group_id, None);
    assert_eq!(
        sent[0].quote_timestamp, None,
        "direct replies quote nothing"
    );
    let connections = world.fake.connections();
    assert_eq!(connections[0].account, Some(world.fake.account()));
    world.fake.user_says(USER, "again");
    let sent = replies(&world, 2).await;
    assert_eq!(sent[1].message, "echo: again (2 earlier)");
    running.stop().await;
}

#[tokio::test]
async fn own_messages_receipts_typing_and_stories_are_not_answered() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 1).await;
    world
        .fake
        .account_sent_elsewhere(USER, "sent from the phone");
    world.fake.user_types_and_posts_a_story(USER);
    world.fake.user_reacts(USER, "👍", 1);
    world.fake.user_says(USER, "only this");
    let sent = replies(&world, 1).await;
    assert_eq!(texts(&sent), ["echo: only this (0 earlier)"]);
    world.fake.user_says(USER, "and this");
    let sent = replies(&world, 2).await;
    assert_eq!(sent.len(), 2, "{:?}", texts(&sent));
    assert_eq!(sent[1].message, "echo: and this (2 earlier)");
    running.stop().await;
}

#[tokio::test]
async fn a_note_to_self_is_answered_in_that_conversation() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 1).await;
    let account = world.fake.account();
    world
        .fake
        .account_sent_elsewhere(USER, "the owner talking to a friend");
    world.fake.note_to_self("remind me");
    let sent = replies(&world, 1).await;
    assert_eq!(texts(&sent), ["echo: remind me (0 earlier)"]);
    assert_eq!(sent[0].recipients, [account]);
    running.stop().await;
}

#[tokio::test]
async fn a_restart_resumes_after_the_last_event_and_answers_nothing_twice() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "one");
    replies(&world, 1).await;
    running.stop().await;
    let key = format!("signal:last_event_id:{}", world.fake.account());
    let saved: String =
        serde_json::from_str(&world.store.setting(&key).await.unwrap().expect("saved")).unwrap();
    assert_eq!(saved, "1");

    // While the gateway is down.
    world.fake.user_says(USER, "two");
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 2).await;
    assert_eq!(
        world.fake.connections()[1].last_event_id.as_deref(),
        Some("1")
    );
    let sent = replies(&world, 2).await;
    assert!(
        sent[1].message.starts_with("echo: two"),
        "{:?}",
        texts(&sent)
    );
    world.fake.user_says(USER, "three");
    let sent = replies(&world, 3).await;
    assert_eq!(sent.len(), 3, "{:?}", texts(&sent));
    assert!(sent[2].message.starts_with("echo: three"));
    running.stop().await;
}

#[tokio::test]
async fn events_replayed_from_an_unknown_id_are_not_answered_again() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "one");
    replies(&world, 1).await;
    running.stop().await;
    // As after signal-cli restarted: our id is unknown to it, so it
    // sends every event it kept, "one" included.
    let key = format!("signal:last_event_id:{}", world.fake.account());
    world.store.set_setting(&key, "\"999\"", 0).await.unwrap();
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 2).await;
    world.fake.user_says(USER, "two");
    let sent = replies(&world, 2).await;
    assert!(
        sent[1].message.starts_with("echo: two"),
        "{:?}",
        texts(&sent)
    );
    assert_eq!(
        sent.iter()
            .filter(|m| m.message.starts_with("echo: one"))
            .count(),
        1,
        "{:?}",
        texts(&sent)
    );
    running.stop().await;
}

#[tokio::test]
async fn without_event_ids_what_came_while_down_is_answered_once() {
    // signal-cli 0.14 with `--receive-mode on-connection`: no ids; what
    // arrives while nobody listens waits on Signal's server.
    let world = World::on(FakeSignal::builder().without_event_ids().start().await);
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "one");
    replies(&world, 1).await;
    running.stop().await;
    world.fake.user_says(USER, "two");
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 2).await;
    assert_eq!(world.fake.connections()[1].last_event_id, None);
    let sent = replies(&world, 2).await;
    assert!(
        sent[1].message.starts_with("echo: two"),
        "{:?}",
        texts(&sent)
    );
    world.fake.user_says(USER, "three");
    let sent = replies(&world, 3).await;
    assert_eq!(sent.len(), 3, "{:?}", texts(&sent));
    running.stop().await;
}

#[tokio::test]
async fn a_dropped_stream_is_opened_again_from_the_last_event() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "before");
    replies(&world, 1).await;
    world.fake.drop_streams();
    world.fake.user_says(USER, "while away");
    listening(&world, 2).await;
    assert_eq!(
        world.fake.connections()[1].last_event_id.as_deref(),
        Some("1")
    );
    let sent = replies(&world, 2).await;
    assert!(
        sent[1].message.starts_with("echo: while away"),
        "{:?}",
        texts(&sent)
    );
    running.stop().await;
}

#[tokio::test]
async fn a_malformed_event_is_skipped_and_the_next_answered() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    listening(&world, 1).await;
    world
        .fake
        .push_raw("event:receive\ndata:{\"envelope\": {not json\n\n");
    world.fake.push_raw("event:receive\ndata:[1, 2]\n\n");
    world.fake.user_says(USER, "still here");
    let sent = replies(&world, 1).await;
    assert_eq!(texts(&sent), ["echo: still here (0 earlier)"]);
    assert_eq!(world.fake.connections().len(), 1, "the stream stayed open");
    running.stop().await;
}

#[tokio::test]
async fn a_silent_stream_is_taken_for_dead_and_keepalives_keep_it() {
    let world = World::on(
        FakeSignal::builder()
            .with_keepalive(std::time::Duration::from_millis(100))
            .start()
            .await,
    );
    let config = hermod_signal::SignalConfig {
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
    listening(&world, 1).await;
    // 25 keepalives 100 ms apart: past the read timeout, same stream.
    within("25 keepalives", world.fake.wait_for_keepalives(25)).await;
    assert_eq!(world.fake.connections().len(), 1, "the stream was reopened");
    running.stop().await;

    // Without keepalives, a second of silence reopens it.
    let world = World::new().await;
    let config = hermod_signal::SignalConfig {
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
    listening(&world, 2).await;
    world.fake.user_says(USER, "there?");
    replies(&world, 1).await;
    running.stop().await;
}
