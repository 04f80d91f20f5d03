//! The envelope rules on the JSON signal-cli writes (fixtures from
//! `signal-cli-jsonrpc(5)` and its `Json*` records).

use super::*;
use crate::SignalConfig;
use serde_json::json;

const ACCOUNT: &str = "+33111111111";
const ACCOUNT_UUID: &str = "aaaaaaaa-0000-4000-8000-000000000001";

fn config() -> SignalConfig {
    SignalConfig {
        http_url: Some("http://127.0.0.1:8080".into()),
        account: Some(ACCOUNT.into()),
        group_allowed_users: vec!["R1JPVVA=".into()],
        ..SignalConfig::default()
    }
}

fn ctx(config: &SignalConfig) -> Context<'_> {
    Context {
        account: ACCOUNT,
        account_uuid: Some(ACCOUNT_UUID),
        config,
        sent_by_us: &|ts| ts == 77,
    }
}

/// The man page's example notification, as `data:` carries its params.
fn dm(text: &str) -> Value {
    json!({"envelope": {"source": "+33123456789", "sourceNumber": "+33123456789", "sourceUuid": "uuid-1",
        "sourceName": "name", "sourceDevice": 1, "timestamp": 1631458508784u64,
        "dataMessage": {"timestamp": 1631458508784u64, "message": text, "expiresInSeconds": 0,
            "viewOnce": false, "mentions": [], "attachments": [], "contacts": []}},
        "account": ACCOUNT})
}

