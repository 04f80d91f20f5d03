//! REST: the gateway URL and the bot user, the token, creating, editing
//! and deleting messages with Discord's limits and errors, uploads and
//! the CDN, reactions, typing and threads.

use super::{Rest, send};
use hermod_testkit::discord::{Budget, FakeDiscord, FakeFile, IS_VOICE_MESSAGE, Post, Route};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

/// A fake with alice in a guild with #general, and the bot's client.
async fn fake_with_general() -> (FakeDiscord, Rest, u64) {
    let fake = FakeDiscord::start().await;
    let alice = fake.user("alice");
    let general = fake.guild("Hermod HQ", &alice).text_channel("general");
    let rest = Rest::new(&fake);
    (fake, rest, general)
}

#[tokio::test]
async fn gateway_bot_and_the_current_user() {
    let fake = FakeDiscord::start().await;
    let rest = Rest::new(&fake);
    let gateway = rest.get("/gateway/bot").await;
    assert_eq!(gateway.status, StatusCode::OK);
    assert_eq!(gateway.body["url"], fake.gateway_url());
    assert_eq!(gateway.body["shards"], 1);
    assert_eq!(gateway.body["session_start_limit"]["max_concurrency"], 1);
    assert_eq!(gateway.body["session_start_limit"]["remaining"], 1000);
    let me = rest.get("/users/@me").await;
    assert_eq!(me.body["id"], fake.bot_id().to_string());
    assert_eq!(me.body["username"], "hermod");
    assert_eq!(me.body["bot"], true);
    let calls = fake.calls_of(Route::GetCurrentUser);
    assert_eq!(
        calls[0].user_agent.as_deref(),
        Some("DiscordBot (https://github.com/hermod-gateway/hermod, 0.1.0)")
    );

    let wrong = Rest::with_token(&fake, "nope").get("/users/@me").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.body,
        json!({"message": "401: Unauthorized", "code": 0})
    );
    let bare = send(
        rest.http()
            .get(format!("{}/users/@me", fake.api_base_url())),
    )
    .await;
    assert_eq!(bare.status, StatusCode::UNAUTHORIZED);
    assert_eq!(fake.unauthorized_calls(), 2);
    let unknown = rest.get("/nothing/here").await;
    assert_eq!(
        unknown.body,
        json!({"message": "404: Not Found", "code": 0})
    );
    let open = send(rest.http().get(format!("{}/gateway", fake.api_base_url()))).await;
    assert_eq!(
        open.body,
        json!({"url": fake.gateway_url()}),
        "no token needed"
    );
}

#[tokio::test]
async fn the_bot_opens_a_dm_with_a_known_user() {
    let fake = FakeDiscord::start().await;
    let rest = Rest::new(&fake);
    let dave = fake.user_with_id(1001, "dave");
    let dm = rest
        .post("/users/@me/channels", json!({"recipient_id": "1001"}))
        .await;
    assert_eq!(dm.status, StatusCode::OK, "{}", dm.body);
    assert_eq!(dm.body["type"], 1);
    assert_eq!(dm.body["recipients"][0]["id"], "1001");
    assert_eq!(
        dm.body["id"],
        dave.dm_channel().to_string(),
        "the same channel every time"
    );
    let sent = rest
        .post(
            &format!("/channels/{}/messages", dave.dm_channel()),
            json!({"content": "hi dave"}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    let nobody = rest
        .post("/users/@me/channels", json!({"recipient_id": "7"}))
        .await;
    assert_eq!(
        nobody.body,
        json!({"message": "Unknown User", "code": 10013})
    );
    assert_eq!(fake.call_count(Route::CreateDm), 2);
}

#[tokio::test]
async fn create_edit_and_delete_round_trip() {
    let (fake, rest, general) = fake_with_general().await;
    let path = format!("/channels/{general}/messages");
    let sent = rest.post(&path, json!({"content": "first draft"})).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let id = sent.body["id"].as_str().expect("a snowflake").to_owned();
    assert_eq!(sent.body["channel_id"], general.to_string());
    assert_eq!(sent.body["author"]["id"], fake.bot_id().to_string());
    assert_eq!(sent.body["content"], "first draft");
    assert_eq!(sent.body["edited_timestamp"], serde_json::Value::Null);
    assert_eq!(sent.body["type"], 0);

    let edited = rest
        .patch(&format!("{path}/{id}"), json!({"content": "final text"}))
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(edited.body["content"], "final text");
    assert!(edited.body["edited_timestamp"].is_string());
    rest.patch(&format!("{path}/{id}"), json!({"content": "really final"}))
        .await;

    let reply = rest
        .post(
            &path,
            json!({"content": "see above", "message_reference": {"message_id": id}}),
        )
        .await;
    assert_eq!(reply.body["type"], 19);
    assert_eq!(reply.body["referenced_message"]["id"], id.as_str());
    let deleted = rest
        .delete(&format!(
            "{path}/{}",
            reply.body["id"].as_str().expect("an id")
        ))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);

    let messages = fake.bot_messages(general);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].content, "first draft");
    assert_eq!(messages[0].edits, ["final text", "really final"]);
    assert_eq!(messages[0].current_content(), "really final");
    assert_eq!(messages[1].reply_to, id.parse().ok());
    assert!(messages[1].deleted);
    let again = rest.delete(&format!("{path}/{}", messages[1].id)).await;
    assert_eq!(
        again.body,
        json!({"message": "Unknown Message", "code": 10008})
    );
}

