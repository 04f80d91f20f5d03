//! Approvals and tool progress on the Responses API: a streamed response
//! carries them as `hermes.approval.request` and `hermes.tool.progress`
//! events (numbered like the others), `POST /v1/approvals/{id}` answers
//! them, and a plain response has them denied with a reason.

use super::{create, events, text};
use crate::support::{Guarded, KEY, Server, Setup, event_data, json_of, tool_result};
use hermod_agent::ToolRegistry;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;

async fn server(llm: &FakeLlm, dir: &tempfile::TempDir) -> Server {
    let setup = Setup::llm_with_tools(&llm.base_url(), ToolRegistry::new().with(Guarded));
    Server::with(&dir.path().join("db"), setup).await
}

/// The tool result the model got in its second request.
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
