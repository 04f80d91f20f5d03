//! Photos and documents both ways, downloads, topics, and webhooks.

use super::Client;
use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use hermod_testkit::telegram::{FakeTelegram, Fault};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn a_users_photo_and_document_can_be_downloaded() {
    let fake = FakeTelegram::start().await;
    let bot = Client::new(&fake);
    let alice = fake.user(1001, "Alice");
    alice.dm_photo(Some("look"), b"\x89PNG fake".to_vec());
    alice.dm_document("notes.txt", "text/plain", b"some notes".to_vec(), None);
    let updates = bot.ok("getUpdates", json!({})).await;

    let photo = &updates[0]["message"];
    assert_eq!(photo["caption"], "look");
    let sizes = photo["photo"].as_array().unwrap();
    assert_eq!(sizes.len(), 3);
    let widths: Vec<u64> = sizes.iter().filter_map(|s| s["width"].as_u64()).collect();
    assert!(widths.windows(2).all(|w| w[0] < w[1]), "largest last");
    let mut ids: Vec<&str> = sizes.iter().filter_map(|s| s["file_id"].as_str()).collect();
    let mut unique: Vec<&str> = sizes
        .iter()
        .filter_map(|s| s["file_unique_id"].as_str())
        .collect();
    ids.dedup();
    unique.dedup();
    assert_eq!((ids.len(), unique.len()), (3, 3));

    let file = bot
        .ok("getFile", json!({"file_id": sizes[2]["file_id"]}))
        .await;
    assert_eq!(file["file_size"], 9);
    let url = format!(
        "{}/file/bot{}/{}",
        fake.base_url(),
        fake.token(),
        file["file_path"].as_str().unwrap()
    );
    let bytes = bot
        .http()
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"\x89PNG fake");

    let document = &updates[1]["message"]["document"];
    assert_eq!(document["file_name"], "notes.txt");
    assert_eq!(document["mime_type"], "text/plain");
    let file = bot
        .ok("getFile", json!({"file_id": document["file_id"]}))
        .await;
    let path = file["file_path"].as_str().unwrap();
    let url = format!("{}/file/bot{}/{path}", fake.base_url(), fake.token());
    let bytes = bot
        .http()
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"some notes");

    let wrong = format!("{}/file/bot1:WRONG/{path}", fake.base_url());
    let response = bot.http().get(&wrong).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let missing = format!(
        "{}/file/bot{}/photos/none.jpg",
        fake.base_url(),
        fake.token()
    );
    let response = bot.http().get(&missing).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        bot.error("getFile", json!({"file_id": "nope"})).await,
        (400, "Bad Request: invalid file_id".to_owned())
    );

    fake.fail_next("download", Fault::ServerError(500));
    let response = bot.http().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // Every download with the right token counts, answered or not.
    assert_eq!(fake.file_downloads(), 4);
}

