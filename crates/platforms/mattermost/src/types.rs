//! Mattermost's JSON and the pure conversions around it: a websocket
//! frame → what it is, a post → what the adapter does with it.
//!
//! A frame is either the answer to an action the client sent
//! (`{"status": "OK"|"FAIL", "seq_reply": n, "error": {...}}`) or an event
//! (`{"event": ..., "data": {...}, "broadcast": {...}, "seq": n}`). A
//! `posted` event carries the post as a JSON *string* in `data.post`, the
//! channel's type (`D` direct, `G` group, `O` open, `P` private) in
//! `data.channel_type`, the author as `data.sender_name` (`@name`) and the
//! users it mentions as a JSON string of an array in `data.mentions`.

use crate::config::{MattermostConfig, ReplyMode};
use hermod_adapter_kit::config::AllowBots;
use hermod_model::{ChatType, InboundEvent, Source};
use serde::Deserialize;
use serde_json::Value;

/// A post, as the API answers it and events carry it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Post {
    pub id: String,
    #[serde(default)]
    pub create_at: i64,
    #[serde(default)]
    pub delete_at: i64,
    #[serde(default)]
    pub user_id: String,
    #[serde(default)]
    pub channel_id: String,
    #[serde(default)]
    pub root_id: String,
    #[serde(default)]
    pub message: String,
    /// Empty for users' posts; `system_join_channel` and the like for the
    /// server's.
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub props: Value,
    #[serde(default)]
    pub file_ids: Option<Vec<String>>,
}

impl Post {
    /// Posted by an integration or a bot account (`props.from_bot`).
    fn is_from_bot(&self) -> bool {
        matches!(self.props.get("from_bot"), Some(Value::String(s)) if s == "true")
            || self.props.get("from_bot") == Some(&Value::Bool(true))
    }

    pub(crate) fn files(&self) -> &[String] {
        self.file_ids.as_deref().unwrap_or_default()
    }
}

/// Who the bot is (`GET /api/v4/users/me`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Me {
    pub id: String,
    #[serde(default)]
    pub username: String,
}

/// One websocket frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Frame {
    /// The answer to the action numbered `seq_reply`.
    Reply {
        seq_reply: i64,
        ok: bool,
        error: Option<String>,
    },
    /// An event, numbered by the connection.
    Event {
        event: String,
        seq: Option<i64>,
        data: Value,
    },
}

/// Reads a frame; the error says why it is not one.
pub(crate) fn read_frame(text: &str) -> Result<Frame, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if let Some(seq_reply) = value.get("seq_reply").and_then(Value::as_i64) {
        let error = value.get("error").map(|e| {
            e.get("id")
                .and_then(Value::as_str)
                .map_or_else(|| e.to_string(), str::to_owned)
        });
        return Ok(Frame::Reply {
            seq_reply,
            ok: value.get("status").and_then(Value::as_str) == Some("OK"),
            error,
        });
    }
    match value.get("event").and_then(Value::as_str) {
        Some(event) => Ok(Frame::Event {
            event: event.to_owned(),
            seq: value.get("seq").and_then(Value::as_i64),
            data: value.get("data").cloned().unwrap_or(Value::Null),
        }),
        None => Err("neither an event nor a reply".into()),
    }
}

/// A `posted` event's data, read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Posted {
    pub post: Post,
    /// `D`, `G`, `O` or `P`.
    pub channel_type: String,
    /// The author's username, without `@`, when the event names it.
    pub sender_name: Option<String>,
    pub channel_name: Option<String>,
}

/// Reads a `posted` event's data (its post double-encoded).
pub(crate) fn read_posted(data: &Value) -> Result<Posted, String> {
    let raw = data
        .get("post")
        .and_then(Value::as_str)
        .ok_or("a posted event without its post")?;
    let post: Post =
        serde_json::from_str(raw).map_err(|e| format!("its post cannot be read: {e}"))?;
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .map(|s| s.trim_start_matches('@').to_owned())
            .filter(|s| !s.is_empty())
    };
    Ok(Posted {
        channel_type: text("channel_type").unwrap_or_else(|| "O".into()),
        sender_name: text("sender_name"),
        channel_name: text("channel_display_name").or_else(|| text("channel_name")),
        post,
    })
}

