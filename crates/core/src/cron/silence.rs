//! Silence markers: a scheduled job's reply that says there is nothing to
//! report is kept in the job's history but not delivered.

/// The markers, compared after trimming, upper-casing, collapsing spaces
/// and stripping punctuation at the edges (brackets excepted).
const MARKERS: [&str; 4] = ["[SILENT]", "SILENT", "NO_REPLY", "NO REPLY"];

/// Whether `line` is a silence marker and nothing else.
fn is_marker(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let joined = words.join(" ");
    let trimmed = joined.trim_matches(|c: char| c.is_ascii_punctuation() && !"[]_".contains(c));
    trimmed.len() <= 64 && MARKERS.iter().any(|m| trimmed.eq_ignore_ascii_case(m))
}

/// Whether a reply asks not to be delivered: a marker as the whole reply,
/// or on its own as the first or the last non-empty line.
pub fn is_silent(reply: &str) -> bool {
    let mut lines = reply.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next();
    let last = lines.next_back();
    first.is_some_and(is_marker) || last.is_some_and(is_marker)
}

#[cfg(test)]
mod tests {
    use super::is_silent;

    #[test]
    fn markers_whole_first_or_last_line() {
        for silent in [
            "[SILENT]",
            "  silent  ",
            "SILENT.",
            "NO_REPLY",
            "no  reply!",
            "[SILENT]\nChecked the feed; nothing new.",
            "Nothing new today.\n\n**NO REPLY**",
        ] {
            assert!(is_silent(silent), "{silent:?}");
        }
        for loud in [
            "",
            "The build is green. Not silent at all.",
            "Nothing.\n[SILENT] but here is text\nmore",
            "line one\nSILENT\nline three",
            "SILENTLY",
        ] {
            assert!(!is_silent(loud), "{loud:?}");
        }
    }
}
