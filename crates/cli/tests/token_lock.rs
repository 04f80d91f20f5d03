//! Two gateways with different homes and the same bot token: the second
//! refuses that platform, naming the first, and runs the rest.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod support;

use hermod_testkit::{FakeLlm, FakeTelegram};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use support::{gateway, start_with, terminate};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn with_telegram(home: &Path, llm: &FakeLlm, telegram: &FakeTelegram, locks: &Path) -> Command {
    let mut cmd = gateway(home, llm);
    cmd.env("TELEGRAM_BOT_TOKEN", telegram.token())
        .env("TELEGRAM_API_BASE_URL", telegram.base_url())
        .env("TELEGRAM_ALLOWED_USERS", "1")
        .env("HERMOD_LOCK_DIR", locks);
    cmd
}

#[tokio::test]
async fn a_second_gateway_with_the_same_token_refuses_that_platform_and_runs_the_rest() {
    let llm = FakeLlm::start().await;
    let telegram = FakeTelegram::start().await;
    let locks = tempfile::tempdir().unwrap();
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let first = start_with(with_telegram(home_a.path(), &llm, &telegram, locks.path())).await;
    let first_pid = first.child.id().unwrap();
    let ready = first.printed.last().unwrap();
    assert!(ready.contains("Telegram"), "{ready}");
    telegram.wait_for_calls("getUpdates", 1).await;
    let lock_files: Vec<_> = std::fs::read_dir(locks.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(lock_files.len(), 1, "{lock_files:?}");
    assert!(
        lock_files[0].starts_with("telegram-bot-") && !lock_files[0].contains(&telegram.token()),
        "{lock_files:?}"
    );

    let mut second = with_telegram(home_b.path(), &llm, &telegram, locks.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(second.stdout.take().unwrap()).lines();
    let mut stderr = BufReader::new(second.stderr.take().unwrap()).lines();
    let ready = async {
        loop {
            let line = stdout.next_line().await.unwrap().expect("a ready line");
            if line.contains(" ready: ") {
                return line;
            }
        }
    };
    let refusal = async {
        loop {
            let line = stderr.next_line().await.unwrap().expect("the refusal");
            if line.contains("telegram is not started") {
                return line;
            }
        }
    };
    let (ready, refusal) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(ready, refusal)
    })
    .await
    .expect("ready and the refusal in time");
    assert!(
        refusal.contains(&format!("home {}", home_a.path().display()))
            && refusal.contains(&format!("pid {first_pid}"))
            && refusal.contains("stop that gateway")
            && !refusal.contains(&telegram.token()),
        "{refusal}"
    );
    assert!(
        ready.contains("API server on http://") && !ready.contains("Telegram"),
        "{ready}"
    );
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    assert_eq!(second.try_wait().unwrap(), None, "still running");

    assert_eq!(terminate(second).await, 0);
    assert_eq!(terminate(first.child).await, 0);
}
