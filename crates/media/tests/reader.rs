//! The reader end to end against the fake transcription and model
//! endpoints: what the model is given of voice messages, images, stickers
//! and documents, and what the chat is told when a file cannot be read.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_agent::{LlmClient, LlmConfig, RetryPolicy, Transcriber, TranscriberConfig};
use hermod_core::{MediaRead, MediaReader};
use hermod_media::{Describer, ImageInput, Reader, ReaderConfig};
use hermod_model::{
    Attachment, AttachmentKind, Content, ContentPart, InboundEvent, PlatformId, Source,
};
use hermod_store::{SqliteStore, Store};
use hermod_testkit::{FakeLlm, FakeSpeech, Reply, SpeechReply};
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

fn event(text: &str, attachments: Vec<Attachment>) -> InboundEvent {
    let mut event = InboundEvent::text(Source::dm(PlatformId::new("test"), "chat-1"), text);
    event.attachments = attachments;
    event
}

fn voice(path: &Path) -> Attachment {
    Attachment::new(AttachmentKind::Voice, path.display().to_string()).with_mime("audio/ogg")
}

fn transcriber(speech: &FakeSpeech) -> Transcriber {
    Transcriber::new(TranscriberConfig {
        retry: RetryPolicy::none(),
        ..TranscriberConfig::new(speech.base_url())
    })
    .unwrap()
}

fn describer(llm: &FakeLlm, store: Arc<dyn Store>) -> Describer {
    let config = LlmConfig {
        stream: false,
        retry: RetryPolicy::none(),
        ..LlmConfig::new(llm.base_url(), "vision-model")
    };
    Describer::new(LlmClient::new(config).unwrap(), store)
}

async fn read(reader: &Reader, event: &InboundEvent) -> MediaRead {
    reader.read(event, &CancellationToken::new()).await
}

fn ogg(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("voice.ogg");
    std::fs::write(&path, b"OggS\0\x02not really opus, the fake does not care").unwrap();
    path
}

fn png(dir: &Path, name: &str, width: u32, height: u32) -> std::path::PathBuf {
    let path = dir.join(name);
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    image.save(&path).unwrap();
    path
}

fn image_parts(content: &Content) -> Vec<String> {
    match content {
        Content::Parts(parts) => parts
            .iter()
            .filter_map(|p| match p {
                ContentPart::ImageUrl { image_url } => Some(image_url.url.clone()),
                ContentPart::Text { .. } => None,
            })
            .collect(),
        Content::Text(_) => Vec::new(),
    }
}

#[tokio::test]
async fn a_voice_message_becomes_its_transcript_and_is_echoed_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let speech = FakeSpeech::start().await;
    speech.set_default("remind me to water the plants");
    let reader = Reader::new(ReaderConfig {
        echo_transcripts: true,
        ..ReaderConfig::default()
    })
    .with_transcriber(transcriber(&speech));

    let read = read(&reader, &event("", vec![voice(&ogg(dir.path()))])).await;

    assert!(!read.unanswerable);
    let text = read.content.text();
    assert!(
        text.contains("remind me to water the plants"),
        "the transcript is the message: {text}"
    );
    assert!(text.contains("voice message"), "{text}");
    assert_eq!(
        read.notices,
        vec!["🎙️ \u{201c}remind me to water the plants\u{201d}".to_owned()]
    );
    let request = &speech.requests()[0];
    assert_eq!(request.file_name.as_deref(), Some("voice.ogg"));
    assert_eq!(request.file_type.as_deref(), Some("audio/ogg"));
}

#[tokio::test]
async fn transcripts_are_not_echoed_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let speech = FakeSpeech::start().await;
    let reader = Reader::new(ReaderConfig::default()).with_transcriber(transcriber(&speech));
    let read = read(&reader, &event("", vec![voice(&ogg(dir.path()))])).await;
    assert!(read.notices.is_empty(), "{:?}", read.notices);
}

#[tokio::test]
async fn a_failed_transcription_tells_the_user_and_keeps_the_audio() {
    let dir = tempfile::tempdir().unwrap();
    let audio = ogg(dir.path());
    let speech = FakeSpeech::start().await;
    speech.push(SpeechReply::Unauthorized);
    let reader = Reader::new(ReaderConfig::default()).with_transcriber(transcriber(&speech));

    let read = read(&reader, &event("", vec![voice(&audio)])).await;

    assert!(read.unanswerable, "a voice message alone has nothing left");
    assert_eq!(read.notices.len(), 1);
    let notice = &read.notices[0];
    assert!(notice.contains("couldn't transcribe"), "{notice}");
    assert!(
        notice.contains("stt.api_key"),
        "says what to check: {notice}"
    );
    assert!(audio.exists(), "the recording is kept");
}

#[tokio::test]
async fn a_failed_transcription_beside_typed_text_still_gets_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let speech = FakeSpeech::start().await;
    speech.push(SpeechReply::ServerError);
    let reader = Reader::new(ReaderConfig::default()).with_transcriber(transcriber(&speech));
    let read = read(
        &reader,
        &event("see the recording", vec![voice(&ogg(dir.path()))]),
    )
    .await;
    assert!(!read.unanswerable);
    assert_eq!(read.notices.len(), 1);
    assert!(read.content.text().starts_with("see the recording"));
}

#[tokio::test]
async fn without_speech_to_text_a_voice_message_is_answered_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let reader = Reader::new(ReaderConfig::default());
    let read = read(&reader, &event("", vec![voice(&ogg(dir.path()))])).await;
    assert!(read.unanswerable);
    assert!(
        read.notices[0].contains("stt.enabled"),
        "{:?}",
        read.notices
    );
}

