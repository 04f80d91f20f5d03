//! A route's prompt, rendered from its template and the payload as Hermes
//! renders it, so a Hermes route's `prompt` gives the same text:
//!
//! - `{a.b.c}`: the value at that path of objects (a list is not
//!   indexed); text as it is, numbers as written, `true`/`false`/`null` as
//!   Python writes them (`True`, `False`, `None`), an object or a list as
//!   indented JSON cut to 2,000 characters; a path that is not there stays
//!   as it was written, braces included;
//! - `{__raw__}`: the whole payload as indented JSON, cut to 4,000;
//! - `{event_type}`: the event's type (from its header or payload);
//! - only names of letters, digits, `_` and `.` are placeholders: other
//!   braces are text.
//!
//! An empty template gives Hermes' default: the event, the route and the
//! payload as a JSON block.

use serde_json::Value;

/// Longest rendering of one object or list value, in characters.
pub const VALUE_MAX_CHARS: usize = 2000;

/// Longest rendering of the whole payload, in characters.
pub const RAW_MAX_CHARS: usize = 4000;

/// Renders `template` with `payload`.
pub fn render(template: &str, payload: &Value, event_type: &str, route: &str) -> String {
    if template.is_empty() {
        return format!(
            "Webhook event '{event_type}' on route '{route}':\n\n```json\n{}\n```",
            pretty(payload, RAW_MAX_CHARS)
        );
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            let name = &after[..name_len];
            out.push_str(&resolve(name, payload, event_type));
            rest = &after[name_len + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn resolve(name: &str, payload: &Value, event_type: &str) -> String {
    match name {
        "__raw__" => return pretty(payload, RAW_MAX_CHARS),
        "event_type" => return event_type.to_owned(),
        _ => {}
    }
    let mut value = payload;
    for part in name.split('.') {
        match value.get(part) {
            Some(next) if value.is_object() => value = next,
            _ => return format!("{{{name}}}"),
        }
    }
    match value {
        Value::String(text) => text.clone(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null => "None".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Object(_) | Value::Array(_) => pretty(value, VALUE_MAX_CHARS),
    }
}

/// Indented JSON, at most `max` characters.
fn pretty(value: &Value, max: usize) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    match text.char_indices().nth(max) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn push() -> Value {
        json!({
            "ref": "refs/heads/main",
            "repository": {"full_name": "octo/hello", "private": false, "stars": 3},
            "pusher": {"email": null, "name": "mona"},
            "commits": [{"id": "abc", "message": "Fix it"}],
        })
    }

    #[test]
    fn dot_paths_read_the_payload() {
        let text = render(
            "{pusher.name} pushed to {repository.full_name} ({ref}), {repository.stars} stars",
            &push(),
            "push",
            "gh",
        );
        assert_eq!(text, "mona pushed to octo/hello (refs/heads/main), 3 stars");
    }

    #[test]
    fn scalars_read_as_hermes_writes_them() {
        let text = render("{repository.private} {pusher.email}", &push(), "push", "gh");
        assert_eq!(text, "False None");
    }

    #[test]
    fn missing_paths_and_list_indices_stay_as_written() {
        let text = render(
            "{nope} {pusher.nope.deeper} {commits.0.id} {ref.x}",
            &push(),
            "push",
            "gh",
        );
        assert_eq!(text, "{nope} {pusher.nope.deeper} {commits.0.id} {ref.x}");
    }

    #[test]
    fn objects_and_lists_are_indented_json_cut_to_2000_characters() {
        assert_eq!(
            render("{pusher}", &push(), "push", "gh"),
            "{\n  \"email\": null,\n  \"name\": \"mona\"\n}"
        );
        let long = json!({"list": vec!["é"; 3000]});
        let text = render("{list}", &long, "e", "r");
        assert_eq!(text.chars().count(), VALUE_MAX_CHARS);
    }

    #[test]
    fn raw_and_event_type() {
        let text = render("[{event_type}] {__raw__}", &json!({"a": 1}), "push", "gh");
        assert_eq!(text, "[push] {\n  \"a\": 1\n}");
        let big = json!({"x": "y".repeat(10_000)});
        assert_eq!(
            render("{__raw__}", &big, "e", "r").chars().count(),
            RAW_MAX_CHARS
        );
    }

    #[test]
    fn other_braces_are_text() {
        let text = render("{ not } {a-b} {} {{ref}} {ref", &push(), "e", "r");
        assert_eq!(text, "{ not } {a-b} {} {refs/heads/main} {ref");
    }

    #[test]
    fn an_empty_template_gives_the_default_text() {
        let text = render("", &json!({"a": 1}), "push", "gh");
        assert_eq!(
            text,
            "Webhook event 'push' on route 'gh':\n\n```json\n{\n  \"a\": 1\n}\n```"
        );
    }
}
