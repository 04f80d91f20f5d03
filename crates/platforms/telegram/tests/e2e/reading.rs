//! What the model is given of files sent on Telegram, through the
//! gateway's media reader: a spoken voice note as its transcript (a real
//! recording, made offline by `espeak-ng`, through the fake Bot API and
//! the fake transcription endpoint), a photo as an image part at the fake
//! model, a sticker described once, a PDF as its text.

use crate::support::{World, settled, texts};
use hermod_agent::{
    LlmAgent, LlmClient, LlmConfig, RetryPolicy, ToolRegistry, Transcriber, TranscriberConfig,
};
use hermod_media::{Describer, Reader, ReaderConfig};
use hermod_testkit::{FakeLlm, FakeSpeech, Reply, ScriptedAgent, SpeechReply};
use std::path::Path;

/// A WAV of `words` spoken by `espeak-ng`; `None` (the test skips) when
/// it is not installed, except under CI, where `.ci/run` installs it.
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
fn spoken(words: &str, dir: &Path) -> Option<Vec<u8>> {
    let path = dir.join("spoken.wav");
    let status = std::process::Command::new("espeak-ng")
        .args(["-w", path.to_str().unwrap(), words])
        .status();
    match status {
        Ok(status) if status.success() => Some(std::fs::read(&path).unwrap()),
        Ok(status) => panic!("espeak-ng failed: {status}"),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "espeak-ng is needed under CI (.ci/run installs it): {e}"
            );
            eprintln!("skipped: espeak-ng is not installed (Debian/Ubuntu package espeak-ng)");
            None
        }
    }
}

fn transcriber(speech: &FakeSpeech) -> Transcriber {
    Transcriber::new(TranscriberConfig {
        retry: RetryPolicy::none(),
        ..TranscriberConfig::new(speech.base_url())
    })
    .unwrap()
}

#[tokio::test]
async fn a_spoken_voice_note_reaches_the_model_as_its_transcript() {
    let scratch = tempfile::tempdir().unwrap();
    let Some(wav) = spoken("turn on the kitchen lights", scratch.path()) else {
        return;
    };
    assert!(
        wav.starts_with(b"RIFF") && wav[8..12] == *b"WAVE",
        "a real WAV"
    );
    let speech = FakeSpeech::start().await;
    speech.answer_audio(&wav, "Turn on the kitchen lights.");
    let reader = Reader::new(ReaderConfig {
        echo_transcripts: true,
        ..ReaderConfig::default()
    })
    .with_transcriber(transcriber(&speech));
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start_reading(agent, reader).await;

    world
        .fake
        .user(4001, "Alice")
        .dm_voice("audio/wav", wav.clone());
    let shown = settled(&world.fake, 4001, 2).await;

    let input = stats.inputs().remove(0);
    assert!(
        input.contains("Turn on the kitchen lights."),
        "the transcript is the message: {input}"
    );
    let request = &speech.requests()[0];
    assert_eq!(
        request.file, wav,
        "the recording reached the endpoint whole"
    );
    assert!(
        request.file_name.as_deref().unwrap().ends_with(".wav"),
        "{:?}",
        request.file_name
    );
    let texts = texts(&shown);
    assert_eq!(
        texts[0], "🎙️ \u{201c}Turn on the kitchen lights.\u{201d}",
        "echoed first"
    );
    assert!(
        texts[1].contains("Turn on the kitchen lights."),
        "{texts:?}"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_voice_note_that_cannot_be_transcribed_is_answered_with_why() {
    let speech = FakeSpeech::start().await;
    speech.push(SpeechReply::Unauthorized);
    let reader = Reader::new(ReaderConfig::default()).with_transcriber(transcriber(&speech));
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start_reading(agent, reader).await;
    let ogg = b"OggS\0\x02\0\0\0\0\0\0\0\0 an opus stream".to_vec();

    world
        .fake
        .user(4002, "Bob")
        .dm_voice("audio/ogg", ogg.clone());
    let shown = settled(&world.fake, 4002, 1).await;

    let text = &texts(&shown)[0];
    assert!(text.contains("couldn't transcribe"), "{text}");
    assert!(text.contains("type your message"), "{text}");
    assert!(stats.inputs().is_empty(), "no turn ran on nothing");
    let kept: Vec<_> = std::fs::read_dir(world.media_dir())
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(kept, vec![ogg], "the recording is kept");
    running.stop().await;
}

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
async fn a_photo_reaches_the_model_as_a_scaled_image_part() {
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

    let jpeg = encoded(2400, 1200, image::ImageFormat::Jpeg);
    world
        .fake
        .user(4003, "Carol")
        .dm_photo(Some("what is this?"), jpeg);
    settled(&world.fake, 4003, 1).await;

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
async fn a_sticker_is_described_once_and_its_description_reaches_the_model() {
    let vision = FakeLlm::start().await;
    vision.set_default(Reply::text("A cartoon dog waving."));
    let world = World::new().await;
    let describer = Describer::new(
        LlmClient::new(LlmConfig {
            stream: false,
            ..LlmConfig::new(vision.base_url(), "vision-model")
        })
        .unwrap(),
        world.store.clone(),
    );
    let reader = Reader::new(ReaderConfig::default()).with_describer(describer);
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start_reading(agent, reader).await;
    let webp = encoded(128, 128, image::ImageFormat::WebP);
    let user = world.fake.user(4004, "Dan");

    user.dm_sticker(webp.clone(), "👋", "Doggos");
    settled(&world.fake, 4004, 1).await;
    user.dm_sticker(webp, "👋", "Doggos");
    settled(&world.fake, 4004, 2).await;

    let inputs = stats.inputs();
    assert_eq!(inputs.len(), 2);
    for input in &inputs {
        assert!(input.contains("👋 from \"Doggos\""), "{input}");
        assert!(input.contains("A cartoon dog waving."), "{input}");
    }
    assert_eq!(vision.requests().len(), 1, "described once, then cached");
    running.stop().await;
}

#[tokio::test]
async fn a_pdfs_text_reaches_the_model_with_its_name() {
    let pdf = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../media/tests/fixtures/text.pdf"),
    )
    .unwrap();
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world
        .start_reading(agent, Reader::new(ReaderConfig::default()))
        .await;

    world.fake.user(4005, "Erin").dm_document(
        "minutes.pdf",
        "application/pdf",
        pdf,
        Some("summarise"),
    );
    settled(&world.fake, 4005, 1).await;

    let input = stats.inputs().remove(0);
    assert!(input.starts_with("summarise"), "{input}");
    assert!(input.contains("minutes.pdf"), "named: {input}");
    assert!(
        input.contains("The quick brown fox jumps over the lazy dog.")
            && input.contains("Page two says hello."),
        "the PDF's text: {input}"
    );
    running.stop().await;
}