#[tokio::test]
async fn a_large_photo_reaches_a_vision_model_scaled_as_an_image_part() {
    let dir = tempfile::tempdir().unwrap();
    let photo = png(dir.path(), "wide.png", 3000, 1000);
    let reader = Reader::new(ReaderConfig::default());
    let attachment =
        Attachment::new(AttachmentKind::Photo, photo.display().to_string()).with_mime("image/png");

    let read = read(&reader, &event("what is this?", vec![attachment])).await;

    let images = image_parts(&read.content);
    assert_eq!(images.len(), 1, "{:?}", read.content);
    assert!(images[0].starts_with("data:image/"), "a data URL");
    let text = read.content.text();
    assert!(text.starts_with("what is this?"), "{text}");
    assert!(
        text.contains("1568×523"),
        "the scaled size is named: {text}"
    );
}

#[tokio::test]
async fn a_model_that_cannot_see_gets_a_description_made_once() {
    let dir = tempfile::tempdir().unwrap();
    let photo = png(dir.path(), "cat.png", 64, 64);
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::text("A grey cat asleep on a red sofa."));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let reader = Reader::new(ReaderConfig {
        images: ImageInput::Text,
        ..ReaderConfig::default()
    })
    .with_describer(describer(&llm, Arc::clone(&store)));
    let attachment =
        Attachment::new(AttachmentKind::Photo, photo.display().to_string()).with_mime("image/png");
    let message = event("", vec![attachment]);

    let first = read(&reader, &message).await;
    let second = read(&reader, &message).await;

    for read in [&first, &second] {
        assert!(image_parts(&read.content).is_empty(), "no image part");
        assert!(
            read.content
                .text()
                .contains("A grey cat asleep on a red sofa."),
            "{:?}",
            read.content
        );
    }
    let requests = llm.requests();
    assert_eq!(requests.len(), 1, "the second read used the cache");
    let parts = requests[0].messages()[0]["content"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(parts[1]["type"], "image_url");
    assert!(
        parts[1]["image_url"]["url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/")
    );
}

#[tokio::test]
async fn without_a_vision_model_an_image_is_named_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let photo = png(dir.path(), "cat.png", 16, 16);
    let reader = Reader::new(ReaderConfig {
        images: ImageInput::Text,
        ..ReaderConfig::default()
    });
    let attachment = Attachment::new(AttachmentKind::Photo, photo.display().to_string());
    let read = read(&reader, &event("", vec![attachment])).await;
    assert!(!read.unanswerable);
    assert!(image_parts(&read.content).is_empty());
    assert!(read.content.text().contains("cannot see images"));
}

#[tokio::test]
async fn a_sticker_is_described_once_by_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::text("A cartoon dog waving happily."));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let reader =
        Reader::new(ReaderConfig::default()).with_describer(describer(&llm, Arc::clone(&store)));
    let sticker = |name: &str| {
        let path = png(dir.path(), name, 32, 32);
        Attachment {
            unique_id: Some("AgADsticker1".into()),
            label: Some("👋 from \"Doggos\"".into()),
            ..Attachment::new(AttachmentKind::Sticker, path.display().to_string())
                .with_mime("image/png")
        }
    };

    let first = read(&reader, &event("", vec![sticker("a.png")])).await;
    // The same sticker, downloaded again under another name.
    let second = read(&reader, &event("", vec![sticker("b.png")])).await;

    for read in [&first, &second] {
        let text = read.content.text();
        assert!(text.contains("👋"), "{text}");
        assert!(text.contains("A cartoon dog waving happily."), "{text}");
    }
    assert_eq!(llm.requests().len(), 1, "described once");
}

#[tokio::test]
async fn a_text_document_is_inlined_with_its_name_and_the_cut_stated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.md");
    std::fs::write(
        &path,
        "# Notes\n".to_owned() + &"line of text\n".repeat(100),
    )
    .unwrap();
    let reader = Reader::new(ReaderConfig {
        document_max_chars: 200,
        ..ReaderConfig::default()
    });
    let attachment = Attachment {
        file_name: Some("notes.md".into()),
        ..Attachment::new(AttachmentKind::Document, path.display().to_string())
            .with_mime("text/markdown")
    };

    let read = read(&reader, &event("summarise", vec![attachment])).await;

    let text = read.content.text();
    assert!(text.contains("notes.md"), "{text}");
    assert!(text.contains("# Notes"), "{text}");
    assert!(text.contains("was cut"), "the cut is stated: {text}");
    assert!(text.len() < 1_000, "only the cap is inlined");
}

#[tokio::test]
async fn an_unknown_file_is_named_with_its_type_size_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob.bin");
    std::fs::write(&path, [0u8, 159, 146, 150, 0, 1, 2, 3].repeat(300)).unwrap();
    let reader = Reader::new(ReaderConfig::default());
    let attachment = Attachment::new(AttachmentKind::Document, path.display().to_string())
        .with_mime("application/octet-stream");
    let read = read(&reader, &event("", vec![attachment])).await;
    let text = read.content.text();
    assert!(text.contains("application/octet-stream"), "{text}");
    assert!(text.contains("KB"), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(!read.unanswerable);
}

#[tokio::test]
async fn a_model_endpoint_without_transcription_is_named_as_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    // A chat-completions server has no /audio/transcriptions: 404.
    let llm = FakeLlm::start().await;
    let stt = Transcriber::new(TranscriberConfig {
        retry: RetryPolicy::none(),
        ..TranscriberConfig::new(llm.base_url())
    })
    .unwrap();
    let reader = Reader::new(ReaderConfig::default()).with_transcriber(stt);
    let read = read(&reader, &event("", vec![voice(&ogg(dir.path()))])).await;
    assert!(read.unanswerable);
    assert!(
        read.notices[0].contains("stt.base_url"),
        "{:?}",
        read.notices
    );
}
