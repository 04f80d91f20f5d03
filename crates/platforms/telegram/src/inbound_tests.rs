//! Fixture updates (in the shapes of the Bot API documentation) through
//! [`convert`].

use super::*;
use crate::types::Update;

const BOT_ID: i64 = 7_000_000_001;

fn fixture(name: &str) -> Update {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&raw).unwrap()
}

fn run(name: &str, config: &TelegramConfig) -> Decision {
    let rules = Rules {
        bot_id: BOT_ID,
        bot_username: "hermod_test_bot",
        config,
    };
    convert(&fixture(name), &rules)
}

fn submitted(name: &str) -> Received {
    match run(name, &TelegramConfig::default()) {
        Decision::Submit(received) => *received,
        Decision::Ignore(why) => panic!("{name} was ignored: {why}"),
    }
}

fn ignored(name: &str, config: &TelegramConfig) -> &'static str {
    match run(name, config) {
        Decision::Ignore(why) => why,
        Decision::Submit(received) => panic!("{name} was submitted: {received:?}"),
    }
}

#[test]
fn a_private_message_is_a_dm() {
    let r = submitted("private_text");
    let s = &r.event.source;
    assert_eq!(s.platform.as_str(), "telegram");
    assert_eq!(s.chat_type, ChatType::Dm);
    assert_eq!(s.chat_id.as_deref(), Some("1111111"));
    assert_eq!(s.user_id.as_deref(), Some("1111111"));
    assert_eq!(s.user_name.as_deref(), Some("alice"));
    assert_eq!(s.thread_id, None);
    assert!(!s.is_bot);
    assert_eq!(r.event.content.text(), "Hello there");
    assert_eq!(r.event.message_id.as_deref(), Some("1365"));
    assert_eq!(r.key, "1111111:1365");
    assert!(r.media.is_empty());
}

#[test]
fn a_group_mention_after_an_emoji_is_found_by_utf16_offset() {
    let r = submitted("group_mention");
    let s = &r.event.source;
    assert_eq!(s.chat_type, ChatType::Group);
    assert_eq!(s.chat_id.as_deref(), Some("-1001234567890"));
    assert_eq!(s.chat_name.as_deref(), Some("Tea party"));
    assert_eq!(s.user_name.as_deref(), Some("Bob"));
    // Not a leading mention: the text is passed on unchanged.
    assert_eq!(r.event.content.text(), "🎉 hi @hermod_test_bot, what's up?");
}

#[test]
fn a_group_message_without_a_mention_is_ignored_unless_free() {
    let why = ignored("group_plain", &TelegramConfig::default());
    assert!(why.contains("not addressed"), "{why}");
    let free_chat = TelegramConfig {
        free_response_chats: vec!["-1001234567890".into()],
        ..TelegramConfig::default()
    };
    assert!(matches!(
        run("group_plain", &free_chat),
        Decision::Submit(_)
    ));
    let no_mention_needed = TelegramConfig {
        require_mention: false,
        ..TelegramConfig::default()
    };
    assert!(matches!(
        run("group_plain", &no_mention_needed),
        Decision::Submit(_)
    ));
}

#[test]
fn a_forum_topic_message_is_a_thread_of_the_group() {
    let r = submitted("forum_topic");
    let s = &r.event.source;
    assert_eq!(s.chat_type, ChatType::Group);
    assert_eq!(s.chat_id.as_deref(), Some("-1009876543210"));
    assert_eq!(s.thread_id.as_deref(), Some("42"));
    // The leading mention is removed; the topic root is not a quoted reply.
    assert_eq!(r.event.content.text(), "plan the trip");
    assert_eq!(r.key, "-1009876543210:120");
}

#[test]
fn a_photo_brings_its_largest_size_and_the_caption() {
    let r = submitted("photo_caption");
    assert_eq!(r.event.content.text(), "what is this?");
    assert_eq!(
        r.media,
        vec![MediaRef {
            kind: AttachmentKind::Photo,
            file_id: "AgADlarge".into(),
            unique_id: "AQADlarge".into(),
            file_name: None,
            mime_type: Some("image/jpeg".into()),
            size: Some(81000),
            label: None,
        }]
    );
}

#[test]
fn a_sticker_brings_its_image_emoji_and_set() {
    let r = submitted("sticker");
    assert_eq!(r.event.content.text(), "");
    assert_eq!(
        r.media,
        vec![MediaRef {
            kind: AttachmentKind::Sticker,
            file_id: "CAACAgIAAxkBAAIBsticker".into(),
            unique_id: "AgADsticker".into(),
            file_name: None,
            mime_type: Some("image/webp".into()),
            size: Some(23000),
            label: Some("👋 from \"Doggos\"".into()),
        }]
    );
}

#[test]
fn an_animated_sticker_brings_its_thumbnail_under_the_stickers_id() {
    let r = submitted("sticker_animated");
    let sticker = &r.media[0];
    assert_eq!(sticker.kind, AttachmentKind::Sticker);
    assert_eq!(sticker.file_id, "AAMCAgADanimthumb", "the still thumbnail");
    assert_eq!(sticker.unique_id, "AgADanimated", "cached by the sticker");
    assert_eq!(sticker.mime_type, None, "the thumbnail's type is sniffed");
    assert_eq!(sticker.label.as_deref(), Some("🎉 from \"Party\""));
}

