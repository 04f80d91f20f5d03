//! Inbound files: downloaded into the media directory and handed to the
//! agent; files over the cap are skipped with a note.

use crate::support::{World, allow_all, settled};
use hermod_core::{DmBehavior, GatewayConfig};
use hermod_model::{AttachmentKind, Outbound};
use hermod_testkit::ScriptedAgent;

#[tokio::test]
async fn a_photo_reaches_the_agent_as_a_downloaded_attachment() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let bytes = b"\xff\xd8\xff\xe0 not really a jpeg".to_vec();

    world
        .fake
        .user(3001, "Alice")
        .dm_photo(Some("what is this?"), bytes.clone());
    settled(&world.fake, 3001, 1).await;

    let input = stats.inputs().remove(0);
    assert!(input.starts_with("what is this?"), "{input}");
    let marker = "[attached photo: ";
    let start = input.find(marker).unwrap() + marker.len();
    let rest = &input[start..];
    let path = &rest[..rest.find([' ', ']']).unwrap()];
    assert!(
        std::path::Path::new(path).starts_with(world.media_dir()),
        "{path} is not under the media directory"
    );
    assert_eq!(std::fs::read(path).unwrap(), bytes);
    assert!(input.contains("image/jpeg"), "{input}");
    running.stop().await;
}

#[tokio::test]
async fn a_file_whose_bytes_contradict_its_type_is_refused_with_the_reason() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;

    // Said to be a PDF; it is a shell script.
    world.fake.user(3003, "Carol").dm_document(
        "report.pdf",
        "application/pdf",
        b"#!/bin/sh\nrm -rf ~\n".to_vec(),
        Some("summarise"),
    );
    settled(&world.fake, 3003, 1).await;
    let input = stats.inputs().remove(0);
    assert!(
        input.starts_with("summarise\n[a file was attached but not downloaded"),
        "{input}"
    );
    assert!(input.contains("application/pdf"), "{input}");
    assert!(
        !world.media_dir().exists() || std::fs::read_dir(world.media_dir()).unwrap().count() == 0,
        "nothing is kept"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_file_over_the_cap_is_skipped_with_a_note() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let mut config = world.config();
    config.media_max_bytes = 16;
    let running = world.start_with(agent, allow_all(), config).await;

    world.fake.user(3002, "Bob").dm_document(
        "big.pdf",
        "application/pdf",
        vec![b'x'; 1000],
        Some("read this"),
    );
    settled(&world.fake, 3002, 1).await;
    let input = stats.inputs().remove(0);
    assert!(
        input.starts_with("read this\n[a file was attached but not downloaded"),
        "{input}"
    );
    assert!(input.contains("16 bytes"), "{input}");
    assert!(
        !world.media_dir().exists() || std::fs::read_dir(world.media_dir()).unwrap().count() == 0
    );
    running.stop().await;
}

#[tokio::test]
async fn a_strangers_file_is_not_downloaded_and_an_allowed_users_is() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let gateway = GatewayConfig {
        allowed_users: vec!["3101".into()],
        unauthorized_dm_behavior: Some(DmBehavior::Pair),
        ..GatewayConfig::default()
    };
    let running = world.start_with(agent, gateway, world.config()).await;
    // A PDF's signature: the kit refuses a "PDF" whose bytes are not one.
    let mut five_mb = b"%PDF-1.7\n".to_vec();
    five_mb.resize(5 * 1024 * 1024, b'x');

    world.fake.user(3102, "Mallory").dm_document(
        "big.pdf",
        "application/pdf",
        five_mb.clone(),
        Some("keep this"),
    );
    // Core still saw the message: it answered with a pairing code.
    let answer = settled(&world.fake, 3102, 1).await;
    assert!(
        answer[0].text.contains("pairing code"),
        "{}",
        answer[0].text
    );
    assert!(world.fake.calls_of("getFile").is_empty());
    assert_eq!(world.fake.file_downloads(), 0);
    assert!(
        !world.media_dir().exists() || std::fs::read_dir(world.media_dir()).unwrap().count() == 0,
        "something was written to the media directory"
    );
    assert!(stats.inputs().is_empty());

    world.fake.user(3101, "Alice").dm_document(
        "big.pdf",
        "application/pdf",
        five_mb,
        Some("read this"),
    );
    settled(&world.fake, 3101, 1).await;
    assert_eq!(world.fake.calls_of("getFile").len(), 1);
    assert_eq!(world.fake.file_downloads(), 1);
    let saved: Vec<_> = std::fs::read_dir(world.media_dir()).unwrap().collect();
    assert_eq!(saved.len(), 1);
    let input = stats.inputs().remove(0);
    assert!(input.contains("[attached file: "), "{input}");
    running.stop().await;
}

#[tokio::test]
async fn files_are_sent_with_the_text_as_caption() {
    let world = World::new().await;
    let running = world.start(ScriptedAgent::echo()).await;
    world.fake.open_chat(3003);
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("chart.png");
    std::fs::write(&photo, b"\x89PNG fake").unwrap();
    let report = dir.path().join("report.txt");
    std::fs::write(&report, b"numbers").unwrap();

    let sent = hermod_core::Messenger::send(
        &running.adapter,
        Outbound {
            target: hermod_model::ChatTarget {
                chat_id: "3003".into(),
                thread_id: None,
            },
            text: "Here is the **chart**".into(),
            reply_to: None,
            attachments: vec![
                hermod_model::Attachment::new(AttachmentKind::Photo, photo.display().to_string())
                    .with_mime("image/png"),
                hermod_model::Attachment::new(
                    AttachmentKind::Document,
                    report.display().to_string(),
                )
                .with_mime("text/plain"),
            ],
            idempotency_key: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(sent.message_ids.len(), 2);
    let messages = world.fake.bot_messages(3003);
    assert!(messages[0].photo);
    assert_eq!(messages[0].caption.as_deref(), Some("Here is the chart"));
    assert_eq!(messages[1].document.as_deref(), Some("report.txt"));
    assert_eq!(messages[1].caption, None);
    let ids: Vec<String> = messages.iter().map(|m| m.message_id.to_string()).collect();
    assert_eq!(sent.message_ids, ids);
    let file = messages[1].file_id.as_deref().unwrap();
    assert_eq!(world.fake.file_bytes(file).unwrap(), b"numbers");
    running.stop().await;
}
