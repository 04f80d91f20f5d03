//! The terminal against real processes: output, exit codes, caps, the
//! clean environment, timeouts and cancellation killing the whole process
//! group, and approval of dangerous commands.

use crate::support::{answer, asking, ctx};
use hermod_agent::{ApprovalDecision, Tool, ToolRegistry};
use hermod_tools::{Terminal, TerminalConfig, Workspace};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn terminal(config: &TerminalConfig) -> (tempfile::TempDir, PathBuf, Terminal) {
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::open(dir.path().join("ws")).unwrap();
    let canonical = workspace.canonical().to_owned();
    let tool = config.build(&workspace).unwrap();
    (dir, canonical, tool)
}

/// Whether process `pid` is gone (or dead and waiting to be reaped).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // `pid (comm) S ...`: the state follows the last `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// Waits (bounded) until `pid` is gone: a killed process dies when the
/// kernel next schedules it.
async fn wait_gone(pid: u32) {
    for _ in 0..500 {
        if gone(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("process {pid} is still running");
}

/// Waits (bounded) until the command wrote its pid file.
async fn wait_for_pid(path: &Path) -> u32 {
    for _ in 0..500 {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} was never written", path.display());
}

#[tokio::test]
async fn output_and_exit_code_are_reported() {
    let (_dir, ws, tool) = terminal(&TerminalConfig::default());
    let out = tool
        .call(json!({"command": "echo out; echo err >&2; exit 3"}), ctx())
        .await
        .unwrap();
    assert_eq!(out, "out\nerr\n[exit code: 3]");
    let pwd = tool.call(json!({"command": "pwd"}), ctx()).await.unwrap();
    assert_eq!(pwd, format!("{}\n[exit code: 0]", ws.display()));
    let silent = tool.call(json!({"command": "true"}), ctx()).await.unwrap();
    assert_eq!(silent, "(no output)\n[exit code: 0]");
    let killed = tool
        .call(json!({"command": "kill -TERM $$"}), ctx())
        .await
        .unwrap();
    assert!(killed.ends_with("[killed by signal 15]"), "{killed}");

    std::fs::create_dir(ws.join("sub")).unwrap();
    let sub = tool
        .call(json!({"command": "pwd", "workdir": "sub"}), ctx())
        .await
        .unwrap();
    assert!(sub.starts_with(&format!("{}/sub\n", ws.display())), "{sub}");
    let err = tool
        .call(json!({"command": "pwd", "workdir": "../.."}), ctx())
        .await
        .unwrap_err();
    assert!(err.contains("outside the workspace"), "{err}");
    assert!(tool.call(json!({"command": "  "}), ctx()).await.is_err());
}

#[tokio::test]
async fn the_workspace_is_created_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/ws");
    let workspace = Workspace::open(&path).unwrap();
    assert!(path.is_dir());
    assert_eq!(workspace.dir(), path);
}

#[tokio::test]
async fn commands_get_a_clean_environment() {
    // Cargo sets these for the test process; the command must not see them.
    assert!(std::env::var("CARGO_MANIFEST_DIR").is_ok());
    assert!(std::env::var("CARGO_PKG_NAME").is_ok());
    let config = TerminalConfig {
        env: [("GREETING".to_owned(), "hello".to_owned())].into(),
        env_passthrough: vec!["CARGO_PKG_NAME".to_owned()],
        ..TerminalConfig::default()
    };
    let (_dir, _ws, tool) = terminal(&config);
    let out = tool.call(json!({"command": "env"}), ctx()).await.unwrap();
    let mut names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    names.sort_unstable();
    // sh itself adds PWD (and some shells SHLVL and _).
    names.retain(|n| !matches!(*n, "PWD" | "SHLVL" | "_" | "OLDPWD"));
    assert_eq!(
        names,
        ["CARGO_PKG_NAME", "GREETING", "HOME", "LANG", "PATH", "TERM"],
        "{out}"
    );
    assert!(
        out.contains("TERM=dumb\n") && out.contains("GREETING=hello\n"),
        "{out}"
    );
    assert!(!out.contains("CARGO_MANIFEST_DIR"), "{out}");
}

#[tokio::test]
async fn long_output_keeps_its_head_and_tail() {
    let (_dir, _ws, tool) = terminal(&TerminalConfig {
        max_output_chars: 100,
        ..TerminalConfig::default()
    });
    let out = tool
        .call(json!({"command": "seq 1 100000"}), ctx())
        .await
        .unwrap();
    assert!(out.starts_with("1\n2\n3\n"), "{out}");
    assert!(
        out.contains("output cut: 588895 characters in all"),
        "{out}"
    );
    assert!(out.ends_with("99999\n100000\n[exit code: 0]"), "{out}");
    assert!(out.len() < 400, "{out}");
}

#[tokio::test]
async fn a_timeout_kills_the_whole_group() {
    let (_dir, ws, tool) = terminal(&TerminalConfig::default());
    // A child of the shell that would outlive it; the shell waits on it.
    let command = "sleep 1000 & echo $! > sleep.pid; wait";
    // One second is the shortest timeout; should a loaded machine not
    // even start the child in time, try again with more.
    for timeout in [1, 3, 10] {
        let err = tool
            .call(json!({"command": command, "timeout": timeout}), ctx())
            .await
            .unwrap_err();
        assert!(
            err.contains(&format!("timed out after {timeout} s")),
            "{err}"
        );
        assert!(err.contains("everything it started were stopped"), "{err}");
        if let Ok(pid) = std::fs::read_to_string(ws.join("sleep.pid")) {
            wait_gone(pid.trim().parse().unwrap()).await;
            return;
        }
    }
    panic!("the command never started its child");
}

#[tokio::test]
async fn background_processes_end_with_the_command() {
    let (_dir, ws, tool) = terminal(&TerminalConfig::default());
    let out = tool
        .call(
            json!({"command": "sleep 1000 > /dev/null 2>&1 & echo $! > bg.pid"}),
            ctx(),
        )
        .await
        .unwrap();
    assert_eq!(out, "(no output)\n[exit code: 0]");
    let pid = wait_for_pid(&ws.join("bg.pid")).await;
    wait_gone(pid).await;
}

#[tokio::test]
async fn cancelling_the_turn_kills_the_whole_group() {
    let (_dir, ws, tool) = terminal(&TerminalConfig::default());
    let ctx = ctx();
    let cancel = ctx.cancel.clone();
    let call = tokio::spawn(async move {
        tool.call(
            json!({"command": "sleep 1000 & echo $! > sleep.pid; wait"}),
            ctx,
        )
        .await
    });
    let pid = wait_for_pid(&ws.join("sleep.pid")).await;
    assert!(!gone(pid));
    cancel.cancel();
    let err = call.await.unwrap().unwrap_err();
    assert!(err.contains("the turn was interrupted"), "{err}");
    wait_gone(pid).await;
}

#[tokio::test]
async fn dropping_the_call_kills_the_whole_group() {
    let (_dir, ws, tool) = terminal(&TerminalConfig::default());
    let registry = ToolRegistry::new().with(tool);
    let call = tokio::spawn(async move {
        registry
            .execute(
                "terminal",
                r#"{"command": "sleep 1000 & echo $! > sleep.pid; wait"}"#,
                ctx(),
            )
            .await
    });
    let pid = wait_for_pid(&ws.join("sleep.pid")).await;
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    wait_gone(pid).await;
}

#[tokio::test]
async fn dangerous_commands_ask_and_a_denial_runs_nothing() {
    let (_dir, ws, tool) = terminal(&TerminalConfig::default());
    std::fs::create_dir(ws.join("victim")).unwrap();
    for command in ["rm -rf victim", "r\\m -rf victim", "\"rm\" -rf victim"] {
        let (ctx, approvals, mut events) = asking("terminal");
        let call = tokio::spawn({
            let tool = tool.clone();
            let command = command.to_owned();
            async move { tool.call(json!({"command": command}), ctx).await }
        });
        let description =
            answer(&approvals, &mut events, ApprovalDecision::denied("keep it")).await;
        assert!(
            description.contains("recursive delete (rm -r)"),
            "{description}"
        );
        assert!(description.contains(command), "{description}");
        let err = call.await.unwrap().unwrap_err();
        assert!(err.contains("the user denied this: keep it"), "{err}");
        assert!(err.contains("not run"), "{err}");
        assert!(ws.join("victim").is_dir(), "{command} ran");
    }

    // Approved, it runs.
    let (ctx, approvals, mut events) = asking("terminal");
    let call = tokio::spawn({
        let tool = tool.clone();
        async move { tool.call(json!({"command": "rm -rf victim"}), ctx).await }
    });
    answer(&approvals, &mut events, ApprovalDecision::Approved).await;
    assert_eq!(call.await.unwrap().unwrap(), "(no output)\n[exit code: 0]");
    assert!(!ws.join("victim").exists());

    // With nobody to ask, a dangerous command is denied.
    std::fs::create_dir(ws.join("victim")).unwrap();
    let err = tool
        .call(json!({"command": "rm -rf victim"}), crate::support::ctx())
        .await
        .unwrap_err();
    assert!(err.contains("cannot be requested"), "{err}");
    assert!(ws.join("victim").is_dir());
}

#[tokio::test]
async fn writes_outside_the_workspace_ask() {
    let (dir, _ws, tool) = terminal(&TerminalConfig::default());
    let target = dir.path().join("outside.txt");
    let (ctx, approvals, mut events) = asking("terminal");
    let call = tokio::spawn({
        let tool = tool.clone();
        async move {
            tool.call(json!({"command": "echo x > ../outside.txt"}), ctx)
                .await
        }
    });
    let description = answer(&approvals, &mut events, ApprovalDecision::denied("no")).await;
    assert!(
        description.contains("write outside the workspace (../outside.txt)"),
        "{description}"
    );
    call.await.unwrap().unwrap_err();
    assert!(!target.exists());
}

#[tokio::test]
async fn safe_commands_do_not_ask() {
    let (_dir, _ws, tool) = terminal(&TerminalConfig::default());
    let (ctx, _approvals, mut events) = asking("terminal");
    let out = tool
        .call(
            json!({"command": "echo hi > a.txt && cat a.txt && rm a.txt"}),
            ctx,
        )
        .await
        .unwrap();
    assert_eq!(out, "hi\n[exit code: 0]");
    assert!(events.try_recv().is_err(), "nothing was asked");
    assert!(tool.dangers("ls -la").is_empty());
    assert_eq!(tool.dangers("sudo ls"), ["run as another user (sudo, su)"]);
}

#[tokio::test]
async fn the_timeout_asked_for_is_bounded() {
    let (_dir, _ws, tool) = terminal(&TerminalConfig {
        max_timeout: 5,
        ..TerminalConfig::default()
    });
    let out = tool
        .call(json!({"command": "echo ok", "timeout": 9999}), ctx())
        .await
        .unwrap();
    assert_eq!(
        out,
        "ok\n[the timeout was limited to 5 s, the most allowed]\n[exit code: 0]"
    );
    assert_eq!(tool.parameters()["properties"]["timeout"]["maximum"], 5);
    assert!(
        tool.description().contains("stop after 5 s"),
        "the default is lowered to the maximum: {}",
        tool.description()
    );
    let (_dir, _ws, default) = terminal(&TerminalConfig::default());
    assert!(
        default.description().contains("stop after 60 s"),
        "{}",
        default.description()
    );
}

#[test]
fn bad_patterns_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::open(dir.path()).unwrap();
    let config = TerminalConfig {
        dangerous_patterns: vec![hermod_tools::DangerousPattern::Pattern("rm [".to_owned())],
        ..TerminalConfig::default()
    };
    let err = config.build(&workspace).unwrap_err();
    assert!(
        err.to_string().contains("terminal.dangerous_patterns"),
        "{err}"
    );
    assert!(!hermod_tools::default_dangerous_patterns().is_empty());
}
