//! The `hermod` binary end to end: first run with no configuration, a real
//! OpenAI client, SIGTERM, a restart that keeps the session, and
//! configuration errors.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]
mod support;

use hermod_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
#[cfg(unix)]
use support::{chmod, mode};
use support::{finish, gateway_run, hermod, start, terminate};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn dotenv_key(home: &Path) -> String {
    let text = std::fs::read_to_string(home.join(".env")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("API_SERVER_KEY="))
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn first_run_generates_a_key_and_a_restart_keeps_the_session() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let running = start(home.path(), &llm).await;
    let printed = running
        .key
        .clone()
        .expect("the generated key is printed on first run");
    assert_eq!(printed, dotenv_key(home.path()));
    #[cfg(unix)]
    assert_eq!(mode(&home.path().join(".env")), 0o600);
    let reply = support::chat(&running.base, &printed, "kept", "first").await;
    assert_eq!(reply["choices"][0]["message"]["content"], "echo: first");
    assert_eq!(terminate(running.child).await, 0, "SIGTERM is a clean stop");

    let running = start(home.path(), &llm).await;
    assert_eq!(running.key, None, "the key is printed only once");
    support::chat(&running.base, &printed, "kept", "second").await;
    let sent = llm.requests().last().unwrap().messages().to_vec();
    let texts: Vec<&str> = sent
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["first", "echo: first", "second"]);
    assert_eq!(terminate(running.child).await, 0);

    // The sessions command reads what the gateway stored.
    let out = hermod(home.path())
        .args(["sessions", "show", "kept"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("first") && text.contains("echo: second"),
        "{text}"
    );
    let out = hermod(home.path())
        .args(["sessions", "search", "second"])
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains("kept"));
}

#[tokio::test]
async fn configuration_errors_exit_78_with_a_clear_message() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.yaml"), "modle:\n  default: x\n").unwrap();
    for args in [&["config", "check"][..], &["gateway", "run"][..]] {
        let out = hermod(home.path()).args(args).output().await.unwrap();
        assert_eq!(out.status.code(), Some(78), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("did you mean `model`?"), "{err}");
    }
    std::fs::write(home.path().join("config.yaml"), "").unwrap();
    let out = hermod(home.path())
        .args(["config", "check"])
        .env("API_SERVER_KEY", "short")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("16 characters")
    );
    let out = hermod(home.path())
        .args(["config", "check"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains("config OK"));
}

/// Drives the gateway with the official `openai` Python SDK when
/// `HERMOD_SDK_PYTHON` names a Python that has it (CI installs one).
#[tokio::test]
async fn the_official_openai_python_sdk_works() {
    let Ok(python) = std::env::var("HERMOD_SDK_PYTHON") else {
        eprintln!("skipped: set HERMOD_SDK_PYTHON to a python with the openai package");
        return;
    };
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::text("I will remember 7."),
        Reply::text("You said 7.").chunk_size(3),
    ]);
    let home = tempfile::tempdir().unwrap();
    let running = start(home.path(), &llm).await;
    let key = running.key.clone().unwrap();
    let script = r#"
import json, sys
from openai import OpenAI
client = OpenAI(base_url=sys.argv[1] + "/v1", api_key=sys.argv[2], max_retries=0)
session = {"X-Hermod-Session-Id": "sdk-chat"}
first = client.chat.completions.create(model="hermod", messages=[{"role": "user", "content": "Remember 7"}], extra_headers=session)
parts = []
final = None
for chunk in client.chat.completions.create(model="hermod", messages=[{"role": "user", "content": "Which?"}], extra_headers=session, stream=True):
    if chunk.choices:
        parts.append(chunk.choices[0].delta.content or "")
        final = chunk.choices[0].finish_reason or final
models = [m.id for m in client.models.list()]
try:
    OpenAI(base_url=sys.argv[1] + "/v1", api_key="wrong-key-wrong-key", max_retries=0).models.list()
    auth = "accepted"
except Exception as e:
    auth = type(e).__name__
print(json.dumps({"first": first.choices[0].message.content, "streamed": "".join(parts), "finish": final, "models": models, "auth": auth}))
"#;
    let out = Command::new(python)
        .args(["-c", script, &running.base, &key])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["first"], "I will remember 7.");
    assert_eq!(result["streamed"], "You said 7.");
    assert_eq!(result["finish"], "stop");
    assert_eq!(result["models"], json!(["hermod"]));
    assert_eq!(result["auth"], "AuthenticationError");
    // The second turn carried the first one from the store.
    assert_eq!(llm.requests()[1].messages().len(), 3);
    assert_eq!(terminate(running.child).await, 0);
}

