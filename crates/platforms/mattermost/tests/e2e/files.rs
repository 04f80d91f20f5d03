//! Files both ways: a user's file downloaded with the token into the
//! media directory and handed to the agent; files sent uploaded and
//! attached; a keyed send repeated after a crash posted once.

use crate::support::{World, alice, connected, settled};
use hermod_core::Messenger;
use hermod_model::{Attachment, AttachmentKind, ChatTarget, Outbound};
use hermod_testkit::ScriptedAgent;
use hermod_testkit::logs::Logs;
use hermod_testkit::mattermost::Post;
use std::path::Path;

/// The path and MIME type the agent was told of a `kind` attachment.
fn attached<'a>(input: &'a str, kind: &str) -> (&'a str, &'a str) {
    let marker = format!("[attached {kind}: ");
    let start = input
        .find(&marker)
        .unwrap_or_else(|| panic!("no {kind} in {input}"))
        + marker.len();
    let line = &input[start..input[start..].find(']').unwrap() + start];
    let (path, mime) = line.rsplit_once(" (").unwrap();
    (path, mime.trim_end_matches(')'))
}

#[tokio::test]
async fn a_posted_file_reaches_the_agent_from_the_media_directory() {
    let world = World::new().await;
    let logs = Logs::capture();
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    let png = b"\x89PNG\r\n\x1a\n not really".to_vec();
    let file = world.fake.upload(&alice, &dm, "cat.png", "image/png", &png);
    let mut post = Post::new(&alice, &dm, "what is this?");
    post.file_ids = vec![file];
    world.fake.post_with(post);
    settled(&world, &dm, 1).await;
    let input = stats.inputs().remove(0);
    assert!(input.starts_with("what is this?"), "{input}");
    let (path, mime) = attached(&input, "photo");
    assert_eq!(mime, "image/png");
    assert!(Path::new(path).starts_with(world.media_dir()), "{path}");
    assert_eq!(std::fs::read(path).unwrap(), png);
    let downloads: Vec<_> = world
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.route == "get_file")
        .collect();
    assert_eq!(downloads.len(), 1);
    assert!(
        downloads[0]
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer "))
    );
    running.stop().await;
    logs.assert_never_shows(&world.fake.token());
}

#[tokio::test]
async fn a_strangers_file_is_never_downloaded() {
    let world = World::new().await;
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_core::GatewayConfig::default(),
            world.config(),
        )
        .await;
    let (alice, dm) = alice(&world);
    connected(&world, 1).await;
    let file = world
        .fake
        .upload(&alice, &dm, "big.bin", "application/octet-stream", b"0123");
    let mut post = Post::new(&alice, &dm, "take my file");
    post.file_ids = vec![file];
    world.fake.post_with(post);
    let answered = settled(&world, &dm, 1).await;
    assert!(answered[0].message.contains("pairing code"), "refused");
    let downloads = world
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.route == "get_file")
        .count();
    assert_eq!(downloads, 0, "nothing fetched for a sender core refuses");
    assert!(
        std::fs::read_dir(world.media_dir()).map_or(true, |mut d| d.next().is_none()),
        "the media directory stays empty"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_file_sent_is_uploaded_and_attached_with_its_caption() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    let (_alice, dm) = alice(&world);
    connected(&world, 1).await;
    let path = world.media_dir().join("report.txt");
    std::fs::create_dir_all(world.media_dir()).unwrap();
    std::fs::write(&path, b"the numbers").unwrap();
    let mut message = Outbound::text(
        ChatTarget {
            chat_id: dm.clone(),
            thread_id: None,
        },
        "here it is",
    );
    message.attachments = vec![
        Attachment::new(AttachmentKind::Document, path.to_string_lossy()).with_mime("text/plain"),
    ];
    let sent = running.adapter.send(message).await.unwrap();
    assert_eq!(sent.message_ids.len(), 1);
    let posts = world.fake.bot_posts(&dm);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].message, "here it is");
    assert_eq!(posts[0].file_ids.len(), 1);
    let file = world.fake.file(&posts[0].file_ids[0]).unwrap();
    assert_eq!(file.name, "report.txt");
    assert_eq!(file.bytes, b"the numbers");
    assert_eq!(file.post_id, posts[0].id);
    running.stop().await;
}

#[tokio::test]
async fn a_keyed_send_repeated_after_a_crash_is_posted_once() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    let (_alice, dm) = alice(&world);
    connected(&world, 1).await;
    let keyed = || {
        let mut message = Outbound::text(
            ChatTarget {
                chat_id: dm.clone(),
                thread_id: None,
            },
            "delivered once",
        );
        message.idempotency_key = Some("outbox-42".into());
        message
    };
    let first = running.adapter.send(keyed()).await.unwrap();
    // The outbox did not hear the answer and sends again.
    let again = running.adapter.send(keyed()).await.unwrap();
    assert_eq!(first, again, "the server answered with the same post");
    let posts = world.fake.bot_posts(&dm);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].pending_post_id, "hermod:outbox-42:0");
    running.stop().await;
}
