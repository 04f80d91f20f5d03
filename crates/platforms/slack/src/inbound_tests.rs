//! The conversion on payloads shaped as Slack's documentation shows them
//! (`tests/fixtures/`).

use super::*;
use crate::files::SharedFileRef;
use crate::types::{MessageEvent, SlashCommand};

/// What `Rules::in_thread` holds.
type InThread = dyn Fn(&str, &str) -> bool + Sync;

const BOT: &str = "U0LAN0Z89";
const TEAM: &str = "T0001";

fn fixture(name: &str) -> &'static str {
    match name {
        "message_channel" => include_str!("../tests/fixtures/message_channel.json"),
        "message_im" => include_str!("../tests/fixtures/message_im.json"),
        "app_mention" => include_str!("../tests/fixtures/app_mention.json"),
        "message_mention" => include_str!("../tests/fixtures/message_mention.json"),
        "thread_reply" => include_str!("../tests/fixtures/thread_reply.json"),
        "message_changed" => include_str!("../tests/fixtures/message_changed.json"),
        "message_deleted" => include_str!("../tests/fixtures/message_deleted.json"),
        "bot_message" => include_str!("../tests/fixtures/bot_message.json"),
        "other_app_bot" => include_str!("../tests/fixtures/other_app_bot.json"),
        "own_message" => include_str!("../tests/fixtures/own_message.json"),
        "slash_command" => include_str!("../tests/fixtures/slash_command.json"),
        other => panic!("no fixture {other}"),
    }
}

fn event(name: &str) -> MessageEvent {
    serde_json::from_str(fixture(name)).unwrap()
}

fn convert_with(name: &str, config: &SlackConfig, in_thread: bool) -> Decision {
    let in_thread = move |_: &str, _: &str| in_thread;
    let rules = Rules {
        bot_user_id: BOT,
        bot_id: Some("B0LAN0Z89"),
        config,
        in_thread: &in_thread,
    };
    convert_message(TEAM, &event(name), &rules)
}

fn convert(name: &str) -> Decision {
    convert_with(name, &SlackConfig::default(), false)
}

fn submitted(decision: Decision) -> Received {
    match decision {
        Decision::Submit(received) => *received,
        other => panic!("expected a submission, got {other:?}"),
    }
}

#[test]
fn a_dm_is_answered_with_its_text_decoded() {
    let received = submitted(convert("message_im"));
    let source = &received.event.source;
    assert_eq!(source.chat_type, ChatType::Dm);
    assert_eq!(source.chat_id.as_deref(), Some("D024BE91L"));
    assert_eq!(source.user_id.as_deref(), Some("U2147483697"));
    assert_eq!(source.thread_id, None, "a DM is answered at the top");
    assert!(!source.is_bot);
    assert_eq!(
        received.event.content.text(),
        "Hello hello can you hear me? <tag> & a link (https://example.com)"
    );
    assert_eq!(
        received.event.message_id.as_deref(),
        Some("1355517523.000005")
    );
    assert_eq!(received.key, "T0001:D024BE91L:1355517523.000005");
}

#[test]
fn channel_messages_need_a_mention_unless_configured_otherwise() {
    assert!(matches!(convert("message_channel"), Decision::Ignore(_)));
    let free = SlackConfig {
        require_mention: false,
        ..SlackConfig::default()
    };
    let received = submitted(convert_with("message_channel", &free, false));
    assert_eq!(received.event.source.chat_type, ChatType::Group);
    assert_eq!(
        received.event.source.thread_id.as_deref(),
        Some("1355517523.000005"),
        "a top-level message is answered in a thread under it"
    );
}

#[test]
fn a_mention_arrives_twice_under_one_key() {
    let mention = submitted(convert("app_mention"));
    let message = submitted(convert("message_mention"));
    assert_eq!(mention.key, message.key);
    assert_eq!(mention.key, "T0001:C123ABC456:1515449522.000016");
    assert_eq!(
        mention.event.content.text(),
        "is it everything a river should be?"
    );
    assert_eq!(mention.event.content, message.event.content);
    assert_eq!(mention.event.source.chat_type, ChatType::Group);
    assert_eq!(mention.event.source, message.event.source);
}

