//! `hermod config check` on the platforms' own settings: their defaults,
//! the precedence of the environment over `.env` over `config.yaml`, their
//! errors, and Hermes' per-platform keys; and its summary of how files and
//! voice are handled. The loader's own rules are unit tests in
//! `src/config`, which name no platform.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]
mod support;

use std::path::Path;
use support::hermod;

/// `config check`'s exit code, stdout and stderr.
async fn check(home: &Path, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = hermod(home);
    cmd.args(["config", "check"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test]
async fn the_api_server_runs_on_loopback_by_default() {
    let home = tempfile::tempdir().unwrap();
    let (code, out, _) = check(home.path(), &[]).await;
    assert_eq!(code, Some(0));
    assert!(
        out.contains("api_server  http://127.0.0.1:8642 (key generated on first run)"),
        "{out}"
    );
}

#[tokio::test]
async fn a_platforms_setting_follows_environment_over_dotenv_over_yaml() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.yaml"),
        "platforms:\n  api_server:\n    port: 1111\n",
    )
    .unwrap();
    std::fs::write(home.path().join(".env"), "API_SERVER_PORT=2222\n").unwrap();
    let (_, out, _) = check(home.path(), &[]).await;
    assert!(out.contains("http://127.0.0.1:2222"), "{out}");
    let (_, out, _) = check(home.path(), &[("API_SERVER_PORT", "3333")]).await;
    assert!(out.contains("http://127.0.0.1:3333"), "{out}");
}

#[tokio::test]
async fn a_platforms_mistakes_are_reported_with_the_others() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.yaml"),
        "platforms:\n  api_server:\n    prot: 1\n    port: 99999\n",
    )
    .unwrap();
    let (code, _, err) = check(
        home.path(),
        &[
            ("API_SERVER_MAX_CONNECTIONS", "many"),
            ("API_SERVER_KEY", "short"),
        ],
    )
    .await;
    assert_eq!(code, Some(78));
    for expected in [
        "config.yaml:3: platforms.api_server.prot: unknown key; did you mean `port`?",
        "config.yaml:4: platforms.api_server.port: expected a whole number from 0 to 65535, got 99999",
        "API_SERVER_MAX_CONNECTIONS=\"many\": expected a whole number, 0 or more",
        "16",
    ] {
        assert!(err.contains(expected), "{expected:?} not in:\n{err}");
    }
}

/// Hermes' per-platform keys: `extra` settings hermod has are used, the
/// others are listed as not used.
#[tokio::test]
async fn hermes_platform_keys_are_used_or_listed() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.yaml"),
        "telegram:\n  reactions: false\n  extra: {rich_messages: false}\n\
         platforms:\n  api_server:\n    extra: {host: 127.0.0.1, port: 8650}\n",
    )
    .unwrap();
    let (code, out, err) = check(home.path(), &[]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("api_server  http://127.0.0.1:8650"), "{out}");
    for key in [
        "config.yaml: platforms.telegram.reactions",
        "config.yaml: platforms.telegram.rich_messages",
    ] {
        assert!(out.contains(key), "{key:?} not in:\n{out}");
    }
}

#[tokio::test]
async fn how_files_and_voice_are_handled_is_summarised() {
    let home = tempfile::tempdir().unwrap();
    let (code, out, _) = check(home.path(), &[]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("images:     shown to the model, scaled to 1568 px"),
        "{out}"
    );
    assert!(
        out.contains("documents:  text up to 30000 characters each"),
        "{out}"
    );
    std::fs::write(
        home.path().join("config.yaml"),
        "model: {supports_vision: false}\nauxiliary:\n  vision: {model: small-eyes, base_url: http://127.0.0.1:9/v1}\nstt_echo_transcripts: true\n",
    )
    .unwrap();
    let (code, out, err) = check(home.path(), &[]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("images:     described by small-eyes at http://127.0.0.1:9/v1"),
        "{out}"
    );
}
