//! Voice replies: each chat's `/voice` mode, kept in the store across
//! conversations; replies spoken through a fake speech endpoint and sent
//! as voice notes through the outbox; what a failed synthesis and a
//! gateway without a speech endpoint say.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_agent::{Speaker, SpeakerConfig};
use hermod_core::{Clock, Gateway, GatewayConfig, StreamingConfig};
use hermod_model::{Attachment, AttachmentKind};
use hermod_store::{SqliteStore, Store};
use hermod_testkit::{FakeSpeech, ScriptedAgent, SentMessage, SynthesisReply, TestPlatform};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

struct Chat {
    platform: TestPlatform,
    store: Arc<SqliteStore>,
    fake: Option<FakeSpeech>,
    media: std::path::PathBuf,
    _shutdown: tokio_util::sync::DropGuard,
    _dir: tempfile::TempDir,
}

/// A gateway on the test platform, speaking through a fake speech
/// endpoint when `speech` is set.
async fn start(speech: bool) -> Chat {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let platform = TestPlatform::new("test");
    let media = dir.path().join("media");
    let config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    let mut builder = Gateway::builder(
        store.clone(),
        Arc::new(ScriptedAgent::with_delay(Duration::ZERO)),
        config,
    )
    .adapter(platform.adapter())
    .clock(Clock::following_tokio(1_790_000_000_000))
    .media_dir(&media)
    .streaming(StreamingConfig {
        enabled: false,
        ..StreamingConfig::default()
    });
    let fake = if speech {
        let fake = FakeSpeech::start().await;
        let speaker = Speaker::new(SpeakerConfig::new(fake.base_url())).unwrap();
        builder = builder.speech(speaker);
        Some(fake)
    } else {
        None
    };
    let gateway = builder.build().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(gateway.run(shutdown.clone()));
    platform.wait_running().await;
    Chat {
        platform,
        store,
        fake,
        media,
        _shutdown: shutdown.drop_guard(),
        _dir: dir,
    }
}

/// Sends a DM and returns the text of the next message in that chat.
async fn ask(chat: &Chat, user: &str, text: &str) -> String {
    let before = chat.platform.sent(user).len();
    chat.platform.user(user).dm(text).await.unwrap();
    chat.platform.wait_for_messages(user, before + 1).await[before]
        .text
        .clone()
}

async fn setting(chat: &Chat, key: &str) -> Option<String> {
    chat.store.setting(key).await.unwrap()
}

#[tokio::test]
async fn modes_are_kept_per_chat_and_outlive_the_conversation() {
    let chat = start(true).await;
    assert_eq!(
        ask(&chat, "alice", "/voice").await,
        "Voice replies: off (text only). Change it with /voice on, /voice tts or /voice off."
    );
    assert_eq!(
        ask(&chat, "alice", "/voice on").await,
        "🔊 Voice replies on: I answer voice messages with a voice message too."
    );
    assert_eq!(
        setting(&chat, "voice:test:alice").await.as_deref(),
        Some("on")
    );
    assert!(
        ask(&chat, "alice", "/voice status")
            .await
            .starts_with("Voice replies: on — voice messages are answered")
    );
    // Another chat has its own mode.
    assert!(
        ask(&chat, "bob", "/voice")
            .await
            .starts_with("Voice replies: off")
    );
    assert_eq!(setting(&chat, "voice:test:bob").await, None);

    // A new conversation in the same chat keeps it.
    assert_eq!(
        ask(&chat, "alice", "/new").await,
        "✨ New conversation started."
    );
    assert!(
        ask(&chat, "alice", "/voice")
            .await
            .starts_with("Voice replies: on")
    );

    assert_eq!(
        ask(&chat, "alice", "/voice TTS").await,
        "🔊 Voice replies for everything: every reply comes with a voice message too."
    );
    assert_eq!(
        setting(&chat, "voice:test:alice").await.as_deref(),
        Some("tts")
    );
    assert_eq!(
        ask(&chat, "alice", "/voice off").await,
        "🔇 Voice replies off: I answer in text."
    );
    assert_eq!(setting(&chat, "voice:test:alice").await, None);
    let usage = ask(&chat, "alice", "/voice loud").await;
    assert!(
        usage.starts_with("Usage: /voice [on|off|tts|status]\nVoice replies: off"),
        "{usage}"
    );
    assert!(
        chat.fake.as_ref().unwrap().speech_requests().is_empty(),
        "commands are never spoken"
    );
}

