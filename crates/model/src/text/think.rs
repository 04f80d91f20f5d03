//! Removing a model's hidden reasoning from its reply, streamed or whole.
//!
//! Reasoning models wrap their chain of thought in blocks such as
//! `<think>…</think>`. Users must never see it, and a streaming consumer must
//! not show half a tag while the rest is still in flight. [`ThinkFilter`]
//! takes the reply chunk by chunk and releases only text that is decided to
//! be visible; [`strip_think`] is the same filter applied to a whole text.
//!
//! # Rules
//!
//! * Block names are `think`, `thinking`, `reasoning`, `thought` and
//!   `REASONING_SCRATCHPAD`, matched ignoring ASCII case, written exactly as
//!   `<name>` / `</name>` (no attributes, no inner whitespace). A block ends
//!   at the first close tag of its own name; other tags inside it are
//!   content. Blocks do not nest.
//! * An open tag starts a block only at the start of the text or of a line
//!   (nothing but whitespace since the previous `\n`, or since the end of a
//!   previous block). Elsewhere (`use the <think> tag`) it is literal text.
//! * Everything inside a block is dropped. A block still open when the text
//!   ends is dropped entirely.
//! * A close tag outside any block (`</think>` with no opener) is removed.
//!   When the characters on both sides of it are non-whitespace it becomes a
//!   single space (`foo</think>bar` → `foo bar`); otherwise it vanishes and
//!   the whitespace already there stands. "Both sides" means the last visible
//!   character released before it and the next input character after it.
//! * Leading whitespace: once a tag has been removed before the first visible
//!   (non-whitespace) character, the whitespace left in front of that
//!   character is dropped up to and including its last line break, so
//!   `<think>x</think>\n\nHello` → `Hello` while the first line keeps its
//!   indentation (`<think>x</think>\n  code` → `  code`); whitespace on the
//!   tag's own line (`<think>x</think> Hello`) is dropped too. A reply that
//!   is only removed blocks and whitespace becomes empty. Nothing else is
//!   reflowed, and text in which no tag is removed comes out unchanged.
//!
//! # Streaming contract
//!
//! For every text and every way of cutting it into chunks (at character
//! boundaries), the concatenation of the strings returned by
//! [`ThinkFilter::push`] for each chunk and then [`ThinkFilter::finish`] is
//! exactly `strip_think(text)`. A possible tag split across chunks (a chunk
//! ending in `<thi`) is held back until it is decided, as is leading
//! whitespace before the first visible character.

/// Block names; the tags are `<name>` and `</name>`, any ASCII case.
const NAMES: [&str; 5] = [
    "think",
    "thinking",
    "reasoning",
    "thought",
    "REASONING_SCRATCHPAD",
];

/// Removes reasoning blocks from a reply arriving in chunks.
#[derive(Debug, Clone)]
pub struct ThinkFilter {
    /// Input not yet decided: starts with `<` when non-empty.
    pending: String,
    /// `Some(i)` inside a block named `NAMES[i]`.
    inside: Option<usize>,
    /// Only whitespace since the text start, the last `\n` or the last block.
    at_line_start: bool,
    /// The last character released (or held as leading whitespace).
    last_visible: Option<char>,
    /// A non-whitespace character has been released.
    seen_visible: bool,
    /// Whitespace before the first visible character, not yet released.
    held_whitespace: String,
    /// Some tag has been removed.
    removed: bool,
    /// The removed blocks' content, when asked for
    /// ([`ThinkFilter::keeping_reasoning`]), until taken.
    reasoning: Option<String>,
}

/// How the input at a `<` relates to one tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    /// The tag is there; it is this many bytes long.
    Full(usize),
    /// The input ends while still agreeing with the tag.
    Prefix,
    /// The input differs from the tag.
    No,
}

/// What sits at a `<` outside a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Open { name: usize, len: usize },
    Close { len: usize },
    Undecided,
    Literal,
}

impl Default for ThinkFilter {
    fn default() -> Self {
        Self::new()
    }
}

impl ThinkFilter {
    pub fn new() -> Self {
        Self {
            pending: String::new(),
            inside: None,
            at_line_start: true,
            last_visible: None,
            seen_visible: false,
            held_whitespace: String::new(),
            removed: false,
            reasoning: None,
        }
    }

