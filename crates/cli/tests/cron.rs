//! `hermod cron` against a home's database, and scheduled jobs run by the
//! gateway binary: a one-shot delivered to the fake Telegram home channel,
//! and a job the agent creates with its `cronjob` tool (scripted at the
//! fake model) delivered to the chat that asked.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod support;

use hermod_testkit::llm::Reply;
use hermod_testkit::{FakeLlm, FakeTelegram};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use support::{finish, gateway, hermod, start_with, terminate};
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(30);
const USER: i64 = 7;
const HOME_CHAT: i64 = -10_042;

async fn cron(home: &Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = hermod(home);
    cmd.arg("cron").args(args);
    let out = finish(&mut cmd).await;
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An ISO time `secs` from now, in UTC.
fn soon(secs: i64) -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(secs))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn with_telegram(home: &Path, llm: &FakeLlm, telegram: &FakeTelegram) -> Command {
    let mut cmd = gateway(home, llm);
    cmd.env("TELEGRAM_BOT_TOKEN", telegram.token())
        .env("TELEGRAM_API_BASE_URL", telegram.base_url())
        .env("TELEGRAM_ALLOWED_USERS", USER.to_string())
        .env("TELEGRAM_HOME_CHANNEL", HOME_CHAT.to_string())
        .env("HERMOD_LOCK_DIR", home.join("locks"));
    cmd
}

#[tokio::test]
async fn add_list_show_pause_resume_remove() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let (ok, out, err) = cron(
        home,
        &[
            "add",
            "--name",
            "briefing",
            "--schedule",
            "0 8 * * 1-5",
            "--deliver",
            "telegram,local",
            "Give me a short morning briefing",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("Added job"), "{out}");
    let (_, listed, _) = cron(home, &["list", "--json"]).await;
    let jobs: Vec<Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(jobs.len(), 1);
    let id = jobs[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(jobs[0]["schedule_kind"], "cron");
    assert_eq!(jobs[0]["deliver"], "telegram,local");
    assert_eq!(jobs[0]["created_by"]["platform"], "cli");
    assert!(jobs[0]["next_run_at_ms"].is_i64());

    let (_, table, _) = cron(home, &["list"]).await;
    assert!(table.contains(&id) && table.contains("briefing"), "{table}");
    let (ok, shown, _) = cron(home, &["show", &id[..4]]).await;
    assert!(ok && shown.contains("0 8 * * 1-5 (cron)"), "{shown}");

    let (ok, _, _) = cron(home, &["pause", &id]).await;
    assert!(ok);
    let (_, table, _) = cron(home, &["list"]).await;
    assert!(table.contains("paused"), "{table}");
    let (ok, run, _) = cron(home, &["run", &id]).await;
    assert!(!ok, "a paused job is not run: {run}");
    let (ok, resumed, _) = cron(home, &["resume", &id]).await;
    assert!(ok && resumed.contains("next run"), "{resumed}");
    let (ok, edited, err) = cron(home, &["edit", &id, "--schedule", "every 2h"]).await;
    assert!(ok, "{err}");
    assert!(edited.contains("every 2h (interval)"), "{edited}");
    let (ok, history, _) = cron(home, &["history", &id]).await;
    assert!(ok && history.contains("(none yet)"), "{history}");

    let (ok, _, _) = cron(home, &["remove", &id]).await;
    assert!(ok);
    let (_, listed, _) = cron(home, &["list", "--json"]).await;
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&listed).unwrap().len(),
        0
    );
}

#[tokio::test]
async fn errors_name_what_is_accepted_and_help_has_examples() {
    let home = tempfile::tempdir().unwrap();
    let (ok, _, err) = cron(home.path(), &["add", "--schedule", "tomorrow-ish", "hi"]).await;
    assert!(!ok);
    assert!(
        err.contains("every 30m") && err.contains("0 8 * * 1-5"),
        "{err}"
    );
    let (ok, _, err) = cron(
        home.path(),
        &["add", "--schedule", "1h", "--deliver", "nowhere", "hi"],
    )
    .await;
    assert!(!ok);
    assert!(err.contains("accepted targets"), "{err}");
    let (ok, _, err) = cron(home.path(), &["show", "0123456789ab"]).await;
    assert!(!ok && err.contains("no scheduled job"), "{err}");
    for sub in [
        "add", "list", "show", "edit", "pause", "resume", "remove", "run", "history",
    ] {
        let (ok, help, _) = cron(home.path(), &[sub, "--help"]).await;
        assert!(ok && help.contains("hermod cron"), "{sub}: {help}");
    }
}

