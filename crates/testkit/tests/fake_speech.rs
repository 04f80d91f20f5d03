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
