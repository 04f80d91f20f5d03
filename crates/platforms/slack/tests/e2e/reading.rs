//! What the model is given of files shared on Slack, through the
//! gateway's media reader: an image as a scaled image part at the fake
//! model, an audio clip as its transcript from the fake transcription
//! endpoint.

use crate::support::{World, settled};
use hermod_agent::{
    LlmAgent, LlmConfig, RetryPolicy, ToolRegistry, Transcriber, TranscriberConfig,
};
use hermod_media::{Reader, ReaderConfig};
use hermod_testkit::slack::NewFile;
use hermod_testkit::{FakeLlm, FakeSpeech, Reply, ScriptedAgent};

/// A `width`×`height` JPEG.
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Jpeg)
        .unwrap();
    bytes.into_inner()
}

#[tokio::test]
async fn a_shared_image_reaches_the_model_as_a_scaled_image_part() {
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
    let carol = world.fake.user("carol");

    carol.dm_files(
        "what is this?",
        &[NewFile::new("IMG_0042.jpg", "image/jpeg", jpeg(2400, 1200))],
    );
    let shown = settled(&world.fake, &carol.dm_channel(), 1).await;

    assert_eq!(shown[0].current_text(), "A gradient.");
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
    let downloads = world.fake.file_downloads();
    assert_eq!(downloads.len(), 1, "{downloads:?}");
    assert!(downloads[0].served);
    running.stop().await;
}

#[tokio::test]
async fn a_shared_audio_clip_reaches_the_agent_as_its_transcript() {
    let speech = FakeSpeech::start().await;
    // Not a real recording: the fake endpoint answers by the bytes.
    let clip = b"\x1aE\xdf\xa3 a webm audio clip".to_vec();
    speech.answer_audio(&clip, "Book a table for two at eight.");
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
    let dave = world.fake.user("dave");

    dave.dm_files(
        "",
        &[NewFile::new(
            "audio_message.webm",
            "audio/webm",
            clip.clone(),
        )],
    );
    settled(&world.fake, &dave.dm_channel(), 1).await;

    let input = stats.inputs().remove(0);
    assert!(
        input.contains("[audio file, transcribed] Book a table for two at eight."),
        "the transcript is the message: {input}"
    );
    let requests = speech.requests();
    assert_eq!(requests.len(), 1, "transcribed once");
    assert_eq!(
        requests[0].file, clip,
        "the clip reached the endpoint whole"
    );
    assert!(
        requests[0].file_name.as_deref().unwrap().ends_with(".webm"),
        "{:?}",
        requests[0].file_name
    );
    running.stop().await;
}