/// What to do with a post.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Answer it: the event (files still to add) under the post's id.
    Submit(Box<InboundEvent>),
    /// Not for the bot; the cursor moves past it all the same.
    Skip(&'static str),
}

/// Where `needle` (ASCII, as Mattermost usernames and ids are) starts
/// in `hay`, ASCII case ignored.
fn find_ascii(hay: &str, needle: &str) -> Option<usize> {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    (0..hay.len().checked_sub(needle.len())? + 1)
        .find(|&at| hay[at..at + needle.len()].eq_ignore_ascii_case(needle))
}

/// Whether `text` mentions the bot (`@username` or `@user_id`), as Hermes
/// checks it.
pub(crate) fn mentions(text: &str, me: &Me) -> bool {
    [&me.username, &me.id]
        .iter()
        .filter(|n| !n.is_empty())
        .any(|name| find_ascii(text, &format!("@{name}")).is_some())
}

/// `text` without the bot's mentions, trimmed (so a command typed after
/// the mention, or after a space to get past the web app's own `/`
/// commands, is still a command).
fn strip_mentions(text: &str, me: &Me) -> String {
    let mut out = text.to_owned();
    for name in [&me.username, &me.id].into_iter().filter(|n| !n.is_empty()) {
        let needle = format!("@{name}");
        if !needle.is_ascii() {
            continue;
        }
        // The match is ASCII, so its ends are character boundaries.
        while let Some(at) = find_ascii(&out, &needle) {
            out.replace_range(at..at + needle.len(), "");
        }
    }
    out.trim().to_owned()
}

