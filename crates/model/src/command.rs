//! Parsing a chat message as a slash command.
//!
//! `/Name@botname args` → name `name`, args `args`. A first word containing
//! another `/` is a path (`/usr/bin/env`), not a command. Phone keyboards
//! turn `--` into dashes; the arguments get them repaired.

/// A message recognised as a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCommand {
    /// Lower-cased name without prefix or `@botname`.
    pub name: String,
    /// Everything after the name, trimmed, with dash repair applied.
    pub args: String,
}

/// Parses `text` as a command with `prefix` (`/` or `!`). Returns `None`
/// for ordinary messages.
pub fn parse_command(text: &str, prefix: char) -> Option<ParsedCommand> {
    let rest = text.trim_start().strip_prefix(prefix)?;
    let (word, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let name = word.split_once('@').map_or(word, |(name, _bot)| name);
    if name.is_empty() || word.contains('/') {
        return None;
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return None;
    }
    Some(ParsedCommand {
        name: name.to_lowercase(),
        args: repair_dashes(args),
    })
}

/// `——`/`—` → `--`, `–` → `-` (what phone keyboards make of typed dashes).
fn repair_dashes(args: &str) -> String {
    args.replace("——", "--")
        .replace('—', "--")
        .replace('–', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<(String, String)> {
        parse_command(text, '/').map(|c| (c.name, c.args))
    }

    #[test]
    fn commands_and_arguments() {
        assert_eq!(parse("/new"), Some(("new".into(), "".into())));
        assert_eq!(
            parse("  /Title My Trip "),
            Some(("title".into(), "My Trip".into()))
        );
        assert_eq!(
            parse("/status@hermod_bot"),
            Some(("status".into(), "".into()))
        );
        assert_eq!(parse("/undo@bot 2"), Some(("undo".into(), "2".into())));
        assert_eq!(
            parse("/model —global"),
            Some(("model".into(), "--global".into()))
        );
        assert_eq!(parse("/x a–b"), Some(("x".into(), "a-b".into())));
    }

    #[test]
    fn not_commands() {
        assert_eq!(parse("hello /new"), None);
        assert_eq!(parse("/usr/bin/env python"), None);
        assert_eq!(parse("/"), None);
        assert_eq!(parse("/ new"), None);
        assert_eq!(parse("/😀"), None);
        assert_eq!(parse_command("/new", '!'), None);
        assert_eq!(
            parse_command("!new", '!').map(|c| c.name),
            Some("new".into())
        );
    }
}
