//! Threads (Channel, "Start Thread from Message" and "Start Thread
//! without Message"; Threads): a thread started from a message takes the
//! message's id and marks it `HAS_THREAD`; one started without a message
//! is a `PRIVATE_THREAD` unless another type is asked for ("type
//! currently defaults to PRIVATE_THREAD"). Both fire THREAD_CREATE with
//! `newly_created` and the bot's thread member.

use super::body::Body;
use super::errors::{ApiError, FormErrors, bad_length};
use super::messages;
use super::rest::{Answer, Reply, channel, message};
use super::session::intents;
use super::state::{
    ANNOUNCEMENT_THREAD, ChannelRec, GUILD_ANNOUNCEMENT, GUILD_TEXT, PRIVATE_THREAD, PUBLIC_THREAD,
    Shared, State,
};
use serde_json::{Map, Value, json};

/// The message flag of a message a thread was started from.
const HAS_THREAD: u64 = 1 << 5;

/// Checks a thread's `name` and `auto_archive_duration`.
fn thread_params(object: &Map<String, Value>, errors: &mut FormErrors) -> String {
    let name = match object.get("name") {
        Some(Value::String(name)) => {
            if !(1..=100).contains(&name.chars().count()) {
                errors.add("name", "BASE_TYPE_BAD_LENGTH", &bad_length(1, 100));
            }
            name.clone()
        }
        _ => {
            errors.add("name", "BASE_TYPE_REQUIRED", "This field is required");
            String::new()
        }
    };
    if let Some(duration) = object.get("auto_archive_duration").filter(|d| !d.is_null())
        && !matches!(duration.as_u64(), Some(60 | 1440 | 4320 | 10080))
    {
        errors.add(
            "auto_archive_duration",
            "BASE_TYPE_CHOICES",
            "Value must be one of {60, 1440, 4320, 10080}.",
        );
    }
    name
}

pub(crate) fn start_thread(
    shared: &Shared,
    s: &mut State,
    channel_id: u64,
    from: Option<u64>,
    body: &Body,
) -> Answer {
    let parent = channel(s, channel_id)?;
    if !matches!(parent.kind, GUILD_TEXT | GUILD_ANNOUNCEMENT) {
        return Err(ApiError::new(
            400,
            50024,
            "Cannot execute action on this channel type",
        ));
    }
    let (parent_kind, guild_id) = (parent.kind, parent.guild_id);
    if let Some(id) = from {
        message(s, channel_id, id)?;
        if s.messages[&id].thread_id.is_some() {
            return Err(ApiError::new(
                400,
                160_004,
                "A thread has already been created for this message",
            ));
        }
    }
    let object = body.object();
    let mut errors = FormErrors::new();
    let name = thread_params(&object, &mut errors);
    let kind = match (from, object.get("type").and_then(Value::as_u64)) {
        // From a message the type follows the parent.
        (Some(_), _) if parent_kind == GUILD_ANNOUNCEMENT => ANNOUNCEMENT_THREAD,
        (Some(_), _) => PUBLIC_THREAD,
        // "type currently defaults to PRIVATE_THREAD".
        (None, None) => PRIVATE_THREAD,
        (None, Some(kind @ (PUBLIC_THREAD | PRIVATE_THREAD))) => kind,
        (None, Some(ANNOUNCEMENT_THREAD)) if parent_kind == GUILD_ANNOUNCEMENT => {
            ANNOUNCEMENT_THREAD
        }
        (None, Some(_)) => {
            errors.add(
                "type",
                "BASE_TYPE_CHOICES",
                "Value must be one of {10, 11, 12}.",
            );
            PRIVATE_THREAD
        }
    };
    if !errors.is_empty() {
        return Err(errors.into_error());
    }
    // "The id of the created thread will be the same as the id of the
    // source message."
    let id = match from {
        Some(message_id) => message_id,
        None => s.snowflake(),
    };
    let created = s.clock.iso_now();
    let record = ChannelRec {
        id,
        kind,
        guild_id,
        name: Some(name),
        parent_id: Some(channel_id),
        recipients: Vec::new(),
        owner_id: Some(shared.bot_id),
        last_message_id: None,
        bot_joined: true,
        created: created.clone(),
        position: 0,
        message_count: 0,
    };
    let json = record.json(&s.users);
    s.channels.insert(id, record);
    let mut event = json.clone();
    event["newly_created"] = json!(true);
    event["member"] = json!({
        "id": id.to_string(),
        "user_id": shared.bot_id.to_string(),
        "join_timestamp": created,
        "flags": 1,
    });
    s.gateway.dispatch("THREAD_CREATE", event, intents::GUILDS);
    if let Some(message_id) = from
        && let Some(source) = s.messages.get_mut(&message_id)
    {
        source.thread_id = Some(id);
        let flags = source.json["flags"].as_u64().unwrap_or(0) | HAS_THREAD;
        source.json["flags"] = json!(flags);
        source.json["thread"] = json.clone();
        messages::dispatch_update(shared, s, message_id);
    }
    Ok(Reply::created(json))
}
