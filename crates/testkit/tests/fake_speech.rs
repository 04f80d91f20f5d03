//! The fake transcription endpoint refuses what OpenAI refuses.

use hermod_http::HttpClient;
use hermod_testkit::{FakeSpeech, SpeechReply};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

fn client() -> reqwest::Client {
    HttpClient::new().expect("http client").reqwest().clone()
}

fn url(fake: &FakeSpeech) -> String {
    format!("{}/audio/transcriptions", fake.base_url())
}

fn audio(name: &str) -> Part {
    Part::bytes(b"RIFF wav".to_vec()).file_name(name.to_owned())
}

async fn send(fake: &FakeSpeech, form: Form) -> (u16, Value) {
    let response = client()
        .post(url(fake))
        .multipart(form)
        .send()
        .await
        .expect("the fake answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn malformed_requests_get_openai_errors() {
    let fake = FakeSpeech::start().await;
    let (status, body) = send(&fake, Form::new().text("model", "whisper-1")).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (400, Some("you must provide a file"))
    );
    let (status, _) = send(&fake, Form::new().part("file", audio("a.wav"))).await;
    assert_eq!(status, 400, "no model");
    let (status, body) = send(
        &fake,
        Form::new().part("file", audio("a.txt")).text("model", "m"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Invalid file format"))
    );
    let unnamed = Part::bytes(b"x".to_vec());
    let (status, _) = send(&fake, Form::new().part("file", unnamed).text("model", "m")).await;
    assert_eq!(status, 400, "a file part without a file name");
    let form = Form::new()
        .part("file", audio("a.wav"))
        .text("model", "m")
        .text("response_format", "xml");
    let (status, _) = send(&fake, form).await;
    assert_eq!(status, 400, "an unknown response_format");
    let json = client()
        .post(url(&fake))
        .json(&serde_json::json!({"model": "m"}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(json.status().as_u16(), 400, "not multipart");
    assert_eq!(fake.requests().len(), 6);
    assert!(fake.requests().iter().all(|r| r.status == 400));
}

#[tokio::test]
async fn answers_follow_the_script_then_the_audio_then_the_default() {
    let fake = FakeSpeech::start().await;
    fake.set_default("default");
    fake.answer_audio(b"RIFF wav", "by hash");
    fake.push(SpeechReply::text("queued"));
    let form = || Form::new().part("file", audio("a.wav")).text("model", "m");
    assert_eq!(send(&fake, form()).await.1["text"], "queued");
    assert_eq!(send(&fake, form()).await.1["text"], "by hash");
    let other = Form::new()
        .part("file", Part::bytes(b"other".to_vec()).file_name("b.mp3"))
        .text("model", "m");
    assert_eq!(send(&fake, other).await.1["text"], "default");
    let text = Form::new()
        .part("file", audio("a.wav"))
        .text("model", "m")
        .text("response_format", "text");
    assert_eq!(send(&fake, text).await.1, Value::String("by hash\n".into()));
}

#[tokio::test]
async fn a_body_over_25_mb_is_413() {
    let fake = FakeSpeech::start().await;
    let big = Part::bytes(vec![0_u8; 25 * 1024 * 1024 + 1]).file_name("big.wav");
    let (status, body) = send(&fake, Form::new().part("file", big).text("model", "m")).await;
    assert_eq!(status, 413);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("26214400"))
    );
}

async fn speech(fake: &FakeSpeech, body: serde_json::Value) -> (u16, String, Vec<u8>) {
    let response = client()
        .post(format!("{}/audio/speech", fake.base_url()))
        .json(&body)
        .send()
        .await
        .expect("the fake answers");
    let status = response.status().as_u16();
    let mime = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = response.bytes().await.expect("a body").to_vec();
    (status, mime, bytes)
}

fn message(bytes: &[u8]) -> String {
    let body: Value = serde_json::from_slice(bytes).expect("an OpenAI error");
    body["error"]["message"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn malformed_speech_requests_get_openai_errors() {
    use serde_json::json;
    let fake = FakeSpeech::start().await;
    let valid = json!({"model": "tts-1", "input": "Hi.", "voice": "alloy"});
    for missing in ["model", "input", "voice"] {
        let mut body = valid.clone();
        body.as_object_mut().expect("an object").remove(missing);
        let (status, _, bytes) = speech(&fake, body).await;
        assert_eq!(status, 400);
        assert_eq!(
            message(&bytes),
            format!("Missing required parameter: '{missing}'.")
        );
    }
    let mut long = valid.clone();
    long["input"] = json!("a".repeat(4097));
    let (status, _, bytes) = speech(&fake, long).await;
    assert_eq!(status, 400);
    assert!(message(&bytes).contains("at most 4096 characters"));
    let mut exact = valid.clone();
    exact["input"] = json!("é".repeat(4096));
    assert_eq!(speech(&fake, exact).await.0, 200, "characters, not bytes");
    let mut format = valid.clone();
    format["response_format"] = json!("ogg");
    let (status, _, bytes) = speech(&fake, format).await;
    assert_eq!(status, 400);
    assert!(message(&bytes).contains("Supported values are"));
    let mut speed = valid.clone();
    speed["speed"] = json!(5.0);
    assert_eq!(speech(&fake, speed).await.0, 400);
    let (status, _, _) = speech(&fake, json!(["not", "an", "object"])).await;
    assert_eq!(status, 400);
    let not_json = client()
        .post(format!("{}/audio/speech", fake.base_url()))
        .body("model=tts-1")
        .send()
        .await
        .expect("an answer");
    assert_eq!(not_json.status().as_u16(), 400);

    let requests = fake.speech_requests();
    assert_eq!(requests.len(), 9, "every request is recorded");
    assert_eq!(requests[4].status, 200);
    assert!(requests.iter().filter(|r| r.status == 400).count() == 8);
}

#[tokio::test]
async fn speech_answers_in_the_asked_format_or_with_a_scripted_fault() {
    use serde_json::json;
    let fake = FakeSpeech::start().await;
    let (status, mime, bytes) =
        speech(&fake, json!({"model": "m", "input": "Hi.", "voice": "v"})).await;
    assert_eq!(
        (status, mime.as_str()),
        (200, "audio/mpeg"),
        "mp3 by default"
    );
    assert!(bytes.starts_with(b"ID3"));
    let (_, mime, bytes) = speech(
        &fake,
        json!({"model": "m", "input": "Hi.", "voice": "v", "response_format": "opus"}),
    )
    .await;
    assert_eq!(mime, "audio/ogg");
    assert!(bytes.starts_with(b"OggS"));
    let (_, _, bytes) = speech(
        &fake,
        json!({"model": "m", "input": "Hi.", "voice": "v", "response_format": "wav"}),
    )
    .await;
    assert_eq!((&bytes[..4], &bytes[8..12]), (&b"RIFF"[..], &b"WAVE"[..]));

    fake.require_key("k");
    let (status, _, _) = speech(&fake, json!({"model": "m", "input": "Hi.", "voice": "v"})).await;
    assert_eq!(status, 401);
    let authorized = |body| {
        client()
            .post(format!("{}/audio/speech", fake.base_url()))
            .bearer_auth("k")
            .json(&body)
            .send()
    };
    fake.push_speech(hermod_testkit::SynthesisReply::RateLimited {
        retry_after_secs: Some(3),
    });
    let limited = authorized(json!({"model": "m", "input": "Hi.", "voice": "v"}))
        .await
        .expect("an answer");
    assert_eq!(limited.status().as_u16(), 429);
    assert_eq!(limited.headers()["retry-after"], "3");
    fake.push_speech(hermod_testkit::SynthesisReply::ServerError);
    let failed = authorized(json!({"model": "m", "input": "Hi.", "voice": "v"}))
        .await
        .expect("an answer");
    assert_eq!(failed.status().as_u16(), 500);
    assert!(fake.requests().is_empty(), "no transcription was asked");
}
