//! One Hermes session into hermod's store: imported whole the first time,
//! continued with Hermes' newer messages on a later run.
//!
//! Each imported session is remembered in the store's settings under
//! `import.hermes.session:<hermes id>`: the id of the last Hermes message
//! taken and how many messages hermod held for the session then. A later
//! run appends only Hermes' rows after that id, and only while hermod's
//! count is still the one recorded: once hermod has added turns of its own
//! the two conversations have parted, and Hermes' newer messages are left
//! out (and said so). A session whose messages were all skipped is
//! remembered the same way, so it is not "new" again on every run.
//!
//! The marker is written last. A run stopped before it (between creating
//! the session, appending, titling and ending it) is finished by the next
//! one: an existing session without a marker gets what it lacks.

use super::apply::{Summary, Target};
use super::hermes::{HermesMessage, HermesSession, Skipped};
use hermod_model::{Role, SessionId, SessionKey, Usage};
use hermod_store::{AppendMessages, NewMessage, NewSession, SessionRecord};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// What the import remembers of a session it imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Marker {
    /// The last Hermes message id taken (or seen, when skipped).
    last: i64,
    /// hermod's message count for the session after the import.
    count: u64,
}

/// The settings key of a session's [`Marker`].
fn marker_key(hermes_id: &str) -> String {
    format!("import.hermes.session:{hermes_id}")
}

/// Each of `messages` (with its Hermes id) as hermod stores it, or why it
/// is left out. A tool result is kept only when it answers a call of a
/// message kept before it: one answering a dropped call (or none) would
/// make every later turn of the conversation fail at the model.
fn convert(messages: &[HermesMessage]) -> Vec<(i64, Result<NewMessage, String>)> {
    let mut calls: HashSet<String> = HashSet::new();
    messages
        .iter()
        .map(|message| {
            let chat = message.to_chat().and_then(|chat| {
                if chat.role == Role::Tool {
                    match chat.tool_call_id.as_deref() {
                        None | Some("") => {
                            return Err("it is a tool result that names no tool call".to_owned());
                        }
                        Some(call) if !calls.contains(call) => {
                            return Err(format!(
                                "it answers the tool call {call}, which is not imported"
                            ));
                        }
                        Some(_) => {}
                    }
                }
                Ok(chat)
            });
            if let Ok(chat) = &chat {
                calls.extend(chat.tool_calls.iter().map(|c| c.id.clone()));
            }
            let converted = chat.map(|chat| NewMessage {
                message: chat,
                at_ms: message.at_ms,
                platform_message_id: message.platform_message_id.clone(),
            });
            (message.id, converted)
        })
        .collect()
}

/// Imports one session, or its messages newer than the last import;
/// `true` when hermod has the session afterwards.
pub async fn import(
    session: &HermesSession,
    target: &Target<'_>,
    summary: &mut Summary,
) -> anyhow::Result<bool> {
    let Ok(id) = SessionId::parse(&session.id) else {
        summary.skipped.push(Skipped::new(
            "session",
            &session.id,
            "its id is not one hermod can store",
        ));
        return Ok(false);
    };
    let existing = target.store.session(&id).await?;
    let key = marker_key(&session.id);
    let marker: Option<Marker> = target
        .store
        .setting(&key)
        .await?
        .and_then(|stored| serde_json::from_str(&stored).ok());
    let converted = convert(&session.messages);
    let usable_after = |after: i64| {
        converted
            .iter()
            .filter(|(at, m)| *at > after && m.is_ok())
            .count()
    };
    // The Hermes rows already in hermod (`None`: none), and whether the
    // session counts as new.
    let (after, new) = match (&existing, marker) {
        (None, _) => (None, true),
        (Some(record), Some(marker)) if record.message_count != marker.count => {
            parted(&id, usable_after(marker.last), summary);
            return Ok(true);
        }
        (Some(_), Some(marker)) => (Some(marker.last), false),
        // Created by a run that stopped before its messages.
        (Some(record), None) if record.message_count == 0 => (None, true),
        // Imported by a run that stopped before its marker: its messages
        // are all there when the counts agree.
        (Some(record), None) if record.message_count == usable_after(i64::MIN) as u64 => {
            (session.messages.iter().map(|m| m.id).max(), false)
        }
        (Some(record), None) => {
            summary.sessions.existing += 1;
            summary.skipped.push(Skipped::new(
                "messages",
                &format!("of session {id}"),
                &format!(
                    "hermod holds {} messages of this session and Hermes {}, and no record says \
                     which were imported; nothing more is taken",
                    record.message_count,
                    usable_after(i64::MIN)
                ),
            ));
            return Ok(true);
        }
    };
    let mut messages = Vec::new();
    let mut left_out: Vec<String> = Vec::new();
    for (at, message) in converted {
        if after.is_some_and(|after| at <= after) {
            continue;
        }
        match message {
            Ok(message) => messages.push(message),
            Err(why) => left_out.push(why),
        }
    }
    if !left_out.is_empty() {
        summary.skipped.push(Skipped::new(
            "messages",
            &format!("{} of session {id}", left_out.len()),
            &left_out.join("; "),
        ));
    }
    if new {
        summary.sessions.new += 1;
    } else {
        summary.sessions.existing += 1;
        if !messages.is_empty() {
            summary.continued += 1;
        }
    }
    summary.messages += messages.len();
    if !target.write {
        return Ok(true);
    }
    write(session, &id, existing.as_ref(), messages, target).await?;
    let count = target
        .store
        .session(&id)
        .await?
        .map_or(0, |record| record.message_count);
    let last = session
        .messages
        .iter()
        .map(|m| m.id)
        .chain(after)
        .max()
        .unwrap_or(0);
    let wanted = Marker { last, count };
    if marker != Some(wanted) {
        target
            .store
            .set_setting(&key, &serde_json::to_string(&wanted)?, target.now_ms)
            .await?;
    }
    Ok(true)
}

