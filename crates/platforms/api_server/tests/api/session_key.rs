//! `X-Hermes-Session-Key`: per-user state belongs to the client's user the
//! key names (`api-key:<key>`), so two clients with different keys share
//! neither memory notes nor approvals granted `always`; the key is echoed;
//! bad keys are refused.

use crate::support::{Guarded, KEY, Server, Setup, answer_text, json_of, streamed, user};
use hermod_agent::ToolRegistry;
use hermod_core::{MemoryLimits, MemoryTool};
use hermod_store::{Owner, SqliteStore, Store};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};
use std::sync::Arc;

const HEADER: &str = "X-Hermes-Session-Key";

/// A server whose agent has the memory tool and a tool that asks first.
async fn server(llm: &FakeLlm, dir: &tempfile::TempDir) -> Server {
    let db = dir.path().join("db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
    let tools = ToolRegistry::new()
        .with(MemoryTool::new(store, MemoryLimits::default()))
        .with(Guarded);
    Server::with(&db, Setup::llm_with_tools(&llm.base_url(), tools)).await
}

/// Sends a streamed request as `key`'s user; answers its approval request,
/// if it makes one, with `choice`. Returns whether it asked, and the text.
async fn clean_up(s: &Server, key: &str, choice: &str) -> (bool, String) {
    let mut stream = s
        .post(&streamed(user("clean up")))
        .header(HEADER, key)
        .send()
        .await
        .unwrap();
    let mut received = String::new();
    let mut asked = false;
    while let Some(chunk) = stream.chunk().await.unwrap() {
        received.push_str(std::str::from_utf8(&chunk).unwrap());
        let request = received
            .split("\n\n")
            .find_map(|f| f.strip_prefix("event: hermes.approval.request\ndata: "));
        if let (Some(request), false) = (request, asked) {
            asked = true;
            let request: Value = serde_json::from_str(request).unwrap();
            let id = request["request_id"].as_str().unwrap();
            let answer = s
                .http
                .post(format!("{}/v1/approvals/{id}", s.base))
                .bearer_auth(KEY)
                .json(&json!({"choice": choice}))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
        }
    }
    let text = received
        .split("\n\n")
        .filter_map(|f| f.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    (asked, text)
}

/// The system prompt of the model's latest request.
fn last_system_prompt(llm: &FakeLlm) -> String {
    let request = llm.requests().pop().unwrap();
    request
        .messages()
        .iter()
        .filter(|m| m["role"] == "system")
        .filter_map(|m| m["content"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn clients_with_different_session_keys_do_not_share_memory() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir).await;
    llm.push_all([
        Reply::tool_call(
            "memory",
            json!({"action": "add", "content": "Alice drinks green tea"}),
        ),
        Reply::text("Noted."),
    ]);
    let response = s
        .post(&user("I drink green tea, remember it"))
        .header(HEADER, "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()[HEADER],
        "alice",
        "echoed, as Hermes does"
    );
    assert_eq!(answer_text(response).await, "Noted.");
    let alice = Owner::new(
        hermod_model::PlatformId::from_static("api_server"),
        "api-key:alice",
    );
    let notes = s.store.memory_notes(&alice).await.unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");

    // Bob, and a client without a key, do not see Alice's note.
    let response = s
        .post(&user("hi"))
        .header(HEADER, "bob")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[HEADER], "bob");
    assert_eq!(answer_text(response).await, "echo: hi");
    assert!(!last_system_prompt(&llm).contains("green tea"));
    let response = s.post(&user("hi")).send().await.unwrap();
    assert!(!response.headers().contains_key(HEADER));
    answer_text(response).await;
    assert!(!last_system_prompt(&llm).contains("green tea"));

    // Alice does, in a new conversation, streamed too.
    let response = s
        .post(&streamed(user("what do I drink?")))
        .header(HEADER, "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[HEADER], "alice");
    answer_text(response).await;
    assert!(
        last_system_prompt(&llm).contains("Alice drinks green tea"),
        "{}",
        last_system_prompt(&llm)
    );
    s.stop().await;
}

#[tokio::test]
async fn a_stored_session_keeps_the_user_it_was_started_by() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir).await;
    let alice = Owner::new(
        hermod_model::PlatformId::from_static("api_server"),
        "api-key:alice",
    );
    s.store
        .memory_add(&alice, "Alice is left-handed", 1)
        .await
        .unwrap();
    let send = |key: Option<&str>| {
        let request = s
            .post(&user("hello"))
            .header("X-Hermod-Session-Id", "kept-by-alice");
        match key {
            Some(key) => request.header(HEADER, key),
            None => request,
        }
    };
    answer_text(send(Some("alice")).send().await.unwrap()).await;
    assert!(last_system_prompt(&llm).contains("left-handed"));
    // The memory tool acts for the session's user, so the notes shown are
    // that user's whichever key continues the session.
    let response = send(Some("bob")).send().await.unwrap();
    assert_eq!(response.headers()[HEADER], "bob");
    answer_text(response).await;
    assert!(last_system_prompt(&llm).contains("left-handed"));
    answer_text(send(None).send().await.unwrap()).await;
    assert!(last_system_prompt(&llm).contains("left-handed"));
    s.stop().await;
}

#[tokio::test]
async fn bad_session_keys_are_refused() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir).await;
    for (key, why) in [
        ("k".repeat(257), "longer than 256"),
        ("a\tb".to_owned(), "control characters"),
    ] {
        let (status, error) = json_of(
            s.post(&user("x"))
                .header(HEADER, &key)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["error"]["code"], "invalid_session_key");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{message}");
    }
    // 256 characters, and blank (no key), are fine.
    for key in ["k".repeat(256), "  ".to_owned()] {
        let response = s
            .post(&user("x"))
            .header(HEADER, &key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(llm.request_count(), 2);
    s.stop().await;
}

#[tokio::test]
async fn approvals_granted_always_belong_to_the_session_keys_user() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("delete_files", json!({"path": "/tmp/a"})),
        Reply::text("Alice's first."),
        Reply::tool_call("delete_files", json!({"path": "/tmp/b"})),
        Reply::text("Bob's."),
        Reply::tool_call("delete_files", json!({"path": "/tmp/c"})),
        Reply::text("Alice's second."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir).await;
    assert_eq!(
        clean_up(&s, "alice", "always").await,
        (true, "Alice's first.".to_owned())
    );
    assert_eq!(
        clean_up(&s, "bob", "deny").await,
        (true, "Bob's.".to_owned()),
        "Bob is asked: Alice's grant is hers"
    );
    assert_eq!(
        clean_up(&s, "alice", "deny").await,
        (false, "Alice's second.".to_owned()),
        "Alice is not asked again, in a new session"
    );
    s.stop().await;
}
