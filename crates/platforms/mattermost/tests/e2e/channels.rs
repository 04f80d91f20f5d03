//! Channels and threads: a mention needed (and removed), free-response
//! channels, answers in the thread of the post, reply mode `thread`.

use crate::support::{World, connected, settled, texts};
use hermod_mattermost::{MattermostConfig, ReplyMode};
use hermod_testkit::ScriptedAgent;
use hermod_testkit::harness::allow_all;

#[tokio::test]
async fn a_channel_post_is_answered_only_when_it_mentions_the_bot() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let alice = world.fake.add_user("alice");
    let town = world.fake.channel("O", "town-square", &[&alice.id]);
    connected(&world, 1).await;
    world.fake.post(&alice.id, &town, "just chatting");
    world.fake.post(&alice.id, &town, "@hermod what is up?");
    let answered = settled(&world, &town, 1).await;
    assert_eq!(texts(&answered), ["echo: what is up? (0 earlier)"]);
    assert_eq!(stats.inputs(), ["what is up?"], "the mention is removed");
    assert_eq!(
        answered[0].root_id, "",
        "reply mode off answers in the channel"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_thread_post_is_answered_in_its_thread() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    let alice = world.fake.add_user("alice");
    let town = world.fake.channel("O", "town-square", &[&alice.id]);
    connected(&world, 1).await;
    let root = world.fake.post(&alice.id, &town, "a topic");
    world
        .fake
        .reply(&alice.id, &town, &root.id, "@hermod your view?");
    let answered = settled(&world, &town, 1).await;
    assert_eq!(answered[0].root_id, root.id);
    running.stop().await;
}

#[tokio::test]
async fn reply_mode_thread_opens_a_thread_under_the_post() {
    let world = World::new().await;
    let config = MattermostConfig {
        reply_mode: ReplyMode::Thread,
        require_mention: false,
        ..world.config()
    };
    let running = world
        .start_with(ScriptedAgent::echo(), allow_all(), config)
        .await;
    let alice = world.fake.add_user("alice");
    let town = world.fake.channel("O", "town-square", &[&alice.id]);
    connected(&world, 1).await;
    let asked = world.fake.post(&alice.id, &town, "no mention needed here");
    let answered = settled(&world, &town, 1).await;
    assert_eq!(answered[0].root_id, asked.id);
    running.stop().await;
}

#[tokio::test]
async fn a_channel_not_allowed_is_not_answered() {
    let world = World::new().await;
    let alice = world.fake.add_user("alice");
    let open = world.fake.channel("O", "open", &[&alice.id]);
    let fenced = world.fake.channel("O", "fenced", &[&alice.id]);
    let config = MattermostConfig {
        allowed_channels: vec![open.clone()],
        ..world.config()
    };
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start_with(agent, allow_all(), config).await;
    connected(&world, 1).await;
    world.fake.post(&alice.id, &fenced, "@hermod in here?");
    world.fake.post(&alice.id, &open, "@hermod and here?");
    settled(&world, &open, 1).await;
    assert_eq!(stats.inputs(), ["and here?"]);
    assert!(world.fake.bot_posts(&fenced).is_empty());
    running.stop().await;
}
