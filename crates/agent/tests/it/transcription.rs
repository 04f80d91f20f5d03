//! The speech-to-text client against the fake transcription endpoint:
//! what it sends, and how each failure is classified.

use hermod_agent::{AgentError, Audio, RetryPolicy, Transcriber, TranscriberConfig};
use hermod_model::Secret;
use hermod_testkit::{FakeSpeech, SpeechReply};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const KEY: &str = "sk-stt-secret-123";

fn config(fake: &FakeSpeech) -> TranscriberConfig {
    TranscriberConfig {
        api_key: Some(Secret::new(KEY)),
        retry: RetryPolicy {
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        },
        ..TranscriberConfig::new(fake.base_url())
    }
}

fn voice() -> Audio {
    Audio::new(b"OggS fake opus".to_vec(), "voice.ogg", "audio/ogg")
}

async fn transcribe(
    config: TranscriberConfig,
    audio: &Audio,
) -> Result<hermod_agent::Transcript, AgentError> {
    let client = Transcriber::new(config).expect("a client");
    client.transcribe(audio, &CancellationToken::new()).await
}

fn assert_no_key(err: &AgentError) {
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn a_voice_note_is_sent_as_openai_expects_and_its_transcript_returned() {
    let fake = FakeSpeech::start().await;
    fake.require_key(KEY);
    fake.answer_audio(&voice().bytes, "hello from a voice note");
    let config = TranscriberConfig {
        language: Some("en".into()),
        prompt: Some("hermod".into()),
        ..config(&fake)
    };
    let transcript = transcribe(config, &voice()).await.expect("a transcript");
    assert_eq!(transcript.text, "hello from a voice note");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.status, 200);
    assert!(request.content_type.starts_with("multipart/form-data"));
    assert_eq!(
        request.authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(request.file_name.as_deref(), Some("voice.ogg"));
    assert_eq!(request.file_type.as_deref(), Some("audio/ogg"));
    assert_eq!(request.file, voice().bytes);
    assert_eq!(request.model(), Some("whisper-1"));
    assert_eq!(request.field("response_format"), Some("json"));
    assert_eq!(request.field("language"), Some("en"));
    assert_eq!(request.field("prompt"), Some("hermod"));
}

#[tokio::test]
async fn without_a_key_no_authorization_is_sent() {
    let fake = FakeSpeech::start().await;
    fake.push(SpeechReply::text("local"));
    let config = TranscriberConfig {
        api_key: None,
        model: "base.en".into(),
        ..config(&fake)
    };
    let transcript = transcribe(config, &voice()).await.expect("a transcript");
    assert_eq!(transcript.text, "local");
    let request = &fake.requests()[0];
    assert_eq!(request.authorization, None);
    assert_eq!(request.model(), Some("base.en"));
    assert_eq!(request.field("language"), None);
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_that_does_not_show_the_key() {
    let fake = FakeSpeech::start().await;
    fake.require_key("another-key");
    let err = transcribe(config(&fake), &voice()).await.expect_err("401");
    assert_eq!(err, AgentError::Auth { status: 401 });
    assert_no_key(&err);
    assert_eq!(fake.requests().len(), 1, "an auth failure is not retried");
}

#[tokio::test]
async fn rate_limits_are_retried_then_reported_with_retry_after() {
    let fake = FakeSpeech::start().await;
    fake.push(SpeechReply::RateLimited {
        retry_after_secs: Some(0),
    });
    fake.push(SpeechReply::text("after the limit"));
    let transcript = transcribe(config(&fake), &voice()).await.expect("retried");
    assert_eq!(transcript.text, "after the limit");
    assert_eq!(fake.requests().len(), 2);

    let fake = FakeSpeech::start().await;
    fake.push(SpeechReply::RateLimited {
        retry_after_secs: Some(120),
    });
    let err = transcribe(config(&fake), &voice()).await.expect_err("429");
    assert_eq!(
        err,
        AgentError::RateLimited {
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(
        fake.requests().len(),
        1,
        "a wait beyond max_retry_after is not waited"
    );
    assert_no_key(&err);
}

#[tokio::test]
async fn server_errors_are_retried_then_transient() {
    let fake = FakeSpeech::start().await;
    fake.push(SpeechReply::ServerError);
    fake.push(SpeechReply::text("second time"));
    let transcript = transcribe(config(&fake), &voice()).await.expect("retried");
    assert_eq!(transcript.text, "second time");

    let fake = FakeSpeech::start().await;
    for _ in 0..3 {
        fake.push(SpeechReply::ServerError);
    }
    let err = transcribe(config(&fake), &voice()).await.expect_err("500s");
    assert_eq!(err.kind(), "transient", "{err}");
    assert_eq!(fake.requests().len(), 3);
    assert_no_key(&err);
}

#[tokio::test]
async fn a_413_from_the_endpoint_is_rejected_with_its_message() {
    let fake = FakeSpeech::start().await;
    fake.push(SpeechReply::TooLarge);
    let err = transcribe(config(&fake), &voice()).await.expect_err("413");
    let AgentError::Rejected { status, message } = &err else {
        panic!("rejected, got {err:?}");
    };
    assert_eq!(*status, 413);
    assert!(message.contains("Maximum content size"), "{message}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_hanging_endpoint_times_out_as_transient() {
    let fake = FakeSpeech::start().await;
    fake.push(SpeechReply::Hang);
    let config = TranscriberConfig {
        request_timeout: Duration::from_millis(200),
        retry: RetryPolicy::none(),
        ..config(&fake)
    };
    let err = transcribe(config, &voice()).await.expect_err("a timeout");
    assert_eq!(err.kind(), "transient", "{err}");
    assert!(err.to_string().contains("no transcription within"), "{err}");
}

#[tokio::test]
async fn audio_over_the_cap_is_refused_before_sending() {
    let fake = FakeSpeech::start().await;
    let config = TranscriberConfig {
        max_bytes: 8,
        ..config(&fake)
    };
    let err = transcribe(config, &voice()).await.expect_err("too large");
    assert!(
        matches!(err, AgentError::Rejected { status: 413, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("stt.max_bytes"), "{err}");
    assert!(fake.requests().is_empty());

    let path = std::env::temp_dir().join(format!("hermod-stt-{}.ogg", std::process::id()));
    std::fs::write(&path, vec![0_u8; 64]).expect("a temporary file");
    let err = Audio::from_file(&path, "audio/ogg", 8)
        .await
        .expect_err("too large");
    assert!(
        matches!(err, AgentError::Rejected { status: 413, .. }),
        "{err:?}"
    );
    let audio = Audio::from_file(&path, "audio/ogg", 64)
        .await
        .expect("read");
    std::fs::remove_file(&path).expect("removed");
    assert_eq!(audio.bytes.len(), 64);
    assert!(audio.file_name.starts_with("hermod-stt-"));
}

#[tokio::test]
async fn a_file_name_without_an_audio_extension_is_refused_by_the_endpoint() {
    let fake = FakeSpeech::start().await;
    let audio = Audio::new(b"bytes".to_vec(), "voice", "audio/ogg");
    let err = transcribe(config(&fake), &audio).await.expect_err("400");
    let AgentError::Rejected { status, message } = &err else {
        panic!("rejected, got {err:?}");
    };
    assert_eq!(*status, 400);
    assert!(message.contains("Invalid file format"), "{message}");
}

#[tokio::test]
async fn a_missing_endpoint_says_to_check_the_base_url() {
    let fake = FakeSpeech::start().await;
    let config = TranscriberConfig {
        base_url: format!("{}/nowhere", fake.base_url()),
        ..config(&fake)
    };
    let err = transcribe(config, &voice()).await.expect_err("404");
    assert!(
        matches!(err, AgentError::Rejected { status: 404, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("base URL"), "{err}");
}

#[test]
fn the_client_debug_does_not_show_the_key() {
    let client = Transcriber::new(TranscriberConfig {
        api_key: Some(Secret::new(KEY)),
        ..TranscriberConfig::default()
    })
    .expect("a client");
    let shown = format!("{client:?}");
    assert!(!shown.contains(KEY), "{shown}");
}