fn message(read: Read) -> Message {
    match read {
        Read::Message(m) => *m,
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn a_direct_message_is_keyed_by_sender_and_timestamp() {
    let config = config();
    let m = message(read(&dm("foobar"), ctx(&config)));
    assert_eq!(m.key, "+33123456789:1631458508784");
    assert_eq!(m.event.message_id.as_deref(), Some(m.key.as_str()));
    assert_eq!(m.event.content.text(), "foobar");
    let source = &m.event.source;
    assert_eq!(source.chat_type, ChatType::Dm);
    assert_eq!(source.chat_id.as_deref(), Some("+33123456789"));
    assert_eq!(source.user_id.as_deref(), Some("+33123456789"));
    assert_eq!(source.user_id_alt.as_deref(), Some("uuid-1"));
    assert_eq!(source.user_name.as_deref(), Some("name"));
    assert!(!m.event.vouched);
    assert_eq!(
        parse_message_id(&m.key, ACCOUNT),
        Some(("+33123456789", 1631458508784))
    );
    assert_eq!(parse_message_id("42", ACCOUNT), Some((ACCOUNT, 42)));
}

#[test]
fn a_sender_without_a_number_is_named_by_uuid() {
    let config = config();
    let mut params = dm("hi");
    params["envelope"]["sourceNumber"] = Value::Null;
    params["envelope"]["source"] = json!("uuid-1");
    let m = message(read(&params, ctx(&config)));
    assert_eq!(m.event.source.chat_id.as_deref(), Some("uuid-1"));
    assert_eq!(m.event.source.user_id_alt, None);
}

#[test]
fn own_sync_messages_receipts_typing_and_stories_are_skipped() {
    let config = config();
    // The man page's sync message: the account's own send.
    let sync = json!({"envelope": {"source": ACCOUNT, "sourceNumber": ACCOUNT, "sourceUuid": ACCOUNT_UUID,
        "sourceName": "name", "sourceDevice": 2, "timestamp": 1693064367769u64,
        "syncMessage": {"sentMessage": {"destination": "+33123456789", "destinationNumber": "+33123456789",
            "timestamp": 1693064367769u64, "message": "j", "expiresInSeconds": 0, "viewOnce": false}}}});
    assert_eq!(
        read(&sync, ctx(&config)),
        Read::Own {
            uuid: Some(ACCOUNT_UUID.into())
        }
    );
    let mut typing = dm("x");
    typing["envelope"]
        .as_object_mut()
        .unwrap()
        .remove("dataMessage");
    typing["envelope"]["typingMessage"] = json!({"action": "STARTED", "timestamp": 1});
    assert!(matches!(read(&typing, ctx(&config)), Read::Skip(_)));
    let mut story = typing.clone();
    story["envelope"]["storyMessage"] = json!({"allowsReplies": true});
    assert_eq!(read(&story, ctx(&config)), Read::Skip("a story"));
    let mut reaction = dm("");
    reaction["envelope"]["dataMessage"]["message"] = Value::Null;
    reaction["envelope"]["dataMessage"]["reaction"] =
        json!({"emoji": "👍", "targetSentTimestamp": 1});
    assert!(matches!(read(&reaction, ctx(&config)), Read::Skip(_)));
    assert!(matches!(
        read(&json!({"exception": {"message": "x"}}), ctx(&config)),
        Read::Skip(_)
    ));
}

fn group_message(text: &str, mentions: Value, group: &str) -> Value {
    let mut params = dm(text);
    params["envelope"]["dataMessage"]["mentions"] = mentions;
    params["envelope"]["dataMessage"]["groupInfo"] =
        json!({"groupId": group, "groupName": "Team", "revision": 3, "type": "DELIVER"});
    params
}

#[test]
fn groups_are_allowed_by_id_and_mentions_rendered() {
    let mut config = config();
    // "Hi 👋 ￼, and ￼": the emoji is two UTF-16 units, so the first
    // placeholder is at 6, the second at 13.
    let mentions = json!([
        {"name": "+33999", "number": "+33999", "uuid": "u-9", "start": 6, "length": 1},
        {"name": ACCOUNT, "number": ACCOUNT, "uuid": ACCOUNT_UUID, "start": 13, "length": 1}
    ]);
    let params = group_message("Hi 👋 \u{fffc}, and \u{fffc}", mentions, "R1JPVVA=");
    let m = message(read(&params, ctx(&config)));
    assert_eq!(m.event.content.text(), "Hi 👋 @+33999, and");
    assert_eq!(m.event.source.chat_id.as_deref(), Some("group:R1JPVVA="));
    assert_eq!(m.event.source.chat_type, ChatType::Group);
    assert_eq!(m.event.source.chat_name.as_deref(), Some("Team"));
    assert!(!m.event.vouched, "the sender is not vouched for");

    let other = group_message("hello", json!([]), "T1RIRVI=");
    assert!(matches!(read(&other, ctx(&config)), Read::Skip(_)));

    config.require_mention = true;
    let unmentioned = group_message("hello", json!([]), "R1JPVVA=");
    assert!(matches!(read(&unmentioned, ctx(&config)), Read::Skip(_)));
    assert!(matches!(read(&params, ctx(&config)), Read::Message(_)));

    config.group_allowed_users = vec!["*".into()];
    let m = message(read(&params, ctx(&config)));
    assert!(m.event.vouched, "`*` vouches for every member");
}

#[test]
fn quotes_edits_and_files_are_read() {
    let config = config();
    let mut quoted = dm("yes");
    quoted["envelope"]["dataMessage"]["quote"] = json!({"id": 5, "author": ACCOUNT, "authorNumber": ACCOUNT, "authorUuid": ACCOUNT_UUID, "text": "Shall I?"});
    assert_eq!(
        message(read(&quoted, ctx(&config))).event.content.text(),
        "> Shall I?\n\nyes"
    );

    let mut edited = dm("x");
    let data = edited["envelope"]
        .as_object_mut()
        .unwrap()
        .remove("dataMessage")
        .unwrap();
    edited["envelope"]["editMessage"] = json!({"targetSentTimestamp": 1, "dataMessage": data});
    assert_eq!(
        message(read(&edited, ctx(&config))).event.content.text(),
        "x"
    );

    let mut file = dm("");
    file["envelope"]["dataMessage"]["attachments"] = json!([{"contentType": "audio/aac", "filename": null,
        "id": "abc.aac", "size": 1234, "width": null, "height": null, "caption": null, "uploadTimestamp": 1}]);
    let m = message(read(&file, ctx(&config)));
    assert_eq!(
        m.files,
        [FileRef {
            id: "abc.aac".into(),
            kind: AttachmentKind::Voice,
            content_type: Some("audio/aac".into()),
            filename: None,
            size: Some(1234),
        }]
    );
}

#[test]
fn mentions_outside_the_text_are_left_alone() {
    let mentions = [json!({"number": "+1", "start": 50, "length": 1})];
    assert_eq!(render_mentions("short", &mentions), "short");
    let two = [
        json!({"number": "+1", "start": 0, "length": 1}),
        json!({"uuid": "u", "start": 2, "length": 1}),
    ];
    assert_eq!(render_mentions("\u{fffc} \u{fffc}!", &two), "@+1 @u!");
}

fn note(destination: &str, timestamp: u64) -> Value {
    json!({"envelope": {"source": ACCOUNT, "sourceNumber": ACCOUNT, "sourceUuid": ACCOUNT_UUID,
        "sourceName": "Me", "sourceDevice": 1, "timestamp": timestamp,
        "syncMessage": {"sentMessage": {"destination": destination, "destinationNumber": destination,
            "destinationUuid": null, "timestamp": timestamp, "message": "remind me", "expiresInSeconds": 0,
            "viewOnce": false, "mentions": [], "attachments": []}}}})
}

#[test]
fn notes_to_self_are_answered_but_not_our_own_echo() {
    let config = config();
    let m = message(read(&note(ACCOUNT, 5), ctx(&config)));
    assert_eq!(m.event.content.text(), "remind me");
    assert_eq!(m.event.source.chat_id.as_deref(), Some(ACCOUNT));
    assert_eq!(m.event.source.user_id.as_deref(), Some(ACCOUNT));
    assert_eq!(m.key, format!("{ACCOUNT}:5"));
    // 77 is one of our sends.
    assert!(matches!(
        read(&note(ACCOUNT, 77), ctx(&config)),
        Read::Own { .. }
    ));
    // To someone else: the owner talking, not to the bot.
    assert!(matches!(
        read(&note("+33123456789", 6), ctx(&config)),
        Read::Own { .. }
    ));
    // In an allowed group: Hermes answers it.
    let mut group = note("+33123456789", 8);
    group["envelope"]["syncMessage"]["sentMessage"]["groupInfo"] =
        json!({"groupId": "R1JPVVA=", "type": "DELIVER"});
    let m = message(read(&group, ctx(&config)));
    assert_eq!(m.event.source.chat_id.as_deref(), Some("group:R1JPVVA="));
}
