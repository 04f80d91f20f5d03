use super::*;
use serde_json::json;

const ROOM: &str = "!636q39766251:example.com";

fn bot() -> Bot {
    Bot {
        user_id: "@hermod:example.com".into(),
        display_name: Some("Agent Smith".into()),
    }
}

fn config() -> MatrixConfig {
    MatrixConfig {
        homeserver: "https://example.com".into(),
        ..MatrixConfig::default()
    }
}

/// The spec's `m.room.message` example, with `content` replaced.
fn message(content: Value) -> Value {
    let mut event = json!({
        "event_id": "$143273582443PhrSn:example.org",
        "origin_server_ts": 1_432_735_824_653_u64,
        "room_id": ROOM,
        "sender": "@example:example.org",
        "type": "m.room.message",
        "unsigned": {"age": 1234}
    });
    event["content"] = content;
    event
}

fn read_in(room: Room, config: &MatrixConfig, event: &Value) -> Read {
    read(&crate::PLATFORM, config, &bot(), ROOM, room, event, |_| {
        false
    })
}

const DM: Room = Room { is_dm: true };
const GROUP: Room = Room { is_dm: false };

fn incoming(read: Read) -> Incoming {
    match read {
        Read::Message(incoming) => *incoming,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn a_direct_message_is_answered_in_the_room() {
    let event = message(json!({"msgtype": "m.text", "body": "hello"}));
    let got = incoming(read_in(DM, &config(), &event));
    assert_eq!(got.text, "hello");
    assert_eq!(got.event_id, "$143273582443PhrSn:example.org");
    assert_eq!(got.source.chat_type, ChatType::Dm);
    assert_eq!(got.source.chat_id.as_deref(), Some(ROOM));
    assert_eq!(got.source.user_id.as_deref(), Some("@example:example.org"));
    assert_eq!(got.source.thread_id, None, "no auto thread in DMs");
}

#[test]
fn own_messages_notices_edits_and_other_events_are_skipped() {
    let mut own = message(json!({"msgtype": "m.text", "body": "mine"}));
    own["sender"] = json!("@hermod:example.com");
    assert!(matches!(read_in(DM, &config(), &own), Read::Skip(_)));
    let notice = message(json!({"msgtype": "m.notice", "body": "a bot"}));
    assert!(matches!(read_in(DM, &config(), &notice), Read::Skip(_)));
    let processing = MatrixConfig {
        process_notices: true,
        ..config()
    };
    assert!(matches!(
        read_in(DM, &processing, &notice),
        Read::Message(_)
    ));
    let edit = message(json!({
        "msgtype": "m.text", "body": "* fixed",
        "m.new_content": {"msgtype": "m.text", "body": "fixed"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$old"}
    }));
    assert!(matches!(read_in(DM, &config(), &edit), Read::Skip(_)));
    let redacted = message(json!({}));
    assert!(matches!(read_in(DM, &config(), &redacted), Read::Skip(_)));
    let mut topic = message(json!({"topic": "x"}));
    topic["type"] = json!("m.room.topic");
    assert!(matches!(read_in(DM, &config(), &topic), Read::Skip(_)));
    assert!(matches!(
        read_in(DM, &config(), &json!({"type": "m.room.message"})),
        Read::Malformed(_)
    ));
    let no_body = message(json!({"msgtype": "m.text"}));
    assert!(matches!(
        read_in(DM, &config(), &no_body),
        Read::Malformed(_)
    ));
}

#[test]
fn encrypted_events_are_reported_not_answered() {
    let mut event = message(json!({
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg...",
        "device_id": "RJYKSTBOIE",
        "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA",
        "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ"
    }));
    event["type"] = json!("m.room.encrypted");
    assert!(matches!(
        read_in(DM, &config(), &event),
        Read::Encrypted { sender, .. } if sender == "@example:example.org"
    ));
}

#[test]
fn group_rooms_need_a_mention_unless_free_or_in_a_bot_thread() {
    let plain = message(json!({"msgtype": "m.text", "body": "hello all"}));
    assert!(matches!(read_in(GROUP, &config(), &plain), Read::Skip(_)));

    let by_mentions = message(json!({
        "msgtype": "m.text", "body": "Hermod: what time is it?",
        "m.mentions": {"user_ids": ["@hermod:example.com"]}
    }));
    let got = incoming(read_in(GROUP, &config(), &by_mentions));
    assert_eq!(got.text, "what time is it?");
    assert_eq!(got.source.chat_type, ChatType::Group);
    assert_eq!(
        got.source.thread_id.as_deref(),
        Some("$143273582443PhrSn:example.org"),
        "auto thread: the reply starts a thread at the message"
    );

    let by_id = message(json!({"msgtype": "m.text", "body": "@hermod:example.com hi"}));
    assert_eq!(incoming(read_in(GROUP, &config(), &by_id)).text, "hi");
    let by_pill = message(json!({
        "msgtype": "m.text", "body": "Bot: hi",
        "format": "org.matrix.custom.html",
        "formatted_body": "<a href=\"https://matrix.to/#/@hermod:example.com\">Bot</a>: hi"
    }));
    assert!(matches!(
        read_in(GROUP, &config(), &by_pill),
        Read::Message(_)
    ));
    let by_name = message(json!({"msgtype": "m.text", "body": "Agent Smith: status?"}));
    assert_eq!(
        incoming(read_in(GROUP, &config(), &by_name)).text,
        "status?"
    );
    let not_a_word = message(json!({"msgtype": "m.text", "body": "hermodic things"}));
    assert!(matches!(
        read_in(GROUP, &config(), &not_a_word),
        Read::Skip(_)
    ));

    let free = MatrixConfig {
        free_response_rooms: vec![ROOM.into()],
        ..config()
    };
    assert!(matches!(read_in(GROUP, &free, &plain), Read::Message(_)));

    let in_thread = message(json!({
        "msgtype": "m.text", "body": "and then?",
        "m.relates_to": {"rel_type": "m.thread", "event_id": "$root", "is_falling_back": true,
                          "m.in_reply_to": {"event_id": "$last"}}
    }));
    let got = read(
        &crate::PLATFORM,
        &config(),
        &bot(),
        ROOM,
        GROUP,
        &in_thread,
        |root| root == "$root",
    );
    let got = incoming(got);
    assert_eq!(got.source.thread_id.as_deref(), Some("$root"));
    assert_eq!(got.text, "and then?");
    assert!(matches!(
        read_in(GROUP, &config(), &in_thread),
        Read::Skip(_)
    ));
}

#[test]
fn allowed_rooms_limit_group_rooms_only() {
    let limited = MatrixConfig {
        allowed_rooms: vec!["!other:example.com".into()],
        require_mention: false,
        ..config()
    };
    let event = message(json!({"msgtype": "m.text", "body": "hi"}));
    assert!(matches!(read_in(GROUP, &limited, &event), Read::Skip(_)));
    assert!(matches!(read_in(DM, &limited, &event), Read::Message(_)));
}

#[test]
fn auto_thread_can_be_turned_off_and_on_for_dms() {
    let event = message(json!({"msgtype": "m.text", "body": "hi"}));
    let off = MatrixConfig {
        auto_thread: false,
        require_mention: false,
        ..config()
    };
    assert_eq!(
        incoming(read_in(GROUP, &off, &event)).source.thread_id,
        None
    );
    let dm = MatrixConfig {
        dm_auto_thread: true,
        ..config()
    };
    assert!(
        incoming(read_in(DM, &dm, &event))
            .source
            .thread_id
            .is_some()
    );
}

#[test]
fn reply_fallbacks_are_dropped_and_slash_commands_become_bang() {
    let reply = message(json!({
        "msgtype": "m.text",
        "body": "> <@alice:example.org> earlier words\n> more\n\nmy answer",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$earlier"}}
    }));
    assert_eq!(incoming(read_in(DM, &config(), &reply)).text, "my answer");
    let command = message(json!({"msgtype": "m.text", "body": "/help"}));
    assert_eq!(incoming(read_in(DM, &config(), &command)).text, "!help");
    let path = message(json!({"msgtype": "m.text", "body": "/usr/bin/env"}));
    assert_eq!(incoming(read_in(DM, &config(), &path)).text, "/usr/bin/env");
}

#[test]
fn files_carry_their_mxc_uri_and_caption() {
    let image = message(json!({
        "msgtype": "m.image", "body": "filename.jpg",
        "info": {"h": 398, "mimetype": "image/jpeg", "size": 31037, "w": 394},
        "url": "mxc://example.org/JWEIFJgwEIhweiWJE"
    }));
    let got = incoming(read_in(DM, &config(), &image));
    assert_eq!(got.text, "");
    let media = got.media.unwrap();
    assert_eq!(media.kind, AttachmentKind::Photo);
    assert_eq!(media.mxc, "mxc://example.org/JWEIFJgwEIhweiWJE");
    assert_eq!(media.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(media.size, Some(31037));
    assert_eq!(media.file_name.as_deref(), Some("filename.jpg"));

    let captioned = message(json!({
        "msgtype": "m.file", "body": "the report", "filename": "report.pdf",
        "info": {"mimetype": "application/pdf", "size": 100},
        "url": "mxc://example.org/abc"
    }));
    let got = incoming(read_in(DM, &config(), &captioned));
    assert_eq!(got.text, "the report");
    assert_eq!(got.media.unwrap().file_name.as_deref(), Some("report.pdf"));

    let encrypted_file = message(json!({
        "msgtype": "m.file", "body": "secret.pdf", "file": {"url": "mxc://example.org/enc"}
    }));
    assert!(matches!(
        read_in(DM, &config(), &encrypted_file),
        Read::Skip(_)
    ));
}
