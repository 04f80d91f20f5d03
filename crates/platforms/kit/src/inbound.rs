//! Turning what a platform delivers into the text of an `InboundEvent`,
//! the same way on every platform.

/// The longest quote of a replied-to message put in front of a reply, in
/// characters: enough context for the model, never a whole document.
pub const MAX_QUOTE_CHARS: usize = 1000;

/// A reply with the message it answers quoted in front (each line as
/// `> line`), so the model sees what is being answered. A replied-to text
/// that is empty adds nothing; a long one is cut at [`MAX_QUOTE_CHARS`]
/// with an ellipsis.
pub fn with_quote(quoted: &str, text: &str) -> String {
    let quoted = quoted.trim();
    if quoted.is_empty() {
        return text.to_owned();
    }
    let capped = match quoted.char_indices().nth(MAX_QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &quoted[..cut]),
        None => quoted.to_owned(),
    };
    let lines: Vec<String> = capped.lines().map(|line| format!("> {line}")).collect();
    format!("{}\n\n{text}", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_come_first_line_by_line_and_capped() {
        assert_eq!(with_quote("a\nb", "reply"), "> a\n> b\n\nreply");
        assert_eq!(with_quote("  ", "reply"), "reply");
        let long = "x".repeat(MAX_QUOTE_CHARS + 5);
        let quoted = with_quote(&long, "r");
        assert!(quoted.starts_with(&format!("> {}…", "x".repeat(MAX_QUOTE_CHARS))));
    }
}
