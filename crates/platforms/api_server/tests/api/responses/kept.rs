//! What is kept of a stored response: its instructions once, nothing over
//! the size limit of a record.

use super::{create, created, get, id, seen};
use crate::support::{Server, json_of};
use hermod_store::Store;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;

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
