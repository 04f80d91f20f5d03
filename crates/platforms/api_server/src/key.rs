//! Which API keys the server accepts: at least [`MIN_KEY_LEN`] characters,
//! and not a placeholder copied from an example (`changeme`,
//! `your-api-key-here`, `sk-xxxx…`, `<your key>`): such a key is the first
//! one anybody tries.

use hermod_model::Secret;

/// Shortest API key accepted.
pub(crate) const MIN_KEY_LEN: usize = 16;

/// What to do about a refused key, for every refusal.
const REMEDY: &str = "set API_SERVER_KEY to a random key of at least 16 characters \
     (for example the output of `openssl rand -hex 24`), or unset it so hermod \
     generates one on its next start";

/// Words of example keys, matched anywhere in the key (lowercased).
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "your",
    "example",
    "replace",
    "insert",
    "dummy",
    "sample",
    "password",
    "xxxx",
];

/// Words of example keys that count only on their own, between separators
/// (`key-here`), since they are common inside random text.
const PLACEHOLDER_TOKENS: &[&str] = &["here", "todo", "fixme", "apikey"];

/// Why a key is not acceptable, if it is not: a message saying what is
/// wrong and what to do, without the key itself.
pub(crate) fn key_problem(key: &Secret) -> Option<String> {
    if key.char_len() < MIN_KEY_LEN {
        return Some(format!(
            "API_SERVER_KEY is shorter than {MIN_KEY_LEN} characters; {REMEDY}"
        ));
    }
    placeholder_reason(key.expose())
        .map(|why| format!("API_SERVER_KEY looks like a placeholder ({why}); {REMEDY}"))
}

/// Why `key` looks copied from an example rather than generated.
fn placeholder_reason(key: &str) -> Option<String> {
    let lower = key.trim().to_ascii_lowercase();
    if ["<", ">", "{{", "${", "[["]
        .iter()
        .any(|marker| lower.contains(marker))
    {
        return Some("it is a template to fill in".into());
    }
    if let Some(word) = PLACEHOLDER_WORDS.iter().find(|w| lower.contains(*w)) {
        return Some(format!("it contains \"{word}\""));
    }
    let tokens: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(word) = PLACEHOLDER_TOKENS.iter().find(|w| tokens.contains(*w)) {
        return Some(format!("it contains \"{word}\""));
    }
    // `aaaaaaaaaaaaaaaa`, `sk-xxxxxxxxxxxxxxxx`, `abababababababab`: a
    // random key of this length has many more distinct characters.
    let mut distinct: Vec<char> = lower.chars().filter(char::is_ascii_alphanumeric).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return Some("it repeats the same few characters".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(key: &str) -> Option<String> {
        key_problem(&Secret::new(key))
    }

    #[test]
    fn placeholders_are_refused_with_what_to_do() {
        for placeholder in [
            "your-api-key-here",
            "YOUR_API_KEY_GOES_HERE",
            "changeme-changeme-changeme",
            "change-me-please-now",
            "placeholder-api-key",
            "xxxxxxxxxxxxxxxxxxxxxxxx",
            "sk-xxxxxxxxxxxxxxxxxxxxxxxx",
            "sk-your-key-0123456789",
            "<your key goes in here>",
            "${API_SERVER_KEY_VALUE}",
            "{{ api_server_key }}",
            "your_api_key_1234567",
            "put-the-key-here-1234",
            "replace-with-a-real-key",
            "example-key-0123456789",
            "aaaaaaaaaaaaaaaaaaaa",
            "0000000000000000",
            "abababababababababab",
            "****************",
            "api-key-todo-0123456789",
        ] {
            let why = problem(placeholder).unwrap_or_else(|| panic!("{placeholder} accepted"));
            assert!(why.contains("placeholder"), "{placeholder}: {why}");
            assert!(
                why.contains("at least 16 characters") && why.contains("unset it"),
                "{why}"
            );
            assert!(!why.contains(placeholder), "the key is not repeated: {why}");
        }
    }

    #[test]
    fn random_keys_pass() {
        for key in [
            "hermod-3f9a1c0b7e2d4f6a8b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e",
            "test-key-0123456789abcdef",
            "bench-key-0123456789abcdefghijkl",
            "0123456789abcdef0123",
            "Zq8vN2xL5tR9wK3mP7yB",
            "sk-proj-4fT9qLz2Xw8RkV1nB6cM0pJ3",
        ] {
            assert_eq!(problem(key), None, "{key}");
        }
    }

    #[test]
    fn short_keys_are_refused() {
        let why = problem("k3y-Zq8vN2x").unwrap();
        assert!(why.contains("shorter than 16"), "{why}");
        assert!(why.contains("unset it"), "{why}");
    }
}
