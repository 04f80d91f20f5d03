//! Reading `config.yaml` so that every problem in it is reported at once,
//! each with its key, its line and what the key needs in plain words.
//!
//! The file is parsed into a generic tree first (syntax errors stop here),
//! then the typed configuration is read from the tree again and again: each
//! rejected key is recorded and taken out, until what is left reads
//! cleanly. A rejected value therefore falls back to its default, and the
//! problems are all returned together for the caller to refuse.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

/// One rejected key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key, dotted (`agent.max_turns`).
    pub key: String,
    /// Its line in the file, when it could be found.
    pub line: Option<usize>,
    pub message: String,
}

impl Problem {
    /// `file:line: key: message`.
    pub fn display(&self, file: &str) -> String {
        let at = match self.line {
            Some(line) => format!("{file}:{line}"),
            None => file.to_owned(),
        };
        if self.key.is_empty() {
            format!("{at}: {}", self.message)
        } else {
            format!("{at}: {}: {}", self.key, self.message)
        }
    }
}

/// Parses YAML into a tree; an empty file is an empty mapping. A syntax
/// error is returned with the file's name in place of the parser's
/// placeholder.
pub fn parse_tree(text: &str, file: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_saphyr::from_str::<Value>(text) {
        Ok(Value::Null) => Ok(Value::Object(Map::new())),
        Ok(tree @ Value::Object(_)) => Ok(tree),
        Ok(_) => Err(format!(
            "{file}: the file must be a set of `key: value` sections (model:, platforms:, ...)"
        )),
        Err(e) => Err(syntax_error(&e.to_string(), file)),
    }
}

/// The parser's message without its leading "error:" and with the file's
/// name in its source snippet.
fn syntax_error(message: &str, file: &str) -> String {
    let message = message.trim_start_matches("error: ");
    let message = message.replace("<input>", file);
    format!("{file}: invalid YAML: {message}")
}

/// Reads `T` from `tree`, taking out every key it rejects. `tolerate`
/// decides, for a key the type does not know, whether it is a recognised
/// foreign setting (it returns a notice then, and the key is dropped
/// quietly) or a mistake (`None`: a problem with a suggestion).
pub fn read_all<T: DeserializeOwned + Default>(
    tree: Value,
    text: &str,
    tolerate: &dyn Fn(&str) -> Option<String>,
) -> (T, Vec<Problem>, Vec<(String, String)>) {
    let (value, mut problems, notices) = read_rounds(tree, text, tolerate);
    // The tree is visited in key order; the user reads the file top to
    // bottom.
    problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    (value, problems, notices)
}

fn read_rounds<T: DeserializeOwned + Default>(
    mut tree: Value,
    text: &str,
    tolerate: &dyn Fn(&str) -> Option<String>,
) -> (T, Vec<Problem>, Vec<(String, String)>) {
    let mut problems = Vec::new();
    let mut notices = Vec::new();
    // Each round takes one key out, so this ends; the bound only guards
    // against a value whose removal changes nothing.
    for _ in 0..500 {
        let error = match serde_path_to_error::deserialize::<_, T>(tree.clone()) {
            Ok(value) => return (value, problems, notices),
            Err(e) => e,
        };
        let path = key_path(error.path());
        let message = error.into_inner().to_string();
        let key = path.join(".");
        if coerce(&mut tree, &path, &message) {
            continue;
        }
        if let Some(unknown) = unknown_field(&message) {
            let mut full = path.clone();
            if full.last().map(String::as_str) != Some(unknown) {
                full.push(unknown.to_owned());
            }
            let full_key = full.join(".");
            match tolerate(&full_key) {
                Some(notice) => notices.push((full_key, notice)),
                None => problems.push(Problem {
                    line: line_of(text, &full),
                    message: unknown_key_message(&message, unknown),
                    key: full_key,
                }),
            }
            if !remove(&mut tree, &full) {
                break;
            }
            continue;
        }
        problems.push(Problem {
            line: line_of(text, &path),
            message: plain(&message),
            key,
        });
        if !remove(&mut tree, &path) {
            return (T::default(), problems, notices);
        }
    }
    (T::default(), problems, notices)
}

fn key_path(path: &serde_path_to_error::Path) -> Vec<String> {
    path.iter()
        .map(|segment| match segment {
            Segment::Seq { index } => format!("[{index}]"),
            Segment::Map { key } | Segment::Enum { variant: key } => key.clone(),
            Segment::Unknown => "?".to_owned(),
        })
        .collect()
}

