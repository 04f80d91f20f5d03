//! The fake daemon against plain HTTP: what signal-cli answers.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use super::*;

fn http() -> reqwest::Client {
    hermod_http::HttpClient::new().unwrap().reqwest().clone()
}

async fn rpc(fake: &FakeSignal, method: &str, params: Value) -> Value {
    http()
        .post(format!("{}/api/v1/rpc", fake.base_url()))
        .json(&json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 7}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Reads from `stream` until `n` events (blank-line ended) arrived.
async fn read_events(stream: &mut reqwest::Response, n: usize) -> String {
    let mut text = String::new();
    while text.matches("\n\n").count() < n {
        let chunk = stream.chunk().await.unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

async fn open(fake: &FakeSignal, last: Option<&str>) -> reqwest::Response {
    let mut request = http().get(format!(
        "{}/api/v1/events?account=%2B15550000001",
        fake.base_url()
    ));
    if let Some(last) = last {
        request = request.header("Last-Event-ID", last);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    response
}

#[tokio::test]
async fn sends_are_recorded_and_answered_with_their_timestamp() {
    let fake = FakeSignal::start().await;
    let answer = rpc(
        &fake,
        "send",
        json!({"account": ACCOUNT, "recipient": ["+15550000002"], "message": "hi there",
               "textStyle": ["0:2:BOLD"], "attachments": ["data:text/plain;filename=a.txt;base64,aGk="]}),
    )
    .await;
    assert_eq!(answer["id"], 7);
    let timestamp = answer["result"]["timestamp"].as_u64().unwrap();
    assert_eq!(answer["result"]["results"][0]["type"], "SUCCESS");
    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].timestamp, timestamp);
    assert_eq!(sent[0].recipients, ["+15550000002"]);
    assert_eq!(sent[0].text_styles, ["0:2:BOLD"]);
    assert_eq!(sent[0].attachments[0].data, b"hi");
    assert_eq!(sent[0].attachments[0].filename.as_deref(), Some("a.txt"));

    let bad = rpc(
        &fake,
        "send",
        json!({"recipient": "+1", "message": "x", "textStyle": "0:1:LOUD"}),
    )
    .await;
    assert_eq!(bad["error"]["code"], -1);
    let nobody = rpc(&fake, "send", json!({"message": "x"})).await;
    assert_eq!(nobody["error"]["code"], -1);
    let unknown = rpc(&fake, "frobnicate", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601);
    let other = rpc(
        &fake,
        "send",
        json!({"account": "+19999", "recipient": "+1", "message": "x"}),
    )
    .await;
    assert_eq!(other["error"]["code"], -32602);
    assert_eq!(
        other["error"]["message"],
        "Specified account does not exist"
    );
}

#[tokio::test]
async fn rate_limits_and_http_faults_come_as_signal_cli_gives_them() {
    let fake = FakeSignal::start().await;
    fake.fail_next(
        "send",
        Fault::RateLimited {
            retry_after: Some(9),
        },
    );
    let limited = rpc(
        &fake,
        "send",
        json!({"recipient": "+15550000002", "message": "x"}),
    )
    .await;
    assert_eq!(limited["error"]["code"], -5);
    let results = &limited["error"]["data"]["response"]["results"];
    assert_eq!(results[0]["type"], "RATE_LIMIT_FAILURE");
    assert_eq!(results[0]["retryAfterSeconds"], 9);
    assert!(fake.sent().is_empty());
    fake.fail_next("send", Fault::Http(503));
    let status = http()
        .post(format!("{}/api/v1/rpc", fake.base_url()))
        .json(&json!({"jsonrpc": "2.0", "method": "send", "params": {}, "id": 1}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 503);
    let untyped = http()
        .post(format!("{}/api/v1/rpc", fake.base_url()))
        .body("{}")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(untyped, 415);
}

#[tokio::test]
async fn events_stream_with_ids_and_replay_after_the_last_one() {
    let fake = FakeSignal::start().await;
    // Before any stream: kept for the first one.
    let first = fake.user_says("+15550000002", "early");
    let mut stream = open(&fake, None).await;
    let text = read_events(&mut stream, 1).await;
    assert!(text.starts_with("id:1\nevent:receive\ndata:{"), "{text}");
    let data: Value =
        serde_json::from_str(text.lines().nth(2).unwrap().strip_prefix("data:").unwrap()).unwrap();
    assert_eq!(data["account"], ACCOUNT);
    assert_eq!(data["envelope"]["timestamp"], first);
    assert_eq!(data["envelope"]["dataMessage"]["message"], "early");
    assert_eq!(data["envelope"]["sourceNumber"], "+15550000002");
    fake.user_says("+15550000002", "second");
    read_events(&mut stream, 1).await;
    fake.drop_streams();
    fake.user_says("+15550000002", "third");
    let mut again = open(&fake, Some("1")).await;
    let text = read_events(&mut again, 2).await;
    assert!(
        text.contains("\"second\"") && text.contains("\"third\""),
        "{text}"
    );
    assert!(!text.contains("\"early\""), "{text}");
    let connections = fake.connections();
    assert_eq!(connections[1].last_event_id.as_deref(), Some("1"));
    assert_eq!(connections[0].account.as_deref(), Some(ACCOUNT));
}

#[tokio::test]
async fn without_ids_what_no_stream_took_waits_for_the_next() {
    let fake = FakeSignal::builder().without_event_ids().start().await;
    let mut stream = open(&fake, None).await;
    fake.user_says("+15550000002", "one");
    let text = read_events(&mut stream, 1).await;
    assert!(text.starts_with("event:receive\ndata:"), "{text}");
    drop(stream);
    fake.drop_streams();
    fake.user_says("+15550000002", "two");
    let mut again = open(&fake, Some("1")).await;
    let text = read_events(&mut again, 1).await;
    assert!(
        text.contains("\"two\"") && !text.contains("\"one\""),
        "{text}"
    );
}

#[tokio::test]
async fn attachments_are_fetched_as_base64_and_reactions_recorded() {
    let fake = FakeSignal::start().await;
    let mut stream = open(&fake, None).await;
    fake.user_sends_file(
        "+15550000002",
        "look",
        "image/png",
        Some("p.png"),
        b"\x89PNGdata",
    );
    let text = read_events(&mut stream, 1).await;
    let data: Value =
        serde_json::from_str(text.lines().nth(2).unwrap().strip_prefix("data:").unwrap()).unwrap();
    let id = data["envelope"]["dataMessage"]["attachments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = rpc(
        &fake,
        "getAttachment",
        json!({"id": id, "recipient": "+15550000002"}),
    )
    .await;
    let bytes = base64_decode(answer["result"]["data"].as_str().unwrap()).unwrap();
    assert_eq!(bytes, b"\x89PNGdata");
    let reacted = rpc(
        &fake,
        "sendReaction",
        json!({"recipient": ["+15550000002"], "emoji": "👀", "targetAuthor": "+15550000002", "targetTimestamp": 5}),
    )
    .await;
    assert!(reacted["result"]["timestamp"].is_u64());
    assert_eq!(fake.reactions()[0].emoji, "👀");
    rpc(
        &fake,
        "sendTyping",
        json!({"groupId": "Z3JvdXA=", "stop": true}),
    )
    .await;
    assert!(fake.typing()[0].stop);
    assert_eq!(fake.typing()[0].group_id.as_deref(), Some("Z3JvdXA="));
    let check = http()
        .get(format!("{}/api/v1/check", fake.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200);
}