#[tokio::test]
async fn content_limits_and_errors_have_discords_shape() {
    let (fake, rest, general) = fake_with_general().await;
    let path = format!("/channels/{general}/messages");
    let at_limit = "é".repeat(2000);
    assert_eq!(
        rest.post(&path, json!({"content": at_limit})).await.status,
        StatusCode::OK
    );
    let over = rest.post(&path, json!({"content": "x".repeat(2001)})).await;
    assert_eq!(over.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        over.body,
        json!({
            "message": "Invalid Form Body",
            "code": 50035,
            "errors": {"content": {"_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
            ]}},
        })
    );
    let empty = rest.post(&path, json!({"content": ""})).await;
    assert_eq!(
        empty.body,
        json!({"message": "Cannot send an empty message", "code": 50006})
    );
    let nowhere = rest
        .post("/channels/123/messages", json!({"content": "x"}))
        .await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(
        nowhere.body,
        json!({"message": "Unknown Channel", "code": 10003})
    );
    let lost = rest
        .post(
            &path,
            json!({"content": "x", "message_reference": {"message_id": "42"}}),
        )
        .await;
    assert_eq!(
        lost.body["errors"]["message_reference"]["_errors"][0]["code"],
        "MESSAGE_REFERENCE_UNKNOWN_MESSAGE"
    );
    let broken = send(
        rest.request(reqwest::Method::POST, &path)
            .header("content-type", "application/json")
            .body("{\"content\": "),
    )
    .await;
    assert_eq!(broken.body["code"], 50109);

    let theirs = fake.user("bob").say_in(general, "mine");
    let edit = rest
        .patch(&format!("{path}/{theirs}"), json!({"content": "x"}))
        .await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN);
    assert_eq!(edit.body["code"], 50005);
    let long_edit = rest
        .patch(
            &format!("{path}/{}", fake.bot_messages(general)[0].id),
            json!({"content": "y".repeat(2001)}),
        )
        .await;
    assert_eq!(long_edit.body["code"], 50035);
}

#[tokio::test]
async fn multipart_uploads_land_on_the_cdn() {
    let (fake, rest, general) = fake_with_general().await;
    let payload = json!({
        "content": "the report",
        "attachments": [{"id": 0, "filename": "report.txt", "description": "numbers"}],
    });
    let form = reqwest::multipart::Form::new()
        .part(
            "payload_json",
            reqwest::multipart::Part::text(payload.to_string())
                .mime_str("application/json")
                .expect("a mime"),
        )
        .part(
            "files[0]",
            reqwest::multipart::Part::bytes(b"1,2,3".to_vec())
                .file_name("upload.txt")
                .mime_str("text/plain")
                .expect("a mime"),
        );
    let sent = send(
        rest.request(
            reqwest::Method::POST,
            &format!("/channels/{general}/messages"),
        )
        .multipart(form),
    )
    .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let attachment = &sent.body["attachments"][0];
    assert_eq!(attachment["filename"], "report.txt");
    assert_eq!(attachment["description"], "numbers");
    assert_eq!(attachment["size"], 5);
    let url = attachment["url"].as_str().expect("a URL");
    let bytes = rest.http().get(url).send().await.expect("the CDN answers");
    assert_eq!(bytes.bytes().await.expect("bytes").as_ref(), b"1,2,3");
    let unsigned = url.split('?').next().expect("a path");
    let refused = rest
        .http()
        .get(unsigned)
        .send()
        .await
        .expect("the CDN answers");
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(fake.bot_messages(general)[0].files[0].bytes, b"1,2,3");
    assert_eq!(
        fake.calls_of(Route::CreateMessage)[0].body["content"],
        "the report"
    );

    // A user's attachment downloads the same way.
    let alice = fake.user("carol");
    let id = alice.send(
        general,
        Post::text("look").with_attachment(FakeFile::new("cat.png", "image/png", vec![137, 80])),
    );
    let message = fake.message(id).expect("stored");
    let url = message["attachments"][0]["url"].as_str().expect("a URL");
    let download = rest.http().get(url).send().await.expect("the CDN answers");
    assert_eq!(download.headers()["content-type"], "image/png");
    assert_eq!(fake.cdn_downloads(), 3);

    // A voice message: flagged, its one recording with length and waveform.
    let voice = alice.send(
        general,
        Post::voice_message(b"OggS voice".to_vec(), 2.5, "AAEC"),
    );
    let message = fake.message(voice).expect("stored");
    assert_eq!(message["flags"], IS_VOICE_MESSAGE);
    assert_eq!(message["content"], "");
    let recording = &message["attachments"][0];
    assert_eq!(recording["filename"], "voice-message.ogg");
    assert_eq!(recording["content_type"], "audio/ogg");
    assert_eq!(recording["duration_secs"], 2.5);
    assert_eq!(recording["waveform"], "AAEC");
    let url = recording["url"].as_str().expect("a URL");
    let download = rest.http().get(url).send().await.expect("the CDN answers");
    assert_eq!(
        download.bytes().await.expect("the bytes").as_ref(),
        b"OggS voice"
    );
}

