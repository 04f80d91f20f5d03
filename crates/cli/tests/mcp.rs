//! `hermod mcp list` against a real MCP server (the MCP client crate's
//! test server, on the official Python SDK) and one that cannot start.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]
mod support;

use std::path::Path;
use support::{finish, hermod};

/// The Python with the `mcp` package; `None` (the test skips) outside CI.
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
fn python() -> Option<String> {
    if let Ok(python) = std::env::var("HERMOD_MCP_PYTHON") {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "HERMOD_MCP_PYTHON is needed under CI (.ci/run installs the mcp package)"
    );
    eprintln!("skipped: HERMOD_MCP_PYTHON is not set (a Python with the official mcp package)");
    None
}

#[tokio::test]
async fn mcp_list_connects_and_shows_each_servers_state_and_tools() {
    let Some(python) = python() else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mcp/tests/servers/tools_server.py");
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.yaml"),
        format!(
            "mcp_servers:\n  local:\n    command: {python}\n    args: ['{}']\n  \
             broken:\n    command: /nonexistent/mcp-server\n  \
             off:\n    command: /nonexistent/other\n    enabled: false\n",
            script.display()
        ),
    )
    .unwrap();
    let output = finish(hermod(home.path()).args(["mcp", "list"])).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "one server is down: {stdout}{stderr}"
    );
    assert!(stdout.contains("local (stdio): connected"), "{stdout}");
    assert!(
        stdout.contains("mcp__local__add  Adds two integers."),
        "{stdout}"
    );
    assert!(stdout.contains("broken (stdio): failed: "), "{stdout}");
    assert!(stdout.contains("/nonexistent/mcp-server"), "{stdout}");
    assert!(stdout.contains("off (stdio): disabled"), "{stdout}");
    assert!(
        stderr.contains("1 of 3 MCP servers are not connected"),
        "{stderr}"
    );

    let empty = tempfile::tempdir().unwrap();
    let output = finish(hermod(empty.path()).args(["mcp", "list"])).await;
    assert!(output.status.success());
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains("no MCP servers are configured")
    );
}
