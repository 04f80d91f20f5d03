//! Threads for handed-off conversations: a root message in the home
//! channel, whose `ts` is the new thread's; a DM channel gets one too.

use crate::support::World;
use hermod_core::Messenger;
use hermod_model::{ChatTarget, ChatType, Outbound};

#[tokio::test]
async fn a_thread_starts_with_a_root_message_and_takes_replies() {
    let world = World::new().await;
    let channel = world.fake.public_channel("general");
    let adapter = world.adapter(world.config());
    let threads = adapter.threads().expect("Slack opens threads");
    let home = ChatTarget {
        chat_id: channel.clone(),
        thread_id: None,
    };

    let place = threads
        .create_thread(&home, "hermod — plan a trip")
        .await
        .unwrap();
    let posted = world.fake.bot_messages(&channel);
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].thread_ts, None, "the root is top level");
    assert!(
        posted[0].text.contains("hermod — plan a trip"),
        "{}",
        posted[0].text
    );
    assert_eq!(place.chat_type, ChatType::Group);
    assert_eq!(place.chat_id.as_deref(), Some(channel.as_str()));
    assert_eq!(place.thread_id.as_deref(), Some(posted[0].ts.as_str()));

    let in_thread = ChatTarget {
        chat_id: channel.clone(),
        thread_id: place.thread_id.clone(),
    };
    adapter
        .send(Outbound::text(in_thread, "the summary"))
        .await
        .unwrap();
    let thread = world.fake.thread(&channel, &posted[0].ts);
    assert!(thread.iter().any(|m| m.text == "the summary"), "{thread:?}");

    let dm = world.fake.user("ann").dm_channel();
    let place = threads
        .create_thread(
            &ChatTarget {
                chat_id: dm.clone(),
                thread_id: None,
            },
            "hermod — x",
        )
        .await
        .unwrap();
    assert_eq!(place.chat_type, ChatType::Dm);
    assert!(place.thread_id.is_some());
}
