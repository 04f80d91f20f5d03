//! An external agent over ACP behind the gateway, end to end through
//! Telegram: the scripted fake ACP agent of the testkit streams into the
//! chat, asks permission (answered with /approve in the chat), is
//! cancelled by /stop, and dies mid-turn (the chat is told, the next
//! message starts it again).

use crate::support::{World, bot_says};
use hermod_acp::{AcpAgent, AcpConfig};
use hermod_model::Secret;
use hermod_testkit::acp::{FakeAcpScript, SCRIPT_ENV, Step, fake_acp_agent_path};
use serde_json::json;
use std::path::Path;

/// An ACP agent running the fake with `script`, its files in `dir`.
fn agent(world: &World, dir: &Path, script: &FakeAcpScript) -> AcpAgent {
    let path = script.write(dir).unwrap();
    let mut config = AcpConfig::new(
        fake_acp_agent_path().display().to_string(),
        Vec::<String>::new(),
    );
    config.env.insert(
        SCRIPT_ENV.to_owned(),
        Secret::new(path.display().to_string()),
    );
    config.cwd = Some(dir.to_path_buf());
    config.restart_backoff_secs = 1;
    AcpAgent::new(config, world.store.clone())
}

#[tokio::test]
async fn the_agent_streams_and_its_permission_request_is_approved_in_the_chat() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new().turn([
        Step::text("Let me clean the build directory. "),
        Step::tool_call("call-1", "Delete build", json!({"command": "rm -rf build"})),
        Step::permission("call-1", "rm -rf build"),
        Step::tool_done("call-1", "removed"),
        Step::text(" All clean."),
    ]);
    let world = World::new().await;
    let running = world.start(agent(&world, dir.path(), &script)).await;
    let alice = world.fake.user(4001, "Alice");

    alice.dm("please clean up");
    let ask = bot_says(&world, 4001, "the permission request", |t| {
        t.starts_with("🔐 Approval needed")
    })
    .await;
    assert!(
        ask.current_text().contains("rm -rf build"),
        "{}",
        ask.current_text()
    );
    alice.dm("/approve");
    let reply = bot_says(&world, 4001, "the end of the reply", |t| {
        t.contains("All clean.")
    })
    .await;
    assert!(
        reply.current_text().contains("permission: opt-allow-once"),
        "the agent got the chat's answer: {}",
        reply.current_text()
    );
    let prompts = FakeAcpScript::received_calls(dir.path(), "session/prompt");
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0]["params"]["prompt"][0]["text"], "please clean up");
    running.stop().await;
}

#[tokio::test]
async fn a_denied_permission_is_rejected_to_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new().turn([
        Step::tool_call("call-1", "Delete home", json!({"command": "rm -rf ~"})),
        Step::permission("call-1", "rm -rf ~"),
        Step::text(" Understood."),
    ]);
    let world = World::new().await;
    let running = world.start(agent(&world, dir.path(), &script)).await;
    let alice = world.fake.user(4002, "Alice");
    alice.dm("delete everything");
    bot_says(&world, 4002, "the permission request", |t| {
        t.starts_with("🔐 Approval needed")
    })
    .await;
    alice.dm("/deny no way");
    let reply = bot_says(&world, 4002, "the reply", |t| t.contains("Understood.")).await;
    assert!(
        reply.current_text().contains("permission: opt-reject"),
        "{}",
        reply.current_text()
    );
    running.stop().await;
}

#[tokio::test]
async fn stop_cancels_the_agents_turn() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new()
        .turn([Step::text("Working on it"), Step::WaitForCancel])
        .turn([Step::text("Fresh start.")]);
    let world = World::new().await;
    let running = world.start(agent(&world, dir.path(), &script)).await;
    let alice = world.fake.user(4003, "Alice");
    alice.dm("a long task");
    bot_says(&world, 4003, "the first words", |t| {
        t.starts_with("Working on it")
    })
    .await;
    alice.dm("/stop");
    bot_says(&world, 4003, "the stop", |t| t.starts_with("⏹ Stopped")).await;
    let cancels = FakeAcpScript::received_calls(dir.path(), "session/cancel");
    assert_eq!(cancels.len(), 1, "one session/cancel was sent");

    alice.dm("something else");
    bot_says(&world, 4003, "the next reply", |t| t == "Fresh start.").await;
    running.stop().await;
}

#[tokio::test]
async fn an_agent_that_dies_mid_turn_is_reported_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new()
        .turn([
            Step::text("Half an answer"),
            Step::crash(3, "segfault in the agent"),
        ])
        .turn([Step::text("I am back.")]);
    let world = World::new().await;
    let running = world.start(agent(&world, dir.path(), &script)).await;
    let alice = world.fake.user(4004, "Alice");
    alice.dm("do something");
    let told = bot_says(&world, 4004, "the failure notice", |t| {
        t.contains("the agent stopped unexpectedly")
    })
    .await;
    assert!(
        !told.current_text().contains("segfault"),
        "details stay in the log"
    );

    alice.dm("try again");
    bot_says(&world, 4004, "the reply of the restarted agent", |t| {
        t == "I am back."
    })
    .await;
    assert_eq!(
        FakeAcpScript::received_calls(dir.path(), "initialize").len(),
        2,
        "the agent was started again"
    );
    running.stop().await;
}
