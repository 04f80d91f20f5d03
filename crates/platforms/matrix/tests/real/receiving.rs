//! Receiving: each message answered once, the bot's own replies not; a
//! restart resumes from the saved `next_batch`; a fresh install does not
//! answer old history; failed syncs are retried; malformed and encrypted
//! events are handled without losing the next message; files reach the
//! agent downloaded.

use crate::support::{World, within, world};
use hermod_matrix::ENCRYPTED_NOTICE;
use hermod_store::Store;
use hermod_testkit::ScriptedAgent;
use serde_json::json;

#[tokio::test]
async fn a_direct_message_is_answered_once_and_our_own_reply_is_not() {
    let Some(world) = world().await else { return };
    let running = world.start(ScriptedAgent::echo()).await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let room = world.fake.dm().await;
    world.fake.alice.say(&room, "hello").await;
    assert_eq!(
        world.fake.replies(&room, 1).await,
        ["echo: hello (0 earlier)"]
    );
    // Had the reply been answered, its answer would come before this one.
    world.fake.alice.say(&room, "again").await;
    let replies = world.fake.replies(&room, 2).await;
    assert_eq!(
        replies,
        ["echo: hello (0 earlier)", "echo: again (2 earlier)"]
    );
    let shown = world.fake.alice.shown(&room, &world.fake.bot.user_id).await;
    assert_eq!(shown[0].1["msgtype"], "m.notice", "{:?}", shown[0].1);
    running.stop().await;
    assert_eq!(
        world
            .fake
            .alice
            .texts(&room, &world.fake.bot.user_id)
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn a_restart_resumes_from_the_saved_token_and_answers_nothing_twice() {
    let Some(world) = world().await else { return };
    let running = world.start(ScriptedAgent::echo()).await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let room = world.fake.dm().await;
    world.fake.alice.say(&room, "one").await;
    world.fake.replies(&room, 1).await;
    running.stop().await;
    let key = format!("matrix:next_batch:{}", world.fake.bot.user_id);
    let saved: String = serde_json::from_str(
        &world
            .store
            .setting(&key)
            .await
            .unwrap()
            .expect("the sync token was saved"),
    )
    .unwrap();
    let before = world.fake.proxy.syncs().len();

    // While the gateway is down.
    world.fake.alice.say(&room, "two").await;
    let running = world.start(ScriptedAgent::echo()).await;
    let syncs = within(
        "a sync after the restart",
        world.fake.proxy.wait_for_syncs(before + 1),
    )
    .await;
    assert_eq!(
        syncs[before].as_deref(),
        Some(saved.as_str()),
        "the restart syncs from the saved token"
    );
    let replies = world.fake.replies(&room, 2).await;
    assert!(replies[1].starts_with("echo: two"), "{replies:?}");
    world.fake.alice.say(&room, "three").await;
    let replies = world.fake.replies(&room, 3).await;
    assert_eq!(replies.len(), 3, "{replies:?}");
    assert!(replies[2].starts_with("echo: three"), "{replies:?}");
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.starts_with("echo: one"))
            .count(),
        1,
        "{replies:?}"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_fresh_install_does_not_answer_old_history() {
    let Some(world) = world().await else { return };
    let room = world.fake.dm().await;
    world.fake.alice.say(&room, "from before hermod").await;
    let running = world.start(ScriptedAgent::echo()).await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    world.fake.alice.say(&room, "new").await;
    let replies = world.fake.replies(&room, 1).await;
    assert_eq!(replies, ["echo: new (0 earlier)"]);
    assert_eq!(
        world.fake.proxy.syncs()[0],
        None,
        "the first sync has no token"
    );
    running.stop().await;
}

#[tokio::test]
async fn failed_syncs_are_retried_with_backoff_and_nothing_is_lost() {
    let Some(world) = world().await else { return };
    let running = world.start(ScriptedAgent::echo()).await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let room = world.fake.dm().await;
    world.fake.alice.say(&room, "before").await;
    world.fake.replies(&room, 1).await;
    let before = world.fake.proxy.syncs().len();
    world.fake.proxy.fail_syncs(2);
    world.fake.alice.say(&room, "during").await;
    let syncs = within(
        "syncs after the failures",
        world.fake.proxy.wait_for_syncs(before + 3),
    )
    .await;
    let token = syncs[before].clone();
    assert!(token.is_some());
    assert!(
        syncs[before..].iter().all(|s| s.is_some()),
        "retried from a token, never from scratch: {syncs:?}"
    );
    let replies = world.fake.replies(&room, 2).await;
    assert!(replies[1].starts_with("echo: during"), "{replies:?}");
    running.stop().await;
}

#[tokio::test]
async fn a_malformed_event_is_skipped_and_the_next_message_answered() {
    let Some(world) = world().await else { return };
    let running = world.start(ScriptedAgent::echo()).await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let room = world.fake.dm().await;
    world.fake.alice.say(&room, "first").await;
    world.fake.replies(&room, 1).await;
    world.fake.proxy.inject_malformed(
        &room,
        json!({"type": "m.room.message", "content": {"body": 42}}),
    );
    world.fake.alice.say(&room, "still here").await;
    let replies = world.fake.replies(&room, 2).await;
    assert_eq!(
        replies,
        ["echo: first (0 earlier)", "echo: still here (2 earlier)"]
    );
    running.stop().await;
}

#[tokio::test]
async fn an_encrypted_room_is_told_once_that_the_bot_cannot_read_it() {
    let Some(world) = world().await else { return };
    let running = world.start(ScriptedAgent::echo()).await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let encryption = json!({"initial_state": [{"type": "m.room.encryption", "state_key": "",
        "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]});
    let room = world
        .fake
        .alice
        .create_room(&[&world.fake.bot.user_id], true, encryption)
        .await;
    world.fake.bot.join(&room).await;
    let ciphertext = json!({"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEnAC",
        "device_id": "RJYKSTBOIE", "sender_key": "IlRMeOPX2e0M", "session_id": "X3lUlvLE"});
    for _ in 0..2 {
        world
            .fake
            .alice
            .send_event(&room, "m.room.encrypted", ciphertext.clone())
            .await;
    }
    world.fake.alice.say(&room, "plain").await;
    let replies = world.fake.replies(&room, 2).await;
    assert_eq!(replies[0], ENCRYPTED_NOTICE);
    assert!(replies[1].starts_with("echo: plain"), "{replies:?}");
    running.stop().await;
}

#[tokio::test]
async fn a_file_reaches_the_agent_downloaded() {
    let Some(world) = world().await else { return };
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let room = world.fake.dm().await;
    let bytes = b"%PDF-1.4\n% a tiny document for hermod\n".to_vec();
    let mxc = upload(&world, bytes.clone(), "application/pdf", "notes.pdf").await;
    world
        .fake
        .alice
        .send_event(
            &room,
            "m.room.message",
            json!({"msgtype": "m.file", "body": "notes.pdf",
            "url": mxc, "info": {"mimetype": "application/pdf", "size": bytes.len()}}),
        )
        .await;
    world.fake.replies(&room, 1).await;
    let request = &stats.requests()[0];
    let files: Vec<_> = std::fs::read_dir(world.media_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}; the turn had {request:?}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), bytes);
    let media_id = mxc.rsplit('/').next().unwrap();
    assert!(
        world
            .fake
            .proxy
            .paths()
            .iter()
            .any(|p| p.starts_with("/_matrix/client/v1/media/download/") && p.ends_with(media_id)),
        "downloaded through the authenticated endpoint"
    );
    running.stop().await;
}

/// Alice uploads a file; its `mxc://` URI.
async fn upload(world: &World, bytes: Vec<u8>, mime: &str, name: &str) -> String {
    let synapse = crate::synapse::synapse().unwrap();
    let http = hermod_adapter_kit::http_client().unwrap().reqwest().clone();
    let answer: serde_json::Value = http
        .post(format!(
            "{}/_matrix/media/v3/upload?filename={name}",
            synapse.base_url
        ))
        .bearer_auth(&world.fake.alice.token)
        .header("content-type", mime)
        .body(bytes)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["content_uri"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_answered_message_gets_a_check_mark_and_loses_its_eyes() {
    let Some(world) = world().await else { return };
    let running = world.start(ScriptedAgent::echo()).await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let room = world.fake.dm().await;
    let asked = world.fake.alice.say(&room, "react").await;
    world.fake.replies(&room, 1).await;
    let bot = world.fake.bot.user_id.clone();
    let reactions = within("the reactions", async {
        loop {
            let reactions: Vec<serde_json::Value> = world
                .fake
                .alice
                .timeline(&room)
                .await
                .into_iter()
                .filter(|e| e["type"] == "m.reaction" && e["sender"] == bot.as_str())
                .collect();
            let done = reactions
                .iter()
                .any(|r| r["content"]["m.relates_to"]["key"] == hermod_matrix::DONE);
            if done && reactions.len() >= 2 {
                return reactions;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    let live: Vec<&serde_json::Value> = reactions
        .iter()
        .filter(|r| r["content"]["m.relates_to"].is_object())
        .collect();
    assert_eq!(live.len(), 1, "the eyes were redacted: {reactions:?}");
    assert_eq!(
        live[0]["content"]["m.relates_to"]["event_id"],
        asked.as_str()
    );
    assert_eq!(
        live[0]["content"]["m.relates_to"]["rel_type"],
        "m.annotation"
    );
    running.stop().await;
}
