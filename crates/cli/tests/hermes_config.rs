//! A Hermes `config.yaml` starts hermod as it is: the reference's minimal
//! setup serves `/health`, Hermes' full default file (written by Hermes'
//! own code, `fixtures/hermes/config.yaml`) checks and starts with each
//! setting hermod does not use listed once, while a typo in a config of
//! hermod's own style is still refused.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]
mod support;

use hermod_testkit::FakeLlm;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use support::{hermod, terminate};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

const KEY: &str = "Zq3vX9pL2mW8rT5yK1nB7cD4fG6hJ0sA";

/// Hermes' full default `config.yaml`.
fn full_hermes_config() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hermes/config.yaml"),
    )
    .unwrap()
}

/// `config check`'s exit code, stdout and stderr.
async fn check(home: &Path) -> (Option<i32>, String, String) {
    let out = hermod(home)
        .args(["config", "check"])
        .output()
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A gateway started in `home` against `llm` (the API server on a port of
/// its choosing), its base URL from the ready line, and its log (stderr),
/// read to the end once it stops.
struct Started {
    child: Child,
    base: String,
    log: tokio::task::JoinHandle<Vec<String>>,
}

async fn start_logged(home: &Path, llm: &FakeLlm) -> Started {
    let mut child = hermod(home)
        .args(["gateway", "run"])
        .env("OPENAI_BASE_URL", llm.base_url())
        .env("API_SERVER_KEY", KEY)
        .env("API_SERVER_PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let stderr = child.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push(line);
        }
        all
    });
    let ready = async {
        loop {
            let line = stdout
                .next_line()
                .await
                .unwrap()
                .expect("hermod exited before it was ready");
            if line.contains(" ready: ") {
                let start = line.find("http://").unwrap();
                return line[start..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != ',')
                    .collect::<String>();
            }
        }
    };
    let base = tokio::time::timeout(Duration::from_secs(30), ready)
        .await
        .expect("ready in time");
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    Started { child, base, log }
}

async fn health(base: &str) -> u16 {
    hermod_http::install_crypto_provider();
    reqwest::get(format!("{base}/health"))
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The reference's §18 `config.yaml`, alone (no `.env`): a gateway starts
/// and answers `/health`.
#[tokio::test]
async fn the_reference_minimal_config_starts_a_gateway() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.yaml"),
        format!(
            "model: {{default: fake-model, provider: custom, base_url: {}, api_key: sk-local-fake, context_length: 131072}}\n\
             platforms:\n  api_server: {{enabled: true, extra: {{host: 127.0.0.1, port: 8642}}}}\n",
            llm.base_url()
        ),
    )
    .unwrap();
    let (code, _, err) = check(home.path()).await;
    assert_eq!(code, Some(0), "{err}");
    let mut child = hermod(home.path())
        .args(["gateway", "run"])
        .env("API_SERVER_KEY", KEY)
        .env("API_SERVER_PORT", "0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = stdout.next_line().await.unwrap().expect("ready line");
            if let Some(start) = line.find("http://").filter(|_| line.contains(" ready: ")) {
                return line[start..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect::<String>();
            }
        }
    })
    .await
    .expect("ready in time");
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    assert_eq!(health(&base).await, 200);
    assert_eq!(terminate(child).await, 0);
}

/// Hermes' full default file: `config check` passes and lists what hermod
/// does not use, each with what to do, and the gateway starts with each
/// listed once in its log.
#[tokio::test]
async fn hermes_full_default_config_checks_and_starts_with_notices() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.yaml"), full_hermes_config()).unwrap();
    let (code, out, err) = check(home.path()).await;
    assert_eq!(code, Some(0), "{out}\n{err}");
    for expected in [
        "config.yaml: kanban: hermod has no kanban board",
        "config.yaml: terminal.backend: hermod runs commands on this machine",
        "config.yaml: cron: hermod's scheduled jobs take no settings here; `hermod import hermes` moves the jobs themselves",
        // Keys the Hermes schema data lacks are still only notices in a
        // Hermes file.
        "config.yaml: auxiliary.goal_judge: not a setting hermod has; ignored, as this file is read as Hermes' config.yaml (it has `_config_version`",
        "config.yaml: stt.elevenlabs: ",
    ] {
        assert!(out.contains(expected), "{expected:?} not in:\n{out}");
    }

    let llm = FakeLlm::start().await;
    let started = start_logged(home.path(), &llm).await;
    assert_eq!(health(&started.base).await, 200);
    assert_eq!(terminate(started.child).await, 0);
    let log = started.log.await.unwrap();
    let kanban = log
        .iter()
        .filter(|l| {
            l.contains("recognised but not used") && l.ends_with("setting=config.yaml: kanban")
        })
        .count();
    assert_eq!(kanban, 1, "{log:#?}");
}

/// A Hermes file's misspelt key is a notice naming the nearest key; the
/// same misspelling in a file of hermod's own style is refused (exit 78).
#[tokio::test]
async fn a_typo_is_a_notice_in_a_hermes_file_and_an_error_in_hermods() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.yaml"),
        "_config_version: 33\nmodel: {default: m, provider: custom, base_url: http://127.0.0.1:9/v1}\ncompression: {treshold: 0.5}\n",
    )
    .unwrap();
    let (code, out, err) = check(home.path()).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(
            "compression.treshold: not a setting hermod has (did you mean `compression.threshold`?)"
        ),
        "{out}"
    );

    std::fs::write(
        home.path().join("config.yaml"),
        "model: {default: m, provider: custom, base_url: http://127.0.0.1:9/v1}\ncompression: {treshold: 0.5}\n",
    )
    .unwrap();
    let (code, _, err) = check(home.path()).await;
    assert_eq!(code, Some(78));
    assert!(
        err.contains("config.yaml:2: compression.treshold: unknown key; did you mean `threshold`?"),
        "{err}"
    );
}
