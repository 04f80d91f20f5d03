//! Driving the `hermod` binary from tests: running commands in a home,
//! starting the gateway against the fake model and stopping it with SIGTERM.

#![allow(
    dead_code,
    reason = "each test binary that includes this module uses part of it"
)]

use hermod_testkit::FakeLlm;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Running {
    pub child: Child,
    /// The API server's base URL, from the ready line.
    pub base: String,
    /// The API key, when this run generated one and printed it.
    pub key: Option<String>,
    /// Every line printed on stdout up to the ready line.
    pub printed: Vec<String>,
}

/// `hermod` with nothing of this process's environment but `PATH`, logging
/// warnings only, and no home set.
pub fn bare() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hermod"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// `hermod` with `home` as `HERMOD_HOME`.
pub fn hermod(home: &Path) -> Command {
    let mut cmd = bare();
    cmd.env("HERMOD_HOME", home);
    cmd
}

/// `gateway run` against the fake model, the API server on a port of its
/// choosing.
pub fn gateway(home: &Path, llm: &FakeLlm) -> Command {
    let mut cmd = hermod(home);
    cmd.args(["gateway", "run"])
        .env("OPENAI_BASE_URL", llm.base_url())
        .env("API_SERVER_PORT", "0");
    cmd
}

/// Starts the gateway and waits for its ready line (no sleeping).
pub async fn start(home: &Path, llm: &FakeLlm) -> Running {
    start_with(gateway(home, llm)).await
}

/// Starts `cmd` (a `gateway run`) and waits for its ready line.
pub async fn start_with(mut cmd: Command) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut key = None;
    let mut printed = Vec::new();
    let read = async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("hermod exited before it was ready");
            if let Some(k) = line.trim().strip_prefix("hermod-") {
                key = Some(format!("hermod-{k}"));
            }
            printed.push(line.clone());
            if line.contains(" ready: ") {
                let start = line.find("http://").unwrap();
                let url: String = line[start..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != ',')
                    .collect();
                return url;
            }
        }
    };
    let base = tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("ready in time");
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Running {
        child,
        base,
        key,
        printed,
    }
}

/// Sends SIGTERM and returns the exit code.
pub async fn terminate(mut child: Child) -> i32 {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits after SIGTERM");
    exit.unwrap().code().unwrap_or(-1)
}

/// One chat completion in `session`; it must succeed.
pub async fn chat(base: &str, key: &str, session: &str, text: &str) -> Value {
    hermod_http::install_crypto_provider();
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(key)
        .header("X-Hermod-Session-Id", session)
        .json(&json!({"model": "hermod", "messages": [{"role": "user", "content": text}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `gateway run` with no reachable model: enough for tests that stop before
/// or right after it starts.
pub fn gateway_run(home: &Path) -> Command {
    let mut cmd = hermod(home);
    cmd.args(["gateway", "run"])
        .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .env("API_SERVER_PORT", "0");
    cmd
}

/// Runs `cmd` to its end, which must come within 30 s.
pub async fn finish(cmd: &mut Command) -> std::process::Output {
    tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("hermod exits by itself")
        .unwrap()
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
