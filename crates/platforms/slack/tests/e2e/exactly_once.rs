//! A file sent under an idempotency key arrives exactly once: a repeated
//! send picks up where the last one got — shared already (nothing sent),
//! shared though the answer was lost (`files.info` finds it), uploaded
//! but not shared (shared now, the bytes not sent again), or dropped by
//! Slack (uploaded anew) — and a gateway killed after Slack shared a
//! reply's file, before it recorded that, delivers the file once after
//! its restart, with no "may not have arrived" notice.

use crate::support::{World, within};
use hermod_core::{AdapterError, Messenger};
use hermod_model::{Attachment, AttachmentKind, ChatTarget, Outbound};
use hermod_slack::SlackConfig;
use hermod_store::{AttachmentProgress, OutboxState, Store};
use hermod_testkit::slack::Fault;
use hermod_testkit::{ScriptedAgent, Step};
use std::time::Duration;

/// The file `name` in the world's media directory, with a few bytes.
fn file(world: &World, name: &str) -> String {
    let media = world.media_dir();
    std::fs::create_dir_all(&media).unwrap();
    let path = media.join(name);
    std::fs::write(&path, b"%PDF-1.4 numbers").unwrap();
    path.display().to_string()
}

/// Core's send of one file under `key`.
fn keyed(channel: &str, thread: Option<&str>, path: &str, key: &str) -> Outbound {
    Outbound {
        attachments: vec![Attachment::new(AttachmentKind::Document, path)],
        idempotency_key: Some(key.into()),
        ..Outbound::text(
            ChatTarget {
                chat_id: channel.into(),
                thread_id: thread.map(str::to_owned),
            },
            "",
        )
    }
}

/// A request timeout short enough to wait out an unanswered call.
fn impatient(world: &World) -> SlackConfig {
    SlackConfig {
        request_timeout_secs: 1,
        ..world.config()
    }
}

fn calls(world: &World, method: &str) -> usize {
    world.fake.calls_of(method).len()
}

#[tokio::test]
async fn a_repeated_send_of_a_shared_file_sends_nothing() {
    let world = World::new().await;
    let adapter = world.adapter(world.config());
    let general = world.fake.public_channel("general");
    let send = keyed(&general, None, &file(&world, "report.pdf"), "fa1");
    let first = adapter.send(send.clone()).await.unwrap();
    assert_eq!(world.fake.shared_uploads(&general).len(), 1);
    let before = world.fake.calls().len();
    let again = adapter.send(send).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(world.fake.calls().len(), before, "no call at all");
    assert_eq!(world.fake.shared_uploads(&general).len(), 1);

    // Another key is another file.
    let other = keyed(&general, None, &file(&world, "report.pdf"), "fa2");
    adapter.send(other).await.unwrap();
    assert_eq!(world.fake.shared_uploads(&general).len(), 2);
}

#[tokio::test]
async fn a_share_whose_answer_was_lost_is_found_not_repeated() {
    let world = World::new().await;
    let adapter = world.adapter(impatient(&world));
    let general = world.fake.public_channel("general");
    let asked = world.fake.user("erin").mention_bot_in(&general, "report?");
    let send = keyed(
        &general,
        Some(&asked.ts),
        &file(&world, "report.pdf"),
        "fb1",
    );
    world
        .fake
        .fail_next("files.completeUploadExternal", Fault::Unanswered);
    let lost = adapter.send(send.clone()).await.unwrap_err();
    assert!(matches!(lost, AdapterError::Transient(_)), "{lost:?}");
    assert_eq!(
        world.fake.shared_uploads(&general).len(),
        1,
        "Slack shared it"
    );

    let sent = adapter.send(send.clone()).await.unwrap();
    let share = world.fake.thread(&general, &asked.ts).pop().unwrap();
    assert_eq!(sent.message_ids, [share.ts], "the share's ts");
    assert_eq!(calls(&world, "files.info"), 1);
    assert_eq!(
        calls(&world, "files.completeUploadExternal"),
        1,
        "not again"
    );
    assert_eq!(calls(&world, "files.getUploadURLExternal"), 1);
    assert_eq!(world.fake.shared_uploads(&general).len(), 1);

    // Now recorded: a third send asks nothing.
    let before = world.fake.calls().len();
    assert_eq!(adapter.send(send).await.unwrap(), sent);
    assert_eq!(world.fake.calls().len(), before);
}

