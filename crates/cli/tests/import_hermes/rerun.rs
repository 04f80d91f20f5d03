//! Running the import again: a dry run that leaves hermod's database as it
//! was, sessions that go on in Hermes, runs that stopped half way, and
//! messages that cannot be taken.

use super::{fixture_home, import, sessions, store};
use hermod_model::{ChatMessage, PlatformId, Role, SessionId, SessionKey, Source, Usage};
use hermod_store::{AppendMessages, NewMessage, NewSession, SqliteStore, Store};
use std::path::Path;

/// The fixture's direct chat and the session a `/new` ended.
const DM: &str = "20261205_160655_2d2592fb";
const OLD: &str = "20260101_090000_0ldse55n";

fn hermes_db(from: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(from.join("state.db")).unwrap()
}

/// Appends a message to a session of the Hermes home, as Hermes would.
fn hermes_says(from: &Path, session: &str, role: &str, content: &str) {
    hermes_db(from)
        .execute(
            "INSERT INTO messages (session_id, role, content, timestamp) \
             VALUES (?1, ?2, ?3, 1790000000.0)",
            (session, role, content),
        )
        .unwrap();
}

fn id(raw: &str) -> SessionId {
    SessionId::parse(raw).unwrap()
}

async fn texts(store: &SqliteStore, session: &str) -> Vec<String> {
    store
        .messages(&id(session))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.message.content.map(|c| c.text()).unwrap_or_default())
        .collect()
}

fn assert_lines(out: &str, lines: &[&str]) {
    for line in lines {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
}

/// A dry run into a home whose database a gateway has open (its WAL not
/// yet folded in) changes neither file; one at an older schema is refused,
/// not migrated.
#[tokio::test]
async fn a_dry_run_leaves_the_database_and_its_wal_as_they_were() {
    let from = fixture_home();
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("hermod.db");
    let wal = home.path().join("hermod.db-wal");
    let open = store(home.path());
    open.set_setting("mine", "1", 1).await.unwrap();
    let before = (std::fs::read(&db).unwrap(), std::fs::read(&wal).unwrap());
    assert!(!before.1.is_empty(), "the WAL holds the write");
    let (code, out, err) = import(home.path(), from.path(), &["--dry-run"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("9 new would be imported."), "{out}");
    assert_eq!(
        (std::fs::read(&db).unwrap(), std::fs::read(&wal).unwrap()),
        before
    );
    open.close().await.unwrap();

    // A database of an older hermod (one migration not applied).
    let raw = rusqlite::Connection::open(&db).unwrap();
    let newest: i64 = raw
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .unwrap();
    raw.execute("DELETE FROM schema_migrations WHERE version = ?1", [newest])
        .unwrap();
    drop(raw);
    let bytes = std::fs::read(&db).unwrap();
    let (code, out, err) = import(home.path(), from.path(), &["--dry-run"]).await;
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains(&format!("lacks schema version {newest}")),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "nothing migrated");
    // With no WAL (no connection had it open) none is left behind either.
    assert!(!wal.exists() && !home.path().join("hermod.db-shm").exists());
}

/// Messages Hermes adds to an imported session come along on the next
/// run, once; after hermod has continued the session itself they are left
/// behind, saying how many.
#[tokio::test]
async fn messages_added_in_hermes_later_come_along_until_hermod_continues() {
    let from = fixture_home();
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0, "{out}{err}");

    hermes_says(from.path(), DM, "user", "And tomorrow?");
    hermes_says(from.path(), DM, "assistant", "Rain.");
    let (code, out, err) = import(home.path(), from.path(), &["--dry-run"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_lines(
        &out,
        &["sessions:       0 new (2 messages), 3 already imported (1 with newer messages)"],
    );
    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_lines(
        &out,
        &[
            "sessions:       0 new (2 messages), 3 already imported (1 with newer messages)",
            "1 new imported.",
        ],
    );
    let texts_now = texts(&store(home.path()), DM).await;
    assert_eq!(texts_now.len(), 6, "{texts_now:?}");
    assert_eq!(texts_now[4..], ["And tomorrow?", "Rain."]);
    let (_, out, _) = import(home.path(), from.path(), &[]).await;
    assert_lines(&out, &["0 new: everything was imported before."]);

    // hermod answers in the session; Hermes goes on on its own.
    let store = store(home.path());
    store
        .append_messages(AppendMessages {
            session: id(DM),
            messages: vec![NewMessage {
                message: ChatMessage::user("hermod's own turn"),
                at_ms: 1,
                platform_message_id: None,
            }],
            usage: Usage::default(),
        })
        .await
        .unwrap();
    store.close().await.unwrap();
    hermes_says(from.path(), DM, "user", "And Sunday?");
    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_lines(
        &out,
        &[
            &format!(
                "messages 1 of session {DM}: hermod has continued this session since it was \
                 imported; Hermes' newer messages are left behind"
            ),
            "0 new: everything was imported before.",
        ],
    );
    assert_eq!(texts(&self::store(home.path()), DM).await.len(), 7);
}

/// A run that stopped half way is finished by the next: a session created
/// without its messages gets them, one stored without its title and end
/// gets those, and a job whose marker says it was being added is looked up
/// (not added twice) or added once.
#[tokio::test]
async fn a_run_that_stopped_half_way_is_finished_once() {
    let from = fixture_home();
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    let store = store(home.path());
    let jobs = store.cron_jobs().await.unwrap();
    let briefing = jobs.iter().find(|j| j.name == "briefing").unwrap().clone();
    let feed = jobs.iter().find(|j| j.name == "feed").unwrap().clone();
    // The state of runs that stopped: the briefing added, its marker not
    // yet filled in; the feed's marker written, the job not yet added.
    store
        .set_setting("import.hermes.cron:a358c455c60f", "(adding)", 1)
        .await
        .unwrap();
    assert!(store.cron_remove(&feed.id).await.unwrap());
    store
        .set_setting("import.hermes.cron:2a7baf5cac86", "(adding)", 1)
        .await
        .unwrap();
    // The ended session: only its messages stored, no title, not ended,
    // no marker. The direct chat: created, nothing else.
    for raw in [DM, OLD] {
        assert!(store.delete_session(&id(raw)).await.unwrap());
        store
            .delete_setting(&format!("import.hermes.session:{raw}"))
            .await
            .unwrap();
    }
    let source = Source::dm(PlatformId::new("cli"), "local");
    for raw in [DM, OLD] {
        store
            .create_session(NewSession {
                id: id(raw),
                key: SessionKey::from_raw(format!("agent:main:test:{raw}")),
                source: source.clone(),
                created_at_ms: 1,
            })
            .await
            .unwrap();
    }
    let old_messages = ["hello from the terminal", "Hello!"];
    store
        .append_messages(AppendMessages {
            session: id(OLD),
            messages: old_messages
                .iter()
                .zip([Role::User, Role::Assistant])
                .map(|(text, role)| NewMessage {
                    message: ChatMessage::new(role, *text),
                    at_ms: 1,
                    platform_message_id: None,
                })
                .collect(),
            usage: Usage::default(),
        })
        .await
        .unwrap();
    hermes_db(from.path())
        .execute(
            "UPDATE sessions SET title = 'Greeting' WHERE id = ?1",
            [OLD],
        )
        .unwrap();
    store.close().await.unwrap();

    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_lines(
        &out,
        &[
            "sessions:       1 new (4 messages), 2 already imported",
            "cron jobs:      1 new, 1 already imported",
        ],
    );
    let store = self::store(home.path());
    let mut jobs: Vec<(String, String)> = store
        .cron_jobs()
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.name, j.id))
        .collect();
    jobs.sort();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert_eq!(jobs[0], ("briefing".to_owned(), briefing.id.clone()));
    assert_eq!(
        store
            .setting("import.hermes.cron:a358c455c60f")
            .await
            .unwrap(),
        Some(briefing.id)
    );
    assert_eq!(
        store
            .setting("import.hermes.cron:2a7baf5cac86")
            .await
            .unwrap(),
        Some(jobs[1].1.clone())
    );
    assert_eq!(texts(&store, DM).await.len(), 4);
    assert_eq!(texts(&store, OLD).await, old_messages);
    let old = store.session(&id(OLD)).await.unwrap().unwrap();
    assert_eq!(old.title.as_deref(), Some("Greeting"));
    assert_eq!(old.end_reason.as_deref(), Some("new_session"));
    store.close().await.unwrap();

    let (_, out, _) = import(home.path(), from.path(), &[]).await;
    assert_lines(&out, &["0 new: everything was imported before."]);
    assert_eq!(sessions(&self::store(home.path())).await.len(), 3);
}

