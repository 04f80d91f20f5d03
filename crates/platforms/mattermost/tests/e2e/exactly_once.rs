//! Exactly once across a restart: the per-channel cursor in the store,
//! a post that arrived while hermod was down answered once after it
//! starts, nothing answered twice.

use crate::support::{World, alice, connected, settled, texts};
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
    let since = world.fake.wait_for_calls("channel_posts", 1).await;
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
    world.fake.wait_for_calls("channel_posts", 1).await;
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
