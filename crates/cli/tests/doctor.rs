//! `hermod doctor` against the fakes: a setup that works passes every
//! check, and each broken part fails its own line with a fix, exits
//! non-zero, and never prints a secret.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod support;

use hermod_testkit::{FakeDiscord, FakeLlm, FakeSlack, FakeTelegram};
use std::path::Path;
use support::{finish, hermod};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// Every fake a doctor run talks to.
struct Fakes {
    llm: FakeLlm,
    telegram: FakeTelegram,
    discord: FakeDiscord,
    slack: FakeSlack,
}

impl Fakes {
    async fn start() -> Self {
        Self {
            llm: FakeLlm::start().await,
            telegram: FakeTelegram::start().await,
            discord: FakeDiscord::start().await,
            slack: FakeSlack::start().await,
        }
    }
}

/// A home as hermod makes one: private to this user.
fn private_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    support::chmod(home.path(), 0o700);
    home
}

/// A free port, for the API server to be configured on.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `hermod doctor` on `home` with every platform enabled on the fakes.
fn doctor(home: &Path, fakes: &Fakes, api_port: u16) -> Command {
    let mut cmd = hermod(home);
    cmd.arg("doctor")
        .env("OPENAI_BASE_URL", fakes.llm.base_url())
        .env("OPENAI_API_KEY", "sk-model-secret-key")
        .env("API_SERVER_PORT", api_port.to_string())
        .env("API_SERVER_KEY", "api-server-secret-key-0123456789")
        .env("TELEGRAM_BOT_TOKEN", fakes.telegram.token())
        .env("TELEGRAM_API_BASE_URL", fakes.telegram.base_url())
        .env("TELEGRAM_ALLOWED_USERS", "1")
        .env("DISCORD_BOT_TOKEN", fakes.discord.token())
        .env("DISCORD_API_BASE_URL", fakes.discord.api_base_url())
        .env("SLACK_BOT_TOKEN", &fakes.slack.config().bot_token)
        .env("SLACK_APP_TOKEN", &fakes.slack.config().app_token)
        .env("SLACK_API_BASE_URL", fakes.slack.api_base_url());
    cmd
}

struct Run {
    code: Option<i32>,
    stdout: String,
    /// stdout and stderr, for the secrets check.
    all: String,
}

async fn run(cmd: &mut Command) -> Run {
    let out = finish(cmd).await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    Run {
        code: out.status.code(),
        all: format!("{stdout}{stderr}"),
        stdout,
    }
}

/// The line of `subject`'s check.
fn line<'a>(run: &'a Run, subject: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l[l.char_indices().nth(2).map_or(0, |(i, _)| i)..].starts_with(subject))
        .unwrap_or_else(|| panic!("no {subject} line in:\n{}", run.all))
}

fn assert_no_secret(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(!run.all.contains(secret), "{secret} printed:\n{}", run.all);
    }
}

/// A working setup: every line passes, and the exit code says so.
#[tokio::test]
async fn a_working_setup_passes_every_check() {
    let fakes = Fakes::start().await;
    let home = private_home();
    let run = run(&mut doctor(home.path(), &fakes, free_port())).await;
    assert_eq!(run.code, Some(0), "{}", run.all);
    assert!(!run.stdout.contains('✘'), "{}", run.all);
    for subject in [
        "permissions",
        "config",
        "model",
        "platform telegram",
        "platform discord",
        "platform slack",
        "platform api_server",
        "database",
        "listen 127.0.0.1:",
        "gateway",
    ] {
        assert!(line(&run, subject).starts_with('✔'), "{}", run.all);
    }
    assert!(
        line(&run, "platform telegram").contains("bot @"),
        "{}",
        run.all
    );
    // Slack's app token opens a socket when used: it is not.
    assert!(
        fakes
            .slack
            .calls()
            .iter()
            .all(|c| c.method != "apps.connections.open"),
        "{:?}",
        fakes.slack.calls()
    );
    assert_eq!(fakes.telegram.calls_of("getMe").len(), 1);
}

#[tokio::test]
async fn a_refused_telegram_token_fails_its_line_without_showing_it() {
    let fakes = Fakes::start().await;
    let home = private_home();
    let token = "123456:refused-telegram-secret";
    let mut cmd = doctor(home.path(), &fakes, free_port());
    cmd.env("TELEGRAM_BOT_TOKEN", token);
    let run = run(&mut cmd).await;
    assert_eq!(run.code, Some(1), "{}", run.all);
    let telegram = line(&run, "platform telegram");
    assert!(
        telegram.starts_with('✘') && telegram.contains("TELEGRAM_BOT_TOKEN"),
        "{telegram}"
    );
    assert!(line(&run, "platform discord").starts_with('✔'));
    assert_no_secret(&run, &[token, "refused-telegram-secret"]);
}