/// hermod has added turns of its own to an imported session since: its
/// `left` newer Hermes messages stay out.
fn parted(id: &SessionId, left: usize, summary: &mut Summary) {
    summary.sessions.existing += 1;
    if left > 0 {
        summary.skipped.push(Skipped::new(
            "messages",
            &format!("{left} of session {id}"),
            "hermod has continued this session since it was imported; Hermes' newer messages \
             are left behind",
        ));
    }
}

/// Creates the session if hermod has none, appends `messages`, and gives
/// it Hermes' title and end where hermod has none.
async fn write(
    session: &HermesSession,
    id: &SessionId,
    existing: Option<&SessionRecord>,
    messages: Vec<NewMessage>,
    target: &Target<'_>,
) -> anyhow::Result<()> {
    if existing.is_none() {
        let source = session.source();
        let key = session.key.clone().map_or_else(
            || SessionKey::build(&source, &target.key_policy),
            SessionKey::from_raw,
        );
        target
            .store
            .create_session(NewSession {
                id: id.clone(),
                key,
                source,
                created_at_ms: session.started_ms,
            })
            .await?;
    }
    if !messages.is_empty() {
        target
            .store
            .append_messages(AppendMessages {
                session: id.clone(),
                messages,
                usage: Usage::default(),
            })
            .await?;
    }
    if let Some(title) = session.title.as_deref().filter(|t| !t.trim().is_empty())
        && existing.is_none_or(|record| record.title.is_none())
    {
        target.store.set_title(id, title).await?;
    }
    if let Some(ended) = session.ended_ms
        && existing.is_none_or(|record| record.ended_at_ms.is_none())
    {
        let reason = session.end_reason.as_deref().unwrap_or("ended");
        target.store.end_session(id, reason, ended).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: i64, role: &str, call_id: Option<&str>, calls: Option<&str>) -> HermesMessage {
        HermesMessage {
            id,
            role: role.to_owned(),
            content: Some("x".to_owned()),
            tool_call_id: call_id.map(str::to_owned),
            tool_calls: calls.map(str::to_owned),
            tool_name: None,
            at_ms: id,
            platform_message_id: None,
        }
    }

    /// A dropped assistant message takes the results of its calls with
    /// it; a result naming no call is dropped too; the rest stays.
    #[test]
    fn tool_results_go_with_their_calls() {
        let good = r#"[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]"#;
        let messages = [
            message(1, "user", None, None),
            message(2, "assistant", None, Some("{broken")),
            message(3, "tool", Some("c0"), None),
            message(4, "assistant", None, Some(good)),
            message(5, "tool", Some("c1"), None),
            message(6, "tool", None, None),
            message(7, "assistant", None, None),
        ];
        let converted = convert(&messages);
        let kept: Vec<i64> = converted
            .iter()
            .filter(|(_, m)| m.is_ok())
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(kept, [1, 4, 5, 7]);
        let why = |i: usize| converted[i].1.as_ref().unwrap_err().clone();
        assert!(why(1).contains("tool calls are not JSON"), "{}", why(1));
        assert!(why(2).contains("answers the tool call c0"), "{}", why(2));
        assert!(why(5).contains("names no tool call"), "{}", why(5));
    }
}
