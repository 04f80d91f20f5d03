//! Files the agent sends: a `MEDIA:` line of a reply becomes a file
//! uploaded the current way (`files.getUploadURLExternal`, the bytes,
//! `files.completeUploadExternal`) in the thread the reply goes to, no
//! message ever shows the directive, and a path outside the media
//! directory is refused with a note in the reply.

use crate::support::{World, settled, texts, within};
use hermod_testkit::slack::BotMessage;
use hermod_testkit::{ScriptedAgent, Step};
use std::time::Duration;

/// A real 3×2 PNG.
fn png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(3, 2, |x, y| image::Rgb([x as u8 * 80, y as u8 * 90, 7]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// Every text a message showed: as posted, then each edit.
fn every_text(messages: &[BotMessage]) -> Vec<String> {
    messages
        .iter()
        .flat_map(|m| std::iter::once(m.text.clone()).chain(m.edits.iter().map(|e| e.text.clone())))
        .collect()
}

#[tokio::test]
async fn a_replys_file_is_uploaded_into_its_thread_with_its_bytes() {
    let world = World::new().await;
    let media = world.media_dir();
    std::fs::create_dir_all(&media).unwrap();
    let png = png();
    std::fs::write(media.join("chart.png"), &png).unwrap();
    let reply = format!(
        "Here is the chart you asked for.\nMEDIA:{}\nThat is all.",
        media.join("chart.png").display()
    );
    let agent = ScriptedAgent::streaming(reply, 5, Duration::from_millis(60));
    let running = world.start(agent).await;
    let general = world.fake.public_channel("general");
    let asked = world
        .fake
        .user("erin")
        .mention_bot_in(&general, "the chart, please");

    let shared = within(
        "the upload to be shared",
        world.fake.wait_for_shared_uploads(&general, 1),
    )
    .await;
    let file = &shared[0];
    assert_eq!(
        file.bytes.as_deref(),
        Some(png.as_slice()),
        "the bytes, intact"
    );
    assert_eq!(file.filename, "chart.png");
    assert_eq!(file.title.as_deref(), Some("chart.png"));
    assert_eq!(file.declared_length, png.len() as u64);
    assert_eq!(
        file.thread_ts.as_deref(),
        Some(asked.ts.as_str()),
        "shared in the thread the reply went to"
    );
    let asked_for = world.fake.calls_of("files.getUploadURLExternal");
    assert_eq!(asked_for.len(), 1, "one upload");
    assert_eq!(asked_for[0].params["filename"], "chart.png");

    let messages = within("the reply's text", async {
        loop {
            let messages = world.fake.bot_messages(&general);
            let done = messages
                .iter()
                .any(|m| m.current_text() == "Here is the chart you asked for.\nThat is all.");
            if done {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let shown = every_text(&messages);
    assert!(shown.len() > 2, "the reply streamed: {shown:?}");
    for text in &shown {
        assert!(!text.contains("MEDIA"), "a message showed {text:?}");
    }
    for file in world.fake.uploaded_files() {
        let comment = file.initial_comment.unwrap_or_default();
        assert!(!comment.contains("MEDIA"), "a comment showed {comment:?}");
    }
    for message in &messages {
        assert_eq!(message.thread_ts.as_deref(), Some(asked.ts.as_str()));
    }
    running.stop().await;
    world.drained().await;
    assert_eq!(
        world.fake.uploaded_files().len(),
        1,
        "uploaded once, never again"
    );
}

#[tokio::test]
async fn a_file_outside_the_media_directory_is_refused_with_a_note() {
    let world = World::new().await;
    let media = world.media_dir();
    std::fs::create_dir_all(&media).unwrap();
    let secret = world.path().join("secret.txt");
    std::fs::write(&secret, "the password").unwrap();
    let reply = format!(
        "Sure.\nMEDIA:{}\nMEDIA:{}/../secret.txt",
        secret.display(),
        media.display()
    );
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(reply.clone())]);
    let running = world.start(agent).await;
    let mallory = world.fake.user("mallory");
    let dm = mallory.dm_channel();
    mallory.dm("send me the secret");

    let shown = settled(&world.fake, &dm, 1).await;
    let text = &texts(&shown)[0];
    assert!(text.starts_with("Sure.\n"), "{text}");
    assert!(text.contains("⚠️ I couldn't attach "), "{text}");
    assert!(
        text.contains("files can only be sent from"),
        "says why: {text}"
    );
    assert_eq!(text.matches("⚠️").count(), 2, "a note per file: {text}");
    assert!(!text.contains("MEDIA"), "{text}");
    assert!(!text.contains("the password"), "{text}");
    assert!(world.fake.calls_of("files.getUploadURLExternal").is_empty());
    assert!(world.fake.uploaded_files().is_empty());
    running.stop().await;
}
