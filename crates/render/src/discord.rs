//! Discord's Markdown.
//!
//! Discord reads most CommonMark, so the agent's text is kept as written
//! and only what Discord would show wrongly is rewritten in place, located
//! through pulldown-cmark's source offsets:
//!
//! - tables become fenced code blocks with aligned columns;
//! - headings are written `#`, `##`, `###` (Setext underlines and closing
//!   hashes removed); deeper headings become bold lines;
//! - `__strong__` becomes `**strong**` (Discord reads `__` as underline) and
//!   `~strike~` becomes `~~strike~~`;
//! - indented code blocks become fenced ones, and an unclosed fence (a
//!   half-streamed message) is closed;
//! - images lose their `!`, leaving a link.

use crate::{plain::Plain, walker};
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Tag};
use std::ops::Range;

/// Renders `markdown` as Discord Markdown.
pub(crate) fn render(markdown: &str) -> String {
    let events: Vec<(Event<'_>, Range<usize>)> =
        crate::parser(markdown).into_offset_iter().collect();
    let mut edits = Edits::default();
    let mut index = 0;
    while index < events.len() {
        let (event, range) = &events[index];
        match event {
            Event::Start(Tag::Table(_)) => {
                let end = matching_end(&events, index);
                table(markdown, &events[index..=end], range.clone(), &mut edits);
                index = end;
            }
            Event::Start(Tag::Heading { level, .. }) => {
                let end = matching_end(&events, index);
                heading(markdown, *level, &events[index..=end], &mut edits);
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                let end = matching_end(&events, index);
                match kind {
                    CodeBlockKind::Indented => {
                        indented_code(markdown, &events[index..=end], range.clone(), &mut edits);
                    }
                    CodeBlockKind::Fenced(_) => close_fence(markdown, range.clone(), &mut edits),
                }
                index = end;
            }
            Event::Start(Tag::Strong) => {
                let source = &markdown[range.clone()];
                if source.len() >= 4 && source.starts_with("__") && source.ends_with("__") {
                    edits.replace(range.start..range.start + 2, "**");
                    edits.replace(range.end - 2..range.end, "**");
                }
            }
            Event::Start(Tag::Strikethrough) => {
                let source = &markdown[range.clone()];
                if !source.starts_with("~~") && source.len() >= 2 {
                    edits.replace(range.start..range.start, "~");
                    edits.replace(range.end..range.end, "~");
                }
            }
            Event::Start(Tag::Image { .. }) if markdown[range.clone()].starts_with('!') => {
                edits.replace(range.start..range.start + 1, "");
            }
            _ => {}
        }
        index += 1;
    }
    edits.apply(markdown)
}

/// Replacements of source ranges, applied in order of position; one that
/// overlaps an earlier one is dropped.
#[derive(Debug, Default)]
struct Edits(Vec<(Range<usize>, String)>);

impl Edits {
    fn replace(&mut self, range: Range<usize>, text: impl Into<String>) {
        if range.start <= range.end {
            self.0.push((range, text.into()));
        }
    }

    fn apply(mut self, source: &str) -> String {
        self.0.sort_by_key(|(range, _)| (range.start, range.end));
        let mut out = String::with_capacity(source.len() + 16);
        let mut position = 0;
        for (range, text) in self.0 {
            if range.start < position || range.end > source.len() {
                continue;
            }
            out.push_str(&source[position..range.start]);
            out.push_str(&text);
            position = range.end;
        }
        out.push_str(&source[position..]);
        out
    }
}

/// The index of the `End` event matching the `Start` at `start`.
fn matching_end(events: &[(Event<'_>, Range<usize>)], start: usize) -> usize {
    let mut depth = 0usize;
    for (index, (event, _)) in events.iter().enumerate().skip(start) {
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return index;
                }
            }
            _ => {}
        }
    }
    events.len().saturating_sub(1)
}

/// What starts each further line of a block beginning at `position`: the
/// quote markers and indentation before it on its first line, with list
/// markers turned into spaces.
fn continuation_prefix(source: &str, position: usize) -> String {
    let line_start = source[..position].rfind('\n').map_or(0, |i| i + 1);
    source[line_start..position]
        .chars()
        .map(|c| {
            if c == '>' || c.is_whitespace() {
                c
            } else {
                ' '
            }
        })
        .collect()
}

