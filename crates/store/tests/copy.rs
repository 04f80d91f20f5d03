//! `copy_database`: a database filled through the `Store` trait reads back
//! the same through the trait after a copy, from SQLite to PostgreSQL and
//! back (each on a throwaway PostgreSQL server; skipped with a note outside
//! CI when the machine has no PostgreSQL programs) and from SQLite to
//! SQLite; new rows on a copy get ids after the copied ones; a destination
//! that holds anything is refused and left as it was.

use hermod_model::{
    Attachment, AttachmentKind, ChatMessage, ChatTarget, ChatType, Content, ContentPart, ImageUrl,
    PlatformId, Role, SessionId, SessionKey, SessionKeyPolicy, Source, ToolCall, Usage,
};
use hermod_store::{
    AppendMessages, ApprovedUser, AttachmentProgress, CronClaim, CronCreator, CronFinish,
    CronJobUpdate, CronRunStatus, Database, HandoffOutcome, InboxState, ListSessions, Location,
    NewCronJob, NewHandoff, NewMessage, NewOutbox, NewSession, Owner, PendingPairing, ScheduleKind,
    SessionSummary, Store, StoreError, StoredResponse, copy_database,
};
use hermod_testkit::postgres::PgServer;
use std::path::Path;

const SESSIONS: [&str; 3] = ["s-one", "s-two", "s-three"];
const OUTBOX_KEYS: [&str; 4] = ["out-pending", "out-delivered", "out-failed", "out-retry"];
const INBOX_KEYS: [&str; 3] = ["in-1", "in-2", "in-3"];
const CRON_JOBS: [&str; 3] = ["job-live", "job-missed", "job-done"];

fn sid(raw: &str) -> SessionId {
    SessionId::parse(raw).expect("session id")
}

fn source(platform: &str, user: &str) -> Source {
    Source {
        platform: PlatformId::new(platform),
        chat_type: ChatType::Group,
        chat_id: Some(format!("chat-{user}")),
        chat_name: Some("Ops \"war room\" ✈".to_owned()),
        user_id: Some(user.to_owned()),
        user_id_alt: None,
        user_name: Some("Zoë".to_owned()),
        thread_id: Some("t-9".to_owned()),
        is_bot: false,
    }
}

fn key_of(source: &Source) -> SessionKey {
    SessionKey::build(source, &SessionKeyPolicy::default())
}

fn owner() -> Owner {
    Owner::new(PlatformId::new("telegram"), "u-1")
}

fn at(message: ChatMessage, at_ms: i64) -> NewMessage {
    NewMessage {
        message,
        at_ms,
        platform_message_id: Some(format!("pm-{at_ms}")),
    }
}

fn append(session: &str, messages: Vec<NewMessage>) -> AppendMessages {
    AppendMessages {
        session: sid(session),
        messages,
        usage: Usage {
            prompt_tokens: 7,
            completion_tokens: 3,
            total_tokens: 10,
        },
    }
}

fn delivery(key: &str, at_ms: i64) -> NewOutbox {
    NewOutbox {
        key: key.to_owned(),
        platform: PlatformId::new("telegram"),
        target: ChatTarget {
            chat_id: "-100123".to_owned(),
            thread_id: Some("7".to_owned()),
        },
        reply_to: Some("55".to_owned()),
        text: format!("reply {key} — naïve"),
        session: Some(sid("s-one")),
        message_ids: Vec::new(),
        attachments: Vec::new(),
        created_at_ms: at_ms,
    }
}

fn job(id: &str, enabled: bool) -> NewCronJob {
    NewCronJob {
        id: id.to_owned(),
        name: format!("{id} name"),
        prompt: "summarise the news".to_owned(),
        schedule: "every 30m".to_owned(),
        schedule_kind: ScheduleKind::Interval,
        deliver: "origin".to_owned(),
        model: Some("small".to_owned()),
        enabled,
        created_by: CronCreator {
            platform: PlatformId::new("telegram"),
            user_id: Some("u-1".to_owned()),
        },
        origin: Some(source("telegram", "u-1")),
        next_run_at_ms: Some(10_000),
        created_at_ms: 500,
    }
}

