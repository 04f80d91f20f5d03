//! Recognising a reply that asks for no message at all.
//!
//! An agent that decides not to answer (a group chat it was not addressed
//! in, a cron job with nothing to report) replies with a silence marker
//! instead of text: `NO_REPLY`, `[SILENT]`, `SILENT` or `NO REPLY`.
//!
//! # Rules
//!
//! * The comparison ignores ASCII case.
//! * Decoration around the marker is ignored: leading and trailing
//!   whitespace and any other character that is neither alphanumeric nor a
//!   square bracket (punctuation, Markdown emphasis `*` `_` `` ` `` `~`,
//!   symbols, emoji). So `no_reply.`, `**[SILENT]**` and `` `NO_REPLY` ``
//!   are silence. Brackets are never decoration: they belong to `[SILENT]`,
//!   so `[NO_REPLY]` or `[SILENT` are ordinary text.
//! * Only the whole reply counts, and only when it is at most
//!   [`MAX_SILENCE_CHARS`] characters after trimming whitespace; a marker
//!   inside a longer text is text.
//!
//! [`may_become_silence`] is the streaming companion: it is true for every
//! prefix of a silence reply, so a consumer that holds back output while it
//! is true never shows the start of a marker.

/// The silence markers, compared ignoring ASCII case.
const MARKERS: [&str; 4] = ["NO_REPLY", "[SILENT]", "SILENT", "NO REPLY"];

/// The longest reply (in characters, whitespace-trimmed) that can be silence.
pub const MAX_SILENCE_CHARS: usize = 64;

/// Whether `c` may surround a marker without changing its meaning.
fn is_decoration(c: char) -> bool {
    c.is_whitespace() || !(c.is_alphanumeric() || c == '[' || c == ']')
}

/// True when the whole reply is a silence marker (see the module docs).
pub fn is_silence(text: &str) -> bool {
    let text = text.trim();
    if text.chars().count() > MAX_SILENCE_CHARS {
        return false;
    }
    let core = text.trim_matches(is_decoration);
    MARKERS.iter().any(|m| core.eq_ignore_ascii_case(m))
}

/// True while a streamed reply starting with `prefix` could still turn out
/// to be silence, including the empty prefix. Contract: if
/// `is_silence(s)`, then `may_become_silence(p)` for every prefix `p` of `s`.
pub fn may_become_silence(prefix: &str) -> bool {
    let prefix = prefix.trim();
    if prefix.chars().count() > MAX_SILENCE_CHARS {
        return false;
    }
    let core = prefix.trim_start_matches(is_decoration);
    MARKERS.iter().any(|m| {
        let (c, mb) = (core.as_bytes(), m.as_bytes());
        if c.len() <= mb.len() {
            mb[..c.len()].eq_ignore_ascii_case(c)
        } else {
            // The marker is complete; only decoration may follow it.
            c[..mb.len()].eq_ignore_ascii_case(mb)
                && core
                    .get(mb.len()..)
                    .is_some_and(|rest| rest.chars().all(is_decoration))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_in_any_case_and_decoration() {
        for text in [
            "NO_REPLY",
            "no_reply.",
            "  No Reply!  ",
            "[SILENT]",
            "**[SILENT]**",
            "`NO_REPLY`",
            "_silent_",
            "SILENT…",
            "\nNO_REPLY\n",
            "(silent)",
        ] {
            assert!(is_silence(text), "{text:?}");
        }
    }

    #[test]
    fn other_text_is_not_silence() {
        for text in [
            "",
            "   ",
            "NO",
            "[NO_REPLY]",
            "[SILENT",
            "SILENTLY",
            "NOREPLY",
            "NO_REPLY, because nobody asked",
            "I will stay SILENT",
            "no  reply",
        ] {
            assert!(!is_silence(text), "{text:?}");
        }
    }

    #[test]
    fn long_decorated_replies_are_text() {
        let long = format!("NO_REPLY{}", ".".repeat(MAX_SILENCE_CHARS));
        assert!(!is_silence(&long));
        let fits = format!("NO_REPLY{}", ".".repeat(MAX_SILENCE_CHARS - 8));
        assert!(is_silence(&fits));
    }

    #[test]
    fn prefixes_that_may_still_become_silence() {
        for prefix in [
            "",
            " ",
            "N",
            "no",
            "NO_",
            "NO ",
            "NO R",
            "[SIL",
            "**",
            "SILENT",
            "NO_REPLY.",
        ] {
            assert!(may_become_silence(prefix), "{prefix:?}");
        }
        for prefix in ["Hello", "NOT", "[NO", "SILENTLY", "NO_REPLY x", "x"] {
            assert!(!may_become_silence(prefix), "{prefix:?}");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    fn decoration() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            select(&[" ", "*", "_", ".", "!", "`", "\n", "~", "…", "🤐"][..]),
            0..4,
        )
        .prop_map(|d| d.concat())
    }

    fn cased(marker: &str, mask: u32) -> String {
        marker
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if mask >> (i % 32) & 1 == 1 {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect()
    }

    fn prefixes(s: &str) -> impl Iterator<Item = &str> {
        s.char_indices().map(|(i, _)| &s[..i]).chain([s])
    }

    proptest! {
        #[test]
        fn decorated_markers_are_silence_and_every_prefix_may_become_it(
            before in decoration(),
            marker in select(&MARKERS[..]),
            mask in any::<u32>(),
            after in decoration(),
        ) {
            let text = format!("{before}{}{after}", cased(marker, mask));
            prop_assert!(is_silence(&text));
            for p in prefixes(&text) {
                prop_assert!(may_become_silence(p), "{:?}", p);
            }
        }

        #[test]
        fn prefixes_of_any_silence_may_become_it(text in "[nNoO_ rRePpLlYy\\[\\]sSiItT*.]{0,12}") {
            if is_silence(&text) {
                for p in prefixes(&text) {
                    prop_assert!(may_become_silence(p), "{:?}", p);
                }
            }
        }

        #[test]
        fn text_with_a_letter_outside_the_markers_is_not_silence(
            text in "[a-zA-Z ]{0,10}[abcdfghjkmquvwxzABCDFGHJKMQUVWXZ][a-zA-Z ]{0,10}",
        ) {
            prop_assert!(!is_silence(&text));
        }
    }
}
