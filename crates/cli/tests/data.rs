//! The `hermod` binary and its data end to end: what `hermod.db` holds,
//! backups, the home directory and the first run.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]
mod support;

use hermod_store::{ListSessions, SqliteStore, Store};
use hermod_testkit::FakeLlm;
use std::path::Path;
use support::{bare, chat, finish, gateway, hermod, start, start_with, terminate};

/// The sessions in a copy of `db` alone (without its `-wal` and `-shm`),
/// with their message counts, as someone copying `hermod.db` gets them.
async fn sessions_in_a_copy_of(db: &Path) -> Vec<(String, u64)> {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    std::fs::copy(db, &copy).unwrap();
    sessions_in(&copy).await
}

async fn sessions_in(db: &Path) -> Vec<(String, u64)> {
    let store = SqliteStore::open(db).unwrap();
    let mut sessions: Vec<_> = store
        .list_sessions(ListSessions::default())
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.id.to_string(), s.message_count))
        .collect();
    sessions.sort();
    sessions
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn after_a_clean_stop_hermod_db_alone_holds_every_session() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let running = start(home.path(), &llm).await;
    let key = running.key.clone().unwrap();
    for session in ["one", "two", "three"] {
        chat(&running.base, &key, session, "hello").await;
    }
    assert_eq!(terminate(running.child).await, 0);
    let expected: Vec<(String, u64)> = ["one", "three", "two"]
        .iter()
        .map(|s| ((*s).to_owned(), 2))
        .collect();
    assert_eq!(
        sessions_in_a_copy_of(&home.path().join("hermod.db")).await,
        expected
    );
}

#[tokio::test]
async fn after_a_pairing_command_hermod_db_alone_holds_the_change() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("hermod.db");
    let platform = hermod_model::PlatformId::from_static("telegram");
    let code = {
        let store = SqliteStore::open(&db).unwrap();
        let pairing = hermod_core::Pairing::new(&store);
        let now = hermod_core::now_ms();
        match pairing.request(&platform, "4242", None, now).await.unwrap() {
            hermod_core::PairingRequest::Code(code) => code,
            other => panic!("{other:?}"),
        }
    };
    let out = finish(hermod(home.path()).args(["pairing", "approve", "telegram", &code])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    std::fs::copy(&db, &copy).unwrap();
    let store = SqliteStore::open(&copy).unwrap();
    assert!(store.is_approved(&platform, "4242").await.unwrap());
}

#[tokio::test]
async fn a_backup_taken_while_the_gateway_serves_holds_every_session() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let running = start(home.path(), &llm).await;
    let key = running.key.clone().unwrap();
    for n in 0..5 {
        chat(&running.base, &key, &format!("chat-{n}"), "hello").await;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hermod-backup.db");
    let out = finish(hermod(home.path()).arg("backup").arg(&file)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains(&file.display().to_string())
            && said.contains("5 sessions, 10 messages")
            && said.contains("integrity check passed"),
        "{said}"
    );
    let sessions = sessions_in(&file).await;
    assert_eq!(sessions.len(), 5, "{sessions:?}");
    assert!(sessions.iter().all(|(_, n)| *n == 2), "{sessions:?}");

    // The gateway goes on answering, and writing.
    let reply = chat(&running.base, &key, "chat-after", "still there?").await;
    assert_eq!(
        reply["choices"][0]["message"]["content"],
        "echo: still there?"
    );

    let out = finish(hermod(home.path()).arg("backup").arg(&file)).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("pass --force"), "{}", stderr(&out));
    let out = finish(hermod(home.path()).args(["backup", "--force"]).arg(&file)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sessions_in(&file).await.len(), 6);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["hermod-backup.db"], "no partial file is left");
    assert_eq!(terminate(running.child).await, 0);
}

#[tokio::test]
async fn a_backup_of_a_home_without_a_database_says_there_is_nothing() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("b.db");
    let out = finish(hermod(home.path()).arg("backup").arg(&file)).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("there is nothing to back up"),
        "{}",
        stderr(&out)
    );
    assert!(!file.exists());
}

