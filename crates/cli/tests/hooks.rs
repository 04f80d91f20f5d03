//! Hooks from the shell: `hermod hooks list` and `hermod hooks test`, and
//! shell-script hooks deciding commands in a running gateway.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]
mod support;

use hermod_testkit::FakeLlm;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use support::{chat, finish, hermod, start, terminate};

/// Writes `hooks/<dir>/HOOK.yaml` (`yaml`, and `run: ./handler` when
/// `body` is given) and the handler, `#!/bin/sh` and `body`.
fn hook(home: &Path, dir: &str, yaml: &str, body: Option<&str>) {
    let dir = home.join("hooks").join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let run = if body.is_some() {
        "run: ./handler\n"
    } else {
        ""
    };
    std::fs::write(dir.join("HOOK.yaml"), format!("{yaml}\n{run}")).unwrap();
    if let Some(body) = body {
        let handler = dir.join("handler");
        std::fs::write(&handler, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&handler, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

const DENY_NEW: &str = "cat > \"$HERMOD_HOME/seen.json\"\necho '{\"decision\": \"deny\", \"message\": \"No resets here.\"}'";

#[tokio::test]
async fn hooks_list_shows_each_hook_and_the_problems() {
    let home = tempfile::tempdir().unwrap();
    hook(
        home.path(),
        "no-reset",
        "name: no-reset\ndescription: Refuse /new\nevents: [command:new]",
        Some(DENY_NEW),
    );
    hook(
        home.path(),
        "post",
        "events: [\"agent:*\"]\nurl: https://hooks.example.com/in?token=abc\nsecret: whsec_c2VjcmV0",
        None,
    );
    hook(
        home.path(),
        "broken",
        "events: [agent:start]\nrun: ./missing",
        None,
    );
    let output = finish(hermod(home.path()).args(["hooks", "list"])).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "a skipped hook: {stdout}");
    assert!(stdout.contains("no-reset  ("), "{stdout}");
    assert!(stdout.contains("Refuse /new"), "{stdout}");
    assert!(stdout.contains("events:  command:new"), "{stdout}");
    assert!(stdout.contains("/hooks/no-reset/handler"), "{stdout}");
    assert!(stdout.contains("timeout: 10 s"), "{stdout}");
    assert!(
        stdout.contains("handler: POST https://hooks.example.com\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("token=abc") && !stdout.contains("c2VjcmV0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("broken/HOOK.yaml") && stdout.contains("missing cannot be used"),
        "{stdout}"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("1 hook directories were skipped"),
        "{stderr}"
    );

    let empty = tempfile::tempdir().unwrap();
    let output = finish(hermod(empty.path()).args(["hooks", "list"])).await;
    assert!(output.status.success());
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains("No hooks in")
    );
}

#[tokio::test]
async fn hooks_test_runs_the_hooks_of_an_event_and_shows_their_answers() {
    let home = tempfile::tempdir().unwrap();
    hook(
        home.path(),
        "no-reset",
        "events: [command:new]",
        Some(DENY_NEW),
    );
    hook(
        home.path(),
        "crash",
        "events: [\"agent:*\"]",
        Some("echo 'it broke' >&2\nexit 4"),
    );
    let output = finish(hermod(home.path()).args([
        "hooks",
        "test",
        "command:new",
        "--json",
        r#"{"user_id": "42"}"#,
    ]))
    .await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("no-reset  (run "), "{stdout}");
    assert!(stdout.contains("exit 0 in "), "{stdout}");
    assert!(
        stdout.contains("decision: deny: No resets here."),
        "{stdout}"
    );
    let seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.path().join("seen.json")).unwrap())
            .unwrap();
    assert_eq!(seen["event"], "command:new");
    assert_eq!(seen["context"]["user_id"], "42", "--json replaces a key");
    assert_eq!(seen["context"]["command"], "new");

    let output = finish(hermod(home.path()).args(["hooks", "test", "agent:end"])).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("exit 4 in "), "{stdout}");
    assert!(stdout.contains("stderr: it broke"), "{stdout}");

    let output = finish(hermod(home.path()).args(["hooks", "test", "session:end"])).await;
    assert!(output.status.success());
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains("No hook listens to session:end")
    );

    let output = finish(hermod(home.path()).args(["hooks", "test", "agent"])).await;
    assert!(!output.status.success());
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("is not an event")
    );
}

#[tokio::test]
async fn help_has_examples() {
    let output = finish(hermod(Path::new("/nonexistent")).args(["hooks", "test", "--help"])).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("hermod hooks test command:new"), "{stdout}");
    let output = finish(hermod(Path::new("/nonexistent")).args(["hooks", "list", "--help"])).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("HOOK.yaml") && stdout.contains("run: ./handler"),
        "{stdout}"
    );
}

#[tokio::test]
async fn shell_hooks_deny_and_rewrite_commands_in_the_gateway() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    hook(
        home.path(),
        "no-reset",
        "events: [command:new]",
        Some(DENY_NEW),
    );
    hook(
        home.path(),
        "help-is-version",
        "events: [command:help]",
        Some("echo '{\"decision\": \"rewrite\", \"command_name\": \"version\"}'"),
    );
    let running = start(home.path(), &llm).await;
    let key = running.key.clone().unwrap();
    let content = |v: serde_json::Value| {
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let denied = content(chat(&running.base, &key, "s1", "/new").await);
    assert_eq!(denied, "No resets here.");
    let seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.path().join("seen.json")).unwrap())
            .unwrap();
    assert_eq!(seen["event"], "command:new");
    assert_eq!(seen["context"]["message"], "/new");
    let version = content(chat(&running.base, &key, "s1", "/version").await);
    assert!(version.contains("hermod"), "{version}");
    assert_eq!(
        content(chat(&running.base, &key, "s1", "/help").await),
        version
    );
    assert_eq!(terminate(running.child).await, 0);
}