    /// A filter that also keeps what it removes, for sources that show
    /// reasoning apart from the reply (the API's `reasoning_content`); read
    /// it with [`ThinkFilter::take_reasoning`].
    pub fn keeping_reasoning() -> Self {
        Self {
            reasoning: Some(String::new()),
            ..Self::new()
        }
    }

    /// The reasoning removed since the last call (empty unless the filter
    /// was made with [`ThinkFilter::keeping_reasoning`]).
    pub fn take_reasoning(&mut self) -> String {
        self.reasoning
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn keep(&mut self, text: &str) {
        if let Some(reasoning) = &mut self.reasoning {
            reasoning.push_str(text);
        }
    }

    /// Feeds the next chunk; returns the visible text that can be released
    /// now (possibly empty).
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.push_str(chunk);
        self.drain(false)
    }

    /// Ends the stream: returns the rest of the visible text and resets the
    /// filter so it can be used for another reply.
    pub fn finish(&mut self) -> String {
        let mut out = self.drain(true);
        if !self.seen_visible && !self.removed {
            out.push_str(&self.held_whitespace);
        }
        let reasoning = self.reasoning.take();
        *self = Self::new();
        self.reasoning = reasoning;
        out
    }

    /// Processes `pending` as far as it is decided. With `at_end`, the input
    /// is complete, so everything is decided and `pending` ends up empty.
    fn drain(&mut self, at_end: bool) -> String {
        let buf = std::mem::take(&mut self.pending);
        let mut out = String::new();
        let mut pos = 0;
        while pos < buf.len() {
            let rest = &buf[pos..];
            if let Some(name) = self.inside {
                let Some(lt) = rest.find('<') else {
                    self.keep(rest);
                    pos = buf.len();
                    break;
                };
                match fit(&rest[lt..], true, NAMES[name]) {
                    Fit::Full(len) => {
                        self.keep(&rest[..lt]);
                        pos += lt + len;
                        self.inside = None;
                        self.at_line_start = true;
                        self.note_removed();
                    }
                    Fit::Prefix if !at_end => {
                        self.keep(&rest[..lt]);
                        pos += lt;
                        break;
                    }
                    Fit::Prefix | Fit::No => {
                        self.keep(&rest[..=lt]);
                        pos += lt + 1;
                    }
                }
                continue;
            }
            let Some(ch) = rest.chars().next() else { break };
            if ch != '<' {
                self.emit(ch, &mut out);
                pos += ch.len_utf8();
                continue;
            }
            match self.find_tag(rest) {
                Found::Open { name, len } => {
                    pos += len;
                    self.inside = Some(name);
                    self.note_removed();
                }
                Found::Close { len } => {
                    let next = rest[len..].chars().next();
                    if next.is_none() && !at_end {
                        break;
                    }
                    pos += len;
                    let glue = self.last_visible.is_some_and(|c| !c.is_whitespace())
                        && next.is_some_and(|c| !c.is_whitespace());
                    self.note_removed();
                    if glue {
                        self.emit(' ', &mut out);
                    }
                }
                Found::Undecided if !at_end => break,
                Found::Undecided | Found::Literal => {
                    self.emit('<', &mut out);
                    pos += 1;
                }
            }
        }
        self.pending = buf[pos..].to_owned();
        out
    }

    /// Classifies the input at a `<` outside a block. Open tags count only
    /// at a line start; close tags count anywhere.
    fn find_tag(&self, at: &str) -> Found {
        let mut undecided = false;
        for (name, tag) in NAMES.iter().enumerate() {
            if self.at_line_start {
                match fit(at, false, tag) {
                    Fit::Full(len) => return Found::Open { name, len },
                    Fit::Prefix => undecided = true,
                    Fit::No => {}
                }
            }
            match fit(at, true, tag) {
                Fit::Full(len) => return Found::Close { len },
                Fit::Prefix => undecided = true,
                Fit::No => {}
            }
        }
        if undecided {
            Found::Undecided
        } else {
            Found::Literal
        }
    }

    fn note_removed(&mut self) {
        self.removed = true;
        if !self.seen_visible {
            // Whitespace in front of a removed tag only indented the tag.
            self.held_whitespace.clear();
        }
    }

