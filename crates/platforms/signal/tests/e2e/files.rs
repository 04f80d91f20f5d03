//! Files both ways: a received file fetched with `getAttachment` into the
//! media directory and handed to the agent; a reply's `MEDIA:` file sent
//! as a data URI; a stranger's file not fetched.

use crate::support::{USER, World, listening, replies};
use hermod_core::GatewayConfig;
use hermod_testkit::{ScriptedAgent, Step};
use std::path::Path;

/// The path and type in the `[attached <kind>: <path> (<mime>)]` line.
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
async fn a_received_file_reaches_the_agent_with_its_bytes() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    listening(&world, 1).await;
    let png = b"\x89PNG\r\n\x1a\n not really a picture".to_vec();
    world
        .fake
        .user_sends_file(USER, "what is this?", "image/png", Some("cat.png"), &png);
    replies(&world, 1).await;
    let input = stats.inputs().remove(0);
    assert!(input.starts_with("what is this?"), "{input}");
    let (path, mime) = attached(&input, "photo");
    assert_eq!(mime, "image/png");
    assert!(Path::new(path).starts_with(world.media_dir()), "{path}");
    assert_eq!(std::fs::read(path).unwrap(), png);
    running.stop().await;
}

#[tokio::test]
async fn a_strangers_file_is_not_fetched() {
    let world = World::new().await;
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            GatewayConfig::default(),
            world.config(),
        )
        .await;
    listening(&world, 1).await;
    world
        .fake
        .user_sends_file(USER, "", "application/pdf", Some("a.pdf"), b"%PDF-1.7");
    let sent = replies(&world, 1).await;
    assert!(
        sent[0].message.contains("pairing code"),
        "{}",
        sent[0].message
    );
    assert!(
        !world.fake.calls().iter().any(|(m, _)| m == "getAttachment"),
        "fetched for a stranger"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_replys_file_is_sent_as_a_data_uri() {
    let world = World::new().await;
    let media = world.media_dir();
    std::fs::create_dir_all(&media).unwrap();
    let report = media.join("report.pdf");
    std::fs::write(&report, b"%PDF-1.7 numbers").unwrap();
    let reply = format!("Here it is.\nMEDIA:{}", report.display());
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(reply.clone())]);
    let running = world.start(agent).await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "the report please");
    let sent = crate::support::within("the file", async {
        loop {
            let sent = world.fake.wait_for_sent(1).await;
            if sent.iter().any(|m| !m.attachments.is_empty()) {
                return sent;
            }
            world.fake.wait_for_sent(sent.len() + 1).await;
        }
    })
    .await;
    let with_file: Vec<_> = sent.iter().filter(|m| !m.attachments.is_empty()).collect();
    assert_eq!(with_file.len(), 1);
    let file = &with_file[0].attachments[0];
    assert_eq!(file.data, b"%PDF-1.7 numbers");
    assert_eq!(file.filename.as_deref(), Some("report.pdf"));
    assert_eq!(file.content_type.as_deref(), Some("application/pdf"));
    assert!(sent.iter().all(|m| !m.message.contains("MEDIA")));
    running.stop().await;
}

#[tokio::test]
async fn a_file_over_the_cap_is_not_fetched_and_the_agent_is_told() {
    let world = World::new().await;
    let config = hermod_signal::SignalConfig {
        max_attachment_mb: 1,
        ..world.config()
    };
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world
        .start_with(agent, hermod_testkit::harness::allow_all(), config)
        .await;
    listening(&world, 1).await;
    let big = vec![0u8; 2 * 1024 * 1024];
    world
        .fake
        .user_sends_file(USER, "a big one", "video/mp4", Some("clip.mp4"), &big);
    replies(&world, 1).await;
    let input = stats.inputs().remove(0);
    assert!(input.starts_with("a big one"), "{input}");
    assert!(input.contains("SIGNAL_MAX_ATTACHMENT_MB"), "{input}");
    assert!(
        !world.fake.calls().iter().any(|(m, _)| m == "getAttachment"),
        "fetched a file over the cap"
    );
    running.stop().await;
}
