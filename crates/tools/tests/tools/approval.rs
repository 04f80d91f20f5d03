//! RequireApproval: any tool asks before each call.

use crate::support::{answer, asking, ctx};
use hermod_agent::{ApprovalDecision, Tool};
use hermod_tools::{FilesConfig, RequireApproval, Workspace};
use serde_json::json;

#[tokio::test]
async fn a_wrapped_tool_runs_only_when_approved() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::open(dir.path()).unwrap();
    std::fs::write(dir.path().join("a.txt"), "hello\n").unwrap();
    let (read, _) = FilesConfig::default().build(&workspace).unwrap();
    let tool = RequireApproval::new(read);
    assert_eq!(tool.name(), "read_file");
    assert!(tool.parameters()["properties"]["path"].is_object());

    let (ctx_ask, approvals, mut events) = asking("read_file");
    let call = tokio::spawn({
        let tool = tool.clone();
        let ctx_ask = ctx_ask.clone();
        async move { tool.call(json!({"path": "a.txt"}), ctx_ask).await }
    });
    let description = answer(&approvals, &mut events, ApprovalDecision::denied("not now")).await;
    assert_eq!(description, r#"read_file: {"path":"a.txt"}"#);
    let denied = call.await.unwrap().unwrap_err();
    assert!(denied.contains("the user denied this: not now"), "{denied}");
    assert!(denied.contains("read_file did not run"), "{denied}");

    let call = tokio::spawn({
        let tool = tool.clone();
        async move { tool.call(json!({"path": "a.txt"}), ctx_ask).await }
    });
    answer(&approvals, &mut events, ApprovalDecision::Approved).await;
    let read = call.await.unwrap().unwrap();
    assert!(read.contains("hello"), "{read}");

    // Nobody to ask: denied, never run.
    let err = tool
        .call(json!({"path": "a.txt"}), ctx())
        .await
        .unwrap_err();
    assert!(err.contains("cannot be requested"), "{err}");
}
