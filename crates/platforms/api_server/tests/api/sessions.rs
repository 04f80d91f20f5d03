//! Which stored sessions a request may name: the API's own by default,
//! other platforms' only when the operator allows it.

use crate::support::{Server, Setup, answer_text, json_of, streamed, user};
use hermod_model::{ChatMessage, PlatformId, SessionId, SessionKey, Source, Usage};
use hermod_store::{AppendMessages, NewMessage, NewSession, Store};
use hermod_testkit::FakeLlm;

const TELEGRAM_SESSION: &str = "20260101_120000_0badcafe";

/// A Telegram chat's session with one message in it.
async fn telegram_session(store: &dyn Store) -> SessionId {
    let id = SessionId::parse(TELEGRAM_SESSION).unwrap();
    let source = Source::dm(PlatformId::from_static("telegram"), "5551234");
    store
        .create_session(NewSession {
            id: id.clone(),
            key: SessionKey::from_raw("agent:main:telegram:dm:5551234"),
            source,
            created_at_ms: 1,
        })
        .await
        .unwrap();
    store
        .append_messages(AppendMessages {
            session: id.clone(),
            messages: vec![NewMessage {
                message: ChatMessage::user("my bank PIN is 0000"),
                at_ms: 2,
                platform_message_id: None,
            }],
            usage: Usage::default(),
        })
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn another_platforms_session_is_not_found_by_default() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let id = telegram_session(s.store.as_ref()).await;
    for header in ["X-Hermod-Session-Id", "X-Hermes-Session-Id"] {
        for body in [user("what is my PIN?"), streamed(user("what is my PIN?"))] {
            let response = s
                .post(&body)
                .header(header, id.as_str())
                .send()
                .await
                .unwrap();
            assert!(!response.headers().contains_key("x-hermod-session-id"));
            let (status, error) = json_of(response).await;
            assert_eq!(status, 404, "{header}: {error}");
            assert_eq!(error["error"]["code"], "session_not_found");
            assert_eq!(error["error"]["type"], "invalid_request_error");
            assert!(!error.to_string().contains("telegram"), "{error}");
        }
    }
    assert_eq!(llm.request_count(), 0, "nothing reached the model");
    assert_eq!(s.store.messages(&id).await.unwrap().len(), 1, "untouched");
    // The API's own sessions are still reachable, new and continued.
    for _ in 0..2 {
        let response = s
            .post(&user("hello"))
            .header("X-Hermod-Session-Id", "mine")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    s.stop().await;
}

#[tokio::test]
async fn other_platforms_sessions_can_be_allowed() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::llm(&llm.base_url()).config(|c| c.allow_platform_sessions = true);
    let s = Server::with(&dir.path().join("db"), setup).await;
    let id = telegram_session(s.store.as_ref()).await;
    let response = s
        .post(&user("what is my PIN?"))
        .header("X-Hermod-Session-Id", id.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let sent = llm.requests()[0].messages().to_vec();
    assert!(
        sent.iter().any(|m| m["content"] == "my bank PIN is 0000"),
        "the Telegram history was continued: {sent:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn without_the_store_named_sessions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = Setup::echo();
    setup.store_for_api = false;
    let s = Server::with(&dir.path().join("db"), setup).await;
    telegram_session(s.store.as_ref()).await;
    for id in [TELEGRAM_SESSION, "brand-new"] {
        let (status, error) = json_of(
            s.post(&user("hi"))
                .header("X-Hermod-Session-Id", id)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 404, "{id}: {error}");
    }
    let (status, _) = json_of(s.post(&user("stateless")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    s.stop().await;
}

/// Every stored session.
async fn all_sessions(store: &dyn Store) -> Vec<hermod_store::SessionRecord> {
    store
        .list_sessions(hermod_store::ListSessions {
            platform: None,
            limit: 100,
            offset: 0,
        })
        .await
        .unwrap()
}

fn title_request() -> serde_json::Value {
    serde_json::json!({"model": "hermod", "messages": [
        {"role": "user", "content": "What is Rust?"},
        {"role": "assistant", "content": "A programming language."},
        {"role": "user", "content": "Generate a 3-5 word title for this chat."}
    ]})
}

#[tokio::test]
async fn stateless_requests_are_stored_by_default() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let response = s.post(&title_request()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-hermod-session-id"].to_str().unwrap();
    let sessions = all_sessions(s.store.as_ref()).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id.as_str(), id);
    s.stop().await;
}

#[tokio::test]
async fn stateless_requests_can_be_answered_without_storing_them() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::llm(&llm.base_url()).config(|c| c.store_stateless = false);
    let s = Server::with(&dir.path().join("db"), setup).await;
    for body in [title_request(), streamed(title_request())] {
        let response = s.post(&body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(!response.headers().contains_key("x-hermod-session-id"));
        assert!(!response.headers().contains_key("x-hermes-session-id"));
        let text = answer_text(response).await;
        assert_eq!(text, "echo: Generate a 3-5 word title for this chat.");
    }
    // The model got the request's own history.
    let sent = llm.requests()[0].messages().to_vec();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[1]["content"], "A programming language.");
    assert!(all_sessions(s.store.as_ref()).await.is_empty());
    // Requests naming a session are still stored.
    let response = s
        .post(&user("remember this"))
        .header("X-Hermod-Session-Id", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-hermod-session-id"], "kept");
    let sessions = all_sessions(s.store.as_ref()).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id.as_str(), "kept");
    s.stop().await;
}