/// A port nothing listens on now, for a gateway whose printed URL must be
/// the one it serves.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The first run prints where the database is and one `curl` line; that
/// line, sent as printed, gets an answer.
#[tokio::test]
async fn the_first_run_shows_the_database_and_a_curl_line_that_works() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = gateway(home.path(), &llm);
    cmd.env("API_SERVER_PORT", port.to_string())
        .env("API_SERVER_MODEL_NAME", "my-agent");
    let running = start_with(cmd).await;
    let printed = running.printed.join("\n");
    let db = home.path().join("hermod.db");
    assert!(
        printed.contains(&format!("Conversations are stored in {}.", db.display())),
        "{printed}"
    );
    let curl = running
        .printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("curl -s "))
        .unwrap_or_else(|| panic!("a curl line: {printed}"));
    let url = curl.split_whitespace().next().unwrap();
    assert_eq!(url, format!("http://127.0.0.1:{port}/v1/chat/completions"));
    let key = curl
        .split("Bearer ")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    assert_eq!(Some(key), running.key.as_deref());
    assert!(
        curl.contains(r#"-H "Content-Type: application/json""#),
        "{curl}"
    );
    let body = curl
        .split(" -d '")
        .nth(1)
        .and_then(|rest| rest.strip_suffix('\''))
        .unwrap();
    let sent: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(sent["model"], "my-agent", "the model the server serves");

    hermod_http::install_crypto_provider();
    let response = reqwest::Client::new()
        .post(url)
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let reply: serde_json::Value = response.json().await.unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "echo: Hello");
    assert_eq!(terminate(running.child).await, 0);
}

/// A user's home with a Hermes Agent home in it, holding settings.
fn with_hermes_home() -> tempfile::TempDir {
    let user = tempfile::tempdir().unwrap();
    let hermes = user.path().join(".hermes");
    std::fs::create_dir(&hermes).unwrap();
    std::fs::write(hermes.join(".env"), "OPENAI_API_KEY=sk-from-hermes\n").unwrap();
    std::fs::write(hermes.join("config.yaml"), "model:\n  default: x\n").unwrap();
    user
}

/// Every file under `dir` with its contents.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_hermes_home_is_mentioned_until_hermod_has_its_own_and_left_alone() {
    let user = with_hermes_home();
    let hermes = user.path().join(".hermes");
    let before = snapshot(&hermes);
    let notice = "hermod does not read it";

    let out = finish(bare().env("HOME", user.path()).args(["pairing", "list"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert_eq!(said.matches(notice).count(), 1, "once: {said}");
    assert!(
        said.contains(&format!(
            "copy {0}/.env to {1}/.env",
            hermes.display(),
            user.path().join(".hermod").display()
        )) && said.contains(&format!("`hermod import hermes {}`", hermes.display())),
        "{said}"
    );
    assert_eq!(snapshot(&hermes), before, "nothing in it changes");

    // ~/.hermod exists now: nothing more to say.
    let out = finish(bare().env("HOME", user.path()).args(["pairing", "list"])).await;
    assert!(out.status.success());
    assert!(!stderr(&out).contains(notice), "{}", stderr(&out));

    // HERMES_HOME names where Hermes keeps its home; HERMOD_HOME set means
    // the operator chose a home already.
    let moved = with_hermes_home();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = finish(
        bare()
            .env("HOME", elsewhere.path())
            .env("HERMES_HOME", moved.path().join(".hermes"))
            .args(["config", "check"]),
    )
    .await;
    assert!(stderr(&out).contains(notice), "{}", stderr(&out));
    let out = finish(
        hermod(elsewhere.path())
            .env("HOME", moved.path())
            .args(["config", "check"]),
    )
    .await;
    assert!(!stderr(&out).contains(notice), "{}", stderr(&out));
}

/// File modes do not stop root, so as root this test has nothing to show
/// and says so; the unit tests of the messages inject the check instead.
#[cfg(unix)]
#[tokio::test]
async fn a_home_that_is_not_writable_is_reported_as_a_permission_problem() {
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    support::chmod(&locked, 0o500);
    if std::fs::write(locked.join("probe"), "").is_ok() {
        eprintln!("skipped: file modes do not stop this user (root?)");
        return;
    }
    let out = finish(hermod(&locked).args(["pairing", "list"])).await;
    let said = stderr(&out);
    assert!(!out.status.success());
    assert!(
        said.contains(&format!(
            "cannot open the database {}: a permission problem: {} is not writable",
            locked.join("hermod.db").display(),
            locked.display()
        )) && said.contains("set HERMOD_HOME"),
        "{said}"
    );

    let home = locked.join("home");
    let out = finish(hermod(&home).args(["pairing", "list"])).await;
    let said = stderr(&out);
    assert!(!out.status.success());
    assert!(
        said.contains(&format!(
            "cannot create HERMOD_HOME {0}: a permission problem: this user",
            home.display()
        )) && said.contains(&format!(
            "cannot create {} in {}",
            home.display(),
            locked.display()
        )),
        "{said}"
    );
    support::chmod(&locked, 0o700);
}
