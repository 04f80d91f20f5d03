//! Sending, editing and deleting messages; formatting and length checks;
//! the token; scripted faults and rate limits.

use super::{Client, read};
use hermod_testkit::telegram::{FakeTelegram, Fault};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

/// A fake where user 1001 has written once (message 1), so the bot may
/// write to them.
async fn fake_with_alice() -> (FakeTelegram, Client) {
    let fake = FakeTelegram::start().await;
    fake.user(1001, "Alice").dm("hi");
    let bot = Client::new(&fake);
    (fake, bot)
}

#[tokio::test]
async fn send_edit_and_delete_round_trip() {
    let (fake, bot) = fake_with_alice().await;
    let sent = bot
        .ok(
            "sendMessage",
            json!({"chat_id": 1001, "text": "first", "reply_parameters": {"message_id": 1}}),
        )
        .await;
    assert_eq!(sent["message_id"], 2, "ids are shared with the user's");
    assert_eq!(sent["from"]["id"], fake.bot_id());
    assert_eq!(sent["chat"]["id"], 1001);
    assert_eq!(sent["text"], "first");
    assert_eq!(sent["reply_to_message"]["text"], "hi");
    let second = bot
        .ok("sendMessage", json!({"chat_id": "1001", "text": "second"}))
        .await;
    assert_eq!(second["message_id"], 3);

    let edited = bot
        .ok(
            "editMessageText",
            json!({"chat_id": 1001, "message_id": 2, "text": "first, edited"}),
        )
        .await;
    assert_eq!(edited["text"], "first, edited");
    assert!(edited["edit_date"].is_u64());
    let (status, description) = bot
        .error(
            "editMessageText",
            json!({"chat_id": 1001, "message_id": 2, "text": "first, edited"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        description.starts_with("Bad Request: message is not modified: "),
        "{description}"
    );
    assert_eq!(
        bot.ok("deleteMessage", json!({"chat_id": 1001, "message_id": 3}))
            .await,
        true
    );
    let cases = [
        (
            "deleteMessage",
            json!({"chat_id": 1001, "message_id": 3}),
            "Bad Request: message to delete not found",
        ),
        (
            "editMessageText",
            json!({"chat_id": 1001, "message_id": 3, "text": "x"}),
            "Bad Request: message to edit not found",
        ),
        (
            "editMessageText",
            json!({"chat_id": 1001, "message_id": 1, "text": "x"}),
            "Bad Request: message can't be edited",
        ),
        (
            "sendMessage",
            json!({"chat_id": 2002, "text": "x"}),
            "Bad Request: chat not found",
        ),
        (
            "sendMessage",
            json!({"chat_id": 1001, "text": " \n"}),
            "Bad Request: message text is empty",
        ),
        (
            "sendMessage",
            json!({"chat_id": 1001, "text": "x", "reply_parameters": {"message_id": 99}}),
            "Bad Request: message to be replied not found",
        ),
    ];
    for (method, params, expected) in cases {
        assert_eq!(
            bot.error(method, params.clone()).await,
            (400, expected.to_owned()),
            "{method} {params}"
        );
    }

    let messages = fake.bot_messages(1001);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].text, "first");
    assert_eq!(messages[0].edits, ["first, edited"]);
    assert_eq!(messages[0].current_text(), "first, edited");
    assert_eq!(messages[0].reply_to, Some(1));
    assert!(!messages[0].deleted);
    assert!(messages[1].deleted);
    let methods: Vec<String> = fake.calls().into_iter().map(|c| c.method).collect();
    assert_eq!(methods.len(), 11);
    assert!(
        fake.calls()
            .iter()
            .all(|c| !c.params.to_string().contains("TEST-TOKEN"))
    );
}

#[tokio::test]
async fn length_is_counted_in_utf16_code_units() {
    let (fake, bot) = fake_with_alice().await;
    for text in ["x".repeat(4096), "é".repeat(4096), "😀".repeat(2048)] {
        bot.ok("sendMessage", json!({"chat_id": 1001, "text": text}))
            .await;
    }
    for text in ["x".repeat(4097), "😀".repeat(2049)] {
        assert_eq!(
            bot.error("sendMessage", json!({"chat_id": 1001, "text": text}))
                .await,
            (400, "Bad Request: message is too long".to_owned())
        );
    }
    // Tags do not count.
    let tagged = format!("<b>{}</b>", "x".repeat(4096));
    bot.ok(
        "sendMessage",
        json!({"chat_id": 1001, "text": tagged, "parse_mode": "HTML"}),
    )
    .await;
    assert_eq!(fake.bot_messages(1001).len(), 4);
}

