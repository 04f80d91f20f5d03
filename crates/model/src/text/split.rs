//! Splitting a reply into messages that fit a platform's length limit,
//! keeping fenced code blocks intact in every message.
//!
//! # Where a cut falls
//!
//! Within the room a message has, the cut is made after the last `\n` in
//! it (the newline stays at the end of the earlier piece). Only when no
//! newline there will do is the last line in the room cut: before its last
//! breaking whitespace character (which then starts the next piece), else
//! after the last character that fits, avoiding to separate a character
//! from a following combining mark, variation selector, skin tone or
//! zero-width joiner when possible. Cuts are always at character
//! boundaries, so no UTF-8 sequence or UTF-16 surrogate pair is ever
//! broken. A piece cut without a fence repair either ends with `\n` or
//! holds none. A cut right after a block's opening line, which would leave
//! an empty block, is never made: the block's first line is cut instead.
//!
//! Fenced code blocks are read line by line, CommonMark-style: a line with
//! at most three spaces of indentation and then three or more backticks or
//! tildes opens a block (a backtick fence's info string may not contain a
//! backtick); a line of at least as many of the same character, followed
//! only by whitespace, closes it. Quotes and lists are not interpreted. A
//! line takes effect once its `\n` is part of the earlier piece.
//!
//! # Repairs
//!
//! The original text is the concatenation of the pieces' *bodies*; nothing
//! is dropped. What is added:
//!
//! * **Fences.** When a cut falls inside a fenced code block, the piece
//!   before it gets a closing fence: the opener's character and count right
//!   after the body's final `\n`, or, for a mid-line cut, `\n` plus the
//!   fence with one character more (still a valid closer; the extra
//!   character records that this `\n` is not part of the text). The next
//!   piece starts with a copy of the opening line (indentation and language
//!   included) and `\n`. The room counts all of it. A block is only closed
//!   at a cut when the copied opener, a closer and one character fit a
//!   piece; otherwise the cut is left unrepaired.
//! * **Markers** ([`split_message`] only). Every part ends with `(i/N)`:
//!   after a space; directly, on a line of its own, when the content ends
//!   with `\n` (after a space if the line before looks like a fence); or
//!   after a `\n` when the content's last line looks like a fence, so that a
//!   closing fence stays valid. Room for the widest marker is reserved in
//!   every part.
//!
//! [`reassemble`] undoes exactly these repairs.
//!
//! # Tiny limits
//!
//! Nothing here panics. Below [`MIN_SPLIT_LIMIT`], [`split_message`] makes
//! plain cuts with neither markers nor fence repairs, so its parts simply
//! concatenate to the text. A piece always holds at least one character,
//! so a piece exceeds its room only when a single character is wider than
//! that room (a limit under 4, or more than 9 999 parts at the minimum
//! limit).

use super::fence::{Fence, FenceMap, fence_like, open_fence};
use crate::LengthUnit;

/// The smallest limit at which [`split_message`] adds markers and fence
/// repairs.
pub const MIN_SPLIT_LIMIT: usize = 16;

/// A text cut in two; see [`cut`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// The first piece: measures at most the budget (see the module docs
    /// for the one exception).
    pub head: String,
    /// The rest of the text, with an opening fence prepended when the cut
    /// fell inside a code block; empty when the text fits.
    pub tail: String,
}

/// Cuts `text` so that `head` measures at most `budget` in `unit`, closing
/// and reopening a code block the cut falls in (see the module docs).
/// When the text fits, `head` is the text and `tail` is empty.
pub fn cut(text: &str, budget: usize, unit: LengthUnit) -> Cut {
    let planner = Planner::new(text, unit);
    let step = planner.step(0, None, budget, true);
    let mut tail = String::new();
    if let Some(repair) = step.repair {
        tail.push_str(planner.opener(repair.fence));
        tail.push('\n');
    }
    tail.push_str(&text[step.end..]);
    Cut {
        head: planner.content(0, None, step),
        tail,
    }
}

