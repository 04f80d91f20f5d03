//! Exactly once across a restart: the per-channel cursor in the store,
//! a post that arrived while hermod was down answered once after it
//! starts, nothing answered twice.

use crate::support::{World, alice, connected, settled, texts, within};
use hermod_store::Store;
use hermod_testkit::ScriptedAgent;
use std::collections::BTreeMap;

#[tokio::test]
async fn a_restart_catches_up_and_answers_nothing_twice() {
    let world = World::new().await;
    let (alice, dm) = alice(&world);
    let running = world.start(ScriptedAgent::echo()).await;
    connected(&world, 1).await;
    let one = world.fake.post(&alice, &dm, "one");
    settled(&world, &dm, 1).await;
    running.stop().await;

    let key = format!("mattermost:cursors:{}", world.fake.bot().id);
    let saved = world
        .store
        .setting(&key)
        .await
        .unwrap()
        .expect("the cursors were saved");
    let cursors: BTreeMap<String, i64> = serde_json::from_str(&saved).unwrap();
    assert!(cursors[&dm] >= one.create_at, "{cursors:?}");

    // While the gateway is down.
    world.fake.post(&alice, &dm, "two");
    let running = world.start(ScriptedAgent::echo()).await;
    connected(&world, 2).await;
    let answered = settled(&world, &dm, 2).await;
    assert!(
        answered[1].message.starts_with("echo: two"),
        "{:?}",
        texts(&answered)
    );
    let since = within(
        "the catch-up",
        world.fake.wait_for_calls("channel_posts", 1),
    )
    .await;
    assert!(since[0].query.starts_with("since="), "{since:?}");

    world.fake.post(&alice, &dm, "three");
    let answered = settled(&world, &dm, 3).await;
    assert_eq!(answered.len(), 3, "{:?}", texts(&answered));
    assert!(answered[2].message.starts_with("echo: three"));
    assert_eq!(
        texts(&answered)
            .iter()
            .filter(|t| t.starts_with("echo: one"))
            .count(),
        1,
        "one was answered twice: {:?}",
        texts(&answered)
    );
    running.stop().await;
}

#[tokio::test]
async fn a_restart_right_after_an_answer_fetches_nothing_again() {
    let world = World::new().await;
    let (alice, dm) = alice(&world);
    let agent = ScriptedAgent::echo();
    let running = world.start(agent).await;
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, "only once");
    settled(&world, &dm, 1).await;
    running.stop().await;

    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    connected(&world, 2).await;
    within(
        "the catch-up",
        world.fake.wait_for_calls("user_channels", 1),
    )
    .await;
    world.fake.post(&alice, &dm, "next");
    let answered = settled(&world, &dm, 2).await;
    assert!(
        answered[1].message.starts_with("echo: next"),
        "{:?}",
        texts(&answered)
    );
    assert_eq!(
        stats.inputs(),
        ["next"],
        "the second gateway answered only the new post"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_direct_message_from_someone_new_while_down_is_answered_once() {
    let world = World::new().await;
    let (alice, dm) = alice(&world);
    let running = world.start(ScriptedAgent::echo()).await;
    connected(&world, 1).await;
    world.fake.post(&alice, &dm, "hi");
    settled(&world, &dm, 1).await;
    running.stop().await;

    // While the gateway is down, someone it never heard from writes.
    let bob = world.fake.add_user("bob");
    let bob_dm = world.fake.direct_channel(&bob.id);
    world.fake.post(&bob.id, &bob_dm, "are you there?");
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    connected(&world, 2).await;
    let answered = settled(&world, &bob_dm, 1).await;
    assert!(
        answered[0].message.starts_with("echo: are you there?"),
        "{:?}",
        texts(&answered)
    );
    assert_eq!(
        stats.inputs(),
        ["are you there?"],
        "alice's channel had nothing new"
    );
    let fetched: Vec<String> = world
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.route == "channel_posts")
        .map(|c| c.path)
        .collect();
    assert_eq!(
        fetched,
        [format!("/api/v4/channels/{bob_dm}/posts")],
        "only the channel with news was read"
    );
    running.stop().await;
}