#[tokio::test]
async fn html_is_validated_and_stored_without_tags() {
    let (fake, bot) = fake_with_alice().await;
    let raw = "<b>bold</b> &amp; <a href=\"https://example.com\">link</a>";
    let sent = bot
        .ok(
            "sendMessage",
            json!({"chat_id": 1001, "text": raw, "parse_mode": "HTML"}),
        )
        .await;
    assert_eq!(sent["text"], "bold & link");
    assert_eq!(
        sent["entities"],
        json!([
            {"type": "bold", "offset": 0, "length": 4},
            {"type": "text_link", "offset": 7, "length": 4, "url": "https://example.com"},
        ])
    );
    let (status, description) = bot
        .error(
            "sendMessage",
            json!({"chat_id": 1001, "text": "a <br> b", "parse_mode": "HTML"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        description,
        "Bad Request: can't parse entities: Unsupported start tag \"br\" at byte offset 2"
    );
    // The same text as plain text goes through.
    bot.ok("sendMessage", json!({"chat_id": 1001, "text": "a <br> b"}))
        .await;
    bot.ok(
        "sendMessage",
        json!({"chat_id": 1001, "text": "*bold* 1\\.5", "parse_mode": "MarkdownV2"}),
    )
    .await;

    let messages = fake.bot_messages(1001);
    assert_eq!(messages[0].text, "bold & link");
    assert_eq!(messages[0].raw_text, raw);
    assert_eq!(messages[0].parse_mode.as_deref(), Some("HTML"));
    assert_eq!(messages[0].entities.len(), 2);
    assert_eq!(messages[1].text, "a <br> b");
    assert_eq!(messages[1].parse_mode, None);
    assert_eq!(messages[2].text, "*bold* 1.5");

    // Editing to the same text with other markup is a change.
    bot.ok(
        "editMessageText",
        json!({"chat_id": 1001, "message_id": 2, "text": "bold &amp; link", "parse_mode": "html"}),
    )
    .await;
    let message = &fake.bot_messages(1001)[0];
    assert_eq!(message.current_text(), "bold & link");
    assert_eq!(message.current_raw_text(), "bold &amp; link");
    assert_eq!(message.current_parse_mode(), Some("html"));
    assert!(message.entities.is_empty());
}

#[tokio::test]
async fn forms_queries_and_case_insensitive_names_work() {
    let (fake, bot) = fake_with_alice().await;
    let response = bot
        .http()
        .post(bot.url("sendmessage"))
        .form(&[("chat_id", "1001"), ("text", "from a form")])
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response = bot.http().get(bot.url("getMe")).send().await.unwrap();
    let (_, me) = read(response).await;
    assert_eq!(me["result"]["username"], "hermod_test_bot", "{me}");
    assert_eq!(me["result"]["id"], 123_456);
    assert_eq!(me["result"]["first_name"], "Hermod");
    assert_eq!(me["result"]["is_bot"], true);
    let response = bot
        .http()
        .get(format!(
            "{}?chat_id=1001&action=typing",
            bot.url("sendChatAction")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(read(response).await.1["result"], true);
    assert_eq!(fake.bot_messages(1001)[0].text, "from a form");
    assert_eq!(fake.chat_actions(1001), ["typing"]);
    assert_eq!(
        fake.calls()[0].params,
        json!({"chat_id": "1001", "text": "from a form"})
    );
}

#[tokio::test]
async fn a_wrong_token_and_unknown_methods_are_refused() {
    let fake = FakeTelegram::start().await;
    let stranger = Client::with_token(&fake, "123456:WRONG");
    let (status, body) = stranger.call("getMe", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
    );
    assert_eq!(fake.unauthorized_calls(), 1);
    assert!(fake.calls().is_empty());

    let bot = Client::new(&fake);
    let (status, body) = bot.call("sendTelepathy", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 404, "description": "Not Found"})
    );
}

#[tokio::test]
async fn commands_and_chat_actions_are_recorded() {
    let (fake, bot) = fake_with_alice().await;
    let commands = json!([{"command": "start", "description": "Start"}, {"command": "help", "description": "Help"}]);
    bot.ok("setMyCommands", json!({"commands": commands})).await;
    // Forms carry JSON-serialized parameters as strings.
    let response = bot
        .http()
        .post(bot.url("setMyCommands"))
        .form(&[("commands", commands.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(bot.ok("getMyCommands", json!({})).await, commands);
    assert_eq!(
        fake.my_commands(),
        [
            ("start".to_owned(), "Start".to_owned()),
            ("help".to_owned(), "Help".to_owned())
        ]
    );
    assert_eq!(fake.set_my_commands_calls(), 2);
    let (status, _) = bot
        .error(
            "setMyCommands",
            json!({"commands": [{"command": "Bad Name", "description": "x"}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(fake.set_my_commands_calls(), 2);

    bot.ok(
        "sendChatAction",
        json!({"chat_id": 1001, "action": "typing"}),
    )
    .await;
    assert_eq!(
        bot.error(
            "sendChatAction",
            json!({"chat_id": 1001, "action": "dancing"})
        )
        .await,
        (
            400,
            "Bad Request: wrong parameter action in request".to_owned()
        )
    );
    assert_eq!(fake.chat_actions(1001), ["typing"]);
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let (fake, bot) = fake_with_alice().await;
    fake.fail_next("sendMessage", Fault::TooManyRequests { retry_after: 5 });
    let (status, body) = bot
        .call("sendMessage", json!({"chat_id": 1001, "text": "x"}))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        body,
        json!({
            "ok": false,
            "error_code": 429,
            "description": "Too Many Requests: retry after 5",
            "parameters": {"retry_after": 5},
        })
    );
    bot.ok("sendMessage", json!({"chat_id": 1001, "text": "x"}))
        .await;

    fake.rate_limit("sendMessage", Duration::from_secs(30));
    for _ in 0..2 {
        let (status, body) = bot
            .call("sendMessage", json!({"chat_id": 1001, "text": "y"}))
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let retry_after = body["parameters"]["retry_after"].as_u64().unwrap();
        assert!((29..=30).contains(&retry_after), "{retry_after}");
    }
    bot.ok("getMe", json!({})).await;
    assert_eq!(fake.rate_limit_hits(), 3);
    fake.clear_rate_limits();
    bot.ok("sendMessage", json!({"chat_id": 1001, "text": "y"}))
        .await;
    assert_eq!(
        fake.bot_messages(1001).len(),
        2,
        "refused calls send nothing"
    );
}

#[tokio::test]
async fn faults_come_in_order_and_any_method_matches_star() {
    let (fake, bot) = fake_with_alice().await;
    fake.fail_next("*", Fault::ServerError(502));
    fake.fail_next("getMe", Fault::Unauthorized);
    fake.fail_next("getMe", Fault::BadRequest("chat not found".into()));
    fake.fail_next(
        "getme",
        Fault::Forbidden("bot was blocked by the user".into()),
    );
    let expected = [
        (401, "Unauthorized"),
        (400, "Bad Request: chat not found"),
        (403, "Forbidden: bot was blocked by the user"),
        (502, "Bad Gateway"),
    ];
    for (status, description) in expected {
        assert_eq!(
            bot.error("getMe", json!({})).await,
            (status, description.to_owned())
        );
    }
    bot.ok("getMe", json!({})).await;
}

#[tokio::test]
async fn calls_can_succeed_without_a_result() {
    let (fake, bot) = fake_with_alice().await;
    let sent = bot
        .ok("sendMessage", json!({"chat_id": 1001, "text": "first"}))
        .await;
    let id = sent["message_id"].clone();
    fake.answer_without_result("editMessageText");
    let (status, body) = bot
        .call(
            "editMessageText",
            json!({"chat_id": 1001, "message_id": id, "text": "second"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"ok": true, "result": null}));
    // The edit took effect all the same; failures are still answered.
    assert_eq!(fake.bot_messages(1001)[0].current_text(), "second");
    let (status, _) = bot
        .error(
            "editMessageText",
            json!({"chat_id": 1001, "message_id": id, "text": "second"}),
        )
        .await;
    assert_eq!(status, 400);
    // Other methods keep their results until switched.
    assert!(
        bot.ok("sendMessage", json!({"chat_id": 1001, "text": "third"}))
            .await
            .is_object()
    );
    fake.answer_without_result("*");
    assert_eq!(
        bot.ok("sendMessage", json!({"chat_id": 1001, "text": "fourth"}))
            .await,
        json!(null)
    );
    assert_eq!(fake.bot_messages(1001).len(), 3);
    fake.answer_with_results();
    assert!(
        bot.ok("sendMessage", json!({"chat_id": 1001, "text": "fifth"}))
            .await
            .is_object()
    );
}

#[tokio::test]
async fn a_slow_answer_waits_on_the_tokio_clock() {
    let (fake, bot) = fake_with_alice().await;
    fake.fail_next("sendMessage", Fault::Slow(Duration::from_millis(300)));
    let started = Instant::now();
    bot.ok("sendMessage", json!({"chat_id": 1001, "text": "late"}))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(fake.bot_messages(1001)[0].text, "late");
}

#[tokio::test]
async fn a_dropped_connection_is_a_connection_error() {
    let (fake, bot) = fake_with_alice().await;
    // A pooled connection first, so the drop hits a reused one.
    bot.ok("getMe", json!({})).await;
    fake.fail_next("sendMessage", Fault::DropConnection);
    let error = bot
        .http()
        .post(bot.url("sendMessage"))
        .json(&json!({"chat_id": 1001, "text": "lost"}))
        .send()
        .await
        .expect_err("the connection is closed without an answer");
    assert!(error.is_request() && error.status().is_none(), "{error}");
    assert!(!error.is_timeout());
    assert!(fake.bot_messages(1001).is_empty());
    bot.ok("sendMessage", json!({"chat_id": 1001, "text": "found"}))
        .await;
    assert_eq!(fake.calls_of("sendMessage").len(), 2);
}
