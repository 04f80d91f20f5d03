//! The web page the API server serves, end to end: `hermod web token`
//! prints a token that signs in, and the page itself in a real browser
//! (headless Chromium driven by Selenium, `web_browser/page.py`) against
//! the real binary, the fake model and the fake Telegram: sign-in, a
//! streamed reply rendered from Markdown, stopping a slow reply, approving
//! a stranger's pairing request and pausing and resuming Telegram from the
//! dashboard.
//!
//! The browser test needs `HERMOD_BROWSER_PYTHON`, a Python with Selenium
//! (`pip install "selenium>=4.20,<5"`), and Debian's `chromium` and
//! `chromium-driver` (`HERMOD_CHROMEDRIVER`, default
//! `/usr/bin/chromedriver`). Without them it is skipped with a note, except
//! under `CI=true`, where it fails. `HERMOD_WEB_SCREENSHOT=<path>` (relative
//! to the workspace) saves the chat with its Markdown reply as a PNG.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod support;

use hermod_testkit::{FakeLlm, FakeTelegram, Reply};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use support::{finish, gateway, hermod, start_with, terminate};
use tokio::process::Command;

const KEY: &str = "web-test-key-0123456789abcdef";
/// The Telegram user who is not allowed and asks to pair.
const STRANGER: i64 = 7_770_001;
const STRANGER_NAME: &str = "Mallory";
/// Generous: the CI machine is slow.
const LIMIT: Duration = Duration::from_secs(60);
/// The whole browser script (it waits up to a minute for each step).
const SCRIPT_LIMIT: Duration = Duration::from_secs(900);

/// The first reply: hidden reasoning, then Markdown with a heading, a list,
/// a table and a code block, and HTML that must come out as text.
const MARKDOWN_REPLY: &str = "<think>A table, then code.</think>### Two gateways\n\n\
Both serve the **same API**; hermod is the drop-in one. Tags like <b> show as text.\n\n\
| project | language | chat API |\n\
|---------|----------|:--------:|\n\
| hermod | Rust | OpenAI-compatible |\n\
| Hermes | Python | OpenAI-compatible |\n\n\
To start it:\n\n\
```rust\n\
fn main() {\n    println!(\"hello from hermod\");\n}\n\
```\n\n\
- replies stream in as they are written\n\
- `/stop` or the **Stop** button ends one\n";

/// A loopback port free now, so `hermod web token` finds the same address
/// in the configuration as the gateway listens on.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn with_api(mut cmd: Command, port: u16) -> Command {
    cmd.env("API_SERVER_PORT", port.to_string())
        .env("API_SERVER_KEY", KEY);
    cmd
}

/// `gateway run` with the API server on `port` running one turn at a time,
/// Telegram on `telegram` open to pairing (no allowlist), and the terminal
/// tool.
fn with_telegram(home: &Path, llm: &FakeLlm, telegram: &FakeTelegram, port: u16) -> Command {
    // The terminal, whose dangerous commands need an approval.
    std::fs::write(home.join("config.yaml"), "toolsets: [terminal]\n").unwrap();
    let mut cmd = with_api(gateway(home, llm), port);
    // One turn at a time, so a second one is refused while a reply streams.
    cmd.env("API_SERVER_MAX_CONCURRENT_RUNS", "1")
        .env("TELEGRAM_BOT_TOKEN", telegram.token())
        .env("TELEGRAM_API_BASE_URL", telegram.base_url())
        .env("HERMOD_LOCK_DIR", home.join("locks"));
    cmd
}

/// The token line `hermod web token` printed.
fn printed_token(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|l| l.starts_with("hermod-web."))
        .unwrap_or_else(|| panic!("no token in: {stdout}"))
}

#[tokio::test]
async fn a_printed_sign_in_token_signs_in_to_the_page() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let running = start_with(with_api(gateway(home.path(), &llm), port)).await;

    let out = finish(
        with_api(hermod(home.path()), port)
            .args(["web", "token", "--hours", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{port}/")),
        "the page's address: {stdout}"
    );
    assert!(stdout.contains("valid until"), "{stdout}");
    let token = printed_token(&stdout);
    assert!(!stdout.contains(KEY), "the key itself is not printed");

    hermod_http::install_crypto_provider();
    let http = reqwest::Client::new();
    let models = |bearer: String| {
        http.get(format!("{}/v1/models", running.base))
            .bearer_auth(bearer)
            .send()
    };
    assert_eq!(models(token.to_owned()).await.unwrap().status(), 200);
    let mut forged = token.to_owned();
    forged.replace_range(forged.len() - 1.., "x");
    assert_eq!(models(forged).await.unwrap().status(), 401);
    let page = http.get(format!("{}/", running.base)).send().await.unwrap();
    assert_eq!(page.status(), 200, "the page needs no key");

    // A token of another key does not sign in.
    let out = finish(
        hermod(home.path())
            .env("API_SERVER_PORT", port.to_string())
            .env("API_SERVER_KEY", "another-key-0123456789abcdef")
            .args(["web", "token"])
            .stdout(Stdio::piped()),
    )
    .await;
    let other = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        models(printed_token(&other).to_owned())
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(terminate(running.child).await, 0);

    // No API server, no page and no token.
    let out = finish(
        hermod(home.path())
            .env("API_SERVER_ENABLED", "false")
            .args(["web", "token"])
            .stderr(Stdio::piped()),
    )
    .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("enable the API server"), "{stderr}");
    let out = finish(hermod(home.path()).args(["web", "token", "--hours", "0"])).await;
    assert!(
        !out.status.success(),
        "a token valid for no time is refused"
    );
}

