//! Splitting a text into pieces that fit a platform's message length.

use hermod_model::LengthUnit;

/// Splits `text` into pieces of at most `limit` (measured in `unit`),
/// cutting at whitespace where a piece has any, else inside a word. The
/// whitespace at a cut is dropped; nothing else is.
pub(crate) fn split(text: &str, limit: usize, unit: LengthUnit) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while unit.measure(rest) > limit {
        let mut fits = 0;
        let mut length = 0;
        for (at, c) in rest.char_indices() {
            length += unit.measure(c.encode_utf8(&mut [0; 4]));
            if length > limit {
                break;
            }
            fits = at + c.len_utf8();
        }
        // A limit below one character still makes progress.
        let fits = fits.max(rest.chars().next().map_or(0, char::len_utf8));
        let cut = if rest[fits..].starts_with(char::is_whitespace) {
            fits
        } else {
            rest[..fits]
                .rfind(char::is_whitespace)
                .filter(|at| *at > 0)
                .unwrap_or(fits)
        };
        let piece = rest[..cut].trim_end();
        if !piece.is_empty() {
            pieces.push(piece.to_owned());
        }
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        pieces.push(rest.to_owned());
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_fit_and_keep_every_word() {
        let text = "alpha beta gamma delta 😀😀😀 epsilon";
        let pieces = split(text, 11, LengthUnit::Utf16);
        assert_eq!(pieces, ["alpha beta", "gamma delta", "😀😀😀", "epsilon"]);
        assert!(pieces.iter().all(|p| LengthUnit::Utf16.measure(p) <= 11));
        assert_eq!(
            split("abcdefgh", 3, LengthUnit::Chars),
            ["abc", "def", "gh"]
        );
        assert_eq!(split("short", 10, LengthUnit::Bytes), ["short"]);
    }
}