/// Splits `text` into messages of at most `limit` in `unit`. A text that
/// fits is returned as the only part, unchanged; otherwise every part ends
/// with an `(i/N)` marker (see the module docs for markers, repairs and
/// limits below [`MIN_SPLIT_LIMIT`]).
pub fn split_message(text: &str, limit: usize, unit: LengthUnit) -> Vec<String> {
    if unit.measure(text) <= limit {
        return vec![text.to_owned()];
    }
    let planner = Planner::new(text, unit);
    if limit < MIN_SPLIT_LIMIT {
        return planner
            .plan(limit, false)
            .into_iter()
            .map(|(from, carried, step)| planner.content(from, carried, step))
            .collect();
    }
    let mut digits = 1;
    loop {
        // A separator, the parentheses, the slash and two numbers.
        let reserve = 4 + 2 * digits;
        let steps = planner.plan(limit.saturating_sub(reserve), true);
        let n = steps.len();
        if decimal_digits(n) <= digits {
            return steps
                .into_iter()
                .enumerate()
                .map(|(i, (from, carried, step))| {
                    let content = planner.content(from, carried, step);
                    let sep = marker_separator(&content);
                    format!("{content}{sep}({}/{n})", i + 1)
                })
                .collect();
        }
        digits = decimal_digits(n);
    }
}

/// The inverse of [`split_message`] for limits of at least
/// [`MIN_SPLIT_LIMIT`] (below it, the parts just concatenate): removes the
/// markers and fence repairs and joins the bodies. A single part is
/// returned as is. On parts that `split_message` did not produce the result
/// is unspecified, but this never panics.
pub fn reassemble(parts: &[String]) -> String {
    let n = parts.len();
    if n <= 1 {
        return parts.concat();
    }
    let contents: Vec<&str> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| strip_marker(part, i + 1, n))
        .collect();
    unrepair(&contents)
}

fn decimal_digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

fn last_line(text: &str) -> &str {
    text.rsplit_once('\n').map_or(text, |(_, last)| last)
}

/// What goes between a part's content and its marker.
fn marker_separator(content: &str) -> &'static str {
    match content.strip_suffix('\n') {
        Some(body) if fence_like(last_line(body)) => " ",
        Some(_) => "",
        None if fence_like(last_line(content)) => "\n",
        None => " ",
    }
}

/// Removes `(i/n)` and its separator (see [`marker_separator`]).
fn strip_marker(part: &str, i: usize, n: usize) -> &str {
    let Some(rest) = part.strip_suffix(&format!("({i}/{n})")) else {
        return part;
    };
    if let Some(content) = rest.strip_suffix(' ') {
        return content;
    }
    match rest.strip_suffix('\n') {
        Some(content) if fence_like(last_line(content)) => content,
        _ => rest,
    }
}

/// Joins piece contents, removing fence repairs. A piece other than the
/// last was repaired exactly when it contains a `\n` but does not end with
/// one (an unrepaired piece either ends with `\n` or holds none, and a
/// repaired one ends with a fence); the next piece then starts with the
/// copied opening line.
fn unrepair(contents: &[&str]) -> String {
    let mut out = String::new();
    let mut reopened = false;
    for (i, &content) in contents.iter().enumerate() {
        let mut body = content;
        if reopened {
            body = body.split_once('\n').map_or("", |(_, rest)| rest);
        }
        reopened = false;
        if let Some(next) = contents.get(i + 1)
            && body.contains('\n')
            && !body.ends_with('\n')
        {
            let opener = next.split_once('\n').map_or(*next, |(line, _)| line);
            body = strip_closer(body, opener);
            reopened = true;
        }
        out.push_str(body);
    }
    out
}

/// Removes the closing fence added for the block opened by `opener`: its
/// own length after a newline cut, one character longer (plus the `\n`
/// before it) after a mid-line cut.
fn strip_closer<'a>(body: &'a str, opener: &str) -> &'a str {
    let Some((ch, len)) = open_fence(opener) else {
        return body;
    };
    let trimmed = body.trim_end_matches(ch);
    if body.len() - trimmed.len() == len + 1 {
        trimmed.strip_suffix('\n').unwrap_or(trimmed)
    } else {
        trimmed
    }
}

