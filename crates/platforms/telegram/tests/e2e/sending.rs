//! Files the agent sends: `MEDIA:` lines of a reply become native Bot API
//! sends (a photo with `sendPhoto`, an OGG/Opus voice note with
//! `sendVoice`) after the text, and no preview ever shows the directives.

use crate::support::{World, within};
use hermod_testkit::ScriptedAgent;
use std::time::Duration;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";

/// The first page of an Ogg stream whose codec is Opus: `OggS`, the page
/// header, and the `OpusHead` packet at byte 28.
fn ogg_opus() -> Vec<u8> {
    let mut bytes = b"OggS\0\x02".to_vec();
    bytes.resize(28, 0);
    bytes.extend_from_slice(b"OpusHead\x01\x01\0\0\x80\xbb\0\0\0\0\0");
    bytes
}

#[tokio::test]
async fn a_reply_sends_its_photo_and_voice_note_natively() {
    let world = World::new().await;
    let media = world.media_dir();
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("chart.png"), PNG).unwrap();
    std::fs::write(media.join("note.ogg"), ogg_opus()).unwrap();
    let reply = format!(
        "Here is the chart, and a note to listen to.\nMEDIA:{}\nMEDIA: \"{}\"\nThat is all.",
        media.join("chart.png").display(),
        media.join("note.ogg").display()
    );
    let agent = ScriptedAgent::streaming(reply, 5, Duration::from_millis(60));
    let running = world.start(agent).await;
    world.fake.user(3101, "Alice").dm("chart and note please");

    let photo = world.fake.wait_for_calls("sendPhoto", 1).await;
    let voice = world.fake.wait_for_calls("sendVoice", 1).await;
    assert_eq!(photo[0].params["photo"]["file_name"], "chart.png");
    assert_eq!(photo[0].params["photo"]["mime_type"], "image/png");
    assert_eq!(voice[0].params["voice"]["file_name"], "note.ogg");
    assert_eq!(voice[0].params["voice"]["mime_type"], "audio/opus");
    assert!(world.fake.calls_of("sendDocument").is_empty());

    let messages = within("the text and both files", async {
        loop {
            let messages = world.fake.bot_messages(3101);
            let text_done = messages.iter().any(|m| {
                m.current_text() == "Here is the chart, and a note to listen to.\nThat is all."
            });
            if messages.len() >= 3 && text_done {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(messages.len(), 3, "the text, the photo, the voice note");
    assert!(messages[1].photo);
    assert_eq!(messages[2].sent_with.as_deref(), Some("sendVoice"));
    for message in &messages {
        for shown in std::iter::once(&message.text).chain(&message.edits) {
            assert!(!shown.contains("MEDIA"), "a preview showed {shown:?}");
        }
    }
    let edits = world.fake.calls_of("editMessageText");
    assert!(!edits.is_empty(), "the reply streamed");
    running.stop().await;
}
