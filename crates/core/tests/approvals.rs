//! Approval requests end to end: a tool asks, the chat is told, and the
//! user's /approve or /deny reaches the tool. Real LLM client against the
//! fake LLM, so this runs on real time.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_agent::{LlmAgent, LlmConfig, Tool, ToolContext, ToolRegistry, async_trait};
use hermod_core::{Gateway, GatewayConfig};
use hermod_store::SqliteStore;
use hermod_testkit::{FakeLlm, Reply, TestPlatform};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Deletes nothing, but asks first.
struct Dangerous;

#[async_trait]
impl Tool for Dangerous {
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
        ctx.request_approval(format!("delete {path}"))
            .await
            .into_result()?;
        Ok(format!("deleted {path}"))
    }
}

async fn start(llm: &FakeLlm) -> (TestPlatform, tokio_util::sync::DropGuard, tempfile::TempDir) {
    hermod_http::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let config = LlmConfig {
        base_url: llm.base_url(),
        model: "m".into(),
        request_timeout: Duration::from_secs(20),
        ..LlmConfig::default()
    };
    let agent = LlmAgent::new(config, ToolRegistry::new().with(Dangerous));
    let platform = TestPlatform::new("test");
    let gateway = Gateway::builder(
        store,
        Arc::new(agent),
        GatewayConfig {
            allow_all_users: true,
            ..Default::default()
        },
    )
    .adapter(platform.adapter())
    .build()
    .unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(gateway.run(shutdown.clone()));
    platform.wait_running().await;
    (platform, shutdown.drop_guard(), dir)
}

/// The content of the tool result the model got in its second request.
fn tool_result(llm: &FakeLlm) -> String {
    let request = &llm.requests()[1];
    let tool = request
        .messages()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    tool["content"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn approve_lets_the_tool_run() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("delete_files", json!({"path": "/tmp/x"})),
        Reply::text("All done."),
    ]);
    let (platform, _stop, _dir) = start(&llm).await;
    let alice = platform.user("alice");
    alice.dm("clean up").await.unwrap();
    let ask = platform
        .wait_for_text("alice", |t| t.starts_with("🔐 Approval needed"))
        .await;
    assert!(
        ask.text.contains("delete_files wants to delete /tmp/x"),
        "{}",
        ask.text
    );
    alice.dm("/approve").await.unwrap();
    platform
        .wait_for_text("alice", |t| t == "✅ Approved.")
        .await;
    platform.wait_for_text("alice", |t| t == "All done.").await;
    assert_eq!(tool_result(&llm), "deleted /tmp/x");
}

#[tokio::test]
async fn deny_with_a_reason_reaches_the_model() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("delete_files", json!({"path": "/home"})),
        Reply::text("Understood."),
    ]);
    let (platform, _stop, _dir) = start(&llm).await;
    let alice = platform.user("alice");
    alice.dm("clean up everything").await.unwrap();
    platform
        .wait_for_text("alice", |t| t.starts_with("🔐 Approval needed"))
        .await;
    alice.dm("/deny not my home directory").await.unwrap();
    platform.wait_for_text("alice", |t| t == "🚫 Denied.").await;
    platform
        .wait_for_text("alice", |t| t == "Understood.")
        .await;
    let result = tool_result(&llm);
    assert!(
        result.contains("denied") && result.contains("not my home directory"),
        "{result}"
    );
}
