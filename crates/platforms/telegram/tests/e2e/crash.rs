//! A gateway killed in the middle of a turn and started again: the update
//! is not handled twice and the reply arrives once. Each process runs on
//! its own runtime; the first is torn down mid-turn, as a crash would.
//! The fake server and the store live on a third runtime that outlives both.

use crate::support::{World, settled, within};
use hermod_store::Store;
use hermod_testkit::{ScriptedAgent, Step};
use std::time::Duration;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn killed_mid_turn_and_restarted_the_reply_arrives_once() {
    let home = runtime();
    let world = home.block_on(World::new());
    let alice = world.fake.user(7001, "Alice");

    let first = runtime();
    first.block_on(async {
        // The model is still thinking when the process dies.
        let agent = ScriptedAgent::scripted(|_| vec![Step::Sleep(Duration::from_secs(3600))]);
        let stats = agent.stats();
        let _running = world.start(agent).await;
        alice.dm("hello");
        within("the turn to start", stats.wait_started(1)).await;
        // Acknowledged to Telegram: it will not deliver the update again.
        within("the update to be confirmed", async {
            while !world.fake.pending_updates().is_empty() {
                tokio::task::yield_now().await;
            }
        })
        .await;
    });
    first.shutdown_timeout(Duration::ZERO);
    assert!(
        world.fake.bot_messages(7001).is_empty(),
        "nothing was answered before the crash"
    );

    let second = runtime();
    second.block_on(async {
        let agent = ScriptedAgent::echo();
        let stats = agent.stats();
        let running = world.start(agent).await;
        let answers = settled(&world.fake, 7001, 1).await;
        assert_eq!(answers[0].current_text(), "echo: hello (0 earlier)");
        world.drained().await;
        assert_eq!(stats.inputs(), ["hello"], "the agent saw the message once");
        assert_eq!(world.fake.bot_messages(7001).len(), 1, "one reply");
        let session = world
            .store
            .list_sessions(Default::default())
            .await
            .unwrap()
            .remove(0);
        assert_eq!(
            world.store.messages(&session.id).await.unwrap().len(),
            2,
            "the user message was stored once"
        );
        running.stop().await;
    });
    drop(world);
}
