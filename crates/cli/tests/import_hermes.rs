//! `hermod import hermes`: a Hermes 0.19 home's sessions, chat routes,
//! approved users, home channels and jobs land in hermod's store, once.
//!
//! The homes are made by Hermes' own code (`fixtures/hermes/make_home.py`):
//! checked in as SQL text and JSON (`fixtures/hermes/home/`, rebuilt into a
//! `state.db` here), and, when `HERMOD_ACP_HERMES` names the `hermes` of a
//! hermes-agent 0.19 venv, made afresh by that venv's Python (under CI that
//! venv is required).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]
#[path = "import_hermes/rerun.rs"]
mod rerun;
mod support;

use hermod_model::{
    ChatTarget, ChatType, Content, ContentPart, PlatformId, Role, SessionKey, SessionKeyPolicy,
    Source,
};
use hermod_store::{ListSessions, SessionRecord, SqliteStore, Store};
use std::path::{Path, PathBuf};
use support::{finish, gateway_run, hermod, start_with, terminate};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hermes")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The checked-in Hermes home, its `state.db` rebuilt from `state.sql`.
fn fixture_home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("home"), dir.path());
    let sql = std::fs::read_to_string(dir.path().join("state.sql")).unwrap();
    let db = rusqlite::Connection::open(dir.path().join("state.db")).unwrap();
    db.execute_batch(&sql).unwrap();
    dir
}

/// The Python of the hermes-agent venv, or `None` (the test skips, saying
/// why) outside CI; under CI its absence fails.
fn hermes_python() -> Option<PathBuf> {
    let hermes = hermod_testkit::real_peer::var(
        "HERMOD_ACP_HERMES",
        "the `hermes` of hermes-agent==0.19.0",
    )?;
    Some(Path::new(&hermes).parent().unwrap().join("python"))
}

