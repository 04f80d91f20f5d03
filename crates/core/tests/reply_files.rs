//! Files the agent sends with `MEDIA:` lines: sent as attachments after
//! the text, never shown as directives (not even in a streamed preview),
//! refused with a note when they are outside the allowed directories, and
//! sent at most once when the process dies between the platform taking an
//! upload and the gateway recording it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::{Clock, Gateway, GatewayConfig};
use hermod_model::{AttachmentKind, Capabilities};
use hermod_store::{AttachmentProgress, SqliteStore, Store};
use hermod_testkit::{ScriptedAgent, SentMessage, Step, TestPlatform};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

/// An agent that streams `reply` a few characters at a time.
fn streaming(reply: String) -> ScriptedAgent {
    ScriptedAgent::scripted(move |_| {
        let chars: Vec<char> = reply.chars().collect();
        chars
            .chunks(3)
            .flat_map(|c| {
                [
                    Step::Text(c.iter().collect()),
                    Step::Sleep(Duration::from_millis(300)),
                ]
            })
            .collect()
    })
}

fn gateway(db: &Path, media: &Path, platform: &TestPlatform, agent: ScriptedAgent) -> Gateway {
    let store = Arc::new(SqliteStore::open(db).unwrap());
    let config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    Gateway::builder(store, Arc::new(agent), config)
        .adapter(platform.adapter())
        .media_dir(media)
        .clock(Clock::following_tokio(1_000_000))
        .build()
        .unwrap()
}

struct Chat {
    platform: TestPlatform,
    media: tempfile::TempDir,
    _dir: tempfile::TempDir,
    _stop: tokio_util::sync::DropGuard,
}

async fn start(reply: impl Fn(&Path) -> String) -> Chat {
    let dir = tempfile::tempdir().unwrap();
    let media = tempfile::tempdir().unwrap();
    let platform = TestPlatform::new("test");
    let agent = streaming(reply(media.path()));
    let gw = gateway(&dir.path().join("t.db"), media.path(), &platform, agent);
    let stop = CancellationToken::new();
    tokio::spawn(gw.run(stop.clone()));
    platform.wait_running().await;
    Chat {
        platform,
        media,
        _dir: dir,
        _stop: stop.drop_guard(),
    }
}