#[tokio::test]
async fn pairing_is_managed_from_the_shell() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("hermod.db");
    let platform = hermod_model::PlatformId::from_static("telegram");
    let code = {
        let store = hermod_store::SqliteStore::open(&db).unwrap();
        let pairing = hermod_core::Pairing::new(&store);
        match pairing
            .request(&platform, "4242", Some("Alice"), hermod_core::now_ms())
            .await
            .unwrap()
        {
            hermod_core::PairingRequest::Code(code) => code,
            other => panic!("{other:?}"),
        }
    };
    let out = hermod(home.path())
        .args(["pairing", "list"])
        .output()
        .await
        .unwrap();
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(
        listing.contains("4242") && !listing.contains(&code),
        "codes are never shown: {listing}"
    );

    let out = hermod(home.path())
        .args(["pairing", "approve", "telegram", "WRONGCDE"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("no pending pairing")
    );

    let out = hermod(home.path())
        .args(["pairing", "approve", "Telegram", &code.to_lowercase()])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("Approved 4242 (Alice) on telegram")
    );
    let store = hermod_store::SqliteStore::open(&db).unwrap();
    assert!(
        hermod_store::Store::is_approved(&store, &platform, "4242")
            .await
            .unwrap()
    );

    let out = hermod(home.path())
        .args(["pairing", "revoke", "telegram", "4242"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    assert!(
        !hermod_store::Store::is_approved(&store, &platform, "4242")
            .await
            .unwrap()
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_home_and_everything_in_it_are_private() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let running = start(&home, &llm).await;
    assert_eq!(mode(&home), 0o700);
    for file in ["hermod.db", "hermod.db-wal", "hermod.db-shm", ".env"] {
        assert_eq!(mode(&home.join(file)), 0o600, "{file}");
    }
    assert_eq!(terminate(running.child).await, 0);

    // A command that creates the database on its own does the same.
    let home = dir.path().join("other");
    let out = finish(hermod(&home).args(["pairing", "list"])).await;
    assert!(out.status.success());
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&home.join("hermod.db")), 0o600);
}

#[cfg(unix)]
#[tokio::test]
async fn an_existing_home_readable_by_others_is_made_private() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("hermod.db");
    drop(hermod_store::SqliteStore::open(&db).unwrap());
    std::fs::write(home.path().join(".env"), "HERMOD_MODEL=m\n").unwrap();
    std::fs::create_dir_all(home.path().join("media/chat")).unwrap();
    std::fs::write(home.path().join("media/chat/photo.jpg"), "x").unwrap();
    for (path, m) in [
        (home.path().to_owned(), 0o755),
        (db.clone(), 0o644),
        (home.path().join(".env"), 0o644),
        (home.path().join("media"), 0o755),
        (home.path().join("media/chat"), 0o755),
        (home.path().join("media/chat/photo.jpg"), 0o644),
    ] {
        chmod(&path, m);
    }
    let out = finish(
        hermod(home.path())
            .args(["sessions", "list"])
            .env("RUST_LOG", "info"),
    )
    .await;
    assert!(out.status.success());
    let log = String::from_utf8(out.stderr).unwrap();
    assert!(
        log.contains("private") && log.contains("hermod.db") && log.contains("media/"),
        "one line names what was tightened: {log}"
    );
    assert_eq!(mode(home.path()), 0o700);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&home.path().join(".env")), 0o600);
    assert_eq!(mode(&home.path().join("media/chat")), 0o700);
    assert_eq!(mode(&home.path().join("media/chat/photo.jpg")), 0o600);
}

