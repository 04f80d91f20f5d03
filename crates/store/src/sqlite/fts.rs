//! Turning a user's free-text search into a safe FTS5 query.
//!
//! Search input comes from people and models, not from programmers, so FTS5's
//! query syntax (`AND`, `NEAR`, `*`, `-`, `column:`, quotes, parentheses) must
//! never be interpreted: every whitespace-separated word becomes one quoted
//! phrase, and the phrases are ANDed. Inside a phrase the tokenizer splits on
//! punctuation exactly as it did when indexing, so `a:b` finds "a b" and
//! `get_weather` finds "get weather". Control characters separate words too:
//! the tokenizer never indexes them, and FTS5 stops reading a query at a NUL.

/// The FTS5 `MATCH` expression for `input`, or `None` when it contains nothing
/// searchable (empty, or only punctuation), in which case nothing matches.
pub(crate) fn match_expression(input: &str) -> Option<String> {
    let phrases: Vec<String> = crate::rows::search_words(input)
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect();
    if phrases.is_empty() {
        None
    } else {
        Some(phrases.join(" AND "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_anded_phrases() {
        assert_eq!(
            match_expression("hello world").as_deref(),
            Some("\"hello\" AND \"world\"")
        );
        assert_eq!(match_expression("  AND  ").as_deref(), Some("\"AND\""));
        assert_eq!(
            match_expression("foo\"bar").as_deref(),
            Some("\"foo\"\"bar\"")
        );
        assert_eq!(
            match_expression("-x a:b").as_deref(),
            Some("\"-x\" AND \"a:b\"")
        );
        assert_eq!(
            match_expression("a\0b\x07").as_deref(),
            Some("\"a\" AND \"b\"")
        );
    }

    #[test]
    fn nothing_searchable() {
        for input in ["", "   ", "*", "\" ( ) -", "\u{3000}"] {
            assert_eq!(match_expression(input), None, "{input:?}");
        }
    }
}
