//! Carrying out one claimed handoff: home channel, thread, route, summary.
//!
//! The summary is the last few exchanges as they were stored, not one
//! written by the agent: it costs no model call, cannot fail on the model,
//! and shows the chat exactly where the conversation left off (the agent
//! itself gets the whole history with the next message anyway).

use crate::delivery::Deliveries;
use crate::router::Shared;
use hermod_model::{ChatTarget, DeliveryTarget, Role, SessionKey, Source};
use hermod_store::{Handoff, StoredMessage};
use std::sync::Arc;

/// Messages (user and agent text) the summary shows.
const SUMMARY_MESSAGES: usize = 6;
/// Characters shown of each.
const SUMMARY_CHARS: usize = 300;
/// Characters of a thread's title (the strictest platform allows 100).
const TITLE_CHARS: usize = 90;

/// Carries out `handoff`; returns where the conversation went, or why it
/// could not.
pub(super) async fn carry(shared: &Arc<Shared>, handoff: &Handoff) -> Result<ChatTarget, String> {
    let deps = shared.deps();
    let platform = &handoff.platform;
    let Some(adapter) = deps.adapters.get(platform) else {
        let mut running: Vec<&str> = deps.adapters.keys().map(|p| p.as_str()).collect();
        running.sort_unstable();
        return Err(format!(
            "{platform} is not running in this gateway (running: {}); enable it in the \
             configuration and restart the gateway",
            running.join(", ")
        ));
    };
    let Some(messenger) = adapter.messenger() else {
        return Err(format!(
            "{platform} answers requests and has no chat to continue in"
        ));
    };
    let deliveries = Deliveries::new(Arc::clone(shared));
    let home = deliveries
        .home_channel(platform)
        .await
        .map_err(|e| e.to_string())?;
    let session = deps
        .store
        .session(&handoff.session)
        .await
        .map_err(|e| format!("cannot read the session: {e}"))?
        .ok_or_else(|| format!("session {} no longer exists", handoff.session))?;
    let messages = deps
        .store
        .messages(&handoff.session)
        .await
        .map_err(|e| format!("cannot read the conversation: {e}"))?;

    let title = thread_title(session.title.as_deref(), &messages);
    let place = match messenger.threads() {
        Some(threads) => threads
            .create_thread(&home, &title)
            .await
            .map_err(|e| format!("{platform} refused to open a thread in the home channel: {e}"))?,
        // No threads: the home chat itself, taken to be a direct chat.
        None => Source {
            thread_id: home.thread_id.clone(),
            ..Source::dm(platform.clone(), home.chat_id.clone())
        },
    };
    let Some(chat_id) = place.chat_id.clone() else {
        return Err(format!("{platform} opened a thread without a chat id"));
    };
    let target = ChatTarget {
        chat_id,
        thread_id: place.thread_id.clone(),
    };

    // Routed before the summary shows, so an answer to it continues the
    // session however quickly it comes.
    let key = SessionKey::build(&place, &deps.key_policy);
    let now = deps.clock.now_ms();
    let store = deps.store.as_ref();
    let routed = async {
        if let Some(previous) = store.route(&key).await?
            && previous != handoff.session
        {
            store.end_session(&previous, "session_switch", now).await?;
        }
        store.reopen_session(&handoff.session).await?;
        store.set_route(&key, &handoff.session, now).await
    };
    routed
        .await
        .map_err(|e| format!("cannot route {key} to the session: {e}"))?;

    let text = summary(
        &session.platform.to_string(),
        &handoff.session.to_string(),
        session.title.as_deref(),
        &messages,
    );
    let destination = DeliveryTarget::Chat {
        platform: platform.clone(),
        chat_id: target.chat_id.clone(),
        thread_id: target.thread_id.clone(),
    };
    let key = format!("handoff:{}:{}", handoff.session, handoff.requested_at_ms);
    deliveries
        .deliver(&destination, None, &text, &key)
        .await
        .map_err(|e| format!("the summary could not be posted: {e}"))?;
    Ok(target)
}

/// The new thread's title: the session's title, else the start of its
/// first user message.
fn thread_title(title: Option<&str>, messages: &[StoredMessage]) -> String {
    let subject = title.map(str::to_owned).or_else(|| {
        messages
            .iter()
            .find(|m| m.message.role == Role::User)
            .map(|m| m.message.text())
    });
    let subject = subject
        .as_deref()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "handed-off conversation".to_owned());
    shorten(&format!("hermod — {subject}"), TITLE_CHARS)
}

/// What the destination is shown: where the conversation came from and
/// its last few exchanges.
fn summary(from: &str, session: &str, title: Option<&str>, messages: &[StoredMessage]) -> String {
    let said: Vec<(&str, String)> = messages
        .iter()
        .filter_map(|m| {
            let who = match m.message.role {
                Role::User => "You",
                Role::Assistant => "Agent",
                _ => return None,
            };
            let text = m.message.text();
            let text = text.trim();
            (!text.is_empty()).then(|| (who, shorten(text, SUMMARY_CHARS)))
        })
        .collect();
    let named = title.map(|t| format!(" \"{t}\"")).unwrap_or_default();
    let mut out = format!(
        "↪️ Conversation{named} handed off from {from} (session {session}). Reply here to go on; \
         the whole history comes along."
    );
    if said.is_empty() {
        out.push_str("\n\nNothing was said yet.");
        return out;
    }
    out.push_str("\n\nWhere it left off:");
    for (who, text) in &said[said.len().saturating_sub(SUMMARY_MESSAGES)..] {
        out.push_str(&format!("\n\n{who}: {text}"));
    }
    out
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::{ChatMessage, SessionId};

    fn stored(role: Role, text: &str) -> StoredMessage {
        let message = match role {
            Role::User => ChatMessage::user(text),
            _ => ChatMessage::assistant(text),
        };
        StoredMessage {
            id: 1,
            session: SessionId::parse("s").unwrap(),
            message,
            at_ms: 0,
            platform_message_id: None,
        }
    }

    #[test]
    fn summary_shows_the_last_exchanges_shortened() {
        let mut messages = Vec::new();
        for i in 0..5 {
            messages.push(stored(Role::User, &format!("question {i}")));
            messages.push(stored(Role::Assistant, &format!("answer {i}")));
        }
        messages.push(stored(Role::User, &"x".repeat(1000)));
        let text = summary("cli", "s-1", Some("Trip"), &messages);
        assert!(text.starts_with("↪️ Conversation \"Trip\" handed off from cli (session s-1)"));
        assert!(!text.contains("question 2"), "{text}");
        assert!(text.contains("Agent: answer 3") && text.contains("You: question 4"));
        assert!(text.ends_with(&format!("You: {}…", "x".repeat(SUMMARY_CHARS - 1))));
    }

    #[test]
    fn title_from_the_session_or_its_first_question() {
        let messages = [stored(Role::User, "  plan   a trip\nto Rome ")];
        assert_eq!(thread_title(Some("Taxes"), &messages), "hermod — Taxes");
        assert_eq!(
            thread_title(None, &messages),
            "hermod — plan a trip to Rome"
        );
        assert_eq!(thread_title(None, &[]), "hermod — handed-off conversation");
        assert_eq!(
            thread_title(None, &[stored(Role::User, &"y".repeat(200))])
                .chars()
                .count(),
            TITLE_CHARS
        );
    }
}
