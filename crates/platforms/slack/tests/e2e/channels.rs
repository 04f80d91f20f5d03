//! Channels and threads: only what is addressed to the bot is answered,
//! in the message's thread, once.

use crate::support::{World, allow_all, settled, texts, within};
use hermod_slack::SlackConfig;
use hermod_testkit::ScriptedAgent;
use std::time::Duration;

#[tokio::test]
async fn a_mention_is_answered_once_in_its_thread_and_the_thread_goes_on() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let general = world.fake.public_channel("general");
    let erin = world.fake.user("erin");

    erin.say_in(&general, "humans talking among themselves");
    let asked = erin.mention_bot_in(&general, "are you there?");
    let answer = settled(&world.fake, &general, 1).await;
    assert_eq!(answer.len(), 1, "{:?}", texts(&answer));
    assert_eq!(answer[0].current_text(), "echo: are you there? (0 earlier)");
    assert_eq!(
        answer[0].thread_ts.as_deref(),
        Some(asked.ts.as_str()),
        "answered in a thread under the message"
    );
    // Slack sent the mention twice (message and app_mention), and the
    // unaddressed message once: the agent saw one input.
    assert_eq!(stats.inputs(), ["are you there?"]);

    // In the bot's thread, no mention is needed; it is the same session.
    erin.reply_in_thread(&general, &asked.ts, "and then?");
    let both = settled(&world.fake, &general, 2).await;
    // The thread's first exchange (question and answer) came before.
    assert_eq!(both[1].current_text(), "echo: and then? (2 earlier)");
    assert_eq!(both[1].thread_ts.as_deref(), Some(asked.ts.as_str()));

    // Another top-level mention is another thread and conversation.
    let again = erin.mention_bot_in(&general, "new topic");
    let three = settled(&world.fake, &general, 3).await;
    assert_eq!(three[2].current_text(), "echo: new topic (0 earlier)");
    assert_eq!(three[2].thread_ts.as_deref(), Some(again.ts.as_str()));
    assert_eq!(stats.inputs().len(), 3);
    running.stop().await;
}

#[tokio::test]
async fn without_require_mention_every_channel_message_is_answered() {
    let world = World::new().await;
    let config = SlackConfig {
        require_mention: false,
        ..world.config()
    };
    let running = world
        .start_with(ScriptedAgent::echo(), allow_all(), config)
        .await;
    let team = world.fake.private_channel("team");
    let frank = world.fake.user("frank");
    let said = frank.say_in(&team, "no mention here");
    let answer = settled(&world.fake, &team, 1).await;
    assert_eq!(
        answer[0].current_text(),
        "echo: no mention here (0 earlier)"
    );
    assert_eq!(answer[0].thread_ts.as_deref(), Some(said.ts.as_str()));
    running.stop().await;
}

#[tokio::test]
async fn other_bots_and_integrations_are_not_answered_and_reactions_show_work() {
    let world = World::new().await;
    let config = SlackConfig {
        reactions: true,
        ..world.config()
    };
    let agent = ScriptedAgent::with_delay(Duration::from_millis(1500));
    let stats = agent.stats();
    let running = world.start_with(agent, allow_all(), config).await;
    let general = world.fake.public_channel("general");
    world
        .fake
        .other_bot("reporter")
        .mention_bot_in(&general, "beep");
    world.fake.integration_message(&general, "github", "pushed");

    let grace = world.fake.user("grace");
    let asked = grace.mention_bot_in(&general, "work on this");
    within("the turn to start", stats.wait_started(1)).await;
    within("the working reaction", async {
        while world.fake.reactions(&general, &asked.ts).is_empty() {
            world.fake.wait_for_calls("reactions.add", 1).await;
        }
    })
    .await;
    assert_eq!(
        world.fake.reactions(&general, &asked.ts),
        [("eyes".to_owned(), world.fake.bot_user_id().to_owned())]
    );
    settled(&world.fake, &general, 1).await;
    within(
        "the reaction to go",
        world.fake.wait_for_calls("reactions.remove", 1),
    )
    .await;
    assert!(world.fake.reactions(&general, &asked.ts).is_empty());
    assert_eq!(
        stats.inputs(),
        ["work on this"],
        "only the person was answered"
    );
    running.stop().await;
}