#[test]
fn a_reply_in_the_bots_thread_needs_no_mention() {
    // The thread's parent is the bot's (parent_user_id).
    let received = submitted(convert("thread_reply"));
    assert_eq!(
        received.event.source.thread_id.as_deref(),
        Some("1515449522.000016")
    );
    assert_eq!(received.event.content.text(), "and what about the sea?");
    // A thread the bot was mentioned in but did not start.
    let mut reply = event("thread_reply");
    reply.parent_user_id = Some("U061F7AUR".into());
    let config = SlackConfig::default();
    let outside = |_: &str, _: &str| false;
    let inside = |c: &str, t: &str| c == "C123ABC456" && t == "1515449522.000016";
    let cases: [(&InThread, bool); 2] = [(&outside, false), (&inside, true)];
    for (in_thread, answered) in cases {
        let rules = Rules {
            bot_user_id: BOT,
            bot_id: None,
            config: &config,
            in_thread,
        };
        let decision = convert_message(TEAM, &reply, &rules);
        assert_eq!(
            matches!(decision, Decision::Submit(_)),
            answered,
            "{decision:?}"
        );
    }
}

#[test]
fn edits_deletions_and_integrations_are_not_answered() {
    for name in ["message_changed", "message_deleted", "bot_message"] {
        assert!(
            matches!(convert(name), Decision::Ignore(_)),
            "{name} was answered"
        );
    }
}

#[test]
fn our_own_messages_never_and_other_bots_as_configured() {
    let everyone = SlackConfig {
        allow_bots: AllowBots::All,
        require_mention: false,
        ..SlackConfig::default()
    };
    assert!(matches!(
        convert_with("own_message", &everyone, false),
        Decision::Ignore("our own message")
    ));
    assert!(matches!(convert("other_app_bot"), Decision::Ignore(_)));
    let mentions = SlackConfig {
        allow_bots: AllowBots::Mentions,
        ..SlackConfig::default()
    };
    let received = submitted(convert_with("other_app_bot", &mentions, false));
    assert!(received.event.source.is_bot);
    assert_eq!(received.event.source.user_name.as_deref(), Some("reporter"));
    assert_eq!(received.event.content.text(), "status report");
}

#[test]
fn channels_outside_the_allowlist_are_dropped() {
    let config = SlackConfig {
        allowed_channels: vec!["C999".into()],
        ..SlackConfig::default()
    };
    assert!(matches!(
        convert_with("app_mention", &config, false),
        Decision::Ignore(_)
    ));
    // DMs are not channels.
    assert!(matches!(
        convert_with("message_im", &config, false),
        Decision::Submit(_)
    ));
}

#[test]
fn events_without_channel_or_ts_are_malformed() {
    let mut broken = event("message_im");
    broken.ts = None;
    let config = SlackConfig::default();
    let never = |_: &str, _: &str| false;
    let rules = Rules {
        bot_user_id: BOT,
        bot_id: None,
        config: &config,
        in_thread: &never,
    };
    assert!(matches!(
        convert_message(TEAM, &broken, &rules),
        Decision::Malformed(_)
    ));
}

#[test]
fn a_slash_command_becomes_bang_text() {
    let command: SlashCommand = serde_json::from_str(fixture("slash_command")).unwrap();
    let config = SlackConfig::default();
    let never = |_: &str, _: &str| false;
    let rules = Rules {
        bot_user_id: BOT,
        bot_id: None,
        config: &config,
        in_thread: &never,
    };
    let received = submitted(convert_command(TEAM, &command, "env-1", &rules));
    assert_eq!(received.event.content.text(), "!weather 94070");
    assert_eq!(
        received.key,
        "slash:T0001:13345224609.738474920.8088930838d88f008e0"
    );
    let source = &received.event.source;
    assert_eq!(source.chat_type, ChatType::Group);
    assert_eq!(source.chat_id.as_deref(), Some("C2147483705"));
    assert_eq!(source.user_name.as_deref(), Some("Steve"));
    let parsed = hermod_model::parse_command(&received.event.content.text(), '!').unwrap();
    assert_eq!(parsed.name, "weather");

    let mut dm = command;
    dm.channel_id = "D0001".into();
    dm.channel_name = Some("directmessage".into());
    dm.text = String::new();
    let received = submitted(convert_command(TEAM, &dm, "env-2", &rules));
    assert_eq!(received.event.source.chat_type, ChatType::Dm);
    assert_eq!(received.event.content.text(), "!weather");
}

