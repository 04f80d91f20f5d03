//! Threads for handed-off conversations: a forum supergroup gets a new
//! topic (`createForumTopic`) that messages can then be sent to; a group
//! without topics and a private chat are used as they are.

use crate::support::World;
use hermod_core::Messenger;
use hermod_model::{ChatTarget, ChatType, Outbound};

fn home(chat_id: i64, thread: Option<&str>) -> ChatTarget {
    ChatTarget {
        chat_id: chat_id.to_string(),
        thread_id: thread.map(str::to_owned),
    }
}

#[tokio::test]
async fn a_forum_home_gets_a_new_topic_that_takes_messages() {
    let world = World::new().await;
    world.fake.user(5001, "Ann").in_topic(-100_777, 3, "hello");
    let adapter = world.adapter(world.config());
    let threads = adapter.threads().expect("Telegram opens topics");

    let place = threads
        .create_thread(&home(-100_777, Some("3")), "hermod — plan a trip")
        .await
        .unwrap();
    let topics = world.fake.topics_created(-100_777);
    assert_eq!(topics.len(), 1);
    let (thread, name) = &topics[0];
    assert_eq!(name, "hermod — plan a trip");
    assert_eq!(place.chat_type, ChatType::Group);
    assert_eq!(place.chat_id.as_deref(), Some("-100777"));
    assert_eq!(place.thread_id, Some(thread.to_string()));

    let message = Outbound::text(home(-100_777, Some(&thread.to_string())), "summary");
    adapter.send(message).await.unwrap();
    let sent = world.fake.bot_messages(-100_777);
    assert_eq!(sent.last().unwrap().thread_id, Some(*thread));
}

#[tokio::test]
async fn a_group_without_topics_and_a_private_chat_are_used_as_they_are() {
    let world = World::new().await;
    world.fake.user(5002, "Bo").in_group(-100_888, "hi");
    world.fake.open_chat(5003);
    let adapter = world.adapter(world.config());
    let threads = adapter.threads().unwrap();

    let group = threads
        .create_thread(&home(-100_888, None), "hermod — x")
        .await
        .unwrap();
    assert_eq!(
        (group.chat_type, group.chat_id.as_deref(), group.thread_id),
        (ChatType::Group, Some("-100888"), None)
    );
    assert!(world.fake.topics_created(-100_888).is_empty());

    let private = threads
        .create_thread(&home(5003, None), "hermod — x")
        .await
        .unwrap();
    assert_eq!(
        (private.chat_type, private.chat_id.as_deref()),
        (ChatType::Dm, Some("5003"))
    );
    assert_eq!(
        world.fake.calls_of("createForumTopic").len(),
        1,
        "only the group was asked"
    );
}
