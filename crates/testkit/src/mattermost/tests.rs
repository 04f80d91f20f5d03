#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use super::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn http() -> reqwest::Client {
    hermod_http::install_crypto_provider();
    reqwest::Client::new()
}

async fn next_json(client: &mut Client) -> Value {
    loop {
        match client.next().await.unwrap().unwrap() {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Close(_) => panic!("closed"),
            _ => {}
        }
    }
}

async fn connect(fake: &FakeMattermost, query: &str) -> Client {
    let url = format!(
        "{}/api/v4/websocket{query}",
        fake.base_url().replace("http", "ws")
    );
    let (mut client, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let auth =
        json!({"seq": 1, "action": "authentication_challenge", "data": {"token": fake.token()}});
    client.send(Message::text(auth.to_string())).await.unwrap();
    client
}

#[tokio::test]
async fn users_me_needs_the_token_and_errors_are_mattermosts_json() {
    let fake = FakeMattermost::start().await;
    let url = format!("{}/api/v4/users/me", fake.base_url());
    let me: Value = http()
        .get(&url)
        .bearer_auth(fake.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], fake.bot().id);
    assert_eq!(me["username"], "hermod");
    let refused = http().get(&url).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["status_code"], 401);
    assert_eq!(body["id"], "api.context.session_expired.app_error");
}