fn claim(job: &str, revision: i64, status: CronRunStatus, ttl_ms: i64) -> CronClaim {
    CronClaim {
        job_id: job.to_owned(),
        revision,
        owner: "gateway-a".to_owned(),
        scheduled_at_ms: 10_000,
        next_run_at_ms: Some(11_800),
        now_ms: 10_001,
        ttl_ms,
        status,
    }
}

/// Fills `store` with some of everything the store keeps.
async fn fill(store: &dyn Store) {
    for (i, id) in SESSIONS.iter().enumerate() {
        let platform = if i == 1 { "discord" } else { "telegram" };
        let source = source(platform, "u-1");
        store
            .create_session(NewSession {
                id: sid(id),
                key: key_of(&source),
                source,
                created_at_ms: 100 + i64::try_from(i).expect("small"),
            })
            .await
            .expect("create_session");
    }
    let calls = vec![ToolCall {
        id: "call_1".into(),
        name: "get_weather".into(),
        arguments: r#"{"city":"Tromsø"}"#.into(),
    }];
    let parts = Content::Parts(vec![
        ContentPart::Text {
            text: "what is in this picture?".into(),
        },
        ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: "data:image/png;base64,AAAA".into(),
                detail: Some("low".into()),
            },
        },
    ]);
    let one = store
        .append_messages(append(
            "s-one",
            vec![
                at(ChatMessage::system("You are terse. «Quotes»."), 200),
                at(ChatMessage::user(parts), 201),
                at(
                    ChatMessage {
                        content: None,
                        tool_calls: calls,
                        ..ChatMessage::assistant("")
                    },
                    202,
                ),
                at(
                    ChatMessage {
                        role: Role::Tool,
                        content: Some(Content::Text(r#"{"temp_c": -3}"#.into())),
                        tool_calls: Vec::new(),
                        tool_call_id: Some("call_1".into()),
                        name: Some("get_weather".into()),
                    },
                    203,
                ),
                at(ChatMessage::user("un café au lait, s'il vous plaît"), 204),
                at(ChatMessage::assistant("Voilà: a naïve answer"), 205),
            ],
        ))
        .await
        .expect("append");
    store
        .append_messages(append(
            "s-one",
            vec![
                at(ChatMessage::user("take this back: zebra"), 206),
                at(ChatMessage::assistant("zebra reply"), 207),
            ],
        ))
        .await
        .expect("append");
    let undone = store.undo_exchanges(&sid("s-one"), 1).await.expect("undo");
    assert_eq!(undone.len(), 2);
    store
        .append_messages(append(
            "s-two",
            vec![
                at(ChatMessage::user("a NUL\0inside"), 300),
                at(ChatMessage::assistant("odd, but kept"), 301),
            ],
        ))
        .await
        .expect("append");
    // The last messages belong to a session deleted afterwards: their ids
    // stay used, and new ones on a copy must still come after them.
    store
        .append_messages(append(
            "s-three",
            vec![at(ChatMessage::user("soon gone"), 400)],
        ))
        .await
        .expect("append");
    store.delete_session(&sid("s-three")).await.expect("delete");

    store
        .set_title(&sid("s-one"), "Café talk")
        .await
        .expect("title");
    store
        .set_model_override(&sid("s-one"), Some("big"))
        .await
        .expect("model");
    store
        .end_session(&sid("s-two"), "idle", 900)
        .await
        .expect("end");
    store
        .set_route(&key_of(&source("telegram", "u-1")), &sid("s-one"), 910)
        .await
        .expect("route");
    store
        .set_session_summary(SessionSummary {
            session: sid("s-one"),
            summary: "they talked about coffee".into(),
            through_message_id: one[3],
            focus: Some("coffee".into()),
            created_at_ms: 920,
        })
        .await
        .expect("summary");

    store
        .set_setting("home:telegram", "-100123", 930)
        .await
        .expect("setting");
    store.set_setting("stamp", "ü", 931).await.expect("setting");

    for (i, user) in ["p-1", "p-2", "p-3"].iter().enumerate() {
        let id = store
            .add_pending_pairing(PendingPairing {
                id: 0,
                platform: PlatformId::new("telegram"),
                user_id: (*user).to_owned(),
                user_name: Some(format!("User {user}")),
                code_hash: "hash".into(),
                salt: "salt".into(),
                created_at_ms: 940 + i64::try_from(i).expect("small"),
                expires_at_ms: 100_000,
            })
            .await
            .expect("pairing");
        if *user == "p-3" {
            store.remove_pending_pairing(id).await.expect("remove");
        }
    }
    store
        .approve_user(ApprovedUser {
            platform: PlatformId::new("discord"),
            user_id: "d-1".into(),
            user_name: None,
            approved_at_ms: 950,
        })
        .await
        .expect("approve");

    let mut photo = Attachment::new(AttachmentKind::Photo, "/media/a.png").with_mime("image/png");
    photo.file_name = Some("a.png".into());
    let mut ids = Vec::new();
    for (i, key) in OUTBOX_KEYS.iter().enumerate() {
        let mut new = delivery(key, 1_000 + i64::try_from(i).expect("small"));
        if i == 0 {
            new.attachments = vec![
                photo.clone(),
                Attachment::new(AttachmentKind::Voice, "/b.ogg"),
            ];
        }
        ids.push(store.outbox_put(new).await.expect("outbox").id);
    }
    store
        .outbox_set_attachment_progress(
            ids[0],
            &[AttachmentProgress::Sending { since_ms: 1_010 }],
            1_010,
        )
        .await
        .expect("progress");
    store
        .outbox_delivered(ids[1], &["m-1".into(), "m-2".into()], 1_020)
        .await
        .expect("delivered");
    store
        .outbox_failed(ids[2], "chat gone", 1_030)
        .await
        .expect("failed");
    store
        .outbox_retry_later(ids[3], "timeout", 2_000, 1_040)
        .await
        .expect("retry");

    let telegram = PlatformId::new("telegram");
    for (i, key) in INBOX_KEYS.iter().enumerate() {
        let at_ms = 1_100 + i64::try_from(i).expect("small");
        assert!(
            store
                .inbox_record(&telegram, key, &format!(r#"{{"text":"{key}"}}"#), at_ms)
                .await
                .expect("inbox")
        );
    }
    store
        .inbox_start_turn(
            append("s-one", vec![at(ChatMessage::user("in-2 arrives"), 1_110)]),
            &telegram,
            &["in-2".to_owned()],
            1_110,
        )
        .await
        .expect("start turn");
    store
        .inbox_set_previews(
            &telegram,
            &["in-2".to_owned()],
            &["prev-1".to_owned()],
            1_111,
        )
        .await
        .expect("previews");
    store
        .inbox_set_state(&telegram, "in-3", InboxState::Done, 1_120)
        .await
        .expect("done");

    let live = store.cron_add(job(CRON_JOBS[0], true)).await.expect("cron");
    let missed = store.cron_add(job(CRON_JOBS[1], true)).await.expect("cron");
    let done = store.cron_add(job(CRON_JOBS[2], true)).await.expect("cron");
    let missed = store
        .cron_update(
            &missed.id,
            CronJobUpdate {
                prompt: Some("a new prompt".into()),
                run_requested: Some(true),
                ..CronJobUpdate::default()
            },
            600,
        )
        .await
        .expect("update");
    store
        .cron_claim(claim(
            &missed.id,
            missed.revision,
            CronRunStatus::Missed,
            60_000,
        ))
        .await
        .expect("missed");
    let run = store
        .cron_claim(claim(
            &done.id,
            done.revision,
            CronRunStatus::Running,
            60_000,
        ))
        .await
        .expect("claim")
        .expect("claimed");
    store
        .cron_finish(CronFinish {
            run_id: run.id,
            owner: "gateway-a".into(),
            status: CronRunStatus::Ok,
            output: Some("the news: ✓".into()),
            error: None,
            at_ms: 10_050,
        })
        .await
        .expect("finish");
    store
        .cron_update(
            &done.id,
            CronJobUpdate {
                enabled: Some(false),
                ..CronJobUpdate::default()
            },
            10_060,
        )
        .await
        .expect("disable");
    store
        .cron_claim(claim(
            &live.id,
            live.revision,
            CronRunStatus::Running,
            3_600_000,
        ))
        .await
        .expect("claim")
        .expect("a live claim");

    store
        .handoff_request(NewHandoff {
            session: sid("s-one"),
            platform: PlatformId::new("discord"),
            at_ms: 1_200,
        })
        .await
        .expect("handoff");
    assert!(
        store
            .handoff_claim(&sid("s-one"), 1_210)
            .await
            .expect("claim")
    );
    store
        .handoff_finish(
            &sid("s-one"),
            HandoffOutcome::Completed(ChatTarget {
                chat_id: "c-9".into(),
                thread_id: None,
            }),
            1_220,
        )
        .await
        .expect("finish");
    store
        .handoff_request(NewHandoff {
            session: sid("s-two"),
            platform: PlatformId::new("telegram"),
            at_ms: 1_230,
        })
        .await
        .expect("handoff");

    let first = store
        .memory_add(&owner(), "likes café", 1_300)
        .await
        .expect("memory");
    store
        .memory_add(&owner(), "lives in Oslo", 1_301)
        .await
        .expect("memory");
    store
        .memory_add(&owner(), "forget me", 1_302)
        .await
        .expect("memory");
    let notes = store.memory_notes(&owner()).await.expect("notes");
    let last = notes.last().expect("a note").id;
    assert!(store.memory_remove(&owner(), last).await.expect("remove"));
    assert!(first.id < last);
    store
        .approval_grant(&owner(), "rm -rf", 1_310)
        .await
        .expect("grant");
    store
        .approval_grant(&owner(), "curl", 1_311)
        .await
        .expect("grant");

    for (i, id) in ["resp-1", "resp-2"].iter().enumerate() {
        store
            .response_put(
                StoredResponse {
                    id: (*id).to_owned(),
                    conversation: Some("conv".into()),
                    session_id: Some(sid("s-one")),
                    data: format!(r#"{{"n":{i}}}"#),
                    created_at_ms: 1_400 + i64::try_from(i).expect("small"),
                },
                10,
                1_400 + i64::try_from(i).expect("small"),
            )
            .await
            .expect("response");
    }
}

/// Everything the trait reads back from `store`, as text to compare.
/// Search snippets are left out: each backend marks matches its own way.
async fn everything(store: &dyn Store) -> Vec<String> {
    let mut seen = Vec::new();
    let mut put = |what: &str, value: String| seen.push(format!("{what}: {value}"));
    put(
        "sessions",
        format!(
            "{:?}",
            store
                .list_sessions(ListSessions {
                    limit: 100,
                    ..ListSessions::default()
                })
                .await
                .expect("sessions")
        ),
    );
    // s-three was deleted.
    for id in &SESSIONS[..2] {
        let id = sid(id);
        put(
            "messages",
            format!("{:?}", store.messages(&id).await.expect("messages")),
        );
        put(
            "summary",
            format!("{:?}", store.session_summary(&id).await.expect("summary")),
        );
        put(
            "handoff",
            format!("{:?}", store.handoff(&id).await.expect("handoff")),
        );
    }
    for word in ["café", "cafe", "weather", "zebra", "tromso", "naive"] {
        let hits: Vec<_> = store
            .search(word, 50)
            .await
            .expect("search")
            .into_iter()
            .map(|h| (h.session, h.message_id, h.role, h.at_ms))
            .collect();
        put(&format!("search {word}"), format!("{hits:?}"));
    }
    put(
        "route",
        format!(
            "{:?}",
            store
                .route(&key_of(&source("telegram", "u-1")))
                .await
                .expect("route")
        ),
    );
    for key in ["home:telegram", "stamp", "missing"] {
        put(
            "setting",
            format!("{:?}", store.setting(key).await.expect("setting")),
        );
    }
    put(
        "pending",
        format!(
            "{:?}",
            store.pending_pairings(None, 0).await.expect("pending")
        ),
    );
    put(
        "approved",
        format!("{:?}", store.approved_users(None).await.expect("approved")),
    );
    for key in OUTBOX_KEYS {
        put(
            "outbox",
            format!("{:?}", store.outbox_entry(key).await.expect("outbox")),
        );
    }
    put(
        "outbox pending",
        format!("{:?}", store.outbox_pending(0, 100).await.expect("pending")),
    );
    let telegram = PlatformId::new("telegram");
    for key in INBOX_KEYS {
        put(
            "inbox",
            format!(
                "{:?}",
                store.inbox_entry(&telegram, key).await.expect("inbox")
            ),
        );
    }
    put(
        "inbox unfinished",
        format!(
            "{:?}",
            store.inbox_unfinished(0, 100).await.expect("unfinished")
        ),
    );
    put(
        "cron jobs",
        format!("{:?}", store.cron_jobs().await.expect("jobs")),
    );
    for id in CRON_JOBS {
        put(
            "cron runs",
            format!("{:?}", store.cron_runs(id, 100).await.expect("runs")),
        );
    }
    put(
        "cron changes",
        format!("{:?}", store.cron_changes().await.expect("changes")),
    );
    put(
        "memory",
        format!("{:?}", store.memory_notes(&owner()).await.expect("notes")),
    );
    put(
        "grants",
        format!(
            "{:?}",
            store.approval_grants(&owner(), 100).await.expect("grants")
        ),
    );
    put(
        "response",
        format!(
            "{:?}",
            store.latest_response("conv").await.expect("response")
        ),
    );
    seen
}

async fn open(location: Location) -> Database {
    Database::open(&location).await.expect("open")
}

async fn sqlite(path: &Path) -> Database {
    open(Location::Sqlite(path.to_owned())).await
}

fn rows(report: &hermod_store::CopyReport, table: &str) -> u64 {
    report
        .tables
        .iter()
        .find(|(name, _)| name == table)
        .map_or_else(|| panic!("no table {table} in the report"), |(_, n)| *n)
}

/// New rows on `store` get ids after everything the source ever used.
async fn new_ids_come_after(store: &dyn Store, before: &[String]) {
    let largest_message = 10; // nine in the sessions, one deleted with s-three
    let ids = store
        .append_messages(append(
            "s-one",
            vec![at(ChatMessage::user("after the copy"), 5_000)],
        ))
        .await
        .expect("append on the copy");
    assert!(ids[0] > largest_message, "message id {} reused", ids[0]);
    let entry = store
        .outbox_put(delivery("out-new", 5_001))
        .await
        .expect("outbox");
    assert_eq!(entry.id, 5, "outbox ids continue");
    let pairing = store
        .add_pending_pairing(PendingPairing {
            id: 0,
            platform: PlatformId::new("telegram"),
            user_id: "p-4".into(),
            user_name: None,
            code_hash: "h".into(),
            salt: "s".into(),
            created_at_ms: 5_002,
            expires_at_ms: 100_000,
        })
        .await
        .expect("pairing");
    assert_eq!(pairing, 4, "a removed request's id is not reused");
    let note = store
        .memory_add(&owner(), "new note", 5_003)
        .await
        .expect("memory");
    assert_eq!(note.id, 4, "a removed note's id is not reused");
    let telegram = PlatformId::new("telegram");
    assert!(
        store
            .inbox_record(&telegram, "in-new", "{}", 5_004)
            .await
            .expect("inbox")
    );
    let entry = store
        .inbox_entry(&telegram, "in-new")
        .await
        .expect("inbox")
        .expect("recorded");
    assert_eq!(entry.seq, 4, "inbox order continues");
    let job = store
        .cron_job(CRON_JOBS[1])
        .await
        .expect("job")
        .expect("exists");
    let run = store
        .cron_claim(CronClaim {
            scheduled_at_ms: 20_000,
            now_ms: 20_001,
            ..claim(&job.id, job.revision, CronRunStatus::Running, 60_000)
        })
        .await
        .expect("claim")
        .expect("claimed");
    assert_eq!(run.id, 4, "cron run ids continue");
    assert_ne!(everything(store).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_copies_into_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let source = sqlite(&dir.path().join("source.db")).await;
    fill(&*source.store()).await;
    let before = everything(&*source.store()).await;

    let copy = sqlite(&dir.path().join("copy.db")).await;
    let report = copy_database(&source, &copy).await.expect("copy");
    assert_eq!(rows(&report, "messages"), 11);
    assert_eq!(rows(&report, "outbox"), 4);
    assert_eq!(rows(&report, "cron_runs"), 3);
    assert_eq!(report.tables.len(), 15);
    assert_eq!(everything(&*copy.store()).await, before);
    assert_eq!(
        everything(&*source.store()).await,
        before,
        "the source is unchanged"
    );

    // Copying again is refused: the copy holds everything now.
    let again = copy_database(&source, &copy).await.expect_err("not empty");
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
    assert!(again.to_string().contains("not empty"), "{again}");
    assert_eq!(everything(&*copy.store()).await, before);

    new_ids_come_after(&*copy.store(), &before).await;
}

/// A migrated PostgreSQL database on a new server; the server lives as
/// long as the guard. `None` when the machine has no PostgreSQL.
async fn postgres() -> Option<(Database, PgServer)> {
    let server = PgServer::for_test().await?;
    let db = open(Location::Postgres(server.url("postgres"))).await;
    Some((db, server))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_copies_into_postgres_and_back() {
    let Some((pg, _server)) = postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let source = sqlite(&dir.path().join("source.db")).await;
    fill(&*source.store()).await;
    let before = everything(&*source.store()).await;

    let report = copy_database(&source, &pg)
        .await
        .expect("copy into PostgreSQL");
    assert_eq!(rows(&report, "messages"), 11);
    assert_eq!(rows(&report, "inbox"), 3);
    let copied = everything(&*pg.store()).await;
    for (source, copy) in before.iter().zip(&copied) {
        assert_eq!(copy, source);
    }
    assert_eq!(copied.len(), before.len());

    // A destination holding anything is refused and left as it was.
    let refused = copy_database(&source, &pg).await.expect_err("not empty");
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused:?}");
    assert_eq!(everything(&*pg.store()).await, copied);

    new_ids_come_after(&*pg.store(), &before).await;
    let written = everything(&*pg.store()).await;

    let back = sqlite(&dir.path().join("back.db")).await;
    let report = copy_database(&pg, &back)
        .await
        .expect("copy back into SQLite");
    assert_eq!(rows(&report, "messages"), 12);
    let returned = everything(&*back.store()).await;
    for (copy, back) in written.iter().zip(&returned) {
        assert_eq!(back, copy);
    }
    assert_eq!(returned.len(), written.len());
    let refused = copy_database(&pg, &source).await.expect_err("not empty");
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused:?}");
    assert_eq!(everything(&*source.store()).await, before);

    // New ids on the SQLite copy continue after PostgreSQL's too.
    let ids = back
        .store()
        .append_messages(append(
            "s-one",
            vec![at(ChatMessage::user("home again"), 6_000)],
        ))
        .await
        .expect("append");
    assert!(ids[0] > 12, "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_postgres_cannot_hold_is_refused_by_name() {
    let Some((pg, _server)) = postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let source = sqlite(&dir.path().join("source.db")).await;
    source
        .store()
        .set_setting("bad", "a\0b", 1)
        .await
        .expect("SQLite holds NULs");
    let e = copy_database(&source, &pg).await.expect_err("refused");
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    assert!(e.to_string().contains("settings row key = \"bad\""), "{e}");
    assert_eq!(pg.store().setting("bad").await.expect("read"), None);
    // Nothing was kept: the database is still empty and takes a copy.
    source.store().delete_setting("bad").await.expect("delete");
    copy_database(&source, &pg).await.expect("copy");
}
