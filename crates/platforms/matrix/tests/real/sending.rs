//! Sending: replies streamed by edits (`m.replace`) and ending whole, long
//! replies split within the limit, Markdown as Matrix HTML, files
//! uploaded, and a password login that keeps its device across restarts.

use crate::support::{within, world};
use hermod_core::Adapter;
use hermod_matrix::MatrixConfig;
use hermod_model::{Attachment, AttachmentKind, ChatTarget, Outbound, Secret};
use hermod_testkit::ScriptedAgent;
use hermod_testkit::agent::Step;
use std::time::Duration;

#[tokio::test]
async fn replies_stream_by_edits_and_end_whole() {
    let Some(world) = world().await else { return };
    let text =
        "The quick brown fox jumps over the lazy dog, again and again, until the stream ends.";
    let running = world
        .start(ScriptedAgent::streaming(
            text,
            12,
            Duration::from_millis(400),
        ))
        .await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let room = world.fake.dm().await;
    world.fake.alice.say(&room, "go").await;
    let bot = world.fake.bot.user_id.clone();
    let shown = world
        .fake
        .alice
        .wait_for(&room, &bot, |t| t.len() == 1 && t[0] == text)
        .await;
    assert_eq!(shown, [text]);
    let edits = world
        .fake
        .alice
        .events(&room)
        .await
        .into_iter()
        .filter(|e| e["content"]["m.relates_to"]["rel_type"] == "m.replace")
        .count();
    assert!(edits >= 1, "the reply was shown by editing one message");
    running.stop().await;
}

#[tokio::test]
async fn long_replies_are_split_within_the_limit() {
    let Some(world) = world().await else { return };
    let words: Vec<String> = (0..300).map(|i| format!("word{i:03}")).collect();
    let reply = words.join(" ");
    let scripted = reply.clone();
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(scripted.clone())]);
    let config = MatrixConfig {
        max_message_length: 500,
        ..world.config()
    };
    let running = world
        .start_with(agent, hermod_testkit::harness::allow_all(), config)
        .await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let room = world.fake.dm().await;
    world.fake.alice.say(&room, "long please").await;
    let bot = world.fake.bot.user_id.clone();
    let parts = world
        .fake
        .alice
        .wait_for(&room, &bot, |t| {
            t.concat().contains("word299") && crate::support::finished(1)(t)
        })
        .await;
    assert!(parts.len() >= 4, "{} parts", parts.len());
    for part in &parts {
        assert!(
            part.chars().count() <= 500,
            "{} chars",
            part.chars().count()
        );
    }
    let joined: Vec<&str> = parts.iter().flat_map(|p| p.split_whitespace()).collect();
    assert_eq!(joined, words.iter().map(String::as_str).collect::<Vec<_>>());
    running.stop().await;
}

#[tokio::test]
async fn markdown_is_sent_as_matrix_html_with_a_plain_body() {
    let Some(world) = world().await else { return };
    let agent = ScriptedAgent::scripted(|_| vec![Step::Text("**bold** and `code`".into())]);
    let running = world.start(agent).await;
    within("the first sync", world.fake.proxy.wait_until_polling()).await;
    let room = world.fake.dm().await;
    world.fake.alice.say(&room, "format").await;
    let bot = world.fake.bot.user_id.clone();
    world.fake.replies(&room, 1).await;
    let shown = world.fake.alice.shown(&room, &bot).await;
    let content = &shown[0].1;
    assert_eq!(content["body"], "bold and code");
    assert_eq!(content["format"], "org.matrix.custom.html");
    let html = content["formatted_body"].as_str().unwrap();
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    assert!(html.contains("<code>code</code>"), "{html}");
    running.stop().await;
}

