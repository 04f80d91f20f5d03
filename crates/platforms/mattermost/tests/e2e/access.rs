//! Who may talk, and what is not answered: strangers, the bot's own
//! posts, other bots, system posts; commands.

use crate::support::{World, alice, connected, settled, texts};
use hermod_core::GatewayConfig;
use hermod_testkit::ScriptedAgent;
use hermod_testkit::mattermost::Post;
use serde_json::json;

#[tokio::test]
async fn a_stranger_gets_a_pairing_code_and_no_turn() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world
        .start_with(agent, GatewayConfig::default(), world.config())
        .await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, "let me in");
    let answered = settled(&world, &dm, 1).await;
    assert!(
        answered[0].message.contains("pairing code"),
        "{}",
        answered[0].message
    );
    assert!(
        stats.inputs().is_empty(),
        "the agent saw {:?}",
        stats.inputs()
    );
    running.stop().await;
}

#[tokio::test]
async fn an_allowed_user_id_is_answered() {
    let world = World::new().await;
    let (alice, dm) = alice(&world);
    let mut gateway = GatewayConfig::default();
    gateway.platforms.insert(
        "mattermost".into(),
        hermod_core::PlatformPolicy {
            allowed_users: vec![alice.clone()],
            ..Default::default()
        },
    );
    let running = world
        .start_with(ScriptedAgent::echo(), gateway, world.config())
        .await;
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, "hi");
    let answered = settled(&world, &dm, 1).await;
    assert_eq!(texts(&answered), ["echo: hi (0 earlier)"]);
    running.stop().await;
}

#[tokio::test]
async fn own_system_and_other_bots_posts_are_not_answered() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    let bot = world.fake.bot().id;
    world
        .fake
        .post(&bot, &dm, "a post of the bot's own, made elsewhere");
    let mut system = Post::new(&alice, &dm, "alice joined the channel");
    system.kind = "system_join_channel".into();
    world.fake.post_with(system);
    let mut other = Post::new(&alice, &dm, "beep from an integration");
    other.props = json!({"from_bot": "true"});
    world.fake.post_with(other);
    world.fake.post(&alice, &dm, "a person");
    let answered = settled(&world, &dm, 2).await;
    assert_eq!(answered[1].message, "echo: a person (0 earlier)");
    assert_eq!(stats.inputs(), ["a person"]);
    running.stop().await;
}

#[tokio::test]
async fn a_command_after_a_space_is_the_gateways() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, " /help");
    let answered = settled(&world, &dm, 1).await;
    assert!(
        answered[0].message.contains("/new"),
        "{}",
        answered[0].message
    );
    assert!(
        stats.inputs().is_empty(),
        "the agent saw {:?}",
        stats.inputs()
    );
    running.stop().await;
}
