//! `Idempotency-Key` on chat completions: a repeat gets the first answer
//! (waiting for it while it runs) and runs no second turn; the same key
//! with another request is refused; failures are not kept; streams are not
//! replayed. The keys are unique per test: answers are kept per process.

use crate::support::{Server, json_of, sse_payloads, streamed, user};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;
use std::time::Duration;

const HEADER: &str = "Idempotency-Key";

#[tokio::test]
async fn a_repeated_request_gets_the_first_answer_without_a_second_turn() {
    let llm = FakeLlm::start().await;
    llm.push(Reply::text("The first and only answer."));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let key = "idem-repeat-7f3c";
    let first = s
        .post(&user("hello"))
        .header(HEADER, key)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let session = first.headers()["x-hermod-session-id"].clone();
    let first = first.text().await.unwrap();
    let again = s
        .post(&user("hello"))
        .header(HEADER, key)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.headers()["x-hermod-session-id"],
        session,
        "the same session, not a new one"
    );
    assert_eq!(
        again.text().await.unwrap(),
        first,
        "the same completion, id and all"
    );
    assert_eq!(llm.request_count(), 1, "no second turn");

    // Without the key (or with another) the same request is a new turn.
    let (_, other) = json_of(s.post(&user("hello")).send().await.unwrap()).await;
    assert_eq!(other["choices"][0]["message"]["content"], "echo: hello");
    let (_, other) = json_of(
        s.post(&user("hello"))
            .header(HEADER, "idem-repeat-other")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(other["choices"][0]["message"]["content"], "echo: hello");
    assert_eq!(llm.request_count(), 3);
    s.stop().await;
}

#[tokio::test]
async fn a_repeat_sent_while_the_first_runs_waits_for_its_answer() {
    let llm = FakeLlm::start().await;
    llm.push(
        Reply::text("slow and steady")
            .chunk_size(1)
            .token_delay(Duration::from_millis(40)),
    );
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let key = "idem-wait-41d2";
    let first = tokio::spawn(s.post(&user("go")).header(HEADER, key).send());
    llm.wait_for_requests(1).await;
    let second = s
        .post(&user("go"))
        .header(HEADER, key)
        .send()
        .await
        .unwrap();
    let first = first.await.unwrap().unwrap();
    let (first, second) = (json_of(first).await.1, json_of(second).await.1);
    assert_eq!(first["choices"][0]["message"]["content"], "slow and steady");
    assert_eq!(second, first);
    assert_eq!(llm.request_count(), 1, "the repeat ran no turn of its own");
    s.stop().await;
}

#[tokio::test]
async fn the_same_key_with_another_request_is_refused() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let key = "idem-reused-90aa";
    let response = s
        .post(&user("one"))
        .header(HEADER, key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut other_model = user("one");
    other_model["model"] = json!("gpt-4o");
    for body in [user("two"), other_model] {
        let (status, error) =
            json_of(s.post(&body).header(HEADER, key).send().await.unwrap()).await;
        assert_eq!(status, 422, "{error}");
        assert_eq!(error["error"]["code"], "idempotency_key_reused");
        assert_eq!(error["error"]["type"], "invalid_request_error");
    }
    // Another session is another request too.
    let (status, _) = json_of(
        s.post(&user("one"))
            .header(HEADER, key)
            .header("X-Hermod-Session-Id", "idem-elsewhere")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    // Fields outside the fingerprint do not matter (as in Hermes).
    let mut warmer = user("one");
    warmer["temperature"] = json!(1.5);
    let response = s.post(&warmer).header(HEADER, key).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(llm.request_count(), 1);

    let (status, error) = json_of(
        s.post(&user("x"))
            .header(HEADER, "k".repeat(300))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "invalid_idempotency_key");
    s.stop().await;
}

#[tokio::test]
async fn a_failed_answer_is_not_kept_so_a_retry_runs_again() {
    let llm = FakeLlm::start().await;
    llm.push_all([Reply::status(500), Reply::status(500), Reply::status(500)]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let key = "idem-failed-5b1e";
    let (status, _) = json_of(
        s.post(&user("try"))
            .header(HEADER, key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 502);
    let (status, body) = json_of(
        s.post(&user("try"))
            .header(HEADER, key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "echo: try");
    s.stop().await;
}

#[tokio::test]
async fn streams_are_not_replayed() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let key = "idem-stream-c7d0";
    for _ in 0..2 {
        let response = s
            .post(&streamed(user("flow")))
            .header(HEADER, key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(sse_payloads(response).await.last().unwrap(), "[DONE]");
    }
    assert_eq!(
        llm.request_count(),
        2,
        "each stream ran its turn (as in Hermes)"
    );
    s.stop().await;
}
