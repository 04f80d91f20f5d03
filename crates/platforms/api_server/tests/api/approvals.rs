//! Approval requests over the API: a streamed completion carries them as
//! `hermes.approval.request` events (and tool progress as
//! `hermes.tool.progress`), `POST /v1/approvals/{id}` answers them, and a
//! request that is not streamed has them denied with a reason the model
//! sees. The official OpenAI Python SDK still reads such a stream.

use crate::support::{
    Guarded, KEY, Server, Setup, event_data, json_of, streamed, tool_result, user,
};
use hermod_agent::ToolRegistry;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};

const SESSION: &str = "X-Hermod-Session-Id";

async fn server(llm: &FakeLlm, dir: &tempfile::TempDir) -> Server {
    let setup = Setup::llm_with_tools(&llm.base_url(), ToolRegistry::new().with(Guarded));
    Server::with(&dir.path().join("db"), setup).await
}

/// The text the content deltas of `received` add up to.
fn content(received: &str) -> String {
    received
        .split("\n\n")
        .filter_map(|f| f.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

fn answer(s: &Server, id: &str, body: &Value) -> reqwest::RequestBuilder {
    s.http
        .post(format!("{}/v1/approvals/{id}", s.base))
        .bearer_auth(KEY)
        .json(body)
}

#[tokio::test]
async fn a_streamed_request_is_asked_and_answered_through_the_endpoint() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("delete_files", json!({"path": "/tmp/x"})),
        Reply::text("All done."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir).await;
    let mut stream = s
        .post(&streamed(user("clean up")))
        .header(SESSION, "cleanup")
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
    assert_eq!(request["tool"], "delete_files");
    assert_eq!(request["key"], "recursive_delete");
    assert_eq!(request["description"], "delete /tmp/x");
    assert_eq!(
        request["options"],
        json!(["once", "session", "always", "deny"])
    );
    assert_eq!(request["timeout_secs"], 60);
    assert_eq!(request["choices"], json!([]), "also an empty chunk");
    let progress = event_data(&received, "hermes.tool.progress").unwrap();
    assert_eq!(progress["status"], "started");
    assert_eq!(progress["arguments_preview"], r#"{"path":"/tmp/x"}"#);
    let id = request["request_id"].as_str().unwrap();

    // Unknown ids, bad choices and a missing key are refused.
    let (status, body) = json_of(
        answer(&s, "approval-999999", &json!({"choice": "once"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("approval_not_found"))
    );
    let (status, body) = json_of(
        answer(&s, id, &json!({"choice": "yes"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["param"].as_str()),
        (400, Some("choice"))
    );
    let unauthenticated = s
        .http
        .post(format!("{}/v1/approvals/{id}", s.base))
        .json(&json!({"choice": "once"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let (status, body) = json_of(
        answer(&s, id, &json!({"choice": "session"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["key"].as_str(), body["settled"].as_u64()),
        (Some("recursive_delete"), Some(1))
    );
    while let Some(chunk) = stream.chunk().await.unwrap() {
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(content(&received), "All done.", "{received}");
    assert!(received.contains(r#""status":"completed""#), "{received}");
    assert!(received.ends_with("data: [DONE]\n\n"));
    assert_eq!(tool_result(&llm), "deleted /tmp/x");
    // The turn is over: its request is gone.
    let (status, _) = json_of(
        answer(&s, id, &json!({"choice": "once"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    s.stop().await;
}

#[tokio::test]
async fn approved_always_is_not_asked_in_the_next_api_session() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("delete_files", json!({"path": "/tmp/a"})),
        Reply::text("First."),
        Reply::tool_call("delete_files", json!({"path": "/tmp/b"})),
        Reply::text("Second."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir).await;
    let mut stream = s
        .post(&streamed(user("clean a")))
        .header(SESSION, "first")
        .send()
        .await
        .unwrap();
    let mut received = String::new();
    let id = loop {
        if let Some(data) = event_data(&received, "hermes.approval.request") {
            break data["request_id"].as_str().unwrap().to_owned();
        }
        let chunk = stream
            .chunk()
            .await
            .unwrap()
            .expect("the stream is running");
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    };
    let (status, body) = json_of(
        answer(&s, &id, &json!({"choice": "always"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    while stream.chunk().await.unwrap().is_some() {}

    let second = s
        .post(&streamed(user("clean b")))
        .header(SESSION, "second")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!second.contains("hermes.approval.request"), "{second}");
    assert_eq!(content(&second), "Second.");
    let third = &llm.requests()[3];
    let result = third
        .messages()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    assert_eq!(result["content"], "deleted /tmp/b");
    s.stop().await;
}

#[tokio::test]
async fn a_denial_through_the_endpoint_reaches_the_model_with_its_reason() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("delete_files", json!({"path": "/home"})),
        Reply::text("Understood."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir).await;
    let mut stream = s.post(&streamed(user("clean up"))).send().await.unwrap();
    let mut received = String::new();
    let id = loop {
        if let Some(data) = event_data(&received, "hermes.approval.request") {
            break data["request_id"].as_str().unwrap().to_owned();
        }
        let chunk = stream
            .chunk()
            .await
            .unwrap()
            .expect("the stream is running");
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    };
    let body = json!({"choice": "deny", "reason": "not my home"});
    let (status, _) = json_of(answer(&s, &id, &body).send().await.unwrap()).await;
    assert_eq!(status, 200);
    while stream.chunk().await.unwrap().is_some() {}
    assert_eq!(
        tool_result(&llm),
        "error: the user denied this: not my home"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_plain_request_has_its_approvals_denied_with_a_reason() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("delete_files", json!({"path": "/tmp/x"})),
        Reply::text("I could not."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir).await;
    let (status, body) = json_of(s.post(&user("clean up")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "I could not.");
    let result = tool_result(&llm);
    assert!(
        result.starts_with("error: the user denied this: this API request is not streamed"),
        "{result}"
    );
    s.stop().await;
}

/// Streams a completion with the official `openai` Python SDK while a
/// tool asks for approval, answering it from the script, when
/// `HERMOD_SDK_PYTHON` names a Python that has the package.
#[tokio::test]
async fn the_openai_python_sdk_reads_a_stream_with_an_approval_event() {
    let Ok(python) = std::env::var("HERMOD_SDK_PYTHON") else {
        return;
    };
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("delete_files", json!({"path": "/tmp/x"})),
        Reply::text("All done.").chunk_size(3),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir).await;
    let script = r#"
import json, sys, httpx
from openai import OpenAI
base, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
parts, asked, final = [], [], None
for chunk in client.chat.completions.create(model="hermod", messages=[{"role": "user", "content": "clean up"}], stream=True):
    request_id = getattr(chunk, "request_id", None)
    if request_id:
        asked.append(chunk.key)
        answer = httpx.post(f"{base}/v1/approvals/{request_id}", json={"choice": "once"}, headers={"Authorization": "Bearer " + key})
        answer.raise_for_status()
    if chunk.choices:
        parts.append(chunk.choices[0].delta.content or "")
        final = chunk.choices[0].finish_reason or final
print(json.dumps({"text": "".join(parts), "asked": asked, "finish": final}))
"#;
    let out = tokio::process::Command::new(python)
        .args(["-c", script, &s.base, KEY])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["text"], "All done.");
    assert_eq!(result["asked"], json!(["recursive_delete"]));
    assert_eq!(result["finish"], "stop");
    assert_eq!(tool_result(&llm), "deleted /tmp/x");
    s.stop().await;
}