#[test]
fn a_document_without_caption_is_submitted_for_its_file() {
    let r = submitted("document");
    assert_eq!(r.event.content.text(), "");
    assert_eq!(r.media.len(), 1);
    let doc = &r.media[0];
    assert_eq!(doc.kind, AttachmentKind::Document);
    assert_eq!(doc.file_name.as_deref(), Some("report.pdf"));
    assert_eq!(doc.mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(doc.size, Some(52000));
}

#[test]
fn a_reply_to_the_bot_is_addressed_and_quotes_it() {
    let r = submitted("reply_to_bot");
    assert_eq!(
        r.event.content.text(),
        "> The kettle is on.\n> Tea in five minutes.\n\nand then?"
    );
}

#[test]
fn commands_for_us_pass_and_commands_for_others_do_not() {
    let r = submitted("command_for_us");
    assert_eq!(r.event.content.text(), "/new@hermod_test_bot");
    let why = ignored("command_for_other", &TelegramConfig::default());
    assert!(why.contains("another bot"), "{why}");
    // Even where every message is answered.
    let free = TelegramConfig {
        require_mention: false,
        ..TelegramConfig::default()
    };
    ignored("command_for_other", &free);
}

#[test]
fn edits_are_ignored_by_default_and_keyed_apart_otherwise() {
    let why = ignored("edited_message", &TelegramConfig::default());
    assert!(why.contains("edited"), "{why}");
    let config = TelegramConfig {
        ignore_edits: false,
        ..TelegramConfig::default()
    };
    let Decision::Submit(r) = run("edited_message", &config) else {
        panic!("edit ignored");
    };
    assert_eq!(r.event.content.text(), "Hello there, edited");
    assert_eq!(r.key, "1111111:1365:edit:1441645590");
}

#[test]
fn unknown_kinds_and_channel_posts_are_ignored() {
    ignored("poll_answer", &TelegramConfig::default());
    let why = ignored("channel_post", &TelegramConfig::default());
    assert!(why.contains("channel"), "{why}");
}

#[test]
fn bots_are_ignored_unless_allowed_and_we_always_are() {
    let why = ignored("from_other_bot", &TelegramConfig::default());
    assert!(why.contains("bot"), "{why}");
    let allow = TelegramConfig {
        allow_bots: true,
        ..TelegramConfig::default()
    };
    let Decision::Submit(r) = run("from_other_bot", &allow) else {
        panic!("allowed bot ignored");
    };
    assert!(r.event.source.is_bot);
    assert_eq!(r.event.content.text(), "ping");

    let mut own = fixture("private_text");
    if let Some(m) = own.message.as_mut()
        && let Some(from) = m.from.as_mut()
    {
        from.id = BOT_ID;
        from.is_bot = true;
    }
    let rules = Rules {
        bot_id: BOT_ID,
        bot_username: "hermod_test_bot",
        config: &allow,
    };
    assert_eq!(convert(&own, &rules), Decision::Ignore("our own message"));
}

#[test]
fn group_allowlists_filter_senders_except_in_allowed_chats() {
    let strict = TelegramConfig {
        group_allowed_users: vec!["999".into()],
        ..TelegramConfig::default()
    };
    let why = ignored("group_mention", &strict);
    assert!(why.contains("GROUP_ALLOWED_USERS"), "{why}");
    let open_chat = TelegramConfig {
        group_allowed_chats: vec!["-1001234567890".into()],
        ..strict
    };
    assert!(matches!(
        run("group_mention", &open_chat),
        Decision::Submit(_)
    ));
    // DMs are not affected.
    assert!(matches!(
        run("private_text", &open_chat),
        Decision::Submit(_)
    ));
}

#[test]
fn mentions_without_entities_and_text_mentions() {
    let config = TelegramConfig::default();
    let rules = Rules {
        bot_id: BOT_ID,
        bot_username: "hermod_test_bot",
        config: &config,
    };
    assert!(mentions_bot("hey @Hermod_Test_Bot!", &[], &rules));
    assert!(!mentions_bot("hey @hermod_test_bot_two", &[], &rules));
    let entity = MessageEntity {
        kind: "text_mention".into(),
        offset: 0,
        length: 6,
        user: Some(User {
            id: BOT_ID,
            is_bot: true,
            first_name: "Hermod".into(),
            username: None,
        }),
    };
    assert!(mentions_bot("Hermod, hi", &[entity], &rules));
}

#[test]
fn utf16_offsets_map_to_byte_ranges() {
    let text = "a😀b";
    let entity = |offset, length| MessageEntity {
        kind: "mention".into(),
        offset,
        length,
        user: None,
    };
    assert_eq!(entity_text(text, &entity(1, 2)), Some("😀"));
    assert_eq!(entity_text(text, &entity(3, 1)), Some("b"));
    // Inside a surrogate pair, or past the end: no text.
    assert_eq!(entity_text(text, &entity(2, 1)), None);
    assert_eq!(entity_text(text, &entity(3, 5)), None);
}

#[test]
fn skipped_media_is_noted_in_the_text() {
    let mut r = submitted("document");
    append_line(
        &mut r.event,
        &skipped_media_note(AttachmentKind::Document, "it is larger than 1 MB"),
    );
    assert_eq!(
        r.event.content.text(),
        "[a file was attached but not downloaded: it is larger than 1 MB]"
    );
}
