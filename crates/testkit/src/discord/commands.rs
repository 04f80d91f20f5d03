//! Application commands (Application Commands): bulk overwrite of the
//! global or a guild's list, with Discord's checks, and listing.
//!
//! The limits: 100 `CHAT_INPUT`, 15 `USER` and 15 `MESSAGE` commands per
//! scope; names 1-32 characters matching
//! `^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$`, lowercase where a
//! letter has a lowercase form (slash commands); descriptions 1-100
//! characters; up to 25 options and 25 choices; names unique per type.
//! A list longer than the 130 commands of all types together fails its
//! length check (`Must be 130 or fewer in length.`); one within 130 with
//! more than 100 slash commands fails with 30032, which is how Discord
//! answers them.

use super::body::Body;
use super::errors::{ApiError, FormErrors, bad_length, max_length};
use super::rest::{Answer, Reply};
use super::state::{Shared, State};
use serde_json::{Value, json};

const CHAT_INPUT: u64 = 1;
const USER: u64 = 2;
const MESSAGE: u64 = 3;

/// Most commands of each type per scope.
fn type_limit(kind: u64) -> usize {
    match kind {
        CHAT_INPUT => 100,
        USER | MESSAGE => 15,
        _ => 1,
    }
}

pub(crate) fn bulk_overwrite(
    shared: &Shared,
    s: &mut State,
    app: u64,
    guild: Option<u64>,
    body: &Body,
) -> Answer {
    if app != shared.application_id {
        return Err(ApiError::missing_access());
    }
    if let Some(guild) = guild
        && !s.guilds.contains_key(&guild)
    {
        return Err(ApiError::new(404, 10004, "Unknown Guild"));
    }
    let Value::Array(list) = &body.json else {
        return Err(ApiError::form("", "BASE_TYPE_ARRAY", "Must be an array."));
    };
    if list.len() > 130 {
        return Err(ApiError::form("", "BASE_TYPE_MAX_LENGTH", &max_length(130)));
    }
    let mut errors = FormErrors::new();
    for (i, command) in list.iter().enumerate() {
        check_command(&mut errors, &i.to_string(), command);
    }
    if !errors.is_empty() {
        return Err(errors.into_error());
    }
    let mut seen: Vec<(u64, String)> = Vec::new();
    for command in list {
        let key = (
            kind_of(command),
            command["name"].as_str().unwrap_or("").to_owned(),
        );
        if seen.contains(&key) {
            return Err(ApiError::form(
                "",
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            ));
        }
        seen.push(key);
    }
    for kind in [CHAT_INPUT, USER, MESSAGE] {
        let limit = type_limit(kind);
        if seen.iter().filter(|(k, _)| *k == kind).count() > limit {
            return Err(ApiError::new(
                400,
                30032,
                &format!("Maximum number of application commands reached ({limit})"),
            ));
        }
    }
    let previous = match guild {
        Some(guild) => s.guild_commands.get(&guild).cloned().unwrap_or_default(),
        None => s.commands.clone(),
    };
    let mut stored = Vec::new();
    for command in list {
        let kind = kind_of(command);
        let name = command["name"].as_str().unwrap_or("");
        // Commands that already exist keep their ids.
        let id = previous
            .iter()
            .find(|c| c["type"] == kind && c["name"] == name)
            .and_then(|c| c["id"].as_str()?.parse().ok())
            .unwrap_or_else(|| s.snowflake());
        let version = s.snowflake();
        stored.push(command_object(shared, command, id, version, guild));
    }
    match guild {
        Some(guild) => {
            s.guild_commands.insert(guild, stored.clone());
        }
        None => s.commands.clone_from(&stored),
    }
    s.command_overwrites += 1;
    Ok(Reply::ok(Value::Array(stored)))
}

pub(crate) fn list(shared: &Shared, s: &State, app: u64) -> Answer {
    if app != shared.application_id {
        return Err(ApiError::missing_access());
    }
    Ok(Reply::ok(Value::Array(s.commands.clone())))
}

fn kind_of(command: &Value) -> u64 {
    command["type"].as_u64().unwrap_or(CHAT_INPUT)
}

