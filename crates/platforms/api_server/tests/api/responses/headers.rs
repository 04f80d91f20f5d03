//! The request headers the Responses API shares with chat completions:
//! `Idempotency-Key` (a repeated plain request gets the first response)
//! and `X-Hermes-Session-Key` (the turn runs for that user of the key's
//! holder, and the header is echoed).

use super::{create, text};
use crate::support::{Server, json_of};
use hermod_model::SessionId;
use hermod_store::Store;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;

#[tokio::test]
async fn a_repeat_with_the_same_idempotency_key_gets_the_first_response() {
    let llm = FakeLlm::start().await;
    llm.push_all([Reply::text("First."), Reply::text("Second.")]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let body = json!({"input": "hi"});
    let (status, first) = json_of(
        create(&s, &body)
            .header("Idempotency-Key", "k1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let (_, again) = json_of(
        create(&s, &body)
            .header("Idempotency-Key", "k1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again, first, "the same response, not a second turn");
    assert_eq!(llm.request_count(), 1);
    let (status, refused) = json_of(
        create(&s, &json!({"input": "something else"}))
            .header("Idempotency-Key", "k1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "idempotency_key_reused");
    // Another conversation before the same input is another request.
    let with_history = json!({
        "input": "hi",
        "conversation_history": [
            {"role": "user", "content": "my name is Ada"},
            {"role": "assistant", "content": "Hello, Ada."},
        ],
    });
    let (status, refused) = json_of(
        create(&s, &with_history)
            .header("Idempotency-Key", "k1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "idempotency_key_reused");
    assert_eq!(llm.request_count(), 1);
    let other = json_of(create(&s, &body).send().await.unwrap()).await.1;
    assert_eq!(text(&other), "Second.", "without the key, a new turn");
    s.stop().await;
}

#[tokio::test]
async fn a_session_key_names_the_user_the_conversation_runs_for() {
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::text("ok"));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let response = create(&s, &json!({"input": "hi"}))
        .header("X-Hermes-Session-Key", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-hermes-session-key"], "alice");
    let session = response.headers()["x-hermod-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (_, first) = json_of(response).await;
    let user_of = |id: String| {
        let store = s.store.clone();
        async move {
            let id = SessionId::parse(&id).unwrap();
            store.session(&id).await.unwrap().unwrap().source.user_id
        }
    };
    assert_eq!(user_of(session).await.as_deref(), Some("api-key:alice"));
    // A branch stays with the conversation's user, whatever key it brings.
    create(
        &s,
        &json!({"input": "one", "previous_response_id": first["id"]}),
    )
    .send()
    .await
    .unwrap();
    let branch = create(
        &s,
        &json!({"input": "two", "previous_response_id": first["id"]}),
    )
    .header("X-Hermes-Session-Key", "mallory")
    .send()
    .await
    .unwrap();
    let branch_session = branch.headers()["x-hermod-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        user_of(branch_session).await.as_deref(),
        Some("api-key:alice")
    );
    let (status, refused) = json_of(
        create(&s, &json!({"input": "hi"}))
            .header("X-Hermes-Session-Key", "x".repeat(300))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["code"], "invalid_session_key");
    s.stop().await;
}