/// Decides what to do with `posted` for the bot `me`, by the settings.
pub(crate) fn decide(posted: &Posted, me: &Me, config: &MattermostConfig) -> Verdict {
    let post = &posted.post;
    if post.user_id == me.id {
        return Verdict::Skip("our own post");
    }
    if !post.kind.is_empty() {
        return Verdict::Skip("a system post");
    }
    if post.delete_at != 0 {
        return Verdict::Skip("deleted");
    }
    let direct = posted.channel_type == "D";
    let mentioned = mentions(&post.message, me);
    if post.is_from_bot() {
        match config.allow_bots {
            AllowBots::None => return Verdict::Skip("another bot's post"),
            AllowBots::Mentions if !mentioned => return Verdict::Skip("another bot's post"),
            _ => {}
        }
    }
    if !direct {
        if !config.channel_allowed(&post.channel_id) {
            return Verdict::Skip("a channel not in MATTERMOST_ALLOWED_CHANNELS");
        }
        if !config.free_response(&post.channel_id) && !mentioned {
            return Verdict::Skip("a channel message without a mention");
        }
    }
    let text = if mentioned {
        strip_mentions(&post.message, me)
    } else {
        post.message.trim().to_owned()
    };
    if text.is_empty() && post.files().is_empty() {
        return Verdict::Skip("no text");
    }
    let chat_type = match posted.channel_type.as_str() {
        "D" => ChatType::Dm,
        "G" => ChatType::Group,
        _ => ChatType::Channel,
    };
    let thread_id = if !post.root_id.is_empty() {
        Some(post.root_id.clone())
    } else if config.reply_mode == ReplyMode::Thread && !direct {
        Some(post.id.clone())
    } else {
        None
    };
    let source = Source {
        chat_type,
        chat_name: posted.channel_name.clone(),
        user_id: Some(post.user_id.clone()),
        user_name: posted.sender_name.clone(),
        thread_id,
        is_bot: post.is_from_bot(),
        ..Source::dm(crate::PLATFORM, post.channel_id.clone())
    };
    let mut event = InboundEvent::text(source, text);
    event.message_id = Some(post.id.clone());
    Verdict::Submit(Box::new(event))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test helpers fail loudly on unexpected errors"
    )]

    use super::*;
    use hermod_model::Content;
    use serde_json::json;

    fn me() -> Me {
        Me {
            id: "bot0000000000000000000000a".into(),
            username: "hermod".into(),
        }
    }

    /// A `posted` event as the API reference shows it (data.post a string).
    fn posted(channel_type: &str, message: &str, extra: &Value) -> Value {
        let mut post = json!({
            "id": "p1aaaaaaaaaaaaaaaaaaaaaaaa",
            "create_at": 1_700_000_000_000_i64,
            "update_at": 1_700_000_000_000_i64,
            "delete_at": 0,
            "user_id": "u1aaaaaaaaaaaaaaaaaaaaaaaa",
            "channel_id": "c1aaaaaaaaaaaaaaaaaaaaaaaa",
            "root_id": "",
            "message": message,
            "type": "",
            "props": {},
            "file_ids": null,
        });
        if let Some(map) = extra.as_object() {
            for (k, v) in map {
                post[k] = v.clone();
            }
        }
        json!({
            "channel_display_name": "Town Square",
            "channel_name": "town-square",
            "channel_type": channel_type,
            "post": post.to_string(),
            "sender_name": "@alice",
            "set_online": true,
            "team_id": "t1",
        })
    }

    fn text(verdict: &Verdict) -> String {
        match verdict {
            Verdict::Submit(e) => match &e.content {
                Content::Text(t) => t.clone(),
                other => panic!("text, not {other:?}"),
            },
            Verdict::Skip(why) => panic!("skipped: {why}"),
        }
    }

    #[test]
    fn frames_are_replies_or_numbered_events() {
        let ok = read_frame(r#"{"status": "OK", "seq_reply": 1}"#).unwrap();
        assert_eq!(
            ok,
            Frame::Reply {
                seq_reply: 1,
                ok: true,
                error: None
            }
        );
        let fail = read_frame(
            r#"{"status":"FAIL","seq_reply":2,"error":{"id":"api.web_socket_router.bad_action.app_error","message":"x"}}"#,
        )
        .unwrap();
        assert!(
            matches!(fail, Frame::Reply { ok: false, error: Some(e), .. } if e.contains("bad_action"))
        );
        let hello = read_frame(
            r#"{"event":"hello","data":{"connection_id":"abc","server_version":"10"},"broadcast":{"omit_users":null,"user_id":"u","channel_id":"","team_id":""},"seq":0}"#,
        )
        .unwrap();
        assert!(matches!(hello, Frame::Event { ref event, seq: Some(0), .. } if event == "hello"));
        assert!(read_frame("{not json").is_err());
        assert!(read_frame("{}").is_err());
    }

    #[test]
    fn a_direct_message_is_answered_with_its_author_and_channel() {
        let data = posted("D", "hello there", &json!({}));
        let posted = read_posted(&data).unwrap();
        assert_eq!(posted.sender_name.as_deref(), Some("alice"));
        let verdict = decide(&posted, &me(), &MattermostConfig::default());
        assert_eq!(text(&verdict), "hello there");
        let Verdict::Submit(event) = verdict else {
            unreachable!()
        };
        assert_eq!(event.source.chat_type, ChatType::Dm);
        assert_eq!(
            event.source.chat_id.as_deref(),
            Some("c1aaaaaaaaaaaaaaaaaaaaaaaa")
        );
        assert_eq!(
            event.source.user_id.as_deref(),
            Some("u1aaaaaaaaaaaaaaaaaaaaaaaa")
        );
        assert_eq!(
            event.message_id.as_deref(),
            Some("p1aaaaaaaaaaaaaaaaaaaaaaaa")
        );
        assert_eq!(event.source.thread_id, None);
    }

    #[test]
    fn channels_need_a_mention_which_is_stripped() {
        let config = MattermostConfig::default();
        let quiet = read_posted(&posted("O", "just chatting", &json!({}))).unwrap();
        assert_eq!(
            decide(&quiet, &me(), &config),
            Verdict::Skip("a channel message without a mention")
        );
        let asked = read_posted(&posted("O", "@Hermod what time is it?", &json!({}))).unwrap();
        assert_eq!(text(&decide(&asked, &me(), &config)), "what time is it?");
        let free = MattermostConfig {
            free_response_channels: vec!["c1aaaaaaaaaaaaaaaaaaaaaaaa".into()],
            ..MattermostConfig::default()
        };
        assert_eq!(text(&decide(&quiet, &me(), &free)), "just chatting");
        let fenced = MattermostConfig {
            allowed_channels: vec!["other".into()],
            ..MattermostConfig::default()
        };
        assert!(matches!(decide(&asked, &me(), &fenced), Verdict::Skip(_)));
        // Direct messages are not fenced by the channel list.
        let direct = read_posted(&posted("D", "hi", &json!({}))).unwrap();
        assert!(matches!(
            decide(&direct, &me(), &fenced),
            Verdict::Submit(_)
        ));
    }

    #[test]
    fn own_system_and_bot_posts_are_skipped() {
        let config = MattermostConfig::default();
        let own = read_posted(&posted("D", "x", &json!({"user_id": me().id}))).unwrap();
        assert_eq!(decide(&own, &me(), &config), Verdict::Skip("our own post"));
        let system = read_posted(&posted(
            "O",
            "joined",
            &json!({"type": "system_join_channel"}),
        ))
        .unwrap();
        assert_eq!(
            decide(&system, &me(), &config),
            Verdict::Skip("a system post")
        );
        let bot = read_posted(&posted(
            "D",
            "beep",
            &json!({"props": {"from_bot": "true"}}),
        ))
        .unwrap();
        assert_eq!(
            decide(&bot, &me(), &config),
            Verdict::Skip("another bot's post")
        );
        let all = MattermostConfig {
            allow_bots: AllowBots::All,
            ..MattermostConfig::default()
        };
        assert!(matches!(decide(&bot, &me(), &all), Verdict::Submit(_)));
    }

    #[test]
    fn threads_follow_the_root_and_the_reply_mode() {
        let reply = read_posted(&posted(
            "D",
            "more",
            &json!({"root_id": "root00000000000000000000aa"}),
        ))
        .unwrap();
        let Verdict::Submit(event) = decide(&reply, &me(), &MattermostConfig::default()) else {
            panic!("answered");
        };
        assert_eq!(
            event.source.thread_id.as_deref(),
            Some("root00000000000000000000aa")
        );
        let thread = MattermostConfig {
            reply_mode: ReplyMode::Thread,
            ..MattermostConfig::default()
        };
        let top = read_posted(&posted("O", "@hermod hi", &json!({}))).unwrap();
        let Verdict::Submit(event) = decide(&top, &me(), &thread) else {
            panic!("answered");
        };
        assert_eq!(
            event.source.thread_id.as_deref(),
            Some("p1aaaaaaaaaaaaaaaaaaaaaaaa")
        );
        assert_eq!(event.source.chat_type, ChatType::Channel);
        let direct = read_posted(&posted("D", "hi", &json!({}))).unwrap();
        let Verdict::Submit(event) = decide(&direct, &me(), &thread) else {
            panic!("answered");
        };
        assert_eq!(event.source.thread_id, None, "direct messages stay flat");
    }

    #[test]
    fn broken_posted_events_are_errors() {
        assert!(read_posted(&json!({"channel_type": "D"})).is_err());
        assert!(read_posted(&json!({"post": "{not json"})).is_err());
        assert!(
            read_posted(&json!({"post": {"id": "x"}})).is_err(),
            "the post is a string"
        );
    }
}