#[tokio::test]
async fn a_refused_discord_token_fails_its_line_without_showing_it() {
    let fakes = Fakes::start().await;
    let home = private_home();
    let token = "MTE0NTE0MTkxOTgxMDkzMTIzNA.GhBad.refused-discord-secret";
    let mut cmd = doctor(home.path(), &fakes, free_port());
    cmd.env("DISCORD_BOT_TOKEN", token);
    let run = run(&mut cmd).await;
    assert_eq!(run.code, Some(1), "{}", run.all);
    let discord = line(&run, "platform discord");
    assert!(
        discord.starts_with('✘') && discord.contains("DISCORD_BOT_TOKEN"),
        "{discord}"
    );
    assert_no_secret(&run, &[token, "refused-discord-secret"]);
}

#[tokio::test]
async fn a_refused_slack_token_fails_its_line_without_showing_it() {
    let fakes = Fakes::start().await;
    let home = private_home();
    let token = "xoxb-refused-slack-secret";
    let mut cmd = doctor(home.path(), &fakes, free_port());
    cmd.env("SLACK_BOT_TOKEN", token);
    let run = run(&mut cmd).await;
    assert_eq!(run.code, Some(1), "{}", run.all);
    let slack = line(&run, "platform slack");
    assert!(
        slack.starts_with('✘') && slack.contains("SLACK_BOT_TOKEN"),
        "{slack}"
    );
    assert_no_secret(&run, &[token, "refused-slack-secret"]);
}

/// A model endpoint that answers every request with 401.
async fn refusing_model() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0; 8192];
                let _ = stream.read(&mut buf).await;
                let body = r#"{"error":{"message":"bad key"}}"#;
                let response = format!(
                    "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn a_refused_model_key_names_the_variable_to_fix() {
    let fakes = Fakes::start().await;
    let home = private_home();
    let mut cmd = doctor(home.path(), &fakes, free_port());
    cmd.env("OPENAI_BASE_URL", refusing_model().await);
    let run = run(&mut cmd).await;
    assert_eq!(run.code, Some(1), "{}", run.all);
    let model = line(&run, "model");
    assert!(
        model.starts_with('✘') && model.contains("401") && model.contains("OPENAI_API_KEY"),
        "{model}"
    );
    assert_no_secret(&run, &["sk-model-secret-key"]);
}

#[tokio::test]
async fn an_unreachable_model_fails_its_line() {
    let fakes = Fakes::start().await;
    let home = private_home();
    let mut cmd = doctor(home.path(), &fakes, free_port());
    cmd.env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1");
    let run = run(&mut cmd).await;
    assert_eq!(run.code, Some(1), "{}", run.all);
    let model = line(&run, "model");
    assert!(
        model.starts_with('✘') && model.contains("cannot reach"),
        "{model}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn secret_files_others_can_read_fail_with_the_chmod_that_fixes_them() {
    let fakes = Fakes::start().await;
    let home = private_home();
    let env = home.path().join(".env");
    std::fs::write(&env, "OPENAI_API_KEY=sk-model-secret-key\n").unwrap();
    support::chmod(&env, 0o644);
    let run = run(&mut doctor(home.path(), &fakes, free_port())).await;
    assert_eq!(run.code, Some(1), "{}", run.all);
    let permissions = line(&run, "permissions");
    assert!(
        permissions.starts_with('✘')
            && permissions.contains(&format!("`chmod 600 {}`", env.display())),
        "{permissions}"
    );
    // The doctor reports; it does not change the file.
    assert_eq!(support::mode(&env), 0o644);
    assert_no_secret(&run, &["sk-model-secret-key"]);
}

#[tokio::test]
async fn a_damaged_database_fails_its_line_with_advice() {
    let fakes = Fakes::start().await;
    let home = private_home();
    std::fs::write(home.path().join("hermod.db"), vec![0x5a; 8192]).unwrap();
    let run = run(&mut doctor(home.path(), &fakes, free_port())).await;
    assert_eq!(run.code, Some(1), "{}", run.all);
    let database = line(&run, "database");
    assert!(
        database.starts_with('✘') && database.contains("hermod.db"),
        "{database}"
    );
}

#[tokio::test]
async fn a_port_another_program_holds_fails_its_line() {
    let fakes = Fakes::start().await;
    let home = private_home();
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let run = run(&mut doctor(home.path(), &fakes, port)).await;
    assert_eq!(run.code, Some(1), "{}", run.all);
    let listen = line(&run, &format!("listen 127.0.0.1:{port}"));
    assert!(
        listen.starts_with('✘') && listen.contains(&format!("sport = :{port}")),
        "{listen}"
    );
}

#[tokio::test]
async fn a_gateway_pid_file_of_a_process_that_is_gone_is_not_a_running_gateway() {
    let fakes = Fakes::start().await;
    let home = private_home();
    std::fs::write(home.path().join("gateway.pid"), r#"{"pid": 999999999}"#).unwrap();
    let run = run(&mut doctor(home.path(), &fakes, free_port())).await;
    assert_eq!(run.code, Some(0), "{}", run.all);
    let gateway = line(&run, "gateway");
    assert!(
        gateway.contains("not running") && gateway.contains("999999999"),
        "{gateway}"
    );
}