/// `hermod import hermes <from> [extra]` in `home`: exit code, stdout,
/// stderr.
async fn import(home: &Path, from: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut cmd = hermod(home);
    cmd.args(["import", "hermes"]).arg(from).args(extra);
    let out = finish(&mut cmd).await;
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn store(home: &Path) -> SqliteStore {
    SqliteStore::open(&home.join("hermod.db")).unwrap()
}

async fn sessions(store: &SqliteStore) -> Vec<SessionRecord> {
    store
        .list_sessions(ListSessions {
            platform: None,
            limit: 100,
            offset: 0,
        })
        .await
        .unwrap()
}

/// What `make_home.py` put in the Hermes home, as hermod must have it.
async fn assert_imported(home: &Path) {
    let store = store(home);
    let all = sessions(&store).await;
    assert_eq!(all.len(), 3, "{all:#?}");

    // The direct chat: its messages in order, the tool call and its result.
    let dm = all
        .iter()
        .find(|s| s.title.as_deref() == Some("Lisbon weather"))
        .unwrap();
    assert_eq!(dm.platform.as_str(), "telegram");
    assert_eq!(dm.source.chat_id.as_deref(), Some("5551234"));
    assert_eq!(dm.source.user_name.as_deref(), Some("Ana"));
    let messages = store.messages(&dm.id).await.unwrap();
    let roles: Vec<Role> = messages.iter().map(|m| m.message.role).collect();
    assert_eq!(
        roles,
        [Role::User, Role::Assistant, Role::Tool, Role::Assistant]
    );
    let text = |i: usize| {
        messages[i]
            .message
            .content
            .as_ref()
            .map(|c| c.text())
            .unwrap_or_default()
    };
    assert_eq!(text(0), "What is the weather in Lisbon?");
    assert_eq!(messages[1].message.tool_calls[0].name, "web_fetch");
    assert_eq!(
        messages[1].message.tool_calls[0].arguments,
        r#"{"url": "https://wttr.in/Lisbon"}"#
    );
    assert_eq!(messages[2].message.tool_call_id.as_deref(), Some("call_1"));
    assert_eq!(text(2), "Lisbon: sunny, 24 C");
    assert_eq!(text(3), "It is sunny in Lisbon, 24 C.");
    assert!(messages.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));

    // The chat's next message continues it: hermod builds the same key
    // for that chat and finds the imported session.
    let chat = Source {
        platform: PlatformId::new("telegram"),
        chat_type: ChatType::Dm,
        chat_id: Some("5551234".into()),
        chat_name: None,
        user_id: Some("5551234".into()),
        user_id_alt: None,
        user_name: None,
        thread_id: None,
        is_bot: false,
    };
    let key = SessionKey::build(&chat, &SessionKeyPolicy::default());
    assert_eq!(store.route(&key).await.unwrap(), Some(dm.id.clone()));
    let group = all
        .iter()
        .find(|s| s.platform.as_str() == "discord")
        .unwrap();
    assert_eq!(
        store
            .route(&SessionKey::from_raw("agent:main:discord:group:900100:42"))
            .await
            .unwrap(),
        Some(group.id.clone())
    );

    // A picture with its caption stays a picture with its caption.
    let first = &store.messages(&group.id).await.unwrap()[0].message;
    let Some(Content::Parts(parts)) = &first.content else {
        panic!("parts expected: {first:?}");
    };
    assert!(
        matches!(&parts[0], ContentPart::Text { text } if text == "Summarise the release notes")
    );
    assert!(
        matches!(&parts[1], ContentPart::ImageUrl { image_url } if image_url.url.starts_with("data:image/png"))
    );

    // The session a /new left behind stays ended.
    let old = all
        .iter()
        .find(|s| s.id.as_str() == "20260101_090000_0ldse55n")
        .unwrap();
    assert_eq!(old.end_reason.as_deref(), Some("new_session"));
    assert_eq!(old.message_count, 2);

    assert!(
        store
            .is_approved(&PlatformId::new("telegram"), "777")
            .await
            .unwrap()
    );
    // Where `/sethome` keeps it, so deliveries to the platform's home go
    // there.
    let home_channel = store.setting("home_channel:telegram").await.unwrap();
    let home_channel: ChatTarget = serde_json::from_str(&home_channel.unwrap()).unwrap();
    assert_eq!(
        home_channel,
        ChatTarget {
            chat_id: "5551234".into(),
            thread_id: None
        }
    );

    let mut jobs = store.cron_jobs().await.unwrap();
    jobs.sort_by(|a, b| a.name.cmp(&b.name));
    let described: Vec<(&str, &str, &str, bool)> = jobs
        .iter()
        .map(|j| {
            (
                j.name.as_str(),
                j.schedule.as_str(),
                j.deliver.as_str(),
                j.enabled,
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            ("briefing", "0 8 * * 1-5", "telegram:5551234", true),
            ("feed", "every 120m", "local", true),
        ]
    );
    assert!(jobs.iter().all(|j| j.next_run_at_ms.is_some()));
}

#[tokio::test]
async fn the_fixture_imports_once_and_a_second_run_says_0_new() {
    let from = fixture_home();
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "sessions:       3 new (8 messages), 0 already imported",
        "chat routes:    2 new, 0 already imported",
        "approved users: 1 new, 0 already approved",
        "home channels:  1 new, 0 already set",
        "cron jobs:      2 new, 0 already imported",
        "9 new imported.",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    assert_imported(home.path()).await;

    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "sessions:       0 new (0 messages), 3 already imported",
        "cron jobs:      0 new, 2 already imported",
        "0 new: everything was imported before.",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    // Nothing doubled.
    assert_imported(home.path()).await;
}

#[tokio::test]
async fn a_dry_run_says_what_it_would_import_and_writes_nothing() {
    let from = fixture_home();
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = import(home.path(), from.path(), &["--dry-run"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("dry run: nothing was written"), "{out}");
    assert!(out.contains("9 new would be imported."), "{out}");
    assert!(!home.path().join("hermod.db").exists());

    // Into a home that has part of it already: counted, not written.
    let (code, ..) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0);
    {
        let store = store(home.path());
        let dm = sessions(&store)
            .await
            .into_iter()
            .find(|s| s.platform.as_str() == "telegram")
            .unwrap();
        assert!(store.delete_session(&dm.id).await.unwrap());
        store.close().await.unwrap();
    }
    let (code, out, _) = import(home.path(), from.path(), &["--dry-run"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("sessions:       1 new (4 messages), 2 already imported"),
        "{out}"
    );
    assert_eq!(sessions(&store(home.path())).await.len(), 2);
}

#[tokio::test]
async fn an_older_or_newer_state_db_is_refused_with_what_to_do() {
    let from = fixture_home();
    let db = rusqlite::Connection::open(from.path().join("state.db")).unwrap();
    db.execute("UPDATE schema_version SET version = 21", [])
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("is at schema version 21, older than the version 22"),
        "{err}"
    );
    assert!(err.contains("Run Hermes 0.19 once on it"), "{err}");
    assert!(!home.path().join("hermod.db").exists(), "nothing written");

    db.execute("UPDATE schema_version SET version = 23", [])
        .unwrap();
    let (code, _, err) = import(home.path(), from.path(), &[]).await;
    assert_ne!(code, 0);
    assert!(err.contains("is at schema version 23, newer than"), "{err}");
}

#[tokio::test]
async fn the_import_refuses_to_run_beside_a_gateway() {
    let from = fixture_home();
    let home = tempfile::tempdir().unwrap();
    let running = start_with(gateway_run(home.path())).await;
    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("another hermod gateway"), "{err}");
    assert!(err.contains("the gateway must be stopped"), "{err}");
    assert_eq!(terminate(running.child).await, 0);
    assert!(sessions(&store(home.path())).await.is_empty());

    // Stopped, it imports.
    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_imported(home.path()).await;
}