/// Messages that cannot be taken are left out saying why, and the tool
/// results of a dropped call go with it; a session with no message left
/// is imported once, not again on every run.
#[tokio::test]
async fn messages_that_cannot_be_taken_are_left_out_with_their_tool_results() {
    let from = fixture_home();
    let db = hermes_db(from.path());
    db.execute_batch(
        "INSERT INTO sessions (id, source, started_at) VALUES \
             ('20261206_100000_aaaaaaaa', 'cli', 1790000000.0), \
             ('20261206_110000_bbbbbbbb', 'cli', 1790000100.0);
         INSERT INTO messages (session_id, role, content, tool_call_id, tool_calls, timestamp) VALUES
             ('20261206_100000_aaaaaaaa', 'user', 'fetch it', NULL, NULL, 1790000001.0),
             ('20261206_100000_aaaaaaaa', 'assistant', '', NULL, '{not json', 1790000002.0),
             ('20261206_100000_aaaaaaaa', 'tool', 'the page', 'call_9', NULL, 1790000003.0),
             ('20261206_100000_aaaaaaaa', 'tool', 'stray', NULL, NULL, 1790000004.0),
             ('20261206_100000_aaaaaaaa', 'user', char(0) || 'json:[{\"type\": \"input_audio\", \"input_audio\": {}}]', NULL, NULL, 1790000005.0),
             ('20261206_100000_aaaaaaaa', 'assistant', 'I could not fetch it.', NULL, NULL, 1790000006.0),
             ('20261206_110000_bbbbbbbb', 'narrator', 'once upon a time', NULL, NULL, 1790000101.0);",
    )
    .unwrap();
    drop(db);
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_lines(
        &out,
        &[
            "sessions:       5 new (10 messages), 0 already imported",
            "messages 4 of session 20261206_100000_aaaaaaaa: its tool calls are not JSON",
            "it answers the tool call call_9, which is not imported",
            "it is a tool result that names no tool call",
            "none of its content's parts is of a kind hermod has",
            "messages 1 of session 20261206_110000_bbbbbbbb: its role \"narrator\"",
        ],
    );
    let store = store(home.path());
    assert_eq!(
        texts(&store, "20261206_100000_aaaaaaaa").await,
        ["fetch it", "I could not fetch it."]
    );
    assert!(texts(&store, "20261206_110000_bbbbbbbb").await.is_empty());
    store.close().await.unwrap();

    let (code, out, err) = import(home.path(), from.path(), &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_lines(
        &out,
        &[
            "sessions:       0 new (0 messages), 5 already imported",
            "0 new: everything was imported before.",
        ],
    );
    assert!(!out.contains("Skipped"), "{out}");
}