#[tokio::test]
async fn posts_are_created_deduplicated_by_pending_id_edited_and_deleted() {
    let fake = FakeMattermost::start().await;
    let alice = fake.add_user("alice");
    let dm = fake.direct_channel(&alice.id);
    let root = fake.post(&alice.id, &dm, "hi");
    let url = format!("{}/api/v4/posts", fake.base_url());
    let body =
        json!({"channel_id": dm, "message": "answer", "root_id": root.id, "pending_post_id": "k1"});
    let first = http()
        .post(&url)
        .bearer_auth(fake.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again: Value = http()
        .post(&url)
        .bearer_auth(fake.token())
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["id"], again["id"], "the pending post id deduplicates");
    assert_eq!(fake.bot_posts(&dm).len(), 1);

    let bad_root = json!({"channel_id": dm, "message": "x", "root_id": first["id"]});
    let refused = http()
        .post(&url)
        .bearer_auth(fake.token())
        .json(&bad_root)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "a reply is not a root");
    let too_long = json!({"channel_id": dm, "message": "é".repeat(MAX_POST_RUNES + 1)});
    let refused = http()
        .post(&url)
        .bearer_auth(fake.token())
        .json(&too_long)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);

    let id = first["id"].as_str().unwrap();
    let patch = format!("{}/api/v4/posts/{id}/patch", fake.base_url());
    let patched: Value = http()
        .put(&patch)
        .bearer_auth(fake.token())
        .json(&json!({"message": "edited"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["message"], "edited");
    assert!(patched["edit_at"].as_i64().unwrap() > 0);
    let theirs = format!("{}/api/v4/posts/{}/patch", fake.base_url(), root.id);
    let refused = http()
        .put(&theirs)
        .bearer_auth(fake.token())
        .json(&json!({"message": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "only the author edits");
    let delete = format!("{}/api/v4/posts/{id}", fake.base_url());
    assert!(
        http()
            .delete(&delete)
            .bearer_auth(fake.token())
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert!(fake.bot_posts(&dm).is_empty());
}

#[tokio::test]
async fn channel_posts_since_are_a_post_list() {
    let fake = FakeMattermost::start().await;
    let alice = fake.add_user("alice");
    let dm = fake.direct_channel(&alice.id);
    let one = fake.post(&alice.id, &dm, "one");
    let two = fake.post(&alice.id, &dm, "two");
    let url = format!(
        "{}/api/v4/channels/{dm}/posts?since={}",
        fake.base_url(),
        one.create_at
    );
    let list: Value = http()
        .get(&url)
        .bearer_auth(fake.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["order"], json!([two.id]));
    assert_eq!(list["posts"][&two.id]["message"], "two");
}

#[tokio::test]
async fn the_websocket_authenticates_says_hello_and_numbers_events() {
    let fake = FakeMattermost::start().await;
    let alice = fake.add_user("alice");
    let dm = fake.direct_channel(&alice.id);
    let mut client = connect(&fake, "").await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"status": "OK", "seq_reply": 1})
    );
    let hello = next_json(&mut client).await;
    assert_eq!(hello["event"], "hello");
    assert_eq!(hello["seq"], 0);
    let connection = hello["data"]["connection_id"].as_str().unwrap().to_owned();
    fake.wait_for_connections(1).await;
    let post = fake.post(&alice.id, &dm, "hello @hermod");
    let posted = next_json(&mut client).await;
    assert_eq!(posted["event"], "posted");
    assert_eq!(posted["seq"], 1);
    assert_eq!(posted["data"]["channel_type"], "D");
    assert_eq!(posted["data"]["sender_name"], "@alice");
    let inner: Value = serde_json::from_str(posted["data"]["post"].as_str().unwrap()).unwrap();
    assert_eq!(inner["id"], post.id);
    let mentions: Vec<String> =
        serde_json::from_str(posted["data"]["mentions"].as_str().unwrap()).unwrap();
    assert_eq!(mentions, [fake.bot().id]);

    // Dropped, two events missed, resumed from seq 2.
    fake.drop_sockets();
    fake.post(&alice.id, &dm, "while away 1");
    fake.post(&alice.id, &dm, "while away 2");
    let mut client = connect(
        &fake,
        &format!("?connection_id={connection}&sequence_number=2"),
    )
    .await;
    assert_eq!(next_json(&mut client).await["seq_reply"], 1);
    let replayed = next_json(&mut client).await;
    assert_eq!(
        (replayed["event"].as_str(), replayed["seq"].as_i64()),
        (Some("posted"), Some(2))
    );
    assert_eq!(next_json(&mut client).await["seq"], 3);
    let sockets = fake.connections();
    assert!(sockets[1].resumed);

    // An unknown connection gets a new one and a hello.
    let mut client = connect(&fake, "?connection_id=nope&sequence_number=9").await;
    next_json(&mut client).await;
    let hello = next_json(&mut client).await;
    assert_eq!(hello["event"], "hello");
    assert_ne!(hello["data"]["connection_id"], connection.as_str());

    let ping = json!({"seq": 2, "action": "ping"});
    client.send(Message::text(ping.to_string())).await.unwrap();
    let pong = next_json(&mut client).await;
    assert_eq!(
        (pong["seq_reply"].as_i64(), pong["data"]["text"].as_str()),
        (Some(2), Some("pong"))
    );
    let typing =
        json!({"seq": 3, "action": "user_typing", "data": {"channel_id": dm, "parent_id": ""}});
    client
        .send(Message::text(typing.to_string()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut client).await["status"], "OK");
    assert_eq!(fake.typing()[0].via, "websocket");
}

#[tokio::test]
async fn a_wrong_token_fails_the_challenge() {
    let fake = FakeMattermost::builder().token("right").start().await;
    let url = format!("{}/api/v4/websocket", fake.base_url().replace("http", "ws"));
    let (mut client, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let auth = json!({"seq": 1, "action": "authentication_challenge", "data": {"token": "wrong"}});
    client.send(Message::text(auth.to_string())).await.unwrap();
    let answer = next_json(&mut client).await;
    assert_eq!(answer["status"], "FAIL");
    assert!(fake.connections().is_empty());
}

#[tokio::test]
async fn faults_answer_429_with_rate_limit_headers_and_5xx() {
    let fake = FakeMattermost::start().await;
    fake.fail_next("users_me", Fault::RateLimited { reset_secs: 7 });
    fake.fail_next("users_me", Fault::Server(503));
    let url = format!("{}/api/v4/users/me", fake.base_url());
    let limited = http()
        .get(&url)
        .bearer_auth(fake.token())
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["x-ratelimit-reset"], "7");
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    let failed = http()
        .get(&url)
        .bearer_auth(fake.token())
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 503);
    let ok = http()
        .get(&url)
        .bearer_auth(fake.token())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn files_upload_attach_and_download() {
    let fake = FakeMattermost::start().await;
    let alice = fake.add_user("alice");
    let dm = fake.direct_channel(&alice.id);
    let form = reqwest::multipart::Form::new()
        .text("channel_id", dm.clone())
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"hello".to_vec())
                .file_name("a.txt")
                .mime_str("text/plain")
                .unwrap(),
        );
    let url = format!("{}/api/v4/files", fake.base_url());
    let uploaded: Value = http()
        .post(&url)
        .bearer_auth(fake.token())
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = uploaded["file_infos"][0]["id"].as_str().unwrap().to_owned();
    let post = json!({"channel_id": dm, "message": "", "file_ids": [id]});
    http()
        .post(format!("{}/api/v4/posts", fake.base_url()))
        .bearer_auth(fake.token())
        .json(&post)
        .send()
        .await
        .unwrap();
    assert_eq!(fake.file(&id).unwrap().post_id, fake.bot_posts(&dm)[0].id);
    let theirs = fake.upload(&alice.id, &dm, "b.png", "image/png", b"png");
    let bytes = http()
        .get(format!("{}/api/v4/files/{theirs}", fake.base_url()))
        .bearer_auth(fake.token())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"png");
}

#[tokio::test]
async fn a_forgotten_connection_cannot_be_resumed_and_pings_can_go_unanswered() {
    let fake = FakeMattermost::start().await;
    let mut client = connect(&fake, "").await;
    next_json(&mut client).await;
    let hello = next_json(&mut client).await;
    let connection = hello["data"]["connection_id"].as_str().unwrap().to_owned();
    fake.ignore_pings(true);
    let ping = json!({"seq": 2, "action": "ping"});
    client.send(Message::text(ping.to_string())).await.unwrap();
    fake.shared
        .state
        .wait_until(|s| (s.pings == 1).then_some(()))
        .await;
    fake.forget_connections();
    let mut client = connect(
        &fake,
        &format!("?connection_id={connection}&sequence_number=1"),
    )
    .await;
    next_json(&mut client).await;
    let hello = next_json(&mut client).await;
    assert_eq!(hello["event"], "hello", "a new connection");
    assert_eq!(hello["seq"], 0);
    assert!(!fake.connections()[1].resumed);
}
