//! Direct messages end to end: answered, streamed by editing one post,
//! long replies split within 4,000 characters, Markdown kept, typing shown.

use crate::support::{World, alice, connected, settled, texts, within};
use hermod_mattermost::MAX_POST_CHARS;
use hermod_testkit::{ScriptedAgent, Step};
use std::time::Duration;

#[tokio::test]
async fn a_direct_message_is_answered_once_in_the_channel() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, "hello");
    let answered = settled(&world, &dm, 1).await;
    assert_eq!(texts(&answered), ["echo: hello (0 earlier)"]);
    assert_eq!(answered[0].root_id, "", "a direct message is answered flat");
    // The bot's own post came back as a `posted` event: had it been
    // answered, that answer would come before the next one.
    world.fake.post(&alice, &dm, "again");
    let both = settled(&world, &dm, 2).await;
    assert_eq!(
        texts(&both),
        ["echo: hello (0 earlier)", "echo: again (2 earlier)"]
    );
    running.stop().await;
}

#[tokio::test]
async fn typing_shows_while_the_agent_works() {
    let world = World::new().await;
    let running = world
        .start(ScriptedAgent::with_delay(Duration::from_millis(1500)))
        .await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, "think hard");
    let typing = within("the typing indicator", world.fake.wait_for_typing(1)).await;
    assert_eq!(typing[0].channel_id, dm);
    assert_eq!(typing[0].user_id, world.fake.bot().id);
    settled(&world, &dm, 1).await;
    running.stop().await;
}

#[tokio::test]
async fn a_streamed_reply_is_one_post_edited_in_place() {
    let world = World::new().await;
    let reply = "The quick brown fox jumps over the lazy dog, twice, and **then** rests.";
    let agent = ScriptedAgent::streaming(reply, 10, Duration::from_millis(300));
    let running = world.start(agent).await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, "tell me a story");
    let done = within(
        "the final text",
        world.fake.wait_for(&dm, |p| {
            p.last().is_some_and(|p| p.message.ends_with("rests."))
        }),
    )
    .await;
    assert_eq!(done.len(), 1, "{:?}", texts(&done));
    assert!(done[0].edit_at > 0, "the reply was streamed by edits");
    // Mattermost's Markdown is CommonMark: the bold stays as it is.
    assert_eq!(done[0].message, reply);
    let edits = world.fake.edits();
    assert!(edits.len() >= 2, "{edits:?}");
    for pair in edits.windows(2) {
        assert!(
            pair[1].1 - pair[0].1 >= Duration::from_millis(800),
            "two edits {:?} apart",
            pair[1].1 - pair[0].1
        );
    }
    running.stop().await;
}

#[tokio::test]
async fn a_long_reply_is_split_within_4000_characters() {
    let world = World::new().await;
    // Two-byte characters: Mattermost counts characters, not bytes.
    let lines: Vec<String> = (0..200)
        .map(|i| format!("Line {i:03}: ünïcödé lorem ipsum dolor sit amet."))
        .collect();
    let long = lines.join("\n");
    let script = long.clone();
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(script.clone())]);
    let running = world.start(agent).await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, "write a lot");
    let posts = settled(&world, &dm, 3).await;
    for post in &posts {
        let n = post.message.chars().count();
        assert!(n <= MAX_POST_CHARS, "{n} characters");
    }
    let joined: String = texts(&posts).concat();
    for line in &lines {
        assert!(joined.contains(line.as_str()), "{line} was lost");
    }
    running.stop().await;
}
