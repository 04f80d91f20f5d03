//! `files.info` and a share whose answer never comes: where an uploaded
//! file is shared, by channel and thread, and what Slack says of a file
//! it does not have.

use super::Client;
use hermod_testkit::slack::{FakeSlack, Fault};
use serde_json::{Value, json};
use std::time::Duration;

/// Announces `name` and POSTs its bytes; returns its file id.
async fn upload(bot: &Client, name: &str) -> String {
    let got = bot
        .ok(
            "files.getUploadURLExternal",
            json!({"filename": name, "length": 3}),
        )
        .await;
    let response = bot
        .http()
        .post(got["upload_url"].as_str().expect("an upload URL"))
        .body(b"abc".to_vec())
        .send()
        .await
        .expect("the fake takes the bytes");
    assert!(response.status().is_success());
    got["file_id"].as_str().expect("a file id").to_owned()
}

async fn info(bot: &Client, file_id: &str) -> Value {
    // The reference: form arguments only, no JSON.
    bot.form("files.info", &[("file", file_id)]).await
}

#[tokio::test]
async fn files_info_shows_where_a_file_is_shared_and_unknown_files_are_not_found() {
    let fake = FakeSlack::start().await;
    let bot = Client::bot(&fake);
    let general = fake.public_channel("general");
    let asked = fake.user("erin").mention_bot_in(&general, "the report?");

    let file_id = upload(&bot, "report.pdf").await;
    let before = info(&bot, &file_id).await;
    assert_eq!(before["ok"], true, "{before}");
    assert_eq!(before["file"]["id"], file_id.as_str());
    assert_eq!(before["file"]["shares"], json!({}), "uploaded, not shared");

    bot.ok(
        "files.completeUploadExternal",
        json!({"files": [{"id": file_id}], "channel_id": general, "thread_ts": asked.ts}),
    )
    .await;
    let message = fake.bot_messages(&general).pop().unwrap();
    let after = info(&bot, &file_id).await;
    let shares = &after["file"]["shares"]["public"][general.as_str()];
    assert_eq!(shares[0]["ts"], message.ts.as_str(), "{after}");
    assert_eq!(shares[0]["thread_ts"], asked.ts.as_str());
    assert_eq!(shares[0]["channel_name"], "general");
    assert_eq!(after["file"]["channels"], json!([general]));

    // A DM is a private share, outside any thread.
    let dm = fake.user("alice").dm_channel();
    let private = upload(&bot, "notes.txt").await;
    bot.ok(
        "files.completeUploadExternal",
        json!({"files": [{"id": private}], "channel_id": dm}),
    )
    .await;
    let shared = info(&bot, &private).await;
    let shares = &shared["file"]["shares"]["private"][dm.as_str()];
    assert_eq!(shares[0]["ts"], fake.bot_messages(&dm)[0].ts.as_str());
    assert!(shares[0].get("thread_ts").is_none(), "{shared}");

    let answer = info(&bot, "F0NOSUCHFILE").await;
    assert_eq!(answer["error"], "file_not_found", "{answer}");
    // Announced, its bytes never sent: no file.
    let announced = bot
        .ok(
            "files.getUploadURLExternal",
            json!({"filename": "x.bin", "length": 1}),
        )
        .await;
    let answer = info(&bot, announced["file_id"].as_str().unwrap()).await;
    assert_eq!(answer["error"], "file_not_found");
}

#[tokio::test]
async fn an_unanswered_share_takes_effect_and_discarded_uploads_are_gone() {
    let fake = FakeSlack::start().await;
    let bot = Client::bot(&fake);
    let general = fake.public_channel("general");

    let file_id = upload(&bot, "chart.png").await;
    fake.fail_next("files.completeUploadExternal", Fault::Unanswered);
    let unanswered = bot
        .http()
        .post(bot.url("files.completeUploadExternal"))
        .bearer_auth(&fake.config().bot_token)
        .json(&json!({"files": [{"id": file_id}], "channel_id": general}))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(unanswered.is_err(), "no answer comes");
    assert_eq!(fake.shared_uploads(&general).len(), 1, "but it was shared");
    let shared = info(&bot, &file_id).await;
    assert_eq!(
        shared["file"]["shares"]["public"][general.as_str()][0]["ts"],
        fake.bot_messages(&general)[0].ts.as_str()
    );

    // An upload never completed is discarded; a shared one stays.
    let unfinished = upload(&bot, "draft.png").await;
    assert_eq!(fake.discard_unfinished_uploads(), 1);
    assert_eq!(info(&bot, &unfinished).await["error"], "file_not_found");
    assert_eq!(info(&bot, &file_id).await["ok"], true);
}
