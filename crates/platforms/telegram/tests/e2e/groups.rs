//! Groups and forum topics: only messages addressed to the bot are
//! answered, in the right topic.

use crate::support::{World, allow_all, settled, texts};
use hermod_testkit::ScriptedAgent;

const GROUP: i64 = -100_500;
const FORUM: i64 = -100_600;

#[tokio::test]
async fn only_addressed_group_messages_are_answered() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let bob = world.fake.user(2001, "Bob");

    bob.in_group(GROUP, "humans talking among themselves");
    bob.in_group(GROUP, "/status@someother_bot");
    let asked = bob.in_group(GROUP, "@hermod_test_bot are you there?");
    let answer = settled(&world.fake, GROUP, 1).await;
    assert_eq!(answer[0].current_text(), "echo: are you there? (0 earlier)");
    assert_eq!(answer[0].reply_to, Some(asked));

    // A reply to the bot needs no mention.
    bob.reply_to_bot(GROUP, answer[0].message_id, "and then?");
    let both = settled(&world.fake, GROUP, 2).await;
    assert!(
        both[1].current_text().contains("and then?"),
        "{:?}",
        texts(&both)
    );
    // The quoted message came along.
    let inputs = stats.inputs();
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    assert_eq!(inputs[0], "are you there?");
    assert!(
        inputs[1].starts_with("> echo: are you there?"),
        "{}",
        inputs[1]
    );
    assert!(inputs[1].ends_with("\n\nand then?"), "{}", inputs[1]);
    running.stop().await;
}

#[tokio::test]
async fn a_topic_message_is_answered_in_its_topic() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    let carol = world.fake.user(2002, "Carol");

    carol.in_topic(FORUM, 7, "@hermod_test_bot plan the trip");
    let answer = settled(&world.fake, FORUM, 1).await;
    assert_eq!(answer[0].thread_id, Some(7));
    assert!(answer[0].current_text().starts_with("echo: plan the trip"));

    // Another topic is another conversation.
    carol.in_topic(FORUM, 9, "@hermod_test_bot and this one?");
    let both = settled(&world.fake, FORUM, 2).await;
    assert_eq!(both[1].thread_id, Some(9));
    assert_eq!(both[1].current_text(), "echo: and this one? (0 earlier)");
    running.stop().await;
}

#[tokio::test]
async fn free_response_chats_answer_everything_and_bots_are_ignored() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let mut config = world.config();
    config.free_response_chats = vec![GROUP.to_string()];
    let running = world.start_with(agent, allow_all(), config).await;

    world.fake.from_bot(GROUP, "@hermod_test_bot beep");
    world
        .fake
        .user(2003, "Erin")
        .in_group(GROUP, "no mention needed here");
    let answer = settled(&world.fake, GROUP, 1).await;
    assert_eq!(
        answer[0].current_text(),
        "echo: no mention needed here (0 earlier)"
    );
    assert_eq!(stats.inputs(), ["no mention needed here"]);
    running.stop().await;
}
