//! What is kept of a stored response: its instructions once, nothing over
//! the size limit of a record, nothing deleted while it streamed.

use super::{create, created, delete, get, id, seen};
use crate::support::{Server, json_of};
use hermod_store::Store;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn instructions_are_stored_once_and_carried_over() {
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::text("ok"));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let instructions = format!("Be brief. {}", "i".repeat(300 * 1024));
    let first = created(&s, json!({"input": "hi", "instructions": instructions})).await;
    let stored = s
        .store
        .response(id(&first), hermod_core::now_ms())
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.data.len() < 2 * 300 * 1024,
        "the instructions are kept once: {} bytes",
        stored.data.len()
    );
    created(
        &s,
        json!({"input": "and now?", "previous_response_id": id(&first)}),
    )
    .await;
    let system = &seen(&llm, 1)[0];
    assert_eq!(system.0, "system");
    assert!(system.1.contains("Be brief."), "carried over");
    s.stop().await;
}

#[tokio::test]
async fn a_response_over_the_record_limit_is_answered_but_not_kept() {
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::text("ok"));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let huge = "i".repeat(1024 * 1024 + 1);
    let answered = created(&s, json!({"input": "hi", "instructions": huge})).await;
    assert_eq!(answered["status"], "completed");
    let (status, _) = get(&s, id(&answered)).await;
    assert_eq!(status, 404, "not kept");
    assert!(
        s.store
            .response(id(&answered), hermod_core::now_ms())
            .await
            .unwrap()
            .is_none()
    );
    let (status, body) = json_of(
        create(
            &s,
            &json!({"input": "go on", "previous_response_id": id(&answered)}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "response_not_found");
    assert!(body["error"]["message"].as_str().unwrap().contains("1 MiB"));
    // Under the limit, the same request is kept.
    let kept = created(&s, json!({"input": "hi", "instructions": "short"})).await;
    assert_eq!(get(&s, id(&kept)).await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn a_response_deleted_while_it_streams_stays_deleted() {
    let llm = FakeLlm::start().await;
    llm.push(
        Reply::text("slow ".repeat(200))
            .chunk_size(5)
            .token_delay(Duration::from_millis(10)),
    );
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let mut stream = create(&s, &json!({"input": "a long one", "stream": true}))
        .send()
        .await
        .unwrap();
    let mut received = String::new();
    while !received.contains("response.output_text.delta") {
        let chunk = stream.chunk().await.unwrap().expect("still streaming");
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let created = super::events(&received)[0].1["response"].clone();
    let (status, deleted) = delete(&s, id(&created)).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["deleted"], true);
    while let Some(chunk) = stream.chunk().await.unwrap() {
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(
        received.contains("response.completed"),
        "the stream still ends"
    );
    let (status, body) = get(&s, id(&created)).await;
    assert_eq!(
        status, 404,
        "the end of the stream did not store it again: {body}"
    );
    s.stop().await;
}
