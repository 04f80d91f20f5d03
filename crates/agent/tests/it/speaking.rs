//! The text-to-speech client against the fake speech endpoint: what it
//! sends, what it returns, and how each failure is classified.

use hermod_agent::{
    AgentError, OPENAI_MAX_SPEECH_CHARS, RetryPolicy, Speaker, SpeakerConfig, Speech, SpeechFormat,
};
use hermod_model::Secret;
use hermod_testkit::{FakeSpeech, SynthesisReply};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const KEY: &str = "sk-tts-secret-123";

fn config(fake: &FakeSpeech) -> SpeakerConfig {
    SpeakerConfig {
        api_key: Some(Secret::new(KEY)),
        retry: RetryPolicy {
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        },
        ..SpeakerConfig::new(fake.base_url())
    }
}

async fn speak(config: SpeakerConfig, text: &str) -> Result<Speech, AgentError> {
    let speaker = Speaker::new(config).expect("a client");
    speaker
        .speak(text, SpeechFormat::Opus, &CancellationToken::new())
        .await
}

fn assert_no_key(err: &AgentError) {
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn a_reply_is_sent_as_openai_expects_and_its_voice_note_returned() {
    let fake = FakeSpeech::start().await;
    fake.require_key(KEY);
    let config = SpeakerConfig {
        voice: "nova".into(),
        speed: Some(1.25),
        instructions: Some("calm and friendly".into()),
        ..config(&fake)
    };
    let speech = speak(config, "  Hello there.  ").await.expect("speech");
    assert_eq!(speech.format, SpeechFormat::Opus);
    assert_eq!(speech.mime(), "audio/ogg");
    assert!(!speech.cut);
    assert!(speech.bytes.starts_with(b"OggS"), "an OGG stream");
    assert!(speech.bytes.windows(8).any(|w| w == b"OpusHead"));

    let requests = fake.speech_requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.status, 200);
    assert!(request.content_type.starts_with("application/json"));
    assert_eq!(
        request.authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(request.model(), Some("gpt-4o-mini-tts"));
    assert_eq!(request.input(), Some("Hello there."));
    assert_eq!(request.voice(), Some("nova"));
    assert_eq!(request.response_format(), "opus");
    assert_eq!(request.body["speed"].as_f64(), Some(1.25));
    assert_eq!(request.body["instructions"], "calm and friendly");
    assert!(fake.requests().is_empty(), "nothing was transcribed");
}

#[tokio::test]
async fn every_format_comes_back_with_its_type() {
    let fake = FakeSpeech::start().await;
    let speaker = Speaker::new(SpeakerConfig {
        api_key: None,
        speed: None,
        ..config(&fake)
    })
    .expect("a client");
    for format in SpeechFormat::ALL {
        let speech = speaker
            .speak("Hi.", format, &CancellationToken::new())
            .await
            .expect("speech");
        assert_eq!(speech.format, format);
        let magic: &[u8] = match format {
            SpeechFormat::Opus => b"OggS",
            SpeechFormat::Wav => b"RIFF",
            SpeechFormat::Mp3 => b"ID3",
            SpeechFormat::Flac => b"fLaC",
            SpeechFormat::Aac => &[0xFF, 0xF1],
            SpeechFormat::Pcm => &[0, 0],
        };
        assert!(speech.bytes.starts_with(magic), "{format:?}");
    }
    let requests = fake.speech_requests();
    assert!(requests.iter().all(|r| r.authorization.is_none()));
    assert!(requests.iter().all(|r| r.body.get("speed").is_none()));
    assert!(
        requests
            .iter()
            .all(|r| r.body.get("instructions").is_none())
    );
}

#[tokio::test]
async fn long_text_is_cut_at_a_sentence_under_the_limit_the_endpoint_checks() {
    let fake = FakeSpeech::start().await;
    let text = "This sentence is forty characters long. ".repeat(150);
    assert!(text.chars().count() > OPENAI_MAX_SPEECH_CHARS);
    let speech = speak(config(&fake), &text).await.expect("speech");
    assert!(speech.cut);
    let request = &fake.speech_requests()[0];
    assert_eq!(
        request.status, 200,
        "the fake takes at most 4096 characters"
    );
    let input = request.input().expect("an input");
    assert!(input.chars().count() <= OPENAI_MAX_SPEECH_CHARS);
    assert!(input.chars().count() > OPENAI_MAX_SPEECH_CHARS - 41);
    assert!(input.ends_with("long."), "cut after a sentence");

    // Without the cut the endpoint refuses it, as OpenAI does.
    let fake = FakeSpeech::start().await;
    let config = SpeakerConfig {
        max_chars: usize::MAX,
        ..config(&fake)
    };
    let err = speak(config, &text).await.expect_err("too long");
    let AgentError::Rejected { status, message } = &err else {
        panic!("rejected, got {err:?}");
    };
    assert_eq!(*status, 400);
    assert!(message.contains("at most 4096 characters"), "{message}");
}

#[tokio::test]
async fn blank_text_is_refused_without_a_request() {
    let fake = FakeSpeech::start().await;
    let err = speak(config(&fake), " \n ").await.expect_err("blank");
    assert!(
        matches!(err, AgentError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert!(fake.speech_requests().is_empty());
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_that_does_not_show_the_key() {
    let fake = FakeSpeech::start().await;
    fake.require_key("another-key");
    let err = speak(config(&fake), "Hi.").await.expect_err("401");
    assert_eq!(err, AgentError::Auth { status: 401 });
    assert_no_key(&err);
    assert_eq!(fake.speech_requests().len(), 1, "not retried");
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_is_waited_out_as_retry_after_says() {
    let fake = FakeSpeech::start().await;
    fake.push_speech(SynthesisReply::RateLimited {
        retry_after_secs: Some(7),
    });
    let began = tokio::time::Instant::now();
    let speech = speak(config(&fake), "Hi.").await.expect("retried");
    assert!(speech.bytes.starts_with(b"OggS"));
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_secs(8),
        "waited {waited:?}, not the 7 s Retry-After asked"
    );
    assert_eq!(fake.speech_requests().len(), 2);

    // A wait beyond max_retry_after is reported, not waited.
    let fake = FakeSpeech::start().await;
    fake.push_speech(SynthesisReply::RateLimited {
        retry_after_secs: Some(120),
    });
    let err = speak(config(&fake), "Hi.").await.expect_err("429");
    assert_eq!(
        err,
        AgentError::RateLimited {
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(fake.speech_requests().len(), 1);
    assert_no_key(&err);
}

#[tokio::test]
async fn server_errors_are_retried_then_transient() {
    let fake = FakeSpeech::start().await;
    fake.push_speech(SynthesisReply::ServerError);
    let speech = speak(config(&fake), "Hi.").await.expect("retried");
    assert!(speech.bytes.starts_with(b"OggS"));

    let fake = FakeSpeech::start().await;
    for _ in 0..3 {
        fake.push_speech(SynthesisReply::ServerError);
    }
    let err = speak(config(&fake), "Hi.").await.expect_err("500s");
    assert_eq!(err.kind(), "transient", "{err}");
    assert_eq!(fake.speech_requests().len(), 3);
    assert_no_key(&err);
}

#[tokio::test]
async fn an_empty_answer_is_a_protocol_error() {
    let fake = FakeSpeech::start().await;
    fake.push_speech(SynthesisReply::Bytes(Vec::new()));
    let err = speak(config(&fake), "Hi.").await.expect_err("no audio");
    assert_eq!(err.kind(), "protocol", "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_hanging_endpoint_times_out_as_transient() {
    let fake = FakeSpeech::start().await;
    fake.push_speech(SynthesisReply::Hang);
    let config = SpeakerConfig {
        request_timeout: Duration::from_secs(30),
        retry: RetryPolicy::none(),
        ..config(&fake)
    };
    let err = speak(config, "Hi.").await.expect_err("a timeout");
    assert_eq!(err.kind(), "transient", "{err}");
    assert!(err.to_string().contains("no speech within 30 s"), "{err}");
}

#[tokio::test]
async fn a_missing_endpoint_says_to_check_the_base_url() {
    let fake = FakeSpeech::start().await;
    let config = SpeakerConfig {
        base_url: format!("{}/nowhere", fake.base_url()),
        ..config(&fake)
    };
    let err = speak(config, "Hi.").await.expect_err("404");
    assert!(
        matches!(err, AgentError::Rejected { status: 404, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("/audio/speech"), "{err}");
}