#[tokio::test]
async fn the_bot_uploads_photos_and_documents() {
    let fake = FakeTelegram::start().await;
    fake.user(1001, "Alice").dm("send me things");
    let bot = Client::new(&fake);

    let form = Form::new()
        .text("chat_id", "1001")
        .text("caption", "<b>a chart</b>")
        .text("parse_mode", "HTML")
        .part(
            "photo",
            Part::bytes(b"jpeg bytes".to_vec()).file_name("chart.jpg"),
        );
    let response = bot
        .http()
        .post(bot.url("sendPhoto"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = super::read(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["caption"], "a chart");
    assert_eq!(body["result"]["photo"].as_array().unwrap().len(), 3);

    let form = Form::new().text("chat_id", "1001").part(
        "document",
        Part::bytes(b"%PDF".to_vec())
            .file_name("report.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let response = bot
        .http()
        .post(bot.url("sendDocument"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = super::read(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["document"]["mime_type"], "application/pdf");

    let messages = fake.bot_messages(1001);
    assert!(messages[0].photo);
    assert_eq!(messages[0].caption.as_deref(), Some("a chart"));
    assert_eq!(messages[0].current_text(), "a chart");
    assert_eq!(messages[0].raw_text, "<b>a chart</b>");
    let photo = fake.file_bytes(messages[0].file_id.as_deref().unwrap());
    assert_eq!(photo.as_deref(), Some(&b"jpeg bytes"[..]));
    assert_eq!(messages[1].document.as_deref(), Some("report.pdf"));
    assert_eq!(messages[1].caption, None);
    let call = &fake.calls_of("sendDocument")[0];
    assert_eq!(
        call.params["document"],
        json!({"file_name": "report.pdf", "mime_type": "application/pdf", "size": 4})
    );

    // A photo message has no text to edit, but a caption.
    assert_eq!(
        bot.error(
            "editMessageText",
            json!({"chat_id": 1001, "message_id": 2, "text": "x"})
        )
        .await,
        (
            400,
            "Bad Request: there is no text in the message to edit".to_owned()
        )
    );
    bot.ok(
        "editMessageCaption",
        json!({"chat_id": 1001, "message_id": 2, "caption": "a better chart"}),
    )
    .await;
    assert_eq!(fake.bot_messages(1001)[0].current_text(), "a better chart");
}

#[tokio::test]
async fn topics_route_bot_messages_by_thread() {
    let fake = FakeTelegram::start().await;
    let bot = Client::new(&fake);
    fake.user(1001, "Alice").in_topic(-100_700, 12, "question");
    let sent = bot
        .ok(
            "sendMessage",
            json!({"chat_id": -100_700, "message_thread_id": 12, "text": "answer"}),
        )
        .await;
    assert_eq!(sent["message_thread_id"], 12);
    assert_eq!(sent["is_topic_message"], true);
    assert_eq!(
        bot.error(
            "sendMessage",
            json!({"chat_id": -100_700, "message_thread_id": 99, "text": "lost"})
        )
        .await,
        (400, "Bad Request: message thread not found".to_owned())
    );
    let messages = fake.bot_messages(-100_700);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].thread_id, Some(12));
    fake.open_chat(-100_800);
    bot.ok("sendMessage", json!({"chat_id": -100_800, "text": "home"}))
        .await;
}

/// The updates a webhook receiver got, with their secret headers.
type Received = Arc<Mutex<Vec<(Value, Option<String>)>>>;

/// A webhook receiver recording what it gets.
async fn receiver() -> (String, Received) {
    let got = Received::default();
    let record = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let record = record.clone();
            async move {
                let secret = headers
                    .get("x-telegram-bot-api-secret-token")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let update = serde_json::from_str(&body).unwrap_or(Value::Null);
                record
                    .lock()
                    .expect("the record is intact")
                    .push((update, secret));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test]
async fn a_webhook_blocks_get_updates_and_receives_deliveries() {
    let fake = FakeTelegram::start().await;
    let bot = Client::new(&fake);
    let (url, got) = receiver().await;
    assert_eq!(
        bot.error(
            "setWebhook",
            json!({"url": url, "secret_token": "not allowed!"})
        )
        .await
        .0,
        400
    );
    bot.ok(
        "setWebhook",
        json!({"url": url, "secret_token": "s3cret_token"}),
    )
    .await;
    assert_eq!(
        fake.webhook(),
        Some((url.clone(), Some("s3cret_token".to_owned())))
    );
    assert_eq!(
        bot.error("getUpdates", json!({})).await,
        (
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first".to_owned()
        )
    );
    let info = bot.ok("getWebhookInfo", json!({})).await;
    assert_eq!(info["url"], url.as_str());

    let status = fake
        .deliver_webhook(json!({"message": {"message_id": 1, "text": "pushed"}}))
        .await;
    assert_eq!(status, StatusCode::OK);
    fake.user(1001, "Alice").dm("queued");
    assert_eq!(fake.deliver_pending_webhook().await, [StatusCode::OK]);
    assert!(fake.pending_updates().is_empty());
    {
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0["message"]["text"], "pushed");
        assert!(got[0].0["update_id"].is_i64());
        assert_eq!(got[0].1.as_deref(), Some("s3cret_token"));
        assert_eq!(got[1].0["message"]["text"], "queued");
    }

    bot.ok("deleteWebhook", json!({"drop_pending_updates": true}))
        .await;
    assert_eq!(fake.webhook(), None);
    assert_eq!(bot.ok("getUpdates", json!({})).await, json!([]));
    assert!(fake.try_deliver_webhook(json!({})).await.is_err());
}