#[test]
fn slack_markup_reads_as_plain_text() {
    assert_eq!(
        plain_text(
            "hi <@U1> in <#C1|general> see <https://a.b/c?x=1&amp;y=2|docs> or <mailto:x@y.z> &lt;3 <!here>"
        ),
        "hi @U1 in #general see docs (https://a.b/c?x=1&y=2) or mailto:x@y.z <3 @here"
    );
    assert_eq!(plain_text("unclosed <tag"), "unclosed <tag");
    assert!(mentions("<@U0LAN0Z89|hermod> hi", BOT));
    assert!(!mentions("<@U0LAN0Z8> hi", BOT));
}

/// A `file_share` DM as Slack's reference shows it, without text.
fn file_share(files: &serde_json::Value) -> MessageEvent {
    serde_json::from_value(serde_json::json!({
        "type": "message",
        "subtype": "file_share",
        "text": "",
        "files": files,
        "user": "U061F7AUR",
        "upload": true,
        "display_as_bot": false,
        "bot_id": null,
        "ts": "1529342088.000086",
        "channel": "D0L4B9P0Q",
        "event_ts": "1529342088.000086",
        "channel_type": "im"
    }))
    .unwrap()
}

fn hosted(id: &str, mode: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "name": "ghostrap.png",
        "mimetype": "image/png",
        "filetype": "png",
        "size": 196_920,
        "mode": mode,
        "is_external": false,
        "url_private": format!("https://files.slack.com/files-pri/T061EG9R6-{id}/ghostrap.png"),
        "url_private_download": format!("https://files.slack.com/files-pri/T061EG9R6-{id}/download/ghostrap.png")
    })
}

fn convert_event(event: &MessageEvent, config: &SlackConfig) -> Decision {
    let never = |_: &str, _: &str| false;
    let rules = Rules {
        bot_user_id: BOT,
        bot_id: None,
        config,
        in_thread: &never,
    };
    convert_message(TEAM, event, &rules)
}

#[test]
fn a_file_share_without_text_is_answered_with_its_file() {
    let event = file_share(&serde_json::json!([hosted("F0RDC39U1", "hosted")]));
    let received = submitted(convert_event(&event, &SlackConfig::default()));
    assert_eq!(received.event.content.text(), "");
    assert_eq!(received.key, "T0001:D0L4B9P0Q:1529342088.000086");
    let [SharedFileRef::Fetch(fetch)] = received.files.as_slice() else {
        panic!("{:?}", received.files);
    };
    assert_eq!(fetch.file.id, "F0RDC39U1");
    assert_eq!(fetch.file.mime_type.as_deref(), Some("image/png"));
    assert_eq!(
        fetch.url,
        "https://files.slack.com/files-pri/T061EG9R6-F0RDC39U1/download/ghostrap.png"
    );
    // Without files, the same empty message is not answered.
    let empty = file_share(&serde_json::json!([]));
    assert_eq!(
        convert_event(&empty, &SlackConfig::default()),
        Decision::Ignore("an empty message")
    );
}

#[test]
fn slack_connect_external_and_deleted_files_are_kept_as_reasons() {
    let event = file_share(&serde_json::json!([
        {"id": "F12345678", "mode": "file_access", "file_access": "check_file_info",
         "created": 0, "timestamp": 0, "user": ""},
        hosted("F2", "external"),
        hosted("F3", "tombstone"),
        hosted("F4", "hosted"),
    ]));
    let received = submitted(convert_event(&event, &SlackConfig::default()));
    let kinds: Vec<&str> = received
        .files
        .iter()
        .map(|file| match file {
            SharedFileRef::Fetch(_) => "fetch",
            SharedFileRef::Skip(reason) => reason,
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "it comes from another organization through Slack Connect",
            "it is a link to a file stored outside Slack",
            "it was deleted",
            "fetch"
        ]
    );
}

#[test]
fn a_file_share_in_a_channel_follows_the_channel_rules() {
    let mut event = file_share(&serde_json::json!([hosted("F1", "hosted")]));
    event.channel = Some("C123ABC456".into());
    event.channel_type = Some("channel".into());
    let config = SlackConfig::default();
    assert!(matches!(
        convert_event(&event, &config),
        Decision::Ignore("a channel message that does not mention the bot")
    ));
    event.text = Some(format!("<@{BOT}> what is this?"));
    let received = submitted(convert_event(&event, &config));
    assert_eq!(received.event.content.text(), "what is this?");
    assert_eq!(received.files.len(), 1);
}
