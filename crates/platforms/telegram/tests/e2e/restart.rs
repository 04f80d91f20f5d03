//! Restarts: the update offset is persisted, so a new gateway on the same
//! store resumes where the last one stopped and handles nothing twice.

use crate::support::{World, settled, within};
use hermod_store::Store;
use hermod_testkit::ScriptedAgent;
use serde_json::json;

#[tokio::test]
async fn a_restart_resumes_after_the_last_update_and_drops_redeliveries() {
    let world = World::new().await;
    let alice = world.fake.user(5001, "Alice");

    let first = ScriptedAgent::echo();
    let first_stats = first.stats();
    let running = world.start(first).await;
    let one = alice.dm("one");
    settled(&world.fake, 5001, 1).await;
    running.stop().await;

    let bot_id = world.fake.bot_id();
    let saved = world
        .store
        .setting(&format!("telegram:offset:{bot_id}"))
        .await
        .unwrap()
        .expect("the offset was saved");
    let saved: i64 = saved.parse().unwrap();

    // While the gateway is down: a new message, and Telegram delivering
    // the first one again (as after a crash before the acknowledgement).
    alice.dm("two");
    let redelivered = world.fake.push_raw_update(json!({
        "message": {
            "message_id": one,
            "from": alice.user_json(),
            "chat": {"id": 5001, "first_name": "Alice", "username": "alice", "type": "private"},
            "date": 1_700_000_000,
            "text": "one"
        }
    }));

    let second = ScriptedAgent::echo();
    let second_stats = second.stats();
    let running = world.start(second).await;
    let answers = settled(&world.fake, 5001, 2).await;
    assert!(
        answers[1].current_text().starts_with("echo: two"),
        "{}",
        answers[1].text
    );
    // The redelivered update is acknowledged too.
    within(
        "every update confirmed",
        world.fake.wait_for_confirmed(redelivered),
    )
    .await;
    assert!(world.fake.pending_updates().is_empty());
    running.stop().await;

    assert!(redelivered > saved);
    // The command menu was registered once; the restart found it current.
    assert_eq!(world.fake.set_my_commands_calls(), 1);
    assert_eq!(world.fake.calls_of("getMyCommands").len(), 2);
    assert!(
        world
            .fake
            .my_commands()
            .iter()
            .any(|(name, _)| name == "new")
    );
    assert_eq!(first_stats.inputs(), ["one"]);
    assert_eq!(
        second_stats.inputs(),
        ["two"],
        "an update was handled twice"
    );
    assert_eq!(world.fake.bot_messages(5001).len(), 2);
}
