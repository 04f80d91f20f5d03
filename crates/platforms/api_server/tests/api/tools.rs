//! Client-supplied tools (function calling): hermod runs its own tools, so
//! the client's are left out of the turn and the answer says so in a
//! header; a request that demands a call of a client tool is refused.

use crate::support::{Server, answer_text, json_of, streamed, user};
use hermod_testkit::FakeLlm;
use serde_json::json;

fn with_tools(mut body: serde_json::Value) -> serde_json::Value {
    let tool = |name: &str| json!({"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}});
    body["tools"] = json!([tool("get_current_timestamp"), tool("search_notes")]);
    body
}

#[tokio::test]
async fn client_tools_are_ignored_and_the_answer_says_so() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    for body in [with_tools(user("hi")), streamed(with_tools(user("hi")))] {
        let response = s.post(&body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-hermod-tools-ignored"], "2");
        assert_eq!(answer_text(response).await, "echo: hi");
    }
    for request in llm.requests() {
        assert!(request.tool_names().is_empty(), "{:?}", request.body);
    }
    // Without tools, no header.
    let response = s.post(&user("plain")).send().await.unwrap();
    assert!(!response.headers().contains_key("x-hermod-tools-ignored"));
    s.stop().await;
}

#[tokio::test]
async fn a_request_that_demands_a_client_tool_call_is_refused() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let mut body = with_tools(user("what time is it?"));
    body["tool_choice"] =
        json!({"type": "function", "function": {"name": "get_current_timestamp"}});
    let (status, error) = json_of(s.post(&body).send().await.unwrap()).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "unsupported_parameter");
    assert_eq!(error["error"]["param"], "tool_choice");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("not supported") && message.contains("hermod runs its own tools"),
        "{message}"
    );
    assert_eq!(llm.request_count(), 0);
    s.stop().await;
}