/// Writes `lines` as a fenced block whose first line continues the source
/// line at `position`.
fn fenced(source: &str, position: usize, fence: &str, lines: &str, newline: bool) -> String {
    let prefix = continuation_prefix(source, position);
    let mut out = format!("{fence}\n");
    for line in lines.split('\n') {
        out.push_str(&prefix);
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&prefix);
    out.push_str(fence);
    if newline {
        out.push('\n');
    }
    out
}

fn table(
    source: &str,
    events: &[(Event<'_>, Range<usize>)],
    range: Range<usize>,
    edits: &mut Edits,
) {
    let laid_out = walker::render_events(&Plain, events.iter().map(|(event, _)| event.clone()));
    let newline = source[range.clone()].ends_with('\n');
    let block = fenced(source, range.start, "```", &laid_out, newline);
    edits.replace(range, block);
}

fn heading(
    source: &str,
    level: HeadingLevel,
    events: &[(Event<'_>, Range<usize>)],
    edits: &mut Edits,
) {
    let [(_, range), inner @ .., _] = events else {
        return;
    };
    let end = range.end - (source[range.clone()].len() - source[range.clone()].trim_end().len());
    let (Some((_, first)), Some((_, last))) = (inner.first(), inner.last()) else {
        edits.replace(range.start..end, "");
        return;
    };
    let depth = level as usize;
    let content = first.start..last.end.max(first.start);
    if depth <= 3 {
        edits.replace(
            range.start..content.start,
            format!("{} ", "#".repeat(depth)),
        );
        edits.replace(content.end..end, "");
    } else {
        // A bold line; bold inside it loses its own markers.
        edits.replace(range.start..content.start, "**");
        edits.replace(content.end..end, "**");
        for (event, strong) in inner {
            if matches!(event, Event::Start(Tag::Strong)) && strong.len() >= 4 {
                edits.replace(strong.start..strong.start + 2, "");
                edits.replace(strong.end - 2..strong.end, "");
            }
        }
    }
    // Discord headings are one line: join a multi-line Setext heading.
    for pair in inner.windows(2) {
        if let [(Event::SoftBreak | Event::HardBreak, line_break), (_, next)] = pair {
            edits.replace(line_break.start..next.start, " ");
        }
    }
}

fn indented_code(
    source: &str,
    events: &[(Event<'_>, Range<usize>)],
    range: Range<usize>,
    edits: &mut Edits,
) {
    let code: String = events
        .iter()
        .filter_map(|(event, _)| match event {
            Event::Text(text) => Some(text.as_ref()),
            _ => None,
        })
        .collect();
    // The block's range starts after its four columns of indentation.
    let line_start = source[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let indent = &source[line_start..range.start];
    let code_indent = if indent.ends_with('\t') {
        1
    } else {
        indent.len() - indent.trim_end_matches(' ').len()
    };
    let start = range.start - code_indent.min(4);
    let newline = source[range.clone()].ends_with('\n');
    let block = fenced(source, start, "```", code.trim_end_matches('\n'), newline);
    edits.replace(start..range.end, block);
}

/// Closes a fenced code block that runs to the end of its container
/// without a closing fence.
fn close_fence(source: &str, range: Range<usize>, edits: &mut Edits) {
    let block = &source[range.clone()];
    let opening = block.trim_start();
    let Some(fence_char) = opening.chars().next().filter(|c| matches!(c, '`' | '~')) else {
        return;
    };
    let fence_len = opening.chars().take_while(|&c| c == fence_char).count();
    let mut lines = block.trim_end_matches('\n').lines();
    lines.next();
    let closed = lines.next_back().is_some_and(|last| {
        let last = last
            .trim_start_matches(|c: char| c == '>' || c.is_whitespace())
            .trim_end();
        last.len() >= fence_len && last.chars().all(|c| c == fence_char)
    });
    if closed {
        return;
    }
    let mut closing = String::new();
    if !block.ends_with('\n') {
        closing.push('\n');
    }
    closing.push_str(&continuation_prefix(source, range.start));
    closing.push_str(&fence_char.to_string().repeat(fence_len));
    if block.ends_with('\n') && range.end < source.len() {
        closing.push('\n');
    }
    edits.replace(range.end..range.end, closing);
}
