//! Chaining and stored responses: `previous_response_id` continues a
//! session or branches into a new one, named conversations, `GET` and
//! `DELETE`, the bound on stored responses, and a restart.

use super::{create, created, delete, dialogue, get, id, pairs, text};
use crate::support::{Server, Setup, json_of};
use hermod_model::SessionId;
use hermod_store::Store;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn chaining_continues_the_session_and_branching_starts_a_new_one() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::text("Hi Ann."),
        Reply::text("You are Ann."),
        Reply::text("Bob, then."),
        Reply::text("Still Ann."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let first = create(
        &s,
        &json!({"input": "I am Ann", "instructions": "Be short."}),
    )
    .send()
    .await
    .unwrap();
    let session = first.headers()["x-hermod-session-id"].clone();
    let (_, first) = json_of(first).await;

    let second = create(
        &s,
        &json!({"input": "who am I?", "previous_response_id": id(&first)}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(
        second.headers()["x-hermod-session-id"],
        session,
        "the latest response continues its session"
    );
    let (_, second) = json_of(second).await;
    assert_eq!(second["previous_response_id"], id(&first));
    assert_eq!(
        second["instructions"], "Be short.",
        "instructions carry over"
    );
    assert_eq!(
        dialogue(&llm, 1),
        pairs(&[
            ("user", "I am Ann"),
            ("assistant", "Hi Ann."),
            ("user", "who am I?")
        ])
    );

    // Onto the first again: a branch, in a session of its own.
    let branch = create(
        &s,
        &json!({"input": "no, I am Bob", "previous_response_id": id(&first)}),
    )
    .send()
    .await
    .unwrap();
    assert_ne!(branch.headers()["x-hermod-session-id"], session);
    let (_, branch) = json_of(branch).await;
    assert_eq!(text(&branch), "Bob, then.");
    assert_eq!(
        dialogue(&llm, 2),
        pairs(&[
            ("user", "I am Ann"),
            ("assistant", "Hi Ann."),
            ("user", "no, I am Bob")
        ])
    );

    // The original line is untouched and goes on in its session.
    let third = create(
        &s,
        &json!({"input": "and now?", "previous_response_id": id(&second)}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(third.headers()["x-hermod-session-id"], session);
    assert_eq!(
        dialogue(&llm, 3),
        pairs(&[
            ("user", "I am Ann"),
            ("assistant", "Hi Ann."),
            ("user", "who am I?"),
            ("assistant", "You are Ann."),
            ("user", "and now?")
        ])
    );
    s.stop().await;
}

#[tokio::test]
async fn a_named_conversation_continues_from_its_latest_response() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::text("Paris it is."),
        Reply::text("Two days."),
        Reply::text("Fresh start."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let first = created(
        &s,
        json!({"input": "trip to Paris", "conversation": "trip"}),
    )
    .await;
    assert_eq!(first["conversation"]["id"], "trip");
    created(
        &s,
        json!({"input": "how long?", "conversation": {"id": "trip"}}),
    )
    .await;
    assert_eq!(
        dialogue(&llm, 1),
        pairs(&[
            ("user", "trip to Paris"),
            ("assistant", "Paris it is."),
            ("user", "how long?")
        ])
    );
    created(&s, json!({"input": "hello", "conversation": "other"})).await;
    assert_eq!(dialogue(&llm, 2), pairs(&[("user", "hello")]));
    s.stop().await;
}

#[tokio::test]
async fn stored_responses_can_be_read_and_deleted() {
    let llm = FakeLlm::start().await;
    llm.push_all([Reply::text("Kept."), Reply::text("Not kept.")]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let kept = created(&s, json!({"input": "one"})).await;
    let (status, read) = get(&s, id(&kept)).await;
    assert_eq!(status, 200);
    assert_eq!(read, kept);

    let (status, deleted) = delete(&s, id(&kept)).await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": id(&kept), "object": "response", "deleted": true})
    );
    for (status, body) in [get(&s, id(&kept)).await, delete(&s, id(&kept)).await] {
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["code"], "response_not_found");
    }

    // `store: false`: answered, not kept, not chainable, no session.
    let response = create(&s, &json!({"input": "two", "store": false}))
        .send()
        .await
        .unwrap();
    assert!(!response.headers().contains_key("x-hermod-session-id"));
    let (_, unstored) = json_of(response).await;
    assert_eq!(text(&unstored), "Not kept.");
    assert_eq!(unstored["store"], false);
    assert_eq!(get(&s, id(&unstored)).await.0, 404);
    let (status, body) = json_of(
        create(
            &s,
            &json!({"input": "three", "previous_response_id": id(&unstored)}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "response_not_found");
    s.stop().await;
}

#[tokio::test]
async fn only_the_most_recently_used_responses_are_kept() {
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::text("ok"));
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::llm(&llm.base_url()).config(|c| c.max_stored_responses = 2);
    let s = Server::with(&dir.path().join("db"), setup).await;
    let a = created(&s, json!({"input": "a"})).await;
    let b = created(&s, json!({"input": "b"})).await;
    // Reading `a` makes `b` the least recently used.
    assert_eq!(get(&s, id(&a)).await.0, 200);
    let c = created(&s, json!({"input": "c"})).await;
    assert_eq!(get(&s, id(&b)).await.0, 404, "b was dropped");
    assert_eq!(get(&s, id(&a)).await.0, 200);
    assert_eq!(get(&s, id(&c)).await.0, 200);
    let (status, body) = json_of(
        create(&s, &json!({"input": "d", "previous_response_id": id(&b)}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "response_not_found");
    assert_eq!(body["error"]["param"], "previous_response_id");
    s.stop().await;
}

#[tokio::test]
async fn responses_and_their_chains_survive_a_restart() {
    let llm = FakeLlm::start().await;
    llm.push_all([Reply::text("Remembered: 42."), Reply::text("It was 42.")]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let s = Server::start(&db, &llm.base_url()).await;
    let first = created(
        &s,
        json!({"input": "the number is 42", "conversation": "n"}),
    )
    .await;
    s.stop().await;

    let s = Server::start(&db, &llm.base_url()).await;
    let (status, read) = get(&s, id(&first)).await;
    assert_eq!(status, 200);
    assert_eq!(read, first);
    created(&s, json!({"input": "what was it?", "conversation": "n"})).await;
    assert_eq!(
        dialogue(&llm, 1),
        pairs(&[
            ("user", "the number is 42"),
            ("assistant", "Remembered: 42."),
            ("user", "what was it?")
        ])
    );
    s.stop().await;
}

#[tokio::test]
async fn a_response_whose_session_was_deleted_cannot_be_continued() {
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::text("ok"));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let response = create(&s, &json!({"input": "secret plans"}))
        .send()
        .await
        .unwrap();
    let session = response.headers()["x-hermod-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (_, first) = json_of(response).await;
    let session = SessionId::parse(&session).unwrap();
    assert!(s.store.delete_session(&session).await.unwrap());
    let (status, body) = json_of(
        create(
            &s,
            &json!({"input": "go on", "previous_response_id": id(&first)}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "session_not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("deleted"),
        "{body}"
    );
    assert_eq!(llm.request_count(), 1, "the model was not asked again");
    s.stop().await;
}

#[tokio::test]
async fn two_responses_chained_onto_the_same_one_at_once_both_finish() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::text("Start."),
        Reply::text("slow ".repeat(30))
            .chunk_size(5)
            .token_delay(Duration::from_millis(10)),
        Reply::text("Quick."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let first = created(&s, json!({"input": "start"})).await;
    let mut slow = create(
        &s,
        &json!({"input": "slow one", "previous_response_id": id(&first), "stream": true}),
    )
    .send()
    .await
    .unwrap();
    let slow_session = slow.headers()["x-hermod-session-id"].clone();
    let mut received = String::new();
    while !received.contains("response.output_text.delta") {
        let chunk = slow.chunk().await.unwrap().expect("still streaming");
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let quick = create(
        &s,
        &json!({"input": "quick one", "previous_response_id": id(&first)}),
    )
    .send()
    .await
    .unwrap();
    assert_ne!(
        quick.headers()["x-hermod-session-id"],
        slow_session,
        "a branch, not the busy session"
    );
    let (_, quick) = json_of(quick).await;
    assert_eq!(text(&quick), "Quick.");
    assert_eq!(
        dialogue(&llm, 2),
        pairs(&[
            ("user", "start"),
            ("assistant", "Start."),
            ("user", "quick one")
        ])
    );
    while let Some(chunk) = slow.chunk().await.unwrap() {
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(
        received.contains("event: response.completed"),
        "not interrupted: {received}"
    );
    s.stop().await;
}

#[tokio::test]
async fn hermes_conversation_history_is_the_history_instead_of_chaining() {
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::text("ok"));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let body = created(
        &s,
        json!({
            "input": "who am I?",
            "conversation_history": [
                {"role": "user", "content": "I am Ann"},
                {"role": "assistant", "content": "Hi Ann."}
            ],
            "previous_response_id": "resp_unknown"
        }),
    )
    .await;
    assert_eq!(text(&body), "ok", "an unknown previous id is not looked up");
    assert_eq!(
        dialogue(&llm, 0),
        pairs(&[
            ("user", "I am Ann"),
            ("assistant", "Hi Ann."),
            ("user", "who am I?")
        ])
    );
    // The response it made is chainable like any other.
    created(
        &s,
        json!({"input": "again?", "previous_response_id": id(&body)}),
    )
    .await;
    assert_eq!(dialogue(&llm, 1).len(), 5);
    s.stop().await;
}

#[tokio::test]
async fn a_stream_its_client_leaves_reads_as_interrupted_and_can_be_continued() {
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
    let (status, running) = get(&s, id(&created)).await;
    assert_eq!(status, 200, "kept from the start");
    assert_eq!(running["status"], "in_progress");

    drop(stream);
    llm.wait_for_disconnects(1).await;
    let (status, left) = get(&s, id(&created)).await;
    assert_eq!(status, 200);
    assert_eq!(left["status"], "incomplete");
    assert_eq!(left["incomplete_details"]["reason"], "interrupted");

    llm.push(Reply::text("Back."));
    let next = created_after(&s, id(&created)).await;
    assert_eq!(text(&next), "Back.");
    let seen = dialogue(&llm, 1);
    assert_eq!(seen[0], ("user".to_owned(), "a long one".to_owned()));
    assert_eq!(
        seen.last().unwrap(),
        &("user".to_owned(), "still there?".to_owned())
    );
    s.stop().await;
}

async fn created_after(s: &Server, previous: &str) -> serde_json::Value {
    created(
        s,
        json!({"input": "still there?", "previous_response_id": previous}),
    )
    .await
}