/// The application command object Discord answers with.
fn command_object(
    shared: &Shared,
    given: &Value,
    id: u64,
    version: u64,
    guild: Option<u64>,
) -> Value {
    let kind = kind_of(given);
    let mut command = json!({
        "id": id.to_string(),
        "application_id": shared.application_id.to_string(),
        "version": version.to_string(),
        "default_member_permissions": given.get("default_member_permissions").cloned().unwrap_or(Value::Null),
        "type": kind,
        "name": given["name"],
        "name_localizations": given.get("name_localizations").cloned().unwrap_or(Value::Null),
        "description": given.get("description").cloned().unwrap_or(json!("")),
        "description_localizations": given.get("description_localizations").cloned().unwrap_or(Value::Null),
        "dm_permission": given.get("dm_permission").cloned().unwrap_or(json!(true)),
        "contexts": given.get("contexts").cloned().unwrap_or(Value::Null),
        "integration_types": given.get("integration_types").cloned().unwrap_or(json!([0])),
        "nsfw": given.get("nsfw").cloned().unwrap_or(json!(false)),
    });
    if let Some(guild) = guild {
        command["guild_id"] = json!(guild.to_string());
    }
    if let Some(options) = given.get("options").filter(|o| o.is_array()) {
        command["options"] = options.clone();
    }
    command
}

/// Checks one command at `path` (its index).
fn check_command(errors: &mut FormErrors, path: &str, command: &Value) {
    if !command.is_object() {
        errors.add(
            path,
            "DICT_TYPE_CONVERT",
            "Only dictionaries may be used in a DictType",
        );
        return;
    }
    let kind = kind_of(command);
    if !(1..=4).contains(&kind) {
        errors.add(
            &format!("{path}.type"),
            "BASE_TYPE_CHOICES",
            "Value must be one of {1, 2, 3, 4}.",
        );
        return;
    }
    check_name(
        errors,
        &format!("{path}.name"),
        &command["name"],
        kind == CHAT_INPUT,
    );
    if kind == CHAT_INPUT {
        check_description(
            errors,
            &format!("{path}.description"),
            &command["description"],
        );
        check_options(errors, &format!("{path}.options"), &command["options"]);
    }
}

fn check_options(errors: &mut FormErrors, path: &str, options: &Value) {
    let Some(options) = options.as_array() else {
        return;
    };
    if options.len() > 25 {
        errors.add(path, "BASE_TYPE_MAX_LENGTH", &max_length(25));
        return;
    }
    let mut optional_seen = false;
    for (j, option) in options.iter().enumerate() {
        let at = format!("{path}.{j}");
        let kind = option["type"].as_u64().unwrap_or(0);
        if !(1..=11).contains(&kind) {
            errors.add(
                &format!("{at}.type"),
                "BASE_TYPE_CHOICES",
                "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.",
            );
        }
        check_name(errors, &format!("{at}.name"), &option["name"], true);
        check_description(errors, &format!("{at}.description"), &option["description"]);
        if option["choices"].as_array().is_some_and(|c| c.len() > 25) {
            errors.add(
                &format!("{at}.choices"),
                "BASE_TYPE_MAX_LENGTH",
                &max_length(25),
            );
        }
        if matches!(kind, 1 | 2) {
            check_options(errors, &format!("{at}.options"), &option["options"]);
            continue;
        }
        let required = option["required"].as_bool().unwrap_or(false);
        if required && optional_seen {
            errors.add(
                path,
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            );
        }
        optional_seen |= !required;
    }
}

fn check_name(errors: &mut FormErrors, path: &str, name: &Value, slash: bool) {
    let Some(name) = name.as_str() else {
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required");
        return;
    };
    if !(1..=32).contains(&name.chars().count()) {
        errors.add(path, "BASE_TYPE_BAD_LENGTH", &bad_length(1, 32));
    } else if slash && !valid_slash_name(name) {
        errors.add(
            path,
            "APPLICATION_COMMAND_INVALID_NAME",
            "Command name is invalid",
        );
    }
}

fn check_description(errors: &mut FormErrors, path: &str, description: &Value) {
    let length = description.as_str().map_or(0, |d| d.chars().count());
    if !(1..=100).contains(&length) {
        errors.add(path, "BASE_TYPE_BAD_LENGTH", &bad_length(1, 100));
    }
}

/// `^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$`, using the lowercase
/// form of every letter that has one.
pub(crate) fn valid_slash_name(name: &str) -> bool {
    name.chars().all(|c| {
        let devanagari_or_thai = matches!(c, '\u{0900}'..='\u{097F}' | '\u{0E00}'..='\u{0E7F}');
        let allowed = matches!(c, '-' | '_' | '\'') || c.is_alphanumeric() || devanagari_or_thai;
        allowed && c.to_lowercase().eq(std::iter::once(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_names_follow_the_documented_pattern() {
        assert!(valid_slash_name("ask"));
        assert!(valid_slash_name("set-model_2"));
        assert!(valid_slash_name("पूछो"));
        assert!(valid_slash_name("日本"));
        assert!(!valid_slash_name("Ask"));
        assert!(!valid_slash_name("two words"));
        assert!(!valid_slash_name("ask!"));
    }
}
