//! Answering interactions (Receiving and Responding): the callback, and
//! the webhook routes for the original response and followups.
//!
//! The callback must come within 3 seconds of the interaction (later:
//! 10062 Unknown interaction) and only once (40060); the token then works
//! for 15 minutes (later: 10015 Unknown Webhook). A followup sent while a
//! deferred response is still loading edits that response instead, "for
//! backwards compatibility". Ephemeral messages fire no guild events.

use super::EPHEMERAL;
use super::body::Body;
use super::errors::ApiError;
use super::messages::{self, CHAT_INPUT_COMMAND, Draft};
use super::rest::{Answer, Reply, apply_edit, attach, parts};
use super::routes::{Matched, Route};
use super::state::{InteractionRec, InteractionReply, SentMessage, Shared, State};
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio::time::Instant;

/// `LOADING`: the bot is "thinking" (a deferred response).
const LOADING: u64 = 1 << 7;
/// Flags an interaction response may set.
const RESPONSE_FLAGS: u64 = (1 << 2) | EPHEMERAL | (1 << 12) | (1 << 13) | (1 << 15);

const CALLBACK_DEADLINE: Duration = Duration::from_secs(3);
const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

pub(crate) fn callback(
    shared: &Shared,
    s: &mut State,
    m: &Matched,
    body: &Body,
    with_response: bool,
) -> Answer {
    let id = m.interaction_id.unwrap_or(0);
    let interaction = match s.interactions.get(&id) {
        Some(i) if Some(&i.token) == m.token.as_ref() => i.clone(),
        _ => return Err(ApiError::unknown_interaction()),
    };
    if interaction.reply.is_some() {
        return Err(ApiError::already_acknowledged());
    }
    if Instant::now() - interaction.created > CALLBACK_DEADLINE {
        return Err(ApiError::unknown_interaction());
    }
    let kind = body.json["type"].as_u64().unwrap_or(0);
    let data = body.json.get("data").cloned().unwrap_or(Value::Null);
    let data_body = Body {
        json: data.clone(),
        uploads: body.uploads.clone(),
    };
    let original = match kind {
        4 => {
            let parts = parts(&data_body)?;
            if parts.is_empty() {
                return Err(ApiError::empty_message());
            }
            Some(respond(shared, s, &interaction, &data_body, 0)?)
        }
        5 => {
            // "The only valid message flag you may use is EPHEMERAL."
            let flags = LOADING | (data["flags"].as_u64().unwrap_or(0) & EPHEMERAL);
            Some(respond(shared, s, &interaction, &Body::default(), flags)?)
        }
        // A modal: shown to the user, no message.
        9 => None,
        _ => {
            return Err(ApiError::form(
                "type",
                "BASE_TYPE_CHOICES",
                "Value must be one of {4, 5, 9}.",
            ));
        }
    };
    if let Some(record) = s.interactions.get_mut(&id) {
        record.reply = Some(InteractionReply {
            kind,
            data,
            original,
            followups: Vec::new(),
        });
    }
    if !with_response {
        return Ok(Reply::no_content());
    }
    let message = original.map(|mid| s.messages[&mid].json.clone());
    let flags = message
        .as_ref()
        .and_then(|m| m["flags"].as_u64())
        .unwrap_or(0);
    let mut answer = json!({
        "interaction": {
            "id": id.to_string(),
            "type": 2,
            "response_message_id": original.map(|m| m.to_string()),
            "response_message_loading": flags & LOADING != 0,
            "response_message_ephemeral": flags & EPHEMERAL != 0,
        },
        "resource": {"type": kind},
    });
    if kind == 4 {
        answer["resource"]["message"] = message.unwrap_or(Value::Null);
    }
    Ok(Reply::ok(answer))
}