/// A home Hermes' own code makes now, with the installed hermes-agent.
#[tokio::test]
async fn a_home_made_by_hermes_itself_imports() {
    let Some(python) = hermes_python() else {
        return;
    };
    let from = tempfile::tempdir().unwrap();
    let made = tokio::process::Command::new(&python)
        .arg(fixtures().join("make_home.py"))
        .env("HERMES_HOME", from.path())
        .env("TIRITH_ENABLED", "false")
        .output()
        .await
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("9 new imported."), "{out}");
    assert_imported(home.path()).await;
    let (_, out, _) = import(home.path(), from.path(), &[]).await;
    assert!(
        out.contains("0 new: everything was imported before."),
        "{out}"
    );
}

/// Home channels also come from Hermes' `config.yaml` (for platforms its
/// `.env` gives none); routes of another profile than hermod's are left
/// out, saying why.
#[tokio::test]
async fn config_home_channels_come_along_and_another_profiles_routes_do_not() {
    let from = fixture_home();
    std::fs::write(
        from.path().join("config.yaml"),
        "platforms:\n  discord:\n    home_channel: {platform: discord, chat_id: '900100', name: Home}\n  telegram:\n    home_channel: '999'\n",
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.yaml"),
        "gateway: {profile: work}\n",
    )
    .unwrap();
    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("home channels:  2 new"), "{out}");
    assert!(out.contains("chat routes:    0 new"), "{out}");
    assert!(
        out.contains(
            "route agent:main:telegram:dm:5551234: it belongs to another Hermes profile; hermod's keys start with agent:work:"
        ),
        "{out}"
    );
    let store = store(home.path());
    let target =
        |raw: Option<String>| -> ChatTarget { serde_json::from_str(&raw.unwrap()).unwrap() };
    assert_eq!(
        target(store.setting("home_channel:discord").await.unwrap()).chat_id,
        "900100"
    );
    // `.env` wins over config.yaml, as in Hermes.
    assert_eq!(
        target(store.setting("home_channel:telegram").await.unwrap()).chat_id,
        "5551234"
    );
}

/// The imported conversation goes on: a turn in the imported direct
/// chat's session (reached here through the API, which may name another
/// platform's session when allowed) sends the model the Hermes history,
/// tool call and result included, before the new message.
#[tokio::test]
async fn an_imported_conversation_continues_with_its_history() {
    let from = fixture_home();
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    let dm = sessions(&store(home.path()))
        .await
        .into_iter()
        .find(|s| s.platform.as_str() == "telegram")
        .unwrap();
    std::fs::write(
        home.path().join("config.yaml"),
        "platforms:\n  api_server:\n    allow_platform_sessions: true\n",
    )
    .unwrap();
    let key = "Zq3vX9pL2mW8rT5yK1nB7cD4fG6hJ0sA";
    let llm = hermod_testkit::FakeLlm::start().await;
    let mut cmd = support::gateway(home.path(), &llm);
    cmd.env("API_SERVER_KEY", key);
    let running = start_with(cmd).await;
    let reply = support::chat(&running.base, key, dm.id.as_str(), "And tomorrow?").await;
    assert_eq!(
        reply["choices"][0]["message"]["content"],
        "echo: And tomorrow?"
    );
    assert_eq!(terminate(running.child).await, 0);

    let request = llm.requests().last().cloned().unwrap();
    let sent: Vec<(String, String)> = request
        .messages()
        .iter()
        .filter(|m| m["role"] != "system")
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("user", "What is the weather in Lisbon?"),
        ("assistant", ""),
        ("tool", "Lisbon: sunny, 24 C"),
        ("assistant", "It is sunny in Lisbon, 24 C."),
        ("user", "And tomorrow?"),
    ];
    assert_eq!(
        sent,
        expected.map(|(r, c)| (r.to_owned(), c.to_owned())),
        "{:#?}",
        request.messages()
    );
    let call = request
        .messages()
        .iter()
        .find(|m| m["tool_calls"].is_array())
        .unwrap();
    assert_eq!(call["tool_calls"][0]["function"]["name"], "web_fetch");
}