fn every_text(messages: &[SentMessage]) -> Vec<String> {
    messages
        .iter()
        .flat_map(|m| std::iter::once(m.text.clone()).chain(m.edits.iter().cloned()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_reply_sends_its_files_and_never_shows_the_directives() {
    let chat = start(|media| {
        std::fs::write(media.join("chart.png"), PNG).unwrap();
        format!(
            "Here is the chart you asked for, with the numbers.\nMEDIA: `{}`\n[[as_document]]Anything else?",
            media.join("chart.png").display()
        )
    })
    .await;
    chat.platform
        .user("alice")
        .dm("chart please")
        .await
        .unwrap();
    let messages = chat
        .platform
        .wait_for("alice", |m| m.iter().any(|m| !m.attachments.is_empty()))
        .await;
    let files = chat.platform.file_messages();
    assert_eq!(files.len(), 1, "{messages:?}");
    let file = &files[0].attachments[0];
    assert_eq!(
        file.kind,
        AttachmentKind::Document,
        "[[as_document]] asks for a document"
    );
    assert_eq!(file.file_name.as_deref(), Some("chart.png"));
    assert_eq!(file.mime_type.as_deref(), Some("image/png"));
    assert!(files[0].text.is_empty(), "no caption after a preview");
    let texts = every_text(&messages);
    assert!(texts.len() > 2, "the reply streamed: {texts:?}");
    for text in &texts {
        assert!(
            !text.contains("MEDIA") && !text.contains("[["),
            "shown: {text:?}"
        );
    }
    let reply = messages.iter().find(|m| m.attachments.is_empty()).unwrap();
    assert_eq!(
        reply.current_text(),
        "Here is the chart you asked for, with the numbers.\nAnything else?"
    );
    drop(chat.media);
}

#[tokio::test(start_paused = true)]
async fn a_file_outside_the_allowed_directories_is_refused_with_a_note() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "password").unwrap();
    let named = secret.clone();
    let chat = start(move |media| {
        let link = media.join("innocent.txt");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&named, &link).unwrap();
        format!(
            "Sure.\nMEDIA:{}\nMEDIA:{}/../{}",
            link.display(),
            media.display(),
            named.display()
        )
    })
    .await;
    chat.platform.user("alice").dm("leak it").await.unwrap();
    let reply = chat
        .platform
        .wait_for_text("alice", |t| {
            t.contains("couldn't attach") && !t.ends_with('▉')
        })
        .await;
    assert!(chat.platform.file_messages().is_empty());
    let text = reply.current_text();
    assert!(text.starts_with("Sure.\n\n⚠️ I couldn't attach "), "{text}");
    assert!(
        text.contains("files can only be sent from") || text.contains("no such file"),
        "{text}"
    );
    #[cfg(unix)]
    assert!(
        text.contains("innocent.txt: files can only be sent from"),
        "the link leads out of the media directory: {text}"
    );
    assert!(!text.contains("password"));
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

/// The first run dies right after the platform took the upload of
/// `report.pdf`, before the gateway heard back; the second run finishes the
/// delivery. Returns the platform as the second run left it.
fn crash_mid_upload(caps: Capabilities) -> (TestPlatform, Vec<AttachmentProgress>) {
    crash_after_the_platform_took_it(caps, Reply::WithFile)
}

/// What the reply of [`crash_after_the_platform_took_it`] carries.
#[derive(Clone, Copy, PartialEq)]
enum Reply {
    WithFile,
    TextAlone,
}

/// Runs a gateway until the platform has taken the reply's send but not
/// answered it, kills it there, and delivers the reply with a second one.
fn crash_after_the_platform_took_it(
    caps: Capabilities,
    kind: Reply,
) -> (TestPlatform, Vec<AttachmentProgress>) {
    let dir = tempfile::tempdir().unwrap();
    let media = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let report: PathBuf = media.path().join("report.pdf");
    std::fs::write(&report, b"%PDF-1.4 numbers").unwrap();
    let reply = match kind {
        Reply::WithFile => format!("Your report.\nMEDIA:{}", report.display()),
        Reply::TextAlone => "Your report: all numbers are up.".to_owned(),
    };
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(reply.clone())]);
    let platform = TestPlatform::with_capabilities("test", caps);

    let first = paused_runtime();
    let key = first.block_on(async {
        let gw = gateway(&db, media.path(), &platform, agent.clone());
        tokio::spawn(gw.run(CancellationToken::new()));
        platform.wait_running().await;
        match kind {
            Reply::WithFile => platform.hold_after_file_sends(),
            Reply::TextAlone => platform.hold_after_text_sends(),
        }
        let inbound = platform.inbound().unwrap();
        let mut event = platform.user("alice").dm_event("the report?");
        event.message_id = Some(platform.next_message_id());
        inbound.submit_once(event, "alice:1").await.unwrap();
        platform.wait_for_held(1).await;
        let store = SqliteStore::open(&db).unwrap();
        let pending = store.outbox_pending(0, 0).await.unwrap();
        assert_eq!(pending.len(), 1);
        if kind == Reply::WithFile {
            assert!(
                matches!(
                    pending[0].attachment_progress.as_slice(),
                    [AttachmentProgress::Sending { .. }]
                ),
                "written ahead of the upload"
            );
        } else {
            assert!(pending[0].message_ids.is_empty(), "not recorded as sent");
        }
        pending[0].key.clone()
    });
    let taken = match kind {
        Reply::WithFile => platform.file_messages().len(),
        Reply::TextAlone => platform.sent("alice").len(),
    };
    assert_eq!(taken, 1, "the platform took it");
    let platform = platform.restarted();
    // The kill: nothing after this point of the first run happens.
    first.shutdown_timeout(Duration::ZERO);

    let second = paused_runtime();
    let progress = second.block_on(async {
        let store = SqliteStore::open(&db).unwrap();
        let gw = gateway(&db, media.path(), &platform, agent);
        tokio::spawn(gw.run(CancellationToken::new()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            if store.outbox_pending(0, 0).await.unwrap().is_empty() {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "not delivered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let entry = store.outbox_entry(&key).await.unwrap().unwrap();
        assert_eq!(entry.state, hermod_store::OutboxState::Delivered);
        entry.attachment_progress
    });
    (platform, progress)
}

#[test]
fn a_crash_mid_upload_never_sends_a_file_twice_and_says_it_may_be_missing() {
    let (platform, progress) = crash_mid_upload(TestPlatform::default_capabilities());
    assert_eq!(platform.file_messages().len(), 1, "sent once, not again");
    let notices: Vec<_> = platform
        .sent("alice")
        .into_iter()
        .filter(|m| m.text.contains("may not have arrived"))
        .collect();
    assert_eq!(notices.len(), 1, "{:?}", platform.sent("alice"));
    assert!(
        notices[0]
            .text
            .starts_with("📎 report.pdf may not have arrived: the gateway restarted"),
        "{}",
        notices[0].text
    );
    assert!(matches!(
        progress.as_slice(),
        [AttachmentProgress::Failed {
            in_doubt: true,
            told: true,
            ..
        }]
    ));
}

#[test]
fn a_crash_mid_upload_on_an_idempotent_platform_delivers_the_file_exactly_once() {
    let caps = Capabilities {
        idempotency_window: Some(Duration::from_secs(120)),
        ..TestPlatform::default_capabilities()
    };
    let (platform, progress) = crash_mid_upload(caps);
    assert_eq!(platform.file_messages().len(), 1, "exactly once");
    assert!(
        platform
            .sent("alice")
            .iter()
            .all(|m| !m.text.contains("may not have arrived")),
        "{:?}",
        platform.sent("alice")
    );
    assert!(
        matches!(progress.as_slice(), [AttachmentProgress::Sent { message_id }] if !message_id.is_empty()),
        "{progress:?}"
    );
}

#[test]
fn a_crash_after_a_text_was_sent_on_an_idempotent_platform_shows_it_once() {
    // No edits, so the reply goes out whole through the outbox.
    let caps = Capabilities {
        idempotency_window: Some(Duration::from_secs(120)),
        can_edit: false,
        ..TestPlatform::default_capabilities()
    };
    let (platform, _) = crash_after_the_platform_took_it(caps, Reply::TextAlone);
    assert_eq!(
        every_text(&platform.sent("alice")),
        ["Your report: all numbers are up."],
        "the resend carried the first send's key, so the platform showed it once"
    );
}

#[test]
fn a_crash_after_a_text_was_sent_elsewhere_sends_it_again() {
    // Without deduplication the platform cannot tell: at least once.
    let caps = Capabilities {
        can_edit: false,
        ..TestPlatform::default_capabilities()
    };
    let (platform, _) = crash_after_the_platform_took_it(caps, Reply::TextAlone);
    assert_eq!(
        platform.sent("alice").len(),
        2,
        "{:?}",
        platform.sent("alice")
    );
}