/// Creates a response or followup message for `interaction` from the
/// message fields of `body`, with `extra_flags`; returns its id.
fn respond(
    shared: &Shared,
    s: &mut State,
    interaction: &InteractionRec,
    body: &Body,
    extra_flags: u64,
) -> Result<u64, ApiError> {
    let parts = parts(body)?;
    let channel_id = interaction.channel_id;
    let attachments = attach(shared, s, channel_id, &parts);
    let flags = (parts.flags.unwrap_or(0) & RESPONSE_FLAGS) | extra_flags;
    let user = s.user_json(interaction.user_id);
    let owners = match interaction.guild_id {
        Some(guild) => json!({"0": guild.to_string()}),
        None => json!({"0": "0"}),
    };
    let mut extra = Map::new();
    extra.insert(
        "webhook_id".into(),
        json!(shared.application_id.to_string()),
    );
    extra.insert(
        "application_id".into(),
        json!(shared.application_id.to_string()),
    );
    extra.insert(
        "interaction_metadata".into(),
        json!({"id": interaction.id.to_string(), "type": 2, "user": user, "authorizing_integration_owners": owners, "name": interaction.command_name, "command_type": interaction.command_type}),
    );
    extra.insert(
        "interaction".into(),
        json!({"id": interaction.id.to_string(), "type": 2, "name": interaction.command_name, "user": user}),
    );
    let draft = Draft {
        channel_id,
        author_id: shared.bot_id,
        content: parts.content.clone().unwrap_or_default(),
        kind: CHAT_INPUT_COMMAND,
        attachments,
        embeds: parts.embeds.clone().unwrap_or_default(),
        components: parts.components.clone().unwrap_or_default(),
        flags,
        extra,
        ..Draft::default()
    };
    let id = messages::store(s, draft);
    s.bot_messages.push(SentMessage {
        id,
        channel_id,
        content: parts.content.unwrap_or_default(),
        edits: Vec::new(),
        deleted: false,
        reply_to: None,
        files: parts.files.into_iter().map(|(_, f)| f).collect(),
        embeds: parts.embeds.unwrap_or_default(),
        components: parts.components.unwrap_or_default(),
        flags,
        interaction_id: Some(interaction.id),
        body: body.json.clone(),
    });
    if flags & EPHEMERAL == 0 {
        messages::dispatch_create(shared, s, id);
    }
    Ok(id)
}

/// The webhook routes of an interaction token.
pub(crate) fn webhook(shared: &Shared, s: &mut State, m: &Matched, body: &Body) -> Answer {
    let token = m.token.as_deref().unwrap_or("");
    let interaction = s
        .interactions
        .values()
        .find(|i| i.token == token)
        .filter(|_| m.application_id == Some(shared.application_id))
        .filter(|i| Instant::now() - i.created <= TOKEN_LIFETIME)
        .cloned()
        .ok_or_else(ApiError::unknown_webhook)?;
    let reply = interaction.reply.clone();
    let original = reply.as_ref().and_then(|r| r.original);
    let live = |s: &State, id: u64| s.messages.get(&id).is_some_and(|m| !m.deleted);
    match m.route {
        Route::GetOriginalResponse => match original.filter(|id| live(s, *id)) {
            Some(id) => Ok(Reply::ok(s.messages[&id].json.clone())),
            None => Err(ApiError::unknown_message()),
        },
        Route::EditOriginalResponse => match original.filter(|id| live(s, *id)) {
            Some(id) => apply_edit(shared, s, id, body, LOADING),
            None => Err(ApiError::unknown_message()),
        },
        Route::DeleteOriginalResponse => {
            let id = original
                .filter(|id| live(s, *id))
                .ok_or_else(ApiError::unknown_message)?;
            delete(s, id);
            Ok(Reply::no_content())
        }
        Route::EditFollowupMessage => {
            let id = m.message_id.unwrap_or(0);
            let ours =
                original == Some(id) || reply.as_ref().is_some_and(|r| r.followups.contains(&id));
            if !ours || !live(s, id) {
                return Err(ApiError::unknown_message());
            }
            apply_edit(shared, s, id, body, LOADING)
        }
        Route::CreateFollowupMessage => {
            if reply.is_none() {
                return Err(ApiError::unknown_webhook());
            }
            let loading = original
                .filter(|id| live(s, *id))
                .filter(|id| s.messages[id].json["flags"].as_u64().unwrap_or(0) & LOADING != 0);
            if let Some(id) = loading {
                return apply_edit(shared, s, id, body, LOADING);
            }
            if parts(body)?.is_empty() {
                return Err(ApiError::empty_message());
            }
            let id = respond(shared, s, &interaction, body, 0)?;
            if let Some(InteractionRec {
                reply: Some(reply), ..
            }) = s.interactions.get_mut(&interaction.id)
            {
                reply.followups.push(id);
            }
            Ok(Reply::ok(s.messages[&id].json.clone()))
        }
        _ => Err(ApiError::not_found()),
    }
}

fn delete(s: &mut State, id: u64) {
    let Some(record) = s.messages.get_mut(&id) else {
        return;
    };
    record.deleted = true;
    let channel_id = record.channel_id;
    let ephemeral = record.json["flags"].as_u64().unwrap_or(0) & EPHEMERAL != 0;
    if let Some(sent) = s.bot_message_mut(id) {
        sent.deleted = true;
    }
    if !ephemeral {
        messages::dispatch_delete(s, channel_id, id);
    }
}