#[tokio::test]
async fn without_a_speech_endpoint_voice_says_how_to_configure_one() {
    let chat = start(false).await;
    for on in ["/voice on", "/voice tts"] {
        let answer = ask(&chat, "alice", on).await;
        assert!(
            answer.starts_with("🔇 This gateway cannot speak: no speech endpoint is configured.")
                && answer.contains("tts.base_url")
                && answer.contains("VOICE_TOOLS_OPENAI_KEY"),
            "{answer}"
        );
    }
    assert_eq!(setting(&chat, "voice:test:alice").await, None);
    let status = ask(&chat, "alice", "/voice").await;
    assert!(
        status.starts_with("Voice replies: off") && status.contains("no speech endpoint"),
        "{status}"
    );
    assert_eq!(
        ask(&chat, "alice", "/voice off").await,
        "🔇 Voice replies off: I answer in text."
    );
    // Replies stay text, with nothing written.
    assert_eq!(
        ask(&chat, "alice", "hello").await,
        "echo: hello (0 earlier)"
    );
    assert!(!chat.media.exists());
}

#[test]
fn voice_is_in_the_command_menu() {
    let menu = hermod_core::command_menu();
    let (_, description) = menu
        .iter()
        .find(|(name, _)| name == "voice")
        .expect("/voice is listed");
    assert!(description.contains("tts"), "{description}");
}

/// Sends `event` and returns every message the chat got for it.
async fn exchange(
    chat: &Chat,
    user: &str,
    event: hermod_model::InboundEvent,
    expect: usize,
) -> Vec<SentMessage> {
    let before = chat.platform.sent(user).len();
    chat.platform.user(user).send(event).await.unwrap();
    let all = chat.platform.wait_for_messages(user, before + expect).await;
    all[before..].to_vec()
}

fn voice_message(chat: &Chat, user: &str) -> hermod_model::InboundEvent {
    let mut event = chat.platform.user(user).dm_event("");
    event.attachments =
        vec![Attachment::new(AttachmentKind::Voice, "/media/in.ogg").with_mime("audio/ogg")];
    event
}

#[tokio::test]
async fn with_tts_every_reply_comes_with_a_voice_note_through_the_outbox() {
    let chat = start(true).await;
    let fake = chat.fake.as_ref().unwrap();
    ask(&chat, "alice", "/voice tts").await;
    let event = chat.platform.user("alice").dm_event("**hello** there");
    let sent = exchange(&chat, "alice", event, 2).await;
    assert_eq!(sent[0].text, "echo: **hello** there (0 earlier)");
    assert!(sent[0].attachments.is_empty());
    let note = &sent[1].attachments;
    assert_eq!(note.len(), 1, "{sent:?}");
    assert_eq!(note[0].kind, AttachmentKind::Voice);
    assert_eq!(note[0].mime_type.as_deref(), Some("audio/ogg"));
    let path = std::path::Path::new(&note[0].location);
    assert!(path.starts_with(&chat.media), "{}", path.display());
    assert!(std::fs::read(path).unwrap().starts_with(b"OggS"));
    let requests = fake.speech_requests();
    assert_eq!(requests.len(), 1, "spoken once");
    assert_eq!(requests[0].input(), Some("echo: hello there (0 earlier)"));
    assert_eq!(requests[0].response_format(), "opus");

    // The note went out with the reply's outbox entry, which is done: no
    // sweep sends it again.
    let mut waits = 0;
    while !chat.store.outbox_pending(0, 10).await.unwrap().is_empty() {
        waits += 1;
        assert!(waits < 500, "the reply's delivery is never recorded");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(chat.platform.file_messages().len(), 1);
}

#[tokio::test]
async fn with_on_only_voice_messages_are_answered_with_voice() {
    let chat = start(true).await;
    let fake = chat.fake.as_ref().unwrap();
    ask(&chat, "alice", "/voice on").await;
    assert!(
        ask(&chat, "alice", "typed")
            .await
            .starts_with("echo: typed")
    );
    assert!(fake.speech_requests().is_empty(), "text in, text out");
    let sent = exchange(&chat, "alice", voice_message(&chat, "alice"), 2).await;
    assert_eq!(sent[1].attachments[0].kind, AttachmentKind::Voice);
    assert_eq!(fake.speech_requests().len(), 1);

    // Off: nothing is spoken, voice in or not.
    ask(&chat, "alice", "/voice off").await;
    let sent = exchange(&chat, "alice", voice_message(&chat, "alice"), 1).await;
    assert!(sent[0].attachments.is_empty());
    assert_eq!(fake.speech_requests().len(), 1);
}

#[tokio::test]
async fn a_failed_synthesis_sends_the_text_with_a_note() {
    let chat = start(true).await;
    let fake = chat.fake.as_ref().unwrap();
    ask(&chat, "alice", "/voice tts").await;
    fake.push_speech(SynthesisReply::Unauthorized);
    let reply = ask(&chat, "alice", "hello").await;
    assert_eq!(
        reply,
        "echo: hello (0 earlier)\n\n🔇 I couldn't speak this reply: the speech endpoint refused its key (401); check tts.api_key"
    );
    assert!(chat.platform.file_messages().is_empty());
    // The next reply is spoken again.
    let event = chat.platform.user("alice").dm_event("again");
    let sent = exchange(&chat, "alice", event, 2).await;
    assert_eq!(sent[1].attachments[0].kind, AttachmentKind::Voice);
}