/// A database with sessions in it whose `sessions` table is overwritten with
/// garbage, where opening the database does not look.
async fn damaged_database(db: &Path) {
    {
        let store = hermod_store::SqliteStore::open(db).unwrap();
        for n in 0..20 {
            let id = format!("s{n}");
            hermod_store::Store::create_session(
                &store,
                hermod_store::NewSession {
                    id: hermod_model::SessionId::parse(&id).unwrap(),
                    key: hermod_model::SessionKey::from_raw(&id),
                    source: hermod_model::Source::dm(
                        hermod_model::PlatformId::from_static("cli"),
                        &id,
                    ),
                    created_at_ms: 1,
                },
            )
            .await
            .unwrap();
        }
    }
    let (page_size, root): (u64, u64) = {
        let conn = rusqlite::Connection::open(db).unwrap();
        let size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        let root: i64 = conn
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 'sessions'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (size.try_into().unwrap(), root.try_into().unwrap())
    };
    let mut bytes = std::fs::read(db).unwrap();
    let start = usize::try_from((root - 1) * page_size).unwrap();
    let end = start + usize::try_from(page_size).unwrap();
    bytes[start..end].fill(0xA5);
    std::fs::write(db, bytes).unwrap();
}

#[tokio::test]
async fn a_damaged_database_stops_the_gateway_with_advice() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("hermod.db");
    damaged_database(&db).await;
    let out = finish(&mut gateway_run(home.path())).await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(!stdout.contains("ready"), "{stdout}");
    assert!(
        stderr.contains(&format!("the database {} is damaged", db.display()))
            && stderr.contains(".recover")
            && stderr.contains("restore a backup"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_storage_failure_in_a_command_is_logged_at_error() {
    let home = tempfile::tempdir().unwrap();
    damaged_database(&home.path().join("hermod.db")).await;
    let out = finish(hermod(home.path()).args(["sessions", "list"])).await;
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(" ERROR ") && l.contains("storage failed")),
        "{stderr}"
    );
}

/// File modes do not stop root, so as root this test has nothing to show
/// and says so; `SqliteStore::check`'s own tests cover a read-only database
/// with a connection SQLite itself keeps from writing.
#[cfg(unix)]
#[tokio::test]
async fn a_read_only_database_stops_the_gateway_with_advice() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("hermod.db");
    drop(hermod_store::SqliteStore::open(&db).unwrap());
    chmod(&db, 0o400);
    if std::fs::OpenOptions::new().write(true).open(&db).is_ok() {
        eprintln!("skipped: file modes do not stop this user (root?)");
        return;
    }
    let out = finish(&mut gateway_run(home.path())).await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(!stdout.contains("ready"), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "the database {0}: a permission problem: {0} is not writable",
            db.display()
        )),
        "{stderr}"
    );
}

/// Environment for a Telegram bot whose token the fake Bot API refuses.
fn refused_telegram(cmd: &mut Command, telegram: &hermod_testkit::FakeTelegram) {
    cmd.env("TELEGRAM_BOT_TOKEN", "123456:refused-by-the-fake")
        .env("TELEGRAM_API_BASE_URL", telegram.base_url())
        .env("TELEGRAM_ALLOWED_USERS", "1");
}

#[tokio::test]
async fn a_refused_token_with_no_other_platform_ends_the_gateway() {
    let telegram = hermod_testkit::FakeTelegram::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = gateway_run(home.path());
    cmd.env("API_SERVER_ENABLED", "false");
    refused_telegram(&mut cmd, &telegram);
    let out = finish(&mut cmd).await;
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: Telegram bot (telegram) failed: ")
            && stderr.contains("credentials")
            && stderr.contains("no platform is running"),
        "{stderr}"
    );
    assert!(telegram.unauthorized_calls() > 0);
}

#[tokio::test]
async fn a_refused_token_is_reported_and_the_other_platforms_keep_running() {
    let telegram = hermod_testkit::FakeTelegram::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = gateway_run(home.path());
    refused_telegram(&mut cmd, &telegram);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let ready = async {
        loop {
            let line = stdout.next_line().await.unwrap().expect("a ready line");
            if line.contains(" ready: ") {
                return line;
            }
        }
    };
    let failure = async {
        loop {
            let line = stderr.next_line().await.unwrap().expect("the failure");
            if line.starts_with("error: Telegram bot (telegram) failed: ") {
                return line;
            }
        }
    };
    let (ready, failure) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(ready, failure)
    })
    .await
    .expect("ready and the failure in time");
    assert!(ready.contains("API server on http://"), "{ready}");
    assert!(
        failure.contains("credentials") && failure.ends_with("the other platforms keep running"),
        "{failure}"
    );
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    assert_eq!(child.try_wait().unwrap(), None, "still running");
    assert_eq!(terminate(child).await, 0);
}
