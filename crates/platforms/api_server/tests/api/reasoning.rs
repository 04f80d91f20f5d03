//! A model's hidden reasoning (`<think>…</think>`) never appears in
//! `content`: it is returned as `reasoning_content`, the field DeepSeek,
//! vLLM and Open WebUI read, or dropped when so configured.

use crate::support::{Server, Setup, json_of, sse_payloads, streamed, user};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::Value;

const THINKING: &str = "<think>The user greets me; greet back.</think>\n\nHello!";

/// `(content, reasoning_content)` of a streamed answer, each joined.
async fn streamed_parts(s: &Server) -> (String, String) {
    let response = s.post(&streamed(user("hi"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let payloads = sse_payloads(response).await;
    let chunks: Vec<Value> = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    let field = |name: &str| -> String {
        chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"][name].as_str())
            .collect()
    };
    (field("content"), field("reasoning_content"))
}

#[tokio::test]
async fn reasoning_is_returned_apart_from_the_answer() {
    let llm = FakeLlm::start().await;
    llm.push(Reply::text(THINKING).chunk_size(3));
    llm.push(Reply::text(THINKING));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;

    let (content, reasoning) = streamed_parts(&s).await;
    assert_eq!(content, "Hello!");
    assert_eq!(reasoning, "The user greets me; greet back.");

    let (status, body) = json_of(s.post(&user("hi")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let message = &body["choices"][0]["message"];
    assert_eq!(message["content"], "Hello!");
    assert_eq!(
        message["reasoning_content"],
        "The user greets me; greet back."
    );
    s.stop().await;
}

#[tokio::test]
async fn reasoning_can_be_dropped() {
    let llm = FakeLlm::start().await;
    llm.push(Reply::text(THINKING).chunk_size(5));
    llm.push(Reply::text(THINKING));
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::llm(&llm.base_url()).config(|c| c.reasoning_content = false);
    let s = Server::with(&dir.path().join("db"), setup).await;

    assert_eq!(
        streamed_parts(&s).await,
        ("Hello!".to_owned(), String::new())
    );
    let (_, body) = json_of(s.post(&user("hi")).send().await.unwrap()).await;
    let message = &body["choices"][0]["message"];
    assert_eq!(message["content"], "Hello!");
    assert!(message.get("reasoning_content").is_none(), "{message}");
    s.stop().await;
}
