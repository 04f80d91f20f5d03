//! The Web API: tokens, posting, editing and deleting, reactions,
//! conversations and users, files, scripted faults and rate limits.

use super::{Client, read};
use hermod_testkit::slack::{Budget, FakeSlack, Fault};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn auth_test_names_the_bot_and_every_token_is_checked() {
    let fake = FakeSlack::start().await;
    let bot = Client::bot(&fake);
    let me = bot.ok("auth.test", json!({})).await;
    assert_eq!(me["user_id"], fake.bot_user_id());
    assert_eq!(me["user"], "hermod");
    assert_eq!(me["team_id"], fake.config().team_id);
    assert_eq!(me["bot_id"], fake.config().bot_id);
    assert_eq!(me["url"], "https://hermod-test.slack.com/");

    let wrong = Client::with_token(&fake, "xoxb-not-a-token");
    assert_eq!(wrong.error("auth.test", json!({})).await, "invalid_auth");
    let none = Client::with_token(&fake, "");
    let response = none
        .http()
        .post(none.url("auth.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(read(response).await.2["error"], "not_authed");
    let app = Client::app(&fake);
    assert_eq!(
        app.error("chat.postMessage", json!({"channel": "C1", "text": "x"}))
            .await,
        "not_allowed_token_type",
        "an app-level token only opens sockets"
    );
    assert_eq!(
        bot.error("apps.connections.open", json!({})).await,
        "not_allowed_token_type"
    );
    // A JSON body's `token` is not read: JSON callers use the header.
    let response = bot
        .http()
        .post(bot.url("auth.test"))
        .header("content-type", "application/json; charset=utf-8")
        .body(json!({"token": fake.config().bot_token}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(read(response).await.2["error"], "not_authed");
    // A form's is.
    let me = bot.form("auth.test", &[]).await;
    assert_eq!(me["ok"], true, "{me}");
    assert_eq!(me["warning"], Value::Null, "{me}");
    assert_eq!(fake.refused_calls(), 5);
    assert_eq!(
        fake.calls_of("auth.test").len(),
        2,
        "refused calls are not recorded"
    );
}

#[tokio::test]
async fn post_update_and_delete_keep_each_messages_history() {
    let fake = FakeSlack::start().await;
    let bot = Client::bot(&fake);
    let general = fake.public_channel("general");
    let alice = fake.user("alice");
    let question = alice.mention_bot_in(&general, "what is hermod?");

    let posted = bot
        .ok(
            "chat.postMessage",
            json!({"channel": general, "text": "thinking…", "thread_ts": question.ts, "mrkdwn": false}),
        )
        .await;
    assert_eq!(posted["channel"], general);
    let ts = posted["ts"].as_str().unwrap().to_owned();
    assert_eq!(posted["message"]["ts"], ts);
    assert_eq!(posted["message"]["user"], fake.bot_user_id());
    assert_eq!(posted["message"]["bot_id"], fake.config().bot_id);
    assert_eq!(posted["message"]["thread_ts"], question.ts);
    assert_eq!(posted["warning"], Value::Null);

    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*A* gateway"}}]);
    let updated = bot
        .ok(
            "chat.update",
            json!({"channel": general, "ts": ts, "text": "A gateway", "blocks": blocks}),
        )
        .await;
    assert_eq!(updated["text"], "A gateway");
    assert_eq!(updated["message"]["edited"]["user"], fake.bot_user_id());
    bot.ok(
        "chat.update",
        json!({"channel": general, "ts": ts, "text": "A gateway."}),
    )
    .await;

    let second = bot
        .form(
            "chat.postMessage",
            &[("channel", "#general"), ("text", "bye")],
        )
        .await;
    assert_eq!(
        second["ok"], true,
        "a channel name works for posting: {second}"
    );
    let second_ts = second["ts"].as_str().unwrap().to_owned();
    assert!(second_ts > ts, "ts values increase");
    bot.ok("chat.delete", json!({"channel": general, "ts": second_ts}))
        .await;

    let messages = fake.bot_messages(&general);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].text, "thinking…");
    assert!(!messages[0].mrkdwn);
    let edits: Vec<&str> = messages[0].edits.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(edits, ["A gateway", "A gateway."]);
    assert_eq!(messages[0].current_text(), "A gateway.");
    assert_eq!(messages[0].edits[0].blocks, Some(blocks));
    assert!(messages[1].deleted);
    assert_eq!(fake.thread(&general, &question.ts), messages[..1]);

    let long = "x".repeat(4_001);
    let cases = [
        (
            "chat.update",
            json!({"channel": general, "ts": second_ts, "text": "x"}),
            "message_not_found",
        ),
        (
            "chat.update",
            json!({"channel": general, "ts": question.ts, "text": "x"}),
            "cant_update_message",
        ),
        (
            "chat.delete",
            json!({"channel": general, "ts": question.ts}),
            "cant_delete_message",
        ),
        (
            "chat.update",
            json!({"channel": general, "ts": ts, "text": long}),
            "msg_too_long",
        ),
        (
            "chat.update",
            json!({"channel": "general", "ts": ts, "text": "x"}),
            "channel_not_found",
        ),
        (
            "chat.postMessage",
            json!({"channel": "C0NOWHERE", "text": "x"}),
            "channel_not_found",
        ),
        ("chat.postMessage", json!({"channel": general}), "no_text"),
        (
            "chat.postMessage",
            json!({"channel": general, "blocks": "[not json"}),
            "invalid_blocks_format",
        ),
    ];
    for (method, args, expected) in cases {
        assert_eq!(
            bot.error(method, args.clone()).await,
            expected,
            "{method} {args}"
        );
    }
    assert_eq!(fake.bot_messages(&general)[0].current_text(), "A gateway.");
}

#[tokio::test]
async fn long_text_is_truncated_and_sloppy_requests_get_warnings() {
    let fake = FakeSlack::start().await;
    let bot = Client::bot(&fake);
    let alice = fake.user("alice");
    let dm = alice.dm_channel();

    let long = "é".repeat(40_010);
    let posted = bot
        .ok(
            "chat.postMessage",
            json!({"channel": alice.id(), "text": long}),
        )
        .await;
    assert_eq!(posted["channel"], dm, "a user id posts to their DM");
    assert_eq!(posted["warning"], "message_truncated");
    assert_eq!(
        posted["response_metadata"]["warnings"],
        json!(["message_truncated"])
    );
    let message = &fake.bot_messages(&dm)[0];
    assert_eq!(message.text.chars().count(), 40_000);

    let response = bot
        .http()
        .post(bot.url("chat.postMessage"))
        .header("content-type", "application/json")
        .bearer_auth(&fake.config().bot_token)
        .body(json!({"channel": dm, "text": "no charset"}).to_string())
        .send()
        .await
        .unwrap();
    let body = read(response).await.2;
    assert_eq!(body["ok"], true);
    assert_eq!(body["warning"], "missing_charset");

    let response = bot
        .http()
        .post(bot.url("chat.postMessage"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(format!(
            "token={}&channel={dm}&text=hi",
            fake.config().bot_token
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(read(response).await.2["warning"], "superfluous_charset");

    let response = bot
        .http()
        .post(bot.url("chat.postMessage"))
        .header("content-type", "application/json; charset=utf-8")
        .bearer_auth(&fake.config().bot_token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(read(response).await.2["error"], "invalid_json");
    assert_eq!(
        bot.error("chat.postMesage", json!({})).await,
        "unknown_method"
    );
}

#[tokio::test]
async fn reactions_conversations_and_users() {
    let fake = FakeSlack::start().await;
    let bot = Client::bot(&fake);
    let general = fake.public_channel("general");
    let secret = fake.private_channel("secret");
    let alice = fake.user("alice");
    let said = alice.say_in(&general, "hello");

    let args = json!({"channel": general, "timestamp": said.ts, "name": "eyes"});
    bot.ok("reactions.add", args.clone()).await;
    assert_eq!(
        bot.error("reactions.add", args.clone()).await,
        "already_reacted"
    );
    assert_eq!(
        fake.reactions(&general, &said.ts),
        [("eyes".to_owned(), fake.bot_user_id().to_owned())]
    );
    bot.ok("reactions.remove", args.clone()).await;
    assert_eq!(bot.error("reactions.remove", args).await, "no_reaction");
    assert_eq!(
        bot.error(
            "reactions.add",
            json!({"channel": general, "timestamp": "1.2", "name": "eyes"})
        )
        .await,
        "message_not_found"
    );

    let info = bot
        .form("conversations.info", &[("channel", &general)])
        .await;
    assert_eq!(info["ok"], true, "{info}");
    assert_eq!(info["channel"]["name"], "general");
    assert_eq!(info["channel"]["is_private"], false);
    assert!(secret.starts_with('G'));
    let (_, _, info) = {
        let response = bot
            .http()
            .get(format!(
                "{}?channel={secret}",
                bot.url("conversations.info")
            ))
            .bearer_auth(&fake.config().bot_token)
            .send()
            .await
            .unwrap();
        read(response).await
    };
    assert_eq!(info["channel"]["is_private"], true, "{info}");
    let dm = bot
        .form("conversations.info", &[("channel", &alice.dm_channel())])
        .await;
    assert_eq!(dm["channel"]["is_im"], true);
    assert_eq!(dm["channel"]["user"], alice.id());
    // conversations.info takes no JSON body: its arguments go unread.
    let (_, _, body) = bot
        .call("conversations.info", json!({"channel": general}))
        .await;
    assert_eq!(body["error"], "channel_not_found");

    let opened = bot
        .ok("conversations.open", json!({"users": alice.id()}))
        .await;
    assert_eq!(opened["channel"]["id"], alice.dm_channel());
    assert_eq!(opened["channel"]["is_im"], Value::Null);
    let full = bot
        .ok(
            "conversations.open",
            json!({"users": alice.id(), "return_im": true}),
        )
        .await;
    assert_eq!(full["channel"]["is_im"], true);

    let user = bot.form("users.info", &[("user", alice.id())]).await;
    assert_eq!(user["user"]["name"], "alice");
    assert_eq!(user["user"]["real_name"], "Alice");
    assert_eq!(user["user"]["is_bot"], false);
    let me = bot
        .form("users.info", &[("user", fake.bot_user_id())])
        .await;
    assert_eq!(me["user"]["is_bot"], true);
    assert_eq!(me["user"]["profile"]["bot_id"], fake.config().bot_id);
    let relay = fake.other_bot("relay");
    let other = bot.form("users.info", &[("user", relay.id())]).await;
    assert_eq!(other["user"]["is_bot"], true);
    assert_eq!(
        bot.form("users.info", &[("user", "U0NOBODY")]).await["error"],
        "user_not_found"
    );

    fake.set_bot_member(&general, false);
    assert_eq!(
        bot.error("chat.postMessage", json!({"channel": general, "text": "x"}))
            .await,
        "not_in_channel"
    );
}

#[tokio::test]
async fn files_upload_in_three_steps_and_share_in_a_thread() {
    let fake = FakeSlack::start().await;
    let bot = Client::bot(&fake);
    let general = fake.public_channel("general");
    let root = fake.user("alice").say_in(&general, "send me the report");

    let got = bot
        .form(
            "files.getUploadURLExternal",
            &[("filename", "report.txt"), ("length", "11")],
        )
        .await;
    assert_eq!(got["ok"], true, "{got}");
    let file_id = got["file_id"].as_str().unwrap().to_owned();
    let upload_url = got["upload_url"].as_str().unwrap().to_owned();
    assert!(upload_url.starts_with(&fake.base_url()), "{upload_url}");
    let early = bot.ok_or_error_complete(&file_id, &general, &root.ts).await;
    assert_eq!(early["error"], "file_not_found", "nothing uploaded yet");

    let response = bot
        .http()
        .post(&upload_url)
        .body("hello world")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "OK - 11");
    let done = bot.ok_or_error_complete(&file_id, &general, &root.ts).await;
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(done["files"][0]["id"], file_id);
    assert_eq!(done["files"][0]["title"], "The report");

    let files = fake.uploaded_files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].bytes.as_deref(), Some(&b"hello world"[..]));
    assert_eq!(files[0].channel.as_deref(), Some(general.as_str()));
    assert_eq!(files[0].thread_ts.as_deref(), Some(root.ts.as_str()));
    assert!(files[0].completed);
    let shared = fake.thread(&general, &root.ts);
    assert_eq!(shared[0].files, [file_id]);
    assert_eq!(shared[0].text, "here it is");

    assert_eq!(
        bot.form(
            "files.getUploadURLExternal",
            &[("filename", "empty.txt"), ("length", "0")]
        )
        .await["error"],
        "missing_argument"
    );
}

#[tokio::test]
async fn files_upload_takes_json_arguments_and_a_multipart_file() {
    let fake = FakeSlack::start().await;
    let bot = Client::bot(&fake);
    let general = fake.public_channel("general");

    // The reference page lists `application/json` for this method.
    let got = bot
        .ok(
            "files.getUploadURLExternal",
            json!({"filename": "chart.png", "length": 4}),
        )
        .await;
    let file_id = got["file_id"].as_str().unwrap().to_owned();
    assert_eq!(
        bot.error("files.getUploadURLExternal", json!({"length": 4}))
            .await,
        "invalid_arguments",
        "no filename"
    );
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"\x89PNG".to_vec()).file_name("chart.png"),
    );
    let response = bot
        .http()
        .post(got["upload_url"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "OK - 4");
    let unknown = json!({"files": [{"id": "F0NOSUCHFILE"}], "channel_id": general});
    assert_eq!(
        bot.error("files.completeUploadExternal", unknown).await,
        "file_not_found"
    );
    assert!(fake.shared_uploads(&general).is_empty());

    let done = bot
        .ok(
            "files.completeUploadExternal",
            json!({"files": [{"id": file_id}], "channel_id": general}),
        )
        .await;
    assert_eq!(
        done["files"][0]["title"], "chart.png",
        "the name by default"
    );
    let shared = fake.wait_for_shared_uploads(&general, 1).await;
    assert_eq!(shared[0].bytes.as_deref(), Some(&b"\x89PNG"[..]));
    assert_eq!(shared[0].thread_ts, None);
    assert_eq!(shared[0].initial_comment, None);
    let message = &fake.bot_messages(&general)[0];
    assert_eq!(message.files, [file_id]);
    assert_eq!(message.text, "");
}

impl Client {
    async fn ok_or_error_complete(&self, file_id: &str, channel: &str, thread_ts: &str) -> Value {
        let (_, _, body) = self
            .call(
                "files.completeUploadExternal",
                json!({
                    "files": [{"id": file_id, "title": "The report"}],
                    "channel_id": channel,
                    "thread_ts": thread_ts,
                    "initial_comment": "here it is",
                }),
            )
            .await;
        body
    }
}

#[tokio::test]
async fn scripted_faults_answer_the_next_calls() {
    let fake = FakeSlack::start().await;
    let bot = Client::bot(&fake);
    let general = fake.public_channel("general");
    let post = json!({"channel": general, "text": "hi"});

    fake.fail_next("chat.postMessage", Fault::RateLimited { retry_after: 7 });
    let (status, retry_after, body) = bot.call("chat.postMessage", post.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after.as_deref(), Some("7"));
    assert_eq!(body, json!({"ok": false, "error": "ratelimited"}));

    fake.fail_times("*", 2, Fault::Error("invalid_auth".into()));
    assert_eq!(bot.error("auth.test", json!({})).await, "invalid_auth");
    assert_eq!(
        bot.error("chat.postMessage", post.clone()).await,
        "invalid_auth"
    );

    fake.fail_next("chat.postMessage", Fault::ServerError(503));
    let response = bot
        .http()
        .post(bot.url("chat.postMessage"))
        .bearer_auth(&fake.config().bot_token)
        .json(&post)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    fake.fail_next("chat.postMessage", Fault::DropConnection);
    let dropped = bot
        .http()
        .post(bot.url("chat.postMessage"))
        .bearer_auth(&fake.config().bot_token)
        .json(&post)
        .send()
        .await;
    assert!(dropped.is_err(), "the connection closes unanswered");

    bot.ok("chat.postMessage", post).await;
    assert_eq!(
        fake.bot_messages(&general).len(),
        1,
        "only the last post landed"
    );
    assert_eq!(fake.rate_limited_answers(), 1);
    assert_eq!(fake.calls_of("chat.postMessage").len(), 5);
}

#[tokio::test]
async fn budgets_count_overruns_and_answer_429_when_enforced() {
    let fake = FakeSlack::start().await;
    let bot = Client::bot(&fake);
    let general = fake.public_channel("general");
    let random = fake.public_channel("random");
    let ts = bot
        .ok("chat.postMessage", json!({"channel": general, "text": "0"}))
        .await["ts"]
        .as_str()
        .unwrap()
        .to_owned();

    // The default budget: one edit a second per channel. Editing three
    // times at once is two overruns, still answered while only counted.
    for n in 1..=3 {
        bot.ok(
            "chat.update",
            json!({"channel": general, "ts": ts, "text": n.to_string()}),
        )
        .await;
    }
    assert_eq!(fake.budget_overruns("chat.update"), 2);
    assert_eq!(fake.bot_messages(&general)[0].edits.len(), 3);
    bot.ok(
        "chat.postMessage",
        json!({"channel": random, "text": "elsewhere"}),
    )
    .await;
    assert_eq!(
        fake.budget_overruns("chat.postMessage"),
        0,
        "channels count apart"
    );

    fake.set_budgets(
        "chat.update",
        vec![Budget::per_channel(1, Duration::from_millis(300))],
    );
    fake.enforce_budgets(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    bot.ok(
        "chat.update",
        json!({"channel": general, "ts": ts, "text": "a"}),
    )
    .await;
    let (status, retry_after, body) = bot
        .call(
            "chat.update",
            json!({"channel": general, "ts": ts, "text": "b"}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        retry_after.as_deref(),
        Some("1"),
        "whole seconds, rounded up"
    );
    assert_eq!(body["error"], "ratelimited");
    assert_eq!(fake.budget_overruns("chat.update"), 3);
    assert_eq!(fake.bot_messages(&general)[0].current_text(), "a");
}
