//! The `hermod` binary driven by the official OpenAI SDKs, clients no one
//! here wrote: Python's `openai` (a venv's interpreter in
//! `HERMOD_SDK_PYTHON`) and Node's `openai` package (installed under
//! `HERMOD_SDK_NODE_DIR`, run by the machine's `node`). Each runs the same
//! script (`tests/sdk/client.{py,mjs}`): a streamed chat completion with a
//! tool call and `stream_options.include_usage`, a plain one, the SDK's
//! stream helper, a retry with an `Idempotency-Key` and a session key, the
//! Responses API plain and streamed, and the model list. Each part skips
//! with a note when its variable is unset, and fails under `CI=true`.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]
mod support;

use hermod_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use support::{start, terminate};
use tokio::process::Command;

/// What the scripts call, in the order they call it.
const PARTS: [&str; 5] = ["chat", "helper", "headers", "responses", "models"];

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sdk")
        .join(name)
}

/// Runs a gateway against the fake model, scripts the tool call of the
/// first (streamed) chat turn, runs `client` with the base URL and key,
/// and returns the JSON it printed.
async fn drive(mut client: Command) -> Value {
    let llm = FakeLlm::start().await;
    // The streamed chat turn asks for a tool (its progress events go to
    // the client), then answers; everything after is echoed.
    llm.push_all([
        Reply::tool_call("memory", json!({"action": "list"})),
        Reply::text("Streamed with a tool.").chunk_size(4),
    ]);
    let home = tempfile::tempdir().unwrap();
    let running = start(home.path(), &llm).await;
    let key = running.key.clone().unwrap();
    client.arg(&running.base).arg(&key).args(PARTS);
    let out = tokio::time::timeout(Duration::from_secs(120), client.output())
        .await
        .expect("the client finishes")
        .unwrap();
    assert_eq!(terminate(running.child).await, 0);
    assert!(
        out.status.success(),
        "the client failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// What both SDKs must have seen.
fn check(seen: &Value, sdk: &str) {
    let stream = &seen["chat_stream"];
    assert_eq!(stream["text"], "Streamed with a tool.", "{sdk}: {seen}");
    assert_eq!(stream["finish"], "stop", "{sdk}: {seen}");
    assert!(
        stream["usage"].as_u64().unwrap_or(0) > 0,
        "{sdk} read the usage chunk: {seen}"
    );
    assert_eq!(
        stream["usage_chunk_choices"], 0,
        "{sdk}: the usage chunk has no choices, as OpenAI's: {seen}"
    );
    assert!(
        stream["progress_chunks"].as_u64().unwrap_or(0) >= 2,
        "{sdk} got the tool's progress (started, then finished) as empty chunks: {seen}"
    );
    let chat = &seen["chat"];
    assert_eq!(chat["text"], "echo: plain please", "{sdk}: {seen}");
    assert_eq!(chat["finish"], "stop", "{sdk}: {seen}");
    assert!(chat["usage"].as_u64().unwrap_or(0) > 0, "{sdk}: {seen}");

    let helper = &seen["helper"];
    assert_eq!(helper["text"], "echo: helper please", "{sdk}: {seen}");
    assert!(
        helper["usage"].as_u64().unwrap_or(0) > 0,
        "{sdk}'s stream helper kept the usage: {seen}"
    );
    assert_eq!(
        seen["headers"],
        json!({"same_completion": true, "session_key": "sdk-user"}),
        "{sdk}"
    );

    let responses = &seen["responses"];
    assert_eq!(responses["text"], "echo: respond please", "{sdk}: {seen}");
    assert_eq!(responses["status"], "completed", "{sdk}: {seen}");
    let stream = &seen["responses_stream"];
    assert_eq!(stream["text"], "echo: stream a response", "{sdk}: {seen}");
    assert_eq!(
        stream["completed_text"], "echo: stream a response",
        "{sdk}: {seen}"
    );
    let types: Vec<&str> = stream["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for expected in [
        "response.created",
        "response.output_text.delta",
        "response.completed",
    ] {
        assert!(
            types.contains(&expected),
            "{sdk}: no {expected} in {types:?}"
        );
    }
    assert_eq!(types.first(), Some(&"response.created"), "{sdk}: {types:?}");
    assert_eq!(
        types.last(),
        Some(&"response.completed"),
        "{sdk}: {types:?}"
    );

    assert_eq!(seen["models"], json!(["hermod"]), "{sdk}: {seen}");
}

#[tokio::test]
async fn the_official_python_sdk() {
    let Some(python) =
        hermod_testkit::real_peer::var("HERMOD_SDK_PYTHON", "a Python with the openai package")
    else {
        return;
    };
    let mut client = Command::new(python);
    client.arg(script("client.py")).kill_on_drop(true);
    check(&drive(client).await, "Python");
}

#[tokio::test]
async fn the_official_node_sdk() {
    let Some(dir) = hermod_testkit::real_peer::var(
        "HERMOD_SDK_NODE_DIR",
        "a directory with node_modules/openai, for the machine's node",
    ) else {
        return;
    };
    let source = std::fs::read_to_string(script("client.mjs")).unwrap();
    let mut client = Command::new("node");
    // A bare `import "openai"` in evaluated code resolves from the working
    // directory.
    client
        .current_dir(dir)
        .args(["--input-type=module", "-e", &source])
        .kill_on_drop(true);
    check(&drive(client).await, "Node");
}
