//! `/reload-mcp` (alias `/reload_mcp`): asks the gateway's tool reloader
//! and answers with its summary or its reason; without a reloader it says
//! MCP is not configured; where an admin list exists only admins may run
//! it.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use async_trait::async_trait;
use hermod_core::{Gateway, GatewayConfig, PlatformPolicy, StreamingConfig, ToolsReload};
use hermod_store::SqliteStore;
use hermod_testkit::harness::within;
use hermod_testkit::{ScriptedAgent, TestPlatform};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A reloader that counts its calls and answers as told.
struct Counting {
    calls: AtomicUsize,
    answer: Result<String, String>,
}

#[async_trait]
impl ToolsReload for Counting {
    async fn reload(&self) -> Result<String, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.answer.clone()
    }
}

struct Chat {
    platform: TestPlatform,
    _shutdown: tokio_util::sync::DropGuard,
    _dir: tempfile::TempDir,
}

/// A gateway on the test platform where `boss` is the only admin.
async fn start(reloader: Option<Arc<Counting>>) -> Chat {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let platform = TestPlatform::new("test");
    let mut config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    config.platforms.insert(
        "test".to_owned(),
        PlatformPolicy {
            allow_admin_from: vec!["boss".into()],
            ..PlatformPolicy::default()
        },
    );
    let mut builder = Gateway::builder(
        store,
        Arc::new(ScriptedAgent::with_delay(Duration::ZERO)),
        config,
    )
    .adapter(platform.adapter())
    .streaming(StreamingConfig {
        enabled: false,
        ..StreamingConfig::default()
    });
    if let Some(reloader) = reloader {
        builder = builder.tools_reload(reloader);
    }
    let gateway = builder.build().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(gateway.run(shutdown.clone()));
    platform.wait_running().await;
    Chat {
        platform,
        _shutdown: shutdown.drop_guard(),
        _dir: dir,
    }
}

/// Sends a DM and returns the text of the next message in that chat.
async fn ask(chat: &Chat, user: &str, text: &str) -> String {
    let before = chat.platform.sent(user).len();
    chat.platform.user(user).dm(text).await.unwrap();
    within(&format!("an answer to {text:?}"), async {
        chat.platform.wait_for_messages(user, before + 1).await[before]
            .text
            .clone()
    })
    .await
}

#[tokio::test]
async fn an_admin_reloads_and_gets_the_summary() {
    let reloader = Arc::new(Counting {
        calls: AtomicUsize::new(0),
        answer: Ok("MCP: 1 of 2 servers connected, 3 tools".into()),
    });
    let chat = start(Some(reloader.clone())).await;
    let text = ask(&chat, "boss", "/reload-mcp").await;
    assert_eq!(text, "🔄 MCP: 1 of 2 servers connected, 3 tools");
    let text = ask(&chat, "boss", "/reload_mcp").await;
    assert!(text.contains("3 tools"), "{text}");
    assert_eq!(reloader.calls.load(Ordering::SeqCst), 2);

    // Not an admin: refused, and nothing is reloaded.
    let text = ask(&chat, "someone", "/reload-mcp").await;
    assert!(text.contains("not available to you"), "{text}");
    assert_eq!(reloader.calls.load(Ordering::SeqCst), 2);

    let help = ask(&chat, "boss", "/help").await;
    assert!(help.contains("/reload-mcp"), "{help}");
}

#[tokio::test]
async fn a_failed_reload_says_why() {
    let reloader = Arc::new(Counting {
        calls: AtomicUsize::new(0),
        answer: Err("the MCP manager has shut down".into()),
    });
    let chat = start(Some(reloader)).await;
    let text = ask(&chat, "boss", "/reload-mcp").await;
    assert!(
        text.contains("could not be reloaded") && text.contains("shut down"),
        "{text}"
    );
}

#[tokio::test]
async fn without_a_reloader_mcp_is_not_configured() {
    let chat = start(None).await;
    let text = ask(&chat, "boss", "/reload-mcp").await;
    assert!(text.contains("MCP is not configured"), "{text}");
}
