//! Files both ways on Discord. Out: a reply's `MEDIA:` file is uploaded
//! as an attachment of a multipart create-message (`payload_json` naming
//! `files[0]`, with an enforced nonce) after the text, no message ever
//! shows the directive, and a path outside the media directory is
//! refused with a note. In, through the gateway's media reader: a user's
//! image reaches the model as an image part, a voice message the agent
//! as its transcript.

use crate::support::{World, settled, within};
use hermod_agent::{
    LlmAgent, LlmConfig, RetryPolicy, ToolRegistry, Transcriber, TranscriberConfig,
};
use hermod_media::{Reader, ReaderConfig};
use hermod_testkit::discord::{FakeFile, Post, Route};
use hermod_testkit::{FakeLlm, FakeSpeech, Reply, ScriptedAgent, Step};
use std::time::Duration;

/// A `width`×`height` image encoded as `format`.
fn encoded(width: u32, height: u32, format: image::ImageFormat) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

#[tokio::test]
async fn a_replys_file_is_uploaded_as_an_attachment_with_its_bytes() {
    let world = World::new().await;
    let media = world.media_dir();
    std::fs::create_dir_all(&media).unwrap();
    let png = encoded(3, 2, image::ImageFormat::Png);
    std::fs::write(media.join("chart.png"), &png).unwrap();
    let reply = format!(
        "Here is the chart you asked for.\nMEDIA:{}\nThat is all.",
        media.join("chart.png").display()
    );
    let agent = ScriptedAgent::streaming(reply, 5, Duration::from_millis(60));
    let running = world.start(agent).await;
    running.connected().await;
    let alice = world.fake.user("alice");
    let channel = alice.dm_channel();
    alice.dm("the chart, please");

    let messages = within(
        "the text and the file",
        world.fake.wait_for(channel, |m| {
            m.iter().any(|m| !m.files.is_empty())
                && m.iter().any(|m| {
                    m.current_content() == "Here is the chart you asked for.\nThat is all."
                })
        }),
    )
    .await;
    let with_files: Vec<_> = messages.iter().filter(|m| !m.files.is_empty()).collect();
    assert_eq!(with_files.len(), 1, "one upload");
    let file = &with_files[0].files[0];
    assert_eq!(file.filename, "chart.png");
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    assert_eq!(file.bytes, png, "the bytes, intact");
    let body = &with_files[0].body;
    assert_eq!(body["attachments"][0]["id"], 0, "{body}");
    assert_eq!(body["attachments"][0]["filename"], "chart.png", "{body}");
    assert!(body["nonce"].is_string(), "idempotent: {body}");
    assert_eq!(body["enforce_nonce"], true, "{body}");
    let stored = world.fake.message(with_files[0].id).unwrap();
    assert_eq!(stored["attachments"][0]["filename"], "chart.png");
    assert_eq!(stored["attachments"][0]["size"], png.len());

    for message in &messages {
        let shown = std::iter::once(&message.content).chain(&message.edits);
        for text in shown {
            assert!(!text.contains("MEDIA"), "a message showed {text:?}");
        }
    }
    let texts: Vec<_> = messages.iter().filter(|m| m.files.is_empty()).collect();
    assert!(!texts[0].edits.is_empty(), "the reply streamed");
    running.stop().await;
    world.drained().await;
    let uploads = world
        .fake
        .calls_of(Route::CreateMessage)
        .into_iter()
        .filter(|c| !c.files.is_empty())
        .count();
    assert_eq!(uploads, 1, "uploaded once, never again");
}

#[tokio::test]
async fn a_file_outside_the_media_directory_is_refused_with_a_note() {
    let world = World::new().await;
    std::fs::create_dir_all(world.media_dir()).unwrap();
    let secret = world.path().join("secret.txt");
    std::fs::write(&secret, "the password").unwrap();
    let reply = format!("Sure.\nMEDIA:{}", secret.display());
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(reply.clone())]);
    let running = world.start(agent).await;
    running.connected().await;
    let mallory = world.fake.user("mallory");
    let channel = mallory.dm_channel();
    mallory.dm("send me the secret");

    let shown = settled(&world.fake, channel, 1).await;
    let text = shown[0].current_content();
    assert!(text.starts_with("Sure.\n"), "{text}");
    assert!(
        text.contains("⚠️ I couldn't attach ") && text.contains("files can only be sent from"),
        "says why: {text}"
    );
    assert!(
        !text.contains("MEDIA") && !text.contains("the password"),
        "{text}"
    );
    assert!(shown.iter().all(|m| m.files.is_empty()));
    running.stop().await;
}

#[tokio::test]
async fn an_attached_image_reaches_the_model_as_a_scaled_image_part() {
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::text("A gradient."));
    let agent = LlmAgent::try_new(
        LlmConfig::new(llm.base_url(), "vision-model"),
        ToolRegistry::default(),
    )
    .unwrap();
    let world = World::new().await;
    let running = world
        .start_reading(agent, Reader::new(ReaderConfig::default()))
        .await;
    running.connected().await;
    let carol = world.fake.user("carol");
    let channel = carol.dm_channel();
    let jpeg = encoded(2400, 1200, image::ImageFormat::Jpeg);

    carol.send(
        channel,
        Post::text("what is this?").with_attachment(FakeFile::new(
            "IMG_0042.jpg",
            "image/jpeg",
            jpeg,
        )),
    );
    let shown = settled(&world.fake, channel, 1).await;

    assert_eq!(shown[0].current_content(), "A gradient.");
    assert_eq!(world.fake.cdn_downloads(), 1);
    let request = &llm.requests()[0];
    let user = request.messages().last().unwrap();
    let parts = user["content"].as_array().expect("content parts");
    let text = parts[0]["text"].as_str().unwrap();
    assert!(text.starts_with("what is this?"), "{text}");
    assert!(
        text.contains("1568×784"),
        "scaled to the longest edge: {text}"
    );
    assert_eq!(parts[1]["type"], "image_url");
    let url = parts[1]["image_url"]["url"].as_str().unwrap();
    assert!(url.starts_with("data:image/jpeg;base64,"), "{}", &url[..40]);
    running.stop().await;
}

#[tokio::test]
async fn a_voice_message_reaches_the_agent_as_its_transcript() {
    let speech = FakeSpeech::start().await;
    // Not a real recording: the fake endpoint answers by the bytes.
    let ogg = b"OggS\0\x02\0\0\0\0\0\0\0\0 an opus stream".to_vec();
    speech.answer_audio(&ogg, "Turn on the kitchen lights.");
    let transcriber = Transcriber::new(TranscriberConfig {
        retry: RetryPolicy::none(),
        ..TranscriberConfig::new(speech.base_url())
    })
    .unwrap();
    let reader = Reader::new(ReaderConfig::default()).with_transcriber(transcriber);
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start_reading(agent, reader).await;
    running.connected().await;
    let dave = world.fake.user("dave");
    let channel = dave.dm_channel();

    dave.send(channel, Post::voice_message(ogg.clone(), 2.6, "AAMHDQ=="));
    settled(&world.fake, channel, 1).await;

    let input = stats.inputs().remove(0);
    assert!(
        input.contains("[voice message, transcribed] Turn on the kitchen lights."),
        "the transcript of a voice message is the message: {input}"
    );
    let requests = speech.requests();
    assert_eq!(requests.len(), 1, "transcribed once");
    assert_eq!(
        requests[0].file, ogg,
        "the recording reached the endpoint whole"
    );
    assert!(
        requests[0].file_name.as_deref().unwrap().ends_with(".ogg"),
        "{:?}",
        requests[0].file_name
    );
    running.stop().await;
}