#[tokio::test]
async fn an_upload_left_unshared_is_shared_without_sending_its_bytes_again() {
    let world = World::new().await;
    let adapter = world.adapter(world.config());
    let dm = world.fake.user("alice").dm_channel();
    let send = keyed(&dm, None, &file(&world, "report.pdf"), "fc1");
    world
        .fake
        .fail_next("files.completeUploadExternal", Fault::DropConnection);
    adapter.send(send.clone()).await.unwrap_err();
    assert!(world.fake.shared_uploads(&dm).is_empty());

    adapter.send(send).await.unwrap();
    assert_eq!(calls(&world, "files.info"), 1);
    assert_eq!(calls(&world, "files.getUploadURLExternal"), 1, "one upload");
    assert_eq!(calls(&world, "files.completeUploadExternal"), 2);
    let shared = world.fake.shared_uploads(&dm);
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].bytes.as_deref(), Some(&b"%PDF-1.4 numbers"[..]));
}

#[tokio::test]
async fn an_upload_slack_discarded_is_uploaded_anew() {
    let world = World::new().await;
    let adapter = world.adapter(world.config());
    let general = world.fake.public_channel("general");
    let send = keyed(&general, None, &file(&world, "report.pdf"), "fd1");
    world
        .fake
        .fail_next("files.completeUploadExternal", Fault::DropConnection);
    adapter.send(send.clone()).await.unwrap_err();
    assert_eq!(world.fake.discard_unfinished_uploads(), 1);

    adapter.send(send).await.unwrap();
    assert_eq!(calls(&world, "files.info"), 1, "asked, not found");
    assert_eq!(calls(&world, "files.getUploadURLExternal"), 2);
    assert_eq!(world.fake.shared_uploads(&general).len(), 1);
}

/// A current-thread runtime of its own: dropping it with
/// `shutdown_timeout(ZERO)` is the kill.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_gateway_killed_after_slack_shared_a_file_delivers_it_once_after_restarting() {
    // The fake lives on a runtime of its own, across both gateways.
    let fake_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let world = World::on(fake_runtime.block_on(hermod_testkit::FakeSlack::start()));
    let report = file(&world, "report.pdf");
    let reply = format!("Your report.\nMEDIA:{report}");
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(reply.clone())]);
    let alice = world.fake.user("alice");
    let dm = alice.dm_channel();

    let first = runtime();
    let (key, running) = first.block_on(async {
        // Slack shares the file; its answer never reaches the gateway.
        world
            .fake
            .fail_next("files.completeUploadExternal", Fault::Unanswered);
        let running = world.start(agent.clone()).await;
        alice.dm("the report?");
        within("the share", world.fake.wait_for_shared_uploads(&dm, 1)).await;
        let pending = world.store.outbox_pending(0, 0).await.unwrap();
        assert!(
            matches!(
                pending[0].attachment_progress.as_slice(),
                [AttachmentProgress::Sending { .. }]
            ),
            "{pending:?}"
        );
        (pending[0].key.clone(), running)
    });
    // The kill: nothing after this point of the first run happens.
    first.shutdown_timeout(Duration::ZERO);
    drop(running);

    let second = runtime();
    second.block_on(async {
        let running = world.start(agent).await;
        world.drained().await;
        let entry = world.store.outbox_entry(&key).await.unwrap().unwrap();
        assert_eq!(entry.state, OutboxState::Delivered);
        let shares = world.fake.shared_uploads(&dm);
        assert_eq!(shares.len(), 1, "exactly once");
        let share = world
            .fake
            .bot_messages(&dm)
            .into_iter()
            .find(|m| m.files == [shares[0].id.clone()])
            .unwrap();
        assert!(
            matches!(
                entry.attachment_progress.as_slice(),
                [AttachmentProgress::Sent { message_id }] if *message_id == share.ts
            ),
            "{:?}",
            entry.attachment_progress
        );
        assert_eq!(calls(&world, "files.getUploadURLExternal"), 1);
        assert_eq!(calls(&world, "files.completeUploadExternal"), 1);
        let notices: Vec<String> = world
            .fake
            .bot_messages(&dm)
            .iter()
            .map(|m| m.current_text().to_owned())
            .filter(|text| text.contains("may not have arrived") || text.contains("couldn't"))
            .collect();
        assert!(notices.is_empty(), "{notices:?}");
        running.stop().await;
    });
    drop(world);
}