/// The closing fence added at a cut.
#[derive(Debug, Clone, Copy)]
struct Repair {
    fence: Fence,
    /// The cut is right after a `\n`; otherwise mid-line.
    at_newline: bool,
}

impl Repair {
    /// Width in any unit (the closer is ASCII).
    fn width(self) -> usize {
        if self.at_newline {
            self.fence.len
        } else {
            self.fence.len + 2
        }
    }

    fn push_to(self, out: &mut String) {
        let len = if self.at_newline {
            self.fence.len
        } else {
            out.push('\n');
            self.fence.len + 1
        };
        out.extend(std::iter::repeat_n(self.fence.ch, len));
    }
}

/// One piece: the body runs from the previous cut to `end`.
#[derive(Debug, Clone, Copy)]
struct Step {
    end: usize,
    repair: Option<Repair>,
}

#[derive(Debug)]
struct Planner<'a> {
    text: &'a str,
    unit: LengthUnit,
    fences: FenceMap,
}

impl<'a> Planner<'a> {
    fn new(text: &'a str, unit: LengthUnit) -> Self {
        Self {
            text,
            unit,
            fences: FenceMap::new(text),
        }
    }

    fn opener(&self, fence: Fence) -> &'a str {
        &self.text[fence.line.0..fence.line.1]
    }

    fn char_width(&self, ch: char) -> usize {
        match self.unit {
            LengthUnit::Chars => 1,
            LengthUnit::Utf16 => ch.len_utf16(),
            LengthUnit::Bytes => ch.len_utf8(),
        }
    }

    /// A block may be closed at a cut only if the next piece can hold the
    /// copied opener, a mid-line closer and at least one character.
    fn repair_fits(&self, fence: Fence, budget: usize) -> bool {
        let widest = self.char_width(char::MAX);
        self.unit.measure(self.opener(fence)) + 1 + widest + fence.len + 2 <= budget
    }

    /// The piece as sent: copied opener, body, closer.
    fn content(&self, from: usize, carried: Option<Fence>, step: Step) -> String {
        let mut out = String::new();
        if let Some(fence) = carried {
            out.push_str(self.opener(fence));
            out.push('\n');
        }
        out.push_str(&self.text[from..step.end]);
        if let Some(repair) = step.repair {
            repair.push_to(&mut out);
        }
        out
    }

    /// Every piece of the text: `(start, carried opener, step)`.
    fn plan(&self, budget: usize, repairs: bool) -> Vec<(usize, Option<Fence>, Step)> {
        let mut pieces = Vec::new();
        let mut from = 0;
        let mut carried = None;
        loop {
            let step = self.step(from, carried, budget, repairs);
            pieces.push((from, carried, step));
            if step.end >= self.text.len() {
                return pieces;
            }
            carried = step.repair.map(|r| r.fence);
            from = step.end;
        }
    }

    /// Chooses the piece starting at `from` (after the copied opener of
    /// `carried`, if any). Always makes progress: `end > from` unless the
    /// text is empty.
    fn step(&self, from: usize, carried: Option<Fence>, budget: usize, repairs: bool) -> Step {
        let text = self.text;
        let rest = &text[from..];
        let prefix = carried.map_or(0, |f| self.unit.measure(self.opener(f)) + 1);
        let room = budget.saturating_sub(prefix);
        // Every char boundary that fits: (byte position, width of the body).
        let mut bounds = Vec::new();
        let mut width = 0;
        let mut fits = true;
        for (i, ch) in rest.char_indices() {
            width += self.char_width(ch);
            if width > room {
                fits = false;
                break;
            }
            bounds.push((from + i + ch.len_utf8(), width));
        }
        if fits {
            return Step {
                end: text.len(),
                repair: None,
            };
        }
        let after_newline = |p: usize| text.as_bytes()[p - 1] == b'\n';
        let unrepaired = |end| Step { end, repair: None };
        let last_newline = bounds.iter().rev().find(|&&(p, _)| after_newline(p));

        // 1. The last newline whose block state can be handled. A cut right
        //    after an opening line would only send an empty block (and make
        //    no progress when the piece starts with that line): skipped.
        for &(p, w) in bounds.iter().rev().filter(|&&(p, _)| after_newline(p)) {
            match self.fences.state_at(p) {
                None => return unrepaired(p),
                Some(fence) if repairs && self.repair_fits(fence, budget) => {
                    let repair = Repair {
                        fence,
                        at_newline: true,
                    };
                    if w + repair.width() <= room && fence.line.1 + 1 < p {
                        return Step {
                            end: p,
                            repair: Some(repair),
                        };
                    }
                }
                Some(_) => {}
            }
        }
        // 2. Mid-line in the last line of the room: unrepaired only if the
        //    body then holds no newline, else with a closer. (A closed state
        //    after a newline was taken in step 1.)
        let last_line = last_newline.map_or(from, |&(p, _)| p);
        match self.fences.state_at(last_line) {
            None if last_line == from => {
                if let Some(end) = self.mid_line(&bounds, from, room) {
                    return unrepaired(end);
                }
            }
            Some(fence) if repairs && self.repair_fits(fence, budget) => {
                let repair = Repair {
                    fence,
                    at_newline: false,
                };
                let end = room
                    .checked_sub(repair.width())
                    .and_then(|r| self.mid_line(&bounds, last_line, r));
                if let Some(end) = end {
                    return Step {
                        end,
                        repair: Some(repair),
                    };
                }
            }
            None | Some(_) => {}
        }
        // 3. No repair possible: the last newline, else mid-line (the room
        //    then holds no newline: an unrepaired body either ends with `\n`
        //    or has none).
        if let Some(&(p, _)) = last_newline {
            return unrepaired(p);
        }
        if let Some(end) = self.mid_line(&bounds, from, room) {
            return unrepaired(end);
        }
        // 4. Not even one character fits: take one anyway.
        unrepaired(from + rest.chars().next().map_or(0, char::len_utf8))
    }

    /// The last cut before a breaking space, else the last character
    /// boundary that does not split a visible character from what modifies
    /// it, else the last boundary; among the `bounds` after `lo` with width
    /// ≤ `room`.
    fn mid_line(&self, bounds: &[(usize, usize)], lo: usize, room: usize) -> Option<usize> {
        let (mut soft, mut clean, mut hard) = (None, None, None);
        for &(p, w) in bounds.iter().filter(|&&(p, _)| p > lo) {
            if w > room {
                break;
            }
            hard = Some(p);
            let before = self.text[..p].chars().next_back();
            let after = self.text[p..].chars().next();
            if after.is_some_and(is_breaking_space) {
                soft = Some(p);
            }
            if !before.zip(after).is_some_and(|(b, a)| glued(b, a)) {
                clean = Some(p);
            }
        }
        soft.or(clean).or(hard)
    }
}

/// Whitespace a line may be broken at (not the no-break spaces).
fn is_breaking_space(c: char) -> bool {
    c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{2007}' | '\u{202f}')
}

/// Whether a cut between `before` and `after` would split what reads as one
/// character: a joiner on either side, or `after` being a combining mark,
/// variation selector, emoji skin tone or tag character.
fn glued(before: char, after: char) -> bool {
    const ZWJ: char = '\u{200d}';
    before == ZWJ
        || matches!(after,
            ZWJ
            | '\u{300}'..='\u{36f}'
            | '\u{1ab0}'..='\u{1aff}'
            | '\u{1dc0}'..='\u{1dff}'
            | '\u{20d0}'..='\u{20ff}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{fe20}'..='\u{fe2f}'
            | '\u{1f3fb}'..='\u{1f3ff}'
            | '\u{e0020}'..='\u{e007f}'
            | '\u{e0100}'..='\u{e01ef}')
}

#[cfg(test)]
mod tests;