#[tokio::test]
async fn a_one_shot_is_delivered_to_the_telegram_home_channel() {
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::text("Good morning! Three meetings today."));
    let telegram = FakeTelegram::start().await;
    let home = tempfile::tempdir().unwrap();
    let running = start_with(with_telegram(home.path(), &llm, &telegram)).await;
    tokio::time::timeout(LIMIT, telegram.wait_for_receiver())
        .await
        .expect("polling Telegram");
    // The home channel is a group the bot is in (a message makes the fake
    // know it; without a mention the gateway leaves it alone).
    telegram
        .user(USER, "Uma")
        .in_group(HOME_CHAT, "morning all");
    // Added while the gateway runs: it notices the change in the store.
    let at = soon(1);
    let (ok, out, err) = cron(
        home.path(),
        &[
            "add",
            "--schedule",
            &at,
            "--deliver",
            "telegram",
            "Morning briefing",
        ],
    )
    .await;
    assert!(ok, "{out}{err}");
    let delivered = tokio::time::timeout(
        LIMIT,
        telegram.wait_for(HOME_CHAT, |m| {
            m.iter()
                .any(|m| m.current_text() == "Good morning! Three meetings today.")
        }),
    )
    .await
    .expect("delivered to the home channel");
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let asked = llm.requests();
    let prompt = asked.last().unwrap().messages().last().unwrap()["content"].to_string();
    assert!(prompt.contains("Morning briefing"), "{prompt}");
    assert_eq!(terminate(running.child).await, 0);

    let (_, listed, _) = cron(home.path(), &["list", "--json"]).await;
    let jobs: Vec<Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(jobs[0]["last_status"], "ok");
    assert_eq!(
        jobs[0]["next_run_at_ms"],
        Value::Null,
        "a one-shot runs once"
    );
    let id = jobs[0]["id"].as_str().unwrap();
    let (_, history, _) = cron(home.path(), &["history", id]).await;
    assert!(history.contains("Three meetings today"), "{history}");
    assert_eq!(telegram.bot_messages(HOME_CHAT).len(), 1, "delivered once");
}

#[tokio::test]
async fn a_job_the_agent_creates_is_delivered_to_the_chat_that_asked() {
    let llm = FakeLlm::start().await;
    let telegram = FakeTelegram::start().await;
    let home = tempfile::tempdir().unwrap();
    let running = start_with(with_telegram(home.path(), &llm, &telegram)).await;
    tokio::time::timeout(LIMIT, telegram.wait_for_receiver())
        .await
        .expect("polling Telegram");

    llm.push_all([
        Reply::tool_call(
            "cronjob",
            json!({
                "action": "create",
                "prompt": "Remind the user to stretch",
                "schedule": soon(4),
                "name": "stretch"
            }),
        ),
        Reply::text("Done, I'll remind you."),
        Reply::text("Time to stretch!"),
    ]);
    telegram
        .user(USER, "Uma")
        .dm("remind me in a few seconds to stretch");
    let chat = tokio::time::timeout(
        LIMIT,
        telegram.wait_for(USER, |m| {
            m.iter().any(|m| m.current_text() == "Time to stretch!")
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("{:?}", telegram.bot_messages(USER)));
    assert!(
        chat.iter()
            .any(|m| m.current_text() == "Done, I'll remind you.")
    );
    // The tool was offered to the model with its schema.
    assert!(llm.requests()[0].tool_names().contains(&"cronjob"));
    assert_eq!(terminate(running.child).await, 0);

    let (_, listed, _) = cron(home.path(), &["list", "--json"]).await;
    let jobs: Vec<Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["name"], "stretch");
    assert_eq!(jobs[0]["deliver"], "origin");
    assert_eq!(jobs[0]["created_by"]["user_id"], USER.to_string());
    assert_eq!(jobs[0]["origin"]["chat_id"], USER.to_string());
    assert_eq!(
        telegram
            .bot_messages(USER)
            .iter()
            .filter(|m| m.current_text() == "Time to stretch!")
            .count(),
        1
    );
}
