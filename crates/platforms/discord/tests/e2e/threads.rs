//! Threads for handed-off conversations: a public thread started without a
//! message in the home channel, whose own channel takes the messages.

use crate::support::World;
use hermod_core::Messenger;
use hermod_model::{ChatTarget, ChatType, Outbound};

#[tokio::test]
async fn a_thread_is_started_in_the_home_channel_and_takes_messages() {
    let world = World::new().await;
    let owner = world.fake.user("owner");
    let guild = world.fake.guild("lab", &owner);
    let general = guild.text_channel("general");
    let adapter = world.adapter(world.config());
    let threads = adapter.threads().expect("Discord starts threads");

    let home = ChatTarget {
        chat_id: general.to_string(),
        thread_id: None,
    };
    let place = threads
        .create_thread(&home, "hermod — plan a trip")
        .await
        .unwrap();
    let started = world.fake.threads(general);
    assert_eq!(started.len(), 1);
    let thread = started[0];
    assert_eq!(
        world.fake.channel(thread).unwrap()["name"],
        "hermod — plan a trip"
    );
    assert_eq!(
        place.chat_type,
        ChatType::Thread,
        "as its messages will say"
    );
    assert_eq!(place.chat_id, Some(thread.to_string()));

    let target = ChatTarget {
        chat_id: thread.to_string(),
        thread_id: None,
    };
    adapter
        .send(Outbound::text(target, "the summary"))
        .await
        .unwrap();
    assert_eq!(world.fake.bot_messages(thread)[0].content, "the summary");
}