#[tokio::test]
async fn a_file_is_uploaded_and_sent_as_an_image() {
    let Some(world) = world().await else { return };
    let adapter = world.adapter(world.config());
    let room = world.fake.dm().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dot.png");
    // A 1x1 PNG.
    let png: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0,
        0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0a, 0x49, 0x44,
        0x41, 0x54, 0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0,
        0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    std::fs::write(&path, png).unwrap();
    let mut message = Outbound::text(
        ChatTarget {
            chat_id: room.clone(),
            thread_id: None,
        },
        "a dot",
    );
    message.attachments = vec![
        Attachment::new(AttachmentKind::Photo, path.display().to_string()).with_mime("image/png"),
    ];
    let sent = within("the send", adapter.messenger().unwrap().send(message))
        .await
        .unwrap();
    assert_eq!(sent.message_ids.len(), 2);
    let shown = world.fake.alice.shown(&room, &world.fake.bot.user_id).await;
    assert_eq!(shown.len(), 2);
    assert_eq!(shown[0].1["body"], "a dot");
    let image = &shown[1].1;
    assert_eq!(image["msgtype"], "m.image");
    assert_eq!(image["info"]["mimetype"], "image/png");
    assert!(
        image["url"].as_str().unwrap().starts_with("mxc://"),
        "{image}"
    );
    assert_eq!(shown[1].0, sent.message_ids[1]);
}

#[tokio::test]
async fn a_password_login_keeps_its_device_across_restarts() {
    let Some(world) = world().await else { return };
    let config = MatrixConfig {
        access_token: None,
        user_id: Some(world.fake.bot.user_id.clone()),
        password: Some(Secret::new(world.fake.bot.password.clone())),
        ..world.config()
    };
    let room = world.fake.dm().await;
    for (round, text) in ["one", "two"].iter().enumerate() {
        let running = world
            .start_with(
                ScriptedAgent::echo(),
                hermod_testkit::harness::allow_all(),
                config.clone(),
            )
            .await;
        if round == 0 {
            // A fresh install does not answer what came before its first sync.
            within("the first sync", world.fake.proxy.wait_until_polling()).await;
        }
        world.fake.alice.say(&room, text).await;
        world.fake.replies(&room, round + 1).await;
        running.stop().await;
    }
    let devices = world
        .fake
        .bot
        .call(reqwest::Method::GET, "devices", None)
        .await;
    let devices = devices["devices"].as_array().unwrap();
    assert_eq!(
        devices.len(),
        2,
        "the registration's device and one login, reused: {devices:?}"
    );
    let adapter = world.adapter(config);
    assert!(!format!("{adapter:?}").contains(&world.fake.bot.password));
}

#[tokio::test]
async fn typing_shows_in_the_room() {
    let Some(world) = world().await else { return };
    let adapter = world.adapter(world.config());
    let room = world.fake.dm().await;
    let target = ChatTarget {
        chat_id: room.clone(),
        thread_id: None,
    };
    let messenger = adapter.messenger().unwrap();
    within("typing", messenger.typing().unwrap().typing(&target))
        .await
        .unwrap();
    let filter = serde_json::json!({"room": {"rooms": [room], "timeline": {"limit": 0},
        "state": {"types": []}, "ephemeral": {"types": ["m.typing"]}}});
    let path = format!("sync?timeout=0&filter={}", urlencode(&filter.to_string()));
    let sync = world
        .fake
        .alice
        .call(reqwest::Method::GET, &path, None)
        .await;
    let typing = &sync["rooms"]["join"][&room]["ephemeral"]["events"][0];
    assert_eq!(typing["type"], "m.typing", "{sync}");
    assert_eq!(
        typing["content"]["user_ids"],
        serde_json::json!([world.fake.bot.user_id])
    );
}

fn urlencode(text: &str) -> String {
    let mut url = reqwest::Url::parse("http://x/").unwrap();
    url.query_pairs_mut().append_pair("v", text);
    url.query().unwrap().trim_start_matches("v=").to_owned()
}

#[tokio::test]
async fn a_send_repeated_with_its_idempotency_key_is_one_message() {
    let Some(world) = world().await else { return };
    let adapter = world.adapter(world.config());
    assert!(adapter.capabilities().idempotency_window.is_some());
    let room = world.fake.dm().await;
    let mut message = Outbound::text(
        ChatTarget {
            chat_id: room.clone(),
            thread_id: None,
        },
        "only once",
    );
    message.idempotency_key = Some("fabc0123456789".into());
    let messenger = adapter.messenger().unwrap();
    let first = within("a send", messenger.send(message.clone()))
        .await
        .unwrap();
    // As after a crash: a new adapter (same device), the same key.
    let again = world.adapter(world.config());
    let second = within("the same send", again.messenger().unwrap().send(message))
        .await
        .unwrap();
    assert_eq!(first.message_ids, second.message_ids);
    assert_eq!(
        world.fake.alice.texts(&room, &world.fake.bot.user_id).await,
        ["only once"]
    );
}
