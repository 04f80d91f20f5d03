//! Core's targets and messages → Web API arguments: a pure conversion.
//!
//! A target is a conversation id (`C…`, `G…`, `D…`) and, in channels, the
//! thread's `ts`; a message id is the message's `ts`. Text is mrkdwn
//! (Slack's default for `text`, so `mrkdwn` is not sent).

use crate::api::Args;
use hermod_core::AdapterError;
use hermod_model::ChatTarget;
use serde_json::json;

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub channel: String,
    /// The thread to post in (`thread_ts`).
    pub thread_ts: Option<String>,
}

impl Target {
    pub(crate) fn parse(target: &ChatTarget) -> Result<Self, AdapterError> {
        let channel = target.chat_id.trim();
        if channel.is_empty() {
            return Err(AdapterError::Rejected("no Slack conversation id".into()));
        }
        let thread_ts = target
            .thread_id
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if let Some(ts) = &thread_ts
            && !is_ts(ts)
        {
            return Err(AdapterError::Rejected(format!(
                "{ts:?} is not a Slack thread (a message ts such as 1712345678.000100)"
            )));
        }
        Ok(Self {
            channel: channel.to_owned(),
            thread_ts,
        })
    }
}

/// A message `ts` from core's string form.
pub(crate) fn message_ts(raw: &str) -> Result<String, AdapterError> {
    let ts = raw.trim();
    if is_ts(ts) {
        Ok(ts.to_owned())
    } else {
        Err(AdapterError::NotFound(format!(
            "{raw:?} is not a Slack message ts"
        )))
    }
}

/// `1712345678.000100`: digits, a dot, digits.
fn is_ts(raw: &str) -> bool {
    raw.split_once('.').is_some_and(|(secs, micros)| {
        !secs.is_empty()
            && !micros.is_empty()
            && secs.bytes().all(|b| b.is_ascii_digit())
            && micros.bytes().all(|b| b.is_ascii_digit())
    })
}

pub(crate) fn post_message(target: &Target, text: &str) -> Args {
    let mut args = vec![
        ("channel", target.channel.clone()),
        ("text", text.to_owned()),
    ];
    if let Some(thread) = &target.thread_ts {
        args.push(("thread_ts", thread.clone()));
    }
    args
}

pub(crate) fn update(channel: &str, ts: &str, text: &str) -> Args {
    vec![
        ("channel", channel.to_owned()),
        ("ts", ts.to_owned()),
        ("text", text.to_owned()),
    ]
}

pub(crate) fn delete(channel: &str, ts: &str) -> Args {
    vec![("channel", channel.to_owned()), ("ts", ts.to_owned())]
}

/// `reactions.add` / `reactions.remove` of `name` (without colons).
pub(crate) fn reaction(channel: &str, ts: &str, name: &str) -> Args {
    vec![
        ("channel", channel.to_owned()),
        ("timestamp", ts.to_owned()),
        ("name", name.to_owned()),
    ]
}

pub(crate) fn upload_url(filename: &str, length: u64) -> Args {
    vec![
        ("filename", filename.to_owned()),
        ("length", length.to_string()),
    ]
}

/// `files.info` of `file_id`: where it is shared. No comments are
/// wanted, so one is the page.
pub(crate) fn file_info(file_id: &str) -> Args {
    vec![("file", file_id.to_owned()), ("count", "1".to_owned())]
}

/// `files.completeUploadExternal` sharing `file_id` in the target, with
/// `comment` as the message that carries it.
pub(crate) fn complete_upload(
    file_id: &str,
    title: &str,
    target: &Target,
    comment: Option<&str>,
) -> Args {
    let files = json!([{ "id": file_id, "title": title }]).to_string();
    let mut args = vec![("files", files), ("channel_id", target.channel.clone())];
    if let Some(thread) = &target.thread_ts {
        args.push(("thread_ts", thread.clone()));
    }
    if let Some(comment) = comment {
        args.push(("initial_comment", comment.to_owned()));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(thread: Option<&str>) -> Target {
        Target::parse(&ChatTarget {
            chat_id: "C123ABC456".into(),
            thread_id: thread.map(str::to_owned),
        })
        .unwrap()
    }

    #[test]
    fn a_message_goes_to_its_thread() {
        assert_eq!(
            post_message(&target(Some("1515449522.000016")), "*hi*"),
            vec![
                ("channel", "C123ABC456".to_owned()),
                ("text", "*hi*".to_owned()),
                ("thread_ts", "1515449522.000016".to_owned()),
            ]
        );
        assert_eq!(post_message(&target(None), "x").len(), 2);
        assert!(
            Target::parse(&ChatTarget {
                chat_id: "C1".into(),
                thread_id: Some("topic".into())
            })
            .is_err()
        );
        assert!(
            Target::parse(&ChatTarget {
                chat_id: " ".into(),
                thread_id: None
            })
            .is_err()
        );
    }

    #[test]
    fn edits_deletions_reactions_and_uploads() {
        assert_eq!(
            update("C1", "1.2", "new"),
            vec![
                ("channel", "C1".to_owned()),
                ("ts", "1.2".to_owned()),
                ("text", "new".to_owned())
            ]
        );
        assert_eq!(delete("C1", "1.2")[1], ("ts", "1.2".to_owned()));
        assert_eq!(
            reaction("C1", "1.2", "eyes")[1],
            ("timestamp", "1.2".to_owned())
        );
        assert_eq!(upload_url("a.png", 42)[1], ("length", "42".to_owned()));
        let done = complete_upload("F1", "a.png", &target(Some("1.5")), Some("look"));
        assert_eq!(
            done[0],
            ("files", r#"[{"id":"F1","title":"a.png"}]"#.to_owned())
        );
        assert!(done.contains(&("thread_ts", "1.5".to_owned())));
        assert!(done.contains(&("initial_comment", "look".to_owned())));
        assert_eq!(message_ts(" 1.2 ").unwrap(), "1.2");
        assert!(matches!(message_ts("abc"), Err(AdapterError::NotFound(_))));
    }
}
