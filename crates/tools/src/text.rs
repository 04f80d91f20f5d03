//! Cutting text to a size the model can read, saying where and how much
//! was cut.

/// The first `max_chars` characters of `text`, with a note when more were
/// cut: the model must know it did not see everything.
pub(crate) fn cap_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some((cut, _)) => {
            let total = text.chars().count();
            format!(
                "{}\n[cut: {} of {} characters shown]",
                &text[..cut],
                max_chars,
                total
            )
        }
    }
}

/// The first `n` characters of `text`.
pub(crate) fn first_chars(text: &str, n: usize) -> &str {
    match text.char_indices().nth(n) {
        None => text,
        Some((cut, _)) => &text[..cut],
    }
}

/// The last `n` characters of `text`.
pub(crate) fn last_chars(text: &str, n: usize) -> &str {
    if n == 0 {
        return "";
    }
    match text.char_indices().rev().nth(n - 1) {
        None => text,
        Some((start, _)) => &text[start..],
    }
}

/// A one-line preview of `text` of at most `max_chars` characters.
pub(crate) fn preview(text: &str, max_chars: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max_chars {
        line
    } else {
        format!("{}…", first_chars(&line, max_chars.saturating_sub(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_characters_not_bytes() {
        assert_eq!(cap_chars("héllo", 5), "héllo");
        assert_eq!(cap_chars("héllo", 2), "hé\n[cut: 2 of 5 characters shown]");
        assert_eq!(first_chars("héllo", 2), "hé");
        assert_eq!(last_chars("héllo", 4), "éllo");
        assert_eq!(last_chars("héllo", 9), "héllo");
        assert_eq!(last_chars("héllo", 0), "");
    }

    #[test]
    fn previews_are_one_short_line() {
        assert_eq!(preview("a\n  b\tc", 10), "a b c");
        assert_eq!(preview("abcdefghij", 5), "abcd…");
    }
}
