//! Image parts in a request reach the model as they were sent, and stay
//! in the stored conversation.

use crate::support::{Server, json_of};
use hermod_model::{Content, ContentPart};
use hermod_store::Store;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;

/// A 1×1 PNG.
const PIXEL: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

#[tokio::test]
async fn an_image_part_reaches_the_model_and_the_stored_conversation() {
    let llm = FakeLlm::start().await;
    llm.push(Reply::text("A single pixel."));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let body = json!({
        "model": "hermod",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": PIXEL, "detail": "low"}}
        ]}]
    });

    let response = s.post(&body).send().await.unwrap();
    let session = response.headers()["x-hermod-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, answer) = json_of(response).await;

    assert_eq!(status, 200, "{answer}");
    let sent = llm.requests()[0].messages().last().unwrap().clone();
    assert_eq!(sent["content"][0]["text"], "what is this?");
    assert_eq!(sent["content"][1]["type"], "image_url");
    assert_eq!(sent["content"][1]["image_url"]["url"], PIXEL);
    assert_eq!(sent["content"][1]["image_url"]["detail"], "low");
    let id = hermod_model::SessionId::parse(&session).unwrap();
    let stored = s.store.messages(&id).await.unwrap();
    let Some(Content::Parts(parts)) = &stored[0].message.content else {
        panic!("the stored user message keeps its parts: {:?}", stored[0]);
    };
    assert!(matches!(&parts[1], ContentPart::ImageUrl { image_url } if image_url.url == PIXEL));
    s.stop().await;
}