/// Fixes values YAML writers commonly mean another way: `yes`/`on` for a
/// boolean, `"8642"` for a number, an empty value for "not set". Returns
/// whether the tree changed.
fn coerce(tree: &mut Value, path: &[String], message: &str) -> bool {
    let Some(node) = node_mut(tree, path) else {
        return false;
    };
    if node.is_null() {
        return remove(tree, path);
    }
    let Some(text) = node.as_str().map(|s| s.trim().to_ascii_lowercase()) else {
        return false;
    };
    if message.contains("expected a boolean") {
        let value = match text.as_str() {
            "true" | "yes" | "on" | "y" | "1" => true,
            "false" | "no" | "off" | "n" | "0" => false,
            _ => return false,
        };
        *node = Value::Bool(value);
        return true;
    }
    let wants_number = ["expected u", "expected i", "expected f"]
        .iter()
        .any(|p| message.contains(p));
    if wants_number {
        if let Ok(n) = text.parse::<u64>() {
            *node = Value::from(n);
            return true;
        }
        if let Ok(n) = text.parse::<i64>() {
            *node = Value::from(n);
            return true;
        }
        if let Some(n) = text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            *node = Value::Number(n);
            return true;
        }
    }
    false
}

fn node_mut<'a>(tree: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut node = tree;
    for segment in path {
        node = match node {
            Value::Object(map) => map.get_mut(segment)?,
            Value::Array(items) => {
                let index = segment.strip_prefix('[')?.strip_suffix(']')?;
                items.get_mut(index.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(node)
}

/// Takes the value at `path` out of the tree; false when there is none.
fn remove(tree: &mut Value, path: &[String]) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    match node_mut(tree, parent) {
        Some(Value::Object(map)) => map.remove(last).is_some(),
        Some(Value::Array(items)) => {
            let index = last
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse::<usize>().ok());
            match index {
                Some(i) if i < items.len() => {
                    items.remove(i);
                    true
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// The key of an "unknown field `x`, expected ..." error.
fn unknown_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("unknown field `")?
        .split_once('`')
        .map(|(name, _)| name)
}

/// "unknown key" with the nearest valid key, or the valid keys when none
/// is near.
fn unknown_key_message(message: &str, unknown: &str) -> String {
    let expected = expected_names(message);
    match nearest(unknown, &expected) {
        Some(key) => format!("unknown key; did you mean `{key}`?"),
        None if expected.is_empty() => "unknown key (this section takes no keys)".to_owned(),
        None => format!("unknown key; valid keys here: {}", expected.join(", ")),
    }
}

/// The names listed after "expected one of" (or "expected") in a serde
/// message.
fn expected_names(message: &str) -> Vec<String> {
    let first_line = message.lines().next().unwrap_or("");
    let list = first_line
        .split_once("expected one of ")
        .or_else(|| first_line.split_once("expected "))
        .map_or("", |(_, list)| list);
    if list.starts_with("nothing") || list.starts_with("no ") {
        return Vec::new();
    }
    list.replace(" or ", ",")
        .split(',')
        .map(|c| c.trim().trim_matches('`').to_owned())
        .filter(|c| !c.is_empty() && !c.contains(' '))
        .collect()
}

/// serde's wording, in a user's: "invalid type: string \"abc\", expected
/// u16" becomes "expected a whole number from 0 to 65535, got \"abc\"".
pub fn plain(message: &str) -> String {
    let message = message.lines().next().unwrap_or(message).trim();
    if let Some(rest) = message.strip_prefix("unknown variant `")
        && let Some((value, tail)) = rest.split_once('`')
    {
        let choices = expected_names(tail);
        let hint = match nearest(value, &choices) {
            Some(c) => format!("; did you mean `{c}`?"),
            None => String::new(),
        };
        return format!("`{value}` is not one of: {}{hint}", choices.join(", "));
    }
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((got, expected)) = rest.rsplit_once(", expected ")
        {
            return format!(
                "expected {}, got {}",
                expected_words(expected),
                got_words(got)
            );
        }
    }
    if message.contains("did not match any variant of untagged enum") {
        return "expected a list, or text with commas between the items".to_owned();
    }
    message.to_owned()
}

fn expected_words(expected: &str) -> String {
    let expected = expected.trim();
    let described = hermod_model::describe_type(expected);
    if described != "a valid value" {
        return described;
    }
    match expected {
        "a boolean" => "true or false".to_owned(),
        "a string" | "a borrowed string" => "text".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "a section of `key: value` lines".to_owned(),
        "a character" => "a single character".to_owned(),
        e if e.starts_with("struct ") => "a section of `key: value` lines".to_owned(),
        e if e.starts_with("a sequence") => "a list".to_owned(),
        e => e.to_owned(),
    }
}

fn got_words(got: &str) -> String {
    let got = got.trim();
    let unquote = |s: &str| s.trim_matches('`').to_owned();
    match got.split_once(' ') {
        Some(("string", value)) => value.to_owned(),
        Some(("integer" | "floating" | "boolean", value)) => {
            unquote(value.trim_start_matches("point ").trim())
        }
        _ => match got {
            "map" => "a section".to_owned(),
            "sequence" => "a list".to_owned(),
            "null" | "unit value" => "nothing".to_owned(),
            g => g.to_owned(),
        },
    }
}

/// The line (1-based) of the deepest key of `path` found in block-style
/// YAML: each key is looked for below its parent's line, at a deeper
/// indent. List indices and flow-style sections stop the search there.
pub fn line_of(text: &str, path: &[String]) -> Option<usize> {
    let mut found = None;
    let mut depth = 0;
    let mut parent_indent: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let Some(segment) = path.get(depth) else {
            break;
        };
        if segment.starts_with('[') {
            break;
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if parent_indent.is_some_and(|p| indent <= p) {
            break;
        }
        if key_of(trimmed) == Some(segment.as_str()) {
            found = Some(n + 1);
            parent_indent = Some(indent);
            depth += 1;
        }
    }
    found
}

fn key_of(line: &str) -> Option<&str> {
    let (key, _) = line.split_once(':')?;
    let key = key.trim();
    let key = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .or_else(|| key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
        .unwrap_or(key);
    (!key.is_empty()).then_some(key)
}

/// The candidate closest to `typed`, when it is close enough to be what
/// was meant (at most half its letters differ).
pub fn nearest<'a>(typed: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(typed, c), c.as_str()))
        .filter(|(d, c)| *d <= (c.len().max(typed.len()) / 2).max(1))
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Top {
        server: Server,
        name: String,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Server {
        port: u16,
        enabled: bool,
        ratio: f64,
    }

    fn read(text: &str) -> (Top, Vec<Problem>) {
        let tree = parse_tree(text, "c.yaml").unwrap();
        let (top, problems, _) = read_all::<Top>(tree, text, &|_| None);
        (top, problems)
    }

    #[test]
    fn every_problem_in_one_pass_with_lines_and_plain_words() {
        let text = "name: x\nserver:\n  prot: 1\n  port: abc\n  enabled: maybe\nsevrer: {}\n";
        let (_, problems) = read(text);
        let shown: Vec<String> = problems.iter().map(|p| p.display("c.yaml")).collect();
        assert_eq!(
            shown,
            [
                "c.yaml:3: server.prot: unknown key; did you mean `port`?",
                "c.yaml:4: server.port: expected a whole number from 0 to 65535, got \"abc\"",
                "c.yaml:5: server.enabled: expected true or false, got \"maybe\"",
                "c.yaml:6: sevrer: unknown key; did you mean `server`?",
            ]
        );
    }

    #[test]
    fn common_spellings_are_accepted() {
        let (top, problems) =
            read("server:\n  port: \"8642\"\n  enabled: yes\n  ratio: '0.5'\nname:\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(top.server.port, 8642);
        assert!(top.server.enabled);
        assert!((top.server.ratio - 0.5).abs() < f64::EPSILON);
    }

    #[test]
    fn out_of_range_and_wrong_shapes() {
        let (_, problems) = read("server:\n  port: 70000\nname: [1]\n");
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "expected a whole number from 0 to 65535, got 70000",
                "expected text, got a list",
            ]
        );
    }

    #[test]
    fn tolerated_keys_become_notices() {
        let text = "server:\n  extra_thing: 1\n";
        let tree = parse_tree(text, "c.yaml").unwrap();
        let (_, problems, notices) = read_all::<Top>(tree, text, &|key| {
            (key == "server.extra_thing").then(|| "ignored".to_owned())
        });
        assert!(problems.is_empty());
        assert_eq!(
            notices,
            [("server.extra_thing".to_owned(), "ignored".to_owned())]
        );
    }

    #[test]
    fn syntax_errors_name_the_file_once() {
        let err = parse_tree("model: {default: 1\n", "/h/config.yaml").unwrap_err();
        assert!(err.starts_with("/h/config.yaml: invalid YAML: "), "{err}");
        assert!(!err.contains("<input>") && !err.contains("error:"), "{err}");
        assert!(
            parse_tree("- 1\n", "c.yaml")
                .unwrap_err()
                .contains("key: value")
        );
    }

    #[test]
    fn numeric_keys_are_read_as_text() {
        let tree = parse_tree("chats:\n  12345: a\n", "c.yaml").unwrap();
        assert_eq!(tree["chats"]["12345"], "a");
    }
}
