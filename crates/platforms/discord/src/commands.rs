//! Slash commands: the gateway's commands as Discord application commands
//! (Application Commands, bulk overwrite), and an interaction turned back
//! into the `/text` core parses, so a slash command and the same command
//! typed as text do the same thing.
//!
//! Every command takes one optional string option, `input`, holding its
//! arguments as typed (`/title My trip` → `input: "My trip"`), since core's
//! commands parse their arguments from text.

use serde_json::{Value, json};

/// Discord's limit of global slash commands per application.
pub(crate) const MAX_COMMANDS: usize = 100;

/// The name of the one option every command takes.
pub(crate) const INPUT: &str = "input";

/// The bulk-overwrite body: CHAT_INPUT commands usable in guilds and DMs.
/// Names Discord would refuse (not 1-32 lowercase letters, digits, `-`
/// or `_`) are left out; descriptions are cut to 100 characters.
pub(crate) fn application_commands(commands: &[(String, String)]) -> Vec<Value> {
    commands
        .iter()
        .filter(|(name, _)| valid_name(name))
        .take(MAX_COMMANDS)
        .map(|(name, description)| {
            let description: String = if description.trim().is_empty() {
                name.clone()
            } else {
                description.chars().take(100).collect()
            };
            json!({
                "name": name,
                "description": description,
                "type": 1,
                // Guild install; usable in guilds and the bot's DMs.
                "integration_types": [0],
                "contexts": [0, 1],
                "options": [{
                    "type": 3,
                    "name": INPUT,
                    "description": "What to pass to the command",
                    "required": false,
                }],
            })
        })
        .collect()
}

/// Discord's naming rule for CHAT_INPUT commands (lowercase only).
fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The text a slash command stands for: `/name` and its options' values.
pub(crate) fn command_text(name: &str, options: &[crate::types::CommandOption]) -> String {
    let mut text = format!("/{name}");
    let mut values = Vec::new();
    collect_values(options, &mut values);
    for value in values {
        if !value.is_empty() {
            text.push(' ');
            text.push_str(&value);
        }
    }
    text
}

fn collect_values(options: &[crate::types::CommandOption], out: &mut Vec<String>) {
    for option in options {
        match &option.value {
            Some(Value::String(s)) => out.push(s.trim().to_owned()),
            Some(Value::Null) | None => {}
            Some(other) => out.push(other.to_string()),
        }
        collect_values(&option.options, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::CommandOption;

    #[test]
    fn commands_become_chat_input_commands_with_one_input() {
        let commands = vec![
            ("help".to_owned(), "List the commands".to_owned()),
            ("Bad Name".to_owned(), "refused by Discord".to_owned()),
            ("title".to_owned(), "x".repeat(150)),
        ];
        let body = application_commands(&commands);
        assert_eq!(body.len(), 2);
        assert_eq!(body[0]["name"], "help");
        assert_eq!(body[0]["type"], 1);
        assert_eq!(body[0]["options"][0]["name"], INPUT);
        assert_eq!(body[1]["description"].as_str().unwrap().len(), 100);
        let many: Vec<(String, String)> = (0..150).map(|i| (format!("c{i}"), "d".into())).collect();
        assert_eq!(application_commands(&many).len(), MAX_COMMANDS);
    }

    #[test]
    fn an_interaction_reads_as_the_typed_command() {
        let options = vec![CommandOption {
            value: Some(Value::String(" My trip ".into())),
            options: Vec::new(),
        }];
        assert_eq!(command_text("title", &options), "/title My trip");
        assert_eq!(command_text("help", &[]), "/help");
    }
}