#[tokio::test]
async fn reactions_typing_and_threads() {
    let (fake, rest, general) = fake_with_general().await;
    // Reactions take one per quarter second per channel by default.
    fake.set_budget(
        Route::CreateReaction,
        Budget::new(5, Duration::from_secs(1)),
    );
    let alice = fake.user("alice2");
    let theirs = alice.say_in(general, "start a thread here");
    let react = format!("/channels/{general}/messages/{theirs}/reactions/%F0%9F%91%8D/@me");
    assert_eq!(
        rest.put(&react, serde_json::Value::Null).await.status,
        StatusCode::NO_CONTENT
    );
    let named = format!("/channels/{general}/messages/{theirs}/reactions/thumbsup/@me");
    let unknown = rest.put(&named, serde_json::Value::Null).await;
    assert_eq!(
        unknown.body,
        json!({"message": "Unknown Emoji", "code": 10014})
    );
    assert_eq!(rest.delete(&react).await.status, StatusCode::NO_CONTENT);
    let reactions = fake.reactions();
    assert_eq!(reactions.len(), 1);
    assert_eq!(reactions[0].emoji, "👍");
    assert!(reactions[0].removed);

    let typing = rest
        .post(
            &format!("/channels/{general}/typing"),
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(typing.status, StatusCode::NO_CONTENT);
    assert_eq!(fake.typing_count(general), 1);

    let from_message = format!("/channels/{general}/messages/{theirs}/threads");
    let thread = rest.post(&from_message, json!({"name": "a thread"})).await;
    assert_eq!(thread.status, StatusCode::CREATED, "{}", thread.body);
    assert_eq!(
        thread.body["id"],
        theirs.to_string(),
        "the thread takes the message's id"
    );
    assert_eq!(thread.body["type"], 11);
    assert_eq!(thread.body["parent_id"], general.to_string());
    let twice = rest.post(&from_message, json!({"name": "again"})).await;
    assert_eq!(twice.body["code"], 160_004);
    let unnamed = rest
        .post(&format!("/channels/{general}/threads"), json!({"name": ""}))
        .await;
    assert_eq!(
        unnamed.body["errors"]["name"]["_errors"][0]["code"],
        "BASE_TYPE_BAD_LENGTH"
    );
    let private = rest
        .post(
            &format!("/channels/{general}/threads"),
            json!({"name": "quiet"}),
        )
        .await;
    assert_eq!(private.body["type"], 12, "type defaults to PRIVATE_THREAD");

    let in_thread = rest
        .post(
            &format!("/channels/{theirs}/messages"),
            json!({"content": "inside"}),
        )
        .await;
    assert_eq!(in_thread.status, StatusCode::OK);
    let channel = rest.get(&format!("/channels/{theirs}")).await;
    assert_eq!(channel.body["member"]["user_id"], fake.bot_id().to_string());
    assert_eq!(fake.threads(general).len(), 2);
    let dm = alice.dm_channel();
    let nested = rest
        .post(&format!("/channels/{dm}/threads"), json!({"name": "no"}))
        .await;
    assert_eq!(nested.body["code"], 50024);
}
