//! Files users share: downloaded into the media directory with the bot
//! token and handed to the agent; a missing `files:read` scope, a file
//! over the cap and a stranger's file are not downloaded, and the model
//! is told why.

use crate::support::{World, allow_all, secrets, settled};
use hermod_core::{DmBehavior, GatewayConfig};
use hermod_slack::SlackConfig;
use hermod_testkit::ScriptedAgent;
use hermod_testkit::logs::Logs;
use hermod_testkit::slack::NewFile;
use std::path::{Path, PathBuf};

/// The world's configuration, saving files under the world's home.
fn config(world: &World) -> SlackConfig {
    let mut config = world.config();
    config.set_media_dir(world.media_dir());
    config
}

/// The files in the media directory.
fn saved(world: &World) -> Vec<PathBuf> {
    match std::fs::read_dir(world.media_dir()) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// The path in the `[attached <kind>: <path> (<mime>)]` line of `input`.
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
async fn a_shared_file_reaches_the_agent_with_its_type_and_bytes() {
    let world = World::new().await;
    let logs = Logs::capture();
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start_with(agent, allow_all(), config(&world)).await;
    let alice = world.fake.user("alice");
    let dm = alice.dm_channel();
    let pdf = b"%PDF-1.7 quarterly numbers".to_vec();

    alice.dm_files(
        "what does this say?",
        &[NewFile::new(
            "Q3 report.pdf",
            "application/pdf",
            pdf.clone(),
        )],
    );
    settled(&world.fake, &dm, 1).await;
    let input = stats.inputs().remove(0);
    assert!(input.starts_with("what does this say?\n"), "{input}");
    let (path, mime) = attached(&input, "file");
    assert_eq!(mime, "application/pdf");
    assert!(
        Path::new(path).starts_with(world.media_dir()),
        "{path} is not under the media directory"
    );
    assert_eq!(std::fs::read(path).unwrap(), pdf);
    let downloads = world.fake.file_downloads();
    assert_eq!(downloads.len(), 1);
    assert!(downloads[0].authorized && downloads[0].served);

    // A file without text is answered too.
    let png = b"\x89PNG\r\n\x1a\n not really".to_vec();
    alice.dm_files("", &[NewFile::new("cat.png", "image/png", png.clone())]);
    settled(&world.fake, &dm, 2).await;
    let input = stats.inputs().remove(1);
    let (path, mime) = attached(&input, "photo");
    assert_eq!(mime, "image/png");
    assert_eq!(std::fs::read(path).unwrap(), png);
    assert_eq!(saved(&world).len(), 2);

    running.stop().await;
    for secret in secrets(&world) {
        logs.assert_never_shows(&secret);
    }
    logs.assert_never_shows("files-pri");
}

#[tokio::test]
async fn without_files_read_the_model_is_told_and_nothing_is_saved() {
    let world = World::new().await;
    world.fake.set_files_read_scope(false);
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start_with(agent, allow_all(), config(&world)).await;
    let bob = world.fake.user("bob");
    let dm = bob.dm_channel();

    bob.dm_files(
        "read this",
        &[NewFile::new("notes.txt", "text/plain", b"hello".to_vec())],
    );
    settled(&world.fake, &dm, 1).await;
    let input = stats.inputs().remove(0);
    assert!(
        input.starts_with("read this\n[a file was attached but not downloaded: "),
        "{input}"
    );
    assert!(input.contains("files:read"), "{input}");
    assert!(input.contains("reinstall"), "{input}");
    assert!(!input.contains("[attached"), "{input}");
    let downloads = world.fake.file_downloads();
    assert_eq!(downloads.len(), 1, "{downloads:?}");
    assert!(downloads[0].authorized, "the bot token was sent");
    assert!(!downloads[0].served);
    assert_eq!(saved(&world), Vec::<PathBuf>::new());
    running.stop().await;
}

#[tokio::test]
async fn a_file_over_the_cap_is_not_downloaded() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let mut config = config(&world);
    config.media_max_bytes = 1024;
    let running = world.start_with(agent, allow_all(), config).await;
    let carol = world.fake.user("carol");
    let dm = carol.dm_channel();

    carol.dm_files(
        "two files",
        &[
            NewFile::new("big.zip", "application/zip", vec![b'x'; 2048]),
            // Announced small, larger in fact: cut off as it arrives.
            NewFile::new("liar.zip", "application/zip", vec![b'y'; 4096]).announcing_size(10),
        ],
    );
    settled(&world.fake, &dm, 1).await;
    let input = stats.inputs().remove(0);
    let skipped = "[a file was attached but not downloaded: it is larger than 1 KB \
                   (SLACK_MEDIA_MAX_BYTES)]";
    assert_eq!(input, format!("two files\n{skipped}\n{skipped}"));
    // The first was never asked for: its announced size was over the cap.
    let asked: Vec<String> = world
        .fake
        .file_downloads()
        .into_iter()
        .map(|d| d.file_id)
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(saved(&world), Vec::<PathBuf>::new());
    running.stop().await;
}

#[tokio::test]
async fn a_strangers_file_is_not_downloaded() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let dave = world.fake.user("dave");
    let gateway = GatewayConfig {
        allowed_users: vec![dave.id().to_owned()],
        unauthorized_dm_behavior: Some(DmBehavior::Pair),
        ..GatewayConfig::default()
    };
    let running = world.start_with(agent, gateway, config(&world)).await;
    let mallory = world.fake.user("mallory");

    mallory.dm_files(
        "keep this",
        &[NewFile::new(
            "payload.pdf",
            "application/pdf",
            b"%PDF".to_vec(),
        )],
    );
    // Core still saw the message: it answered with a pairing code.
    let answer = settled(&world.fake, &mallory.dm_channel(), 1).await;
    assert!(
        answer[0].text.contains("pairing code"),
        "{}",
        answer[0].text
    );
    assert!(world.fake.file_downloads().is_empty());
    assert_eq!(saved(&world), Vec::<PathBuf>::new());
    assert!(stats.inputs().is_empty());

    // The same from an allowed user is downloaded.
    dave.dm_files(
        "keep this",
        &[NewFile::new(
            "payload.pdf",
            "application/pdf",
            b"%PDF".to_vec(),
        )],
    );
    settled(&world.fake, &dave.dm_channel(), 1).await;
    assert_eq!(world.fake.file_downloads().len(), 1);
    assert_eq!(saved(&world).len(), 1);
    running.stop().await;
}

#[tokio::test]
async fn a_file_from_another_organization_is_named_not_fetched() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start_with(agent, allow_all(), config(&world)).await;
    let erin = world.fake.user("erin");
    let dm = erin.dm_channel();

    erin.dm_files(
        "",
        &[NewFile::new("shared.png", "image/png", vec![1_u8; 8]).from_another_organization()],
    );
    settled(&world.fake, &dm, 1).await;
    let input = stats.inputs().remove(0);
    assert!(
        input.starts_with("[a file was attached but not downloaded: ")
            && input.contains("Slack Connect"),
        "{input}"
    );
    assert!(world.fake.file_downloads().is_empty());
    running.stop().await;
}
