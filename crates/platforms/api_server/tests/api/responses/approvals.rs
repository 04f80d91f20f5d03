//! Approvals and tool progress on the Responses API: a streamed response
//! carries them as `hermes.approval.request` and `hermes.tool.progress`
//! events (numbered like the others), `POST /v1/approvals/{id}` answers
//! them, and a plain response has them denied with a reason.

use super::{create, events, text};
use crate::support::{KEY, Server, Setup, json_of};
use hermod_agent::{LlmAgent, LlmConfig, Tool, ToolContext, ToolRegistry, async_trait};
use hermod_model::Secret;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Asks before it "deletes" anything.
struct Guarded;

#[async_trait]
impl Tool for Guarded {
    fn name(&self) -> &str {
        "delete_files"
    }

    fn description(&self) -> &str {
        "Deletes files"
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {"path": {"type": "string"}}})
    }

    async fn call(&self, arguments: Value, ctx: ToolContext) -> Result<String, String> {
        let path = arguments["path"].as_str().unwrap_or("?").to_owned();
        ctx.request_approval_for("recursive_delete", format!("delete {path}"))
            .await
            .into_result()?;
        Ok(format!("deleted {path}"))
    }
}

async fn server(llm: &FakeLlm, dir: &tempfile::TempDir) -> Server {
    let config = LlmConfig {
        base_url: llm.base_url(),
        api_key: Some(Secret::new("sk-upstream")),
        model: "upstream-model".into(),
        request_timeout: Duration::from_secs(20),
        ..LlmConfig::default()
    };
    let agent = LlmAgent::new(config, ToolRegistry::new().with(Guarded));
    Server::with(&dir.path().join("db"), Setup::agent(Arc::new(agent))).await
}

/// The tool result the model got in its second request.
fn tool_result(llm: &FakeLlm) -> String {
    let request = &llm.requests()[1];
    let tool = request
        .messages()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    tool["content"].as_str().unwrap().to_owned()
}

/// The data of the first `event` frame in `received`, if there is one.
fn event_data(received: &str, event: &str) -> Option<Value> {
    let start = format!("event: {event}\ndata: ");
    let frame = received
        .split("\n\n")
        .find_map(|f| f.strip_prefix(&start))?;
    Some(serde_json::from_str(frame).unwrap())
}

#[tokio::test]
async fn a_streamed_response_asks_and_goes_on_once_answered() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("delete_files", json!({"path": "/tmp/x"})),
        Reply::text("All done."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir).await;
    let mut stream = create(&s, &json!({"input": "clean up", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut received = String::new();
    let request = loop {
        if let Some(data) = event_data(&received, "hermes.approval.request") {
            break data;
        }
        let chunk = stream
            .chunk()
            .await
            .unwrap()
            .expect("the stream is running");
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    };
    assert_eq!(request["type"], "hermes.approval.request");
    assert_eq!(request["key"], "recursive_delete");
    assert_eq!(request["description"], "delete /tmp/x");
    assert_eq!(
        request["options"],
        json!(["once", "session", "always", "deny"])
    );
    let progress = event_data(&received, "hermes.tool.progress").unwrap();
    assert_eq!(progress["type"], "hermes.tool.progress");
    assert_eq!(progress["status"], "started");
    assert_eq!(progress["arguments_preview"], r#"{"path":"/tmp/x"}"#);
    let id = request["request_id"].as_str().unwrap();
    let (status, body) = json_of(
        s.http
            .post(format!("{}/v1/approvals/{id}", s.base))
            .bearer_auth(KEY)
            .json(&json!({"choice": "once"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    while let Some(chunk) = stream.chunk().await.unwrap() {
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let events = events(&received);
    for (n, (name, data)) in events.iter().enumerate() {
        assert_eq!(
            data["sequence_number"], n,
            "{name}: every event is numbered"
        );
    }
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "response.completed", "{received}");
    assert_eq!(text(&data["response"]), "All done.");
    assert_eq!(tool_result(&llm), "deleted /tmp/x");
    s.stop().await;
}

#[tokio::test]
async fn a_plain_response_has_its_approvals_denied_with_a_reason() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("delete_files", json!({"path": "/tmp/x"})),
        Reply::text("I could not."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir).await;
    let (status, body) = json_of(
        create(&s, &json!({"input": "clean up"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(text(&body), "I could not.");
    let result = tool_result(&llm);
    assert!(
        result.starts_with("error: the user denied this: this API request is not streamed"),
        "{result}"
    );
    s.stop().await;
}