    /// Releases one visible character (holding leading whitespace back).
    fn emit(&mut self, ch: char, out: &mut String) {
        if ch == '\n' {
            self.at_line_start = true;
        } else if !ch.is_whitespace() {
            self.at_line_start = false;
        }
        self.last_visible = Some(ch);
        if self.seen_visible {
            out.push(ch);
        } else if ch.is_whitespace() {
            self.held_whitespace.push(ch);
        } else {
            self.seen_visible = true;
            let held = std::mem::take(&mut self.held_whitespace);
            if !self.removed {
                out.push_str(&held);
            } else if let Some(nl) = held.rfind('\n') {
                out.push_str(&held[nl + 1..]);
            }
            out.push(ch);
        }
    }
}

/// Removes every reasoning block from a complete text (see the module docs).
pub fn strip_think(text: &str) -> String {
    let mut filter = ThinkFilter::new();
    let mut out = filter.push(text);
    out.push_str(&filter.finish());
    out
}

/// Compares the input at a `<` with `<name>` (or `</name>`), ignoring ASCII
/// case.
fn fit(at: &str, close: bool, name: &str) -> Fit {
    let slash: &[u8] = if close { b"/" } else { b"" };
    let tag = b"<".iter().chain(slash).chain(name.as_bytes()).chain(b">");
    let input = at.as_bytes();
    let mut len = 0;
    for (i, want) in tag.enumerate() {
        match input.get(i) {
            None => return Fit::Prefix,
            Some(got) if got.eq_ignore_ascii_case(want) => len = i + 1,
            Some(_) => return Fit::No,
        }
    }
    Fit::Full(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streamed(chunks: &[&str]) -> String {
        let mut f = ThinkFilter::new();
        let mut out: String = chunks.iter().map(|c| f.push(c)).collect();
        out.push_str(&f.finish());
        out
    }

    /// Visible text and kept reasoning of a streamed reply.
    pub(super) fn split(chunks: &[&str]) -> (String, String) {
        let mut f = ThinkFilter::keeping_reasoning();
        let mut visible = String::new();
        let mut reasoning = String::new();
        for chunk in chunks {
            visible.push_str(&f.push(chunk));
            reasoning.push_str(&f.take_reasoning());
        }
        visible.push_str(&f.finish());
        reasoning.push_str(&f.take_reasoning());
        (visible, reasoning)
    }

    #[test]
    fn reasoning_can_be_kept_apart_from_the_reply() {
        assert_eq!(
            split(&["<thi", "nk>first, ", "the plan</th", "ink>\n\nHello"]),
            ("Hello".to_owned(), "first, the plan".to_owned())
        );
        // `<` inside a block is reasoning too; an unclosed block is all
        // reasoning.
        assert_eq!(
            split(&["<think>a < b", "</think>ok\n<think>more"]),
            ("ok\n".to_owned(), "a < bmore".to_owned())
        );
        // A plain filter keeps nothing.
        let mut f = ThinkFilter::new();
        f.push("<think>x</think>y");
        f.finish();
        assert_eq!(f.take_reasoning(), "");
    }

    #[test]
    fn removes_blocks_of_every_name_and_case() {
        assert_eq!(strip_think("<think>plan</think>Hello"), "Hello");
        assert_eq!(strip_think("<THINKING>a</thinking>Hi"), "Hi");
        assert_eq!(strip_think("<Reasoning>a</REASONING>Hi"), "Hi");
        assert_eq!(strip_think("<thought>a</thought>Hi"), "Hi");
        assert_eq!(
            strip_think("<REASONING_SCRATCHPAD>a</reasoning_scratchpad>Hi"),
            "Hi"
        );
    }

    #[test]
    fn a_block_closes_only_with_its_own_tag() {
        assert_eq!(strip_think("<think>a</thinking>b</think>Hi"), "Hi");
        assert_eq!(strip_think("<thinking>a</think>b</thinking>Hi"), "Hi");
    }

    #[test]
    fn leading_blank_lines_after_a_block_go() {
        assert_eq!(strip_think("<think>x</think>\n\nHello"), "Hello");
        assert_eq!(strip_think("  <think>x</think>\n\n  code"), "  code");
        assert_eq!(strip_think("<think>x</think> Hello"), "Hello");
        assert_eq!(strip_think("<think>a</think>\n<think>b</think>\nHi"), "Hi");
        assert_eq!(strip_think("<think>x</think>\n\n"), "");
        assert_eq!(strip_think("  \n Hello"), "  \n Hello");
    }

    #[test]
    fn open_tags_count_only_at_line_start() {
        assert_eq!(strip_think("use the <think> tag"), "use the <think> tag");
        assert_eq!(
            strip_think("Hi\n  <think>x</think>\nthere"),
            "Hi\n  \nthere"
        );
        assert_eq!(strip_think("a\r\n<think>x</think>b"), "a\r\nb");
    }

    #[test]
    fn consecutive_blocks_at_the_start() {
        assert_eq!(strip_think("<think>a</think><thought>b</thought>Hi"), "Hi");
    }

    #[test]
    fn unclosed_blocks_are_dropped() {
        assert_eq!(strip_think("Hi\n<think>secret"), "Hi\n");
        assert_eq!(strip_think("<think>secret</thi"), "");
    }

    #[test]
    fn stray_close_tags_never_glue_words() {
        assert_eq!(strip_think("foo</think>bar"), "foo bar");
        assert_eq!(strip_think("foo </think>bar"), "foo bar");
        assert_eq!(strip_think("foo</think> bar"), "foo bar");
        assert_eq!(strip_think("foo</think>"), "foo");
        assert_eq!(strip_think("</think>\n\nAnswer"), "Answer");
        assert_eq!(strip_think("foo</think></THOUGHT>bar"), "foo bar");
    }

    #[test]
    fn literal_angle_brackets_survive() {
        for text in ["a < b", "x <b>bold</b>", "<", "<thin", "1 <3", "</thinker>"] {
            assert_eq!(strip_think(text), text);
        }
    }

    #[test]
    fn partial_tags_are_held_until_decided() {
        let mut f = ThinkFilter::new();
        assert_eq!(f.push("Hi\n<thi"), "Hi\n");
        assert_eq!(f.push("nk>secret</th"), "");
        assert_eq!(f.push("ink>\nok"), "\nok");
        assert_eq!(f.finish(), "");

        // Mid-line only a close tag can follow, so `<thi` is already literal.
        let mut f = ThinkFilter::new();
        assert_eq!(f.push("a <thi"), "a <thi");
        assert_eq!(f.push("a </thi"), "a ");
        assert_eq!(f.push("s"), "</this");
        assert_eq!(f.finish(), "");
    }

    #[test]
    fn a_stray_close_waits_for_the_next_character() {
        let mut f = ThinkFilter::new();
        assert_eq!(f.push("foo</think>"), "foo");
        assert_eq!(f.push("bar"), " bar");
        assert_eq!(f.finish(), "");
    }

    #[test]
    fn finish_resets_the_filter() {
        let mut f = ThinkFilter::new();
        f.push("<think>a");
        assert_eq!(f.finish(), "");
        assert_eq!(f.push("Hello"), "Hello");
        assert_eq!(f.finish(), "");
    }

    #[test]
    fn streaming_matches_one_shot_on_examples() {
        assert_eq!(streamed(&["<", "think", ">x<", "/think>", "\n\nHi"]), "Hi");
        assert_eq!(streamed(&["foo<", "/", "think", ">", "bar"]), "foo bar");
    }
}

#[cfg(test)]
mod properties {
    use super::tests::split;
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    const FRAGMENTS: &[&str] = &[
        "<think>",
        "</think>",
        "<THINK>",
        "</Think>",
        "<thinking>",
        "</thinking>",
        "<Thinking>",
        "</THINKING>",
        "<reasoning>",
        "</reasoning>",
        "<thought>",
        "</thought>",
        "<REASONING_SCRATCHPAD>",
        "</reasoning_scratchpad>",
        "<",
        ">",
        "</",
        "<thi",
        "</thin",
        "<reason",
        "<b>",
        "hello",
        "world",
        "use the ",
        " tag",
        " ",
        "  ",
        "\t",
        "\n",
        "\n\n",
        "\r\n",
        "é",
        "😀",
        "中文",
        "a<b",
        "x",
    ];

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(select(FRAGMENTS), 0..40).prop_map(|f| f.concat())
    }

    fn run(chunks: impl IntoIterator<Item = String>) -> String {
        let mut f = ThinkFilter::new();
        let mut out = String::new();
        for chunk in chunks {
            out.push_str(&f.push(&chunk));
        }
        out.push_str(&f.finish());
        out
    }

    fn boundaries(text: &str) -> Vec<usize> {
        text.char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect()
    }

    fn pieces(text: &str, mut cuts: Vec<usize>) -> Vec<String> {
        cuts.sort_unstable();
        cuts.dedup();
        let mut start = 0;
        let mut out = Vec::new();
        for cut in cuts.into_iter().chain([text.len()]) {
            out.push(text[start..cut].to_owned());
            start = cut;
        }
        out
    }

    /// A block whose content starts with `SECRET` and cannot contain its own
    /// close tag (no fragment holds a lone `</`).
    fn block() -> impl Strategy<Value = (String, bool)> {
        let inner = proptest::collection::vec(
            select(
                &[
                    "<think>",
                    "<thought>",
                    "</thinking>",
                    "<",
                    ">",
                    "x",
                    " ",
                    "\n",
                    "😀",
                ][..],
            ),
            0..8,
        );
        (0..NAMES.len(), any::<bool>(), inner, any::<bool>()).prop_map(
            |(name, upper, inner, closed)| {
                let tag = if upper {
                    NAMES[name].to_ascii_uppercase()
                } else {
                    NAMES[name].to_ascii_lowercase()
                };
                let inner: String = inner
                    .into_iter()
                    .map(|f| {
                        let own_close = f.eq_ignore_ascii_case(&format!("</{tag}>"));
                        if own_close { "x" } else { f }
                    })
                    .collect();
                let close = if closed {
                    format!("</{tag}>")
                } else {
                    String::new()
                };
                (format!("\n<{tag}>SECRET{inner}{close}"), closed)
            },
        )
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_one_shot_result(
            text in text(),
            raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let expected = strip_think(&text);
            let b = boundaries(&text);
            let cuts = raw_cuts.into_iter().map(|c| b[c % b.len()]).collect();
            prop_assert_eq!(&run(pieces(&text, cuts)), &expected);
            // One character per chunk.
            prop_assert_eq!(&run(text.chars().map(String::from)), &expected);
            // Two chunks, cut at every boundary.
            for &cut in &b {
                prop_assert_eq!(&run(pieces(&text, vec![cut])), &expected);
            }
        }

        #[test]
        fn kept_reasoning_does_not_depend_on_chunking(
            text in text(),
            raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let b = boundaries(&text);
            let cuts: Vec<usize> = raw_cuts.into_iter().map(|c| b[c % b.len()]).collect();
            let chunks = pieces(&text, cuts);
            let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
            let (visible, reasoning) = split(&refs);
            prop_assert_eq!(&visible, &strip_think(&text));
            prop_assert_eq!(split(&[text.as_str()]).1, reasoning);
        }

        #[test]
        fn block_content_never_shows(
            plain in proptest::collection::vec("[a-z <>/\n😀]{0,12}", 1..6),
            blocks in proptest::collection::vec(block(), 1..6),
        ) {
            let mut text = String::new();
            for (p, (b, _)) in plain.iter().zip(&blocks) {
                text.push_str(p);
                text.push_str(b);
            }
            prop_assert!(!strip_think(&text).contains("SECRET"));
            prop_assert!(!run(text.chars().map(String::from)).contains("SECRET"));
        }

        #[test]
        fn closed_blocks_at_line_start_are_cut_out_exactly(
            plain in proptest::collection::vec("[a-z \n😀é]{0,12}", 1..6),
            blocks in proptest::collection::vec(block(), 1..6),
        ) {
            let mut text = String::from("Hi");
            let mut expected = String::from("Hi");
            for (p, (b, closed)) in plain.iter().zip(&blocks) {
                text.push_str(p);
                expected.push_str(p);
                text.push_str(b);
                expected.push('\n');
                if !closed {
                    break;
                }
            }
            prop_assert_eq!(strip_think(&text), expected);
        }

        #[test]
        fn text_without_angle_brackets_is_unchanged(text in "[^<]{0,80}") {
            prop_assert_eq!(&strip_think(&text), &text);
            prop_assert_eq!(&run(text.chars().map(String::from)), &text);
        }
    }
}