/// The Python and chromedriver to drive the browser with, or `None` (with
/// a note) when they are not set up outside CI.
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
fn browser() -> Option<(String, String)> {
    let python = std::env::var("HERMOD_BROWSER_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    let driver = std::env::var("HERMOD_CHROMEDRIVER")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/usr/bin/chromedriver".to_owned());
    let missing = match &python {
        None => Some("HERMOD_BROWSER_PYTHON is not set".to_owned()),
        Some(_) if !Path::new(&driver).exists() => Some(format!("{driver} does not exist")),
        Some(_) => None,
    };
    match missing {
        None => python.map(|p| (p, driver)),
        Some(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("the browser test must run in CI, but {why}")
        }
        Some(why) => {
            eprintln!(
                "skipped: the web page's browser test needs a Python with Selenium \
                 (HERMOD_BROWSER_PYTHON) and chromium-driver (HERMOD_CHROMEDRIVER): {why}"
            );
            None
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test]
async fn the_page_works_in_a_real_browser() {
    let Some((python, chromedriver)) = browser() else {
        return;
    };
    let llm = FakeLlm::start().await;
    llm.push_all([
        // Streamed in small pieces, so the page shows it growing.
        Reply::text(MARKDOWN_REPLY)
            .chunk_size(8)
            .token_delay(Duration::from_millis(25)),
        // So slow that it is still streaming when the page stops it.
        Reply::text("Once upon a time ".repeat(400))
            .chunk_size(4)
            .token_delay(Duration::from_millis(250)),
        // A dangerous command, which the page is asked to approve (and
        // denies), then the answer after it.
        Reply::tool_call("terminal", json!({"command": "rm -rf build"})),
        Reply::text("I left the build directory alone."),
    ]);
    let telegram = FakeTelegram::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let running = start_with(with_telegram(home.path(), &llm, &telegram, port)).await;
    tokio::time::timeout(LIMIT, telegram.wait_for_receiver())
        .await
        .expect("polling Telegram");
    // A stranger writes: the gateway answers with a pairing code and the
    // request waits for the owner.
    telegram.user(STRANGER, STRANGER_NAME).dm("hello, may I?");
    tokio::time::timeout(LIMIT, telegram.wait_for_bot_messages(STRANGER, 1))
        .await
        .expect("the stranger is sent a pairing code");

    let out = finish(
        with_api(hermod(home.path()), port)
            .args(["web", "token", "--hours", "1"])
            .stdout(Stdio::piped()),
    )
    .await;
    let printed = String::from_utf8(out.stdout).unwrap();
    let token = printed_token(&printed);

    let mut script = Command::new(&python);
    script
        .current_dir(workspace())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web_browser/page.py"))
        .args(["--url", &running.base, "--key", KEY, "--token", token])
        .args(["--chromedriver", &chromedriver])
        .args(["--stranger", &format!("{STRANGER}|{STRANGER_NAME}")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // `HERMOD_WEB_FLOWS=chat` leaves the dashboard out.
    let flows = std::env::var("HERMOD_WEB_FLOWS")
        .ok()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "chat,dashboard".to_owned());
    script.args(["--flows", &flows]);
    if let Some(path) = std::env::var("HERMOD_WEB_SCREENSHOT")
        .ok()
        .filter(|p| !p.is_empty())
    {
        script.args(["--screenshot", &path]);
    }
    let out = tokio::time::timeout(SCRIPT_LIMIT, script.output())
        .await
        .expect("the browser script finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the browser script failed");

    // The page's Stop reached the model: the slow reply's request was
    // dropped.
    tokio::time::timeout(LIMIT, llm.wait_for_disconnects(1))
        .await
        .expect("stopping the reply drops the model's request");
    // The denial reached the model as the tool's result.
    let after_tool = llm
        .requests()
        .into_iter()
        .find(|r| r.messages().iter().any(|m| m["role"] == "tool"))
        .expect("the model got the tool's result");
    let result = after_tool
        .messages()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap()
        .to_string();
    assert!(result.to_lowercase().contains("denied"), "{result}");

    // The attached image reached the model as an image part, and the text
    // file inside the message.
    let asked = llm
        .requests()
        .into_iter()
        .find(|r| {
            r.messages()
                .iter()
                .any(|m| m.to_string().contains("pelican"))
        })
        .expect("the model was sent the attached file");
    let last = asked.messages().last().unwrap().to_string();
    assert!(
        last.contains("notes.txt") && last.contains("data:image/png;base64,"),
        "{last}"
    );
    if flows.contains("dashboard") {
        let out = finish(hermod(home.path()).args(["pairing", "list"])).await;
        let listing = String::from_utf8(out.stdout).unwrap();
        let approved = listing
            .split_once("Approved users:")
            .unwrap_or_else(|| panic!("{listing}"))
            .1;
        assert!(approved.contains(&STRANGER.to_string()), "{listing}");
    }
    assert_eq!(terminate(running.child).await, 0);
}
