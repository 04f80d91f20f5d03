//! Fenced code blocks as message splitting sees them.
//!
//! A simplified CommonMark reading, line by line: a line opens a block when,
//! after at most three spaces, it has at least three backticks or tildes (a
//! backtick fence's info string may not contain a backtick). The block is
//! closed by a line that, after at most three spaces, has at least as many
//! of the same character and then only whitespace. Container blocks (quotes,
//! lists) are not interpreted. A line is read once it is complete, that is
//! once its `\n` has been seen.

/// An open fenced code block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fence {
    /// `` ` `` or `~`.
    pub ch: char,
    /// How many fence characters open it (at least 3).
    pub len: usize,
    /// Byte range of the opening line in the scanned text, without its `\n`.
    pub line: (usize, usize),
}

/// `(fence character, run length)` when `line` opens a fenced code block.
pub(crate) fn open_fence(line: &str) -> Option<(char, usize)> {
    let body = line.trim_start_matches(' ');
    if line.len() - body.len() > 3 {
        return None;
    }
    let ch = body.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let info = body.trim_start_matches(ch);
    let len = body.len() - info.len();
    if len < 3 || (ch == '`' && info.contains('`')) {
        return None;
    }
    Some((ch, len))
}

/// Whether `line` closes `fence`.
fn closes(line: &str, fence: &Fence) -> bool {
    let body = line.trim_start_matches(' ');
    if line.len() - body.len() > 3 {
        return false;
    }
    let rest = body.trim_start_matches(fence.ch);
    body.len() - rest.len() >= fence.len && rest.trim().is_empty()
}

/// Whether a line looks like a fence of either kind (opening or closing).
/// Used to keep a part marker off such a line.
pub(crate) fn fence_like(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

/// The fence state of a text at every line end.
#[derive(Debug, Clone)]
pub(crate) struct FenceMap {
    /// Byte index of every `\n`, ascending.
    newlines: Vec<usize>,
    /// `after[j]`: the open block (if any) after the line ended by `newlines[j]`.
    after: Vec<Option<Fence>>,
}

impl FenceMap {
    pub(crate) fn new(text: &str) -> Self {
        let mut newlines = Vec::new();
        let mut after = Vec::new();
        let mut state: Option<Fence> = None;
        let mut start = 0;
        for (i, b) in text.bytes().enumerate() {
            if b != b'\n' {
                continue;
            }
            let line = &text[start..i];
            state = match state {
                Some(f) if closes(line, &f) => None,
                Some(f) => Some(f),
                None => open_fence(line).map(|(ch, len)| Fence {
                    ch,
                    len,
                    line: (start, i),
                }),
            };
            newlines.push(i);
            after.push(state);
            start = i + 1;
        }
        Self { newlines, after }
    }

    /// The open block at byte position `pos`, counting every line whose
    /// `\n` lies before `pos` (a partial line does not count yet).
    pub(crate) fn state_at(&self, pos: usize) -> Option<Fence> {
        let j = self.newlines.partition_point(|&nl| nl < pos);
        j.checked_sub(1).and_then(|j| self.after[j])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_lines() {
        assert_eq!(open_fence("```"), Some(('`', 3)));
        assert_eq!(open_fence("```rust"), Some(('`', 3)));
        assert_eq!(open_fence("   ~~~~ py"), Some(('~', 4)));
        assert_eq!(open_fence("    ```"), None);
        assert_eq!(open_fence("``"), None);
        assert_eq!(open_fence("``` a`b"), None);
        assert_eq!(open_fence("~~~ a`b"), Some(('~', 3)));
    }

    #[test]
    fn states_follow_complete_lines() {
        let text = "a\n```rust\ncode\n```\nb\n~~~~\n~~~\nx";
        let map = FenceMap::new(text);
        assert_eq!(map.state_at(0), None);
        assert_eq!(map.state_at(2), None);
        // `text[2..9]` is the opener; it counts once its newline is read.
        assert_eq!(map.state_at(9), None);
        let open = map
            .state_at(10)
            .map(|f| (f.ch, f.len, &text[f.line.0..f.line.1]));
        assert_eq!(open, Some(('`', 3, "```rust")));
        assert_eq!(map.state_at(text.find("\nb").map_or(0, |i| i + 1)), None);
        // A shorter run does not close a longer fence.
        assert!(
            map.state_at(text.len())
                .is_some_and(|f| f.ch == '~' && f.len == 4)
        );
    }
}
