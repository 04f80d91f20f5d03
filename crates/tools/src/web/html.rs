//! HTML reduced to the text a reader sees: the `<title>` first, then the
//! body's text with block elements on lines of their own, links as their
//! text, entities decoded and whitespace collapsed. Scripts, styles,
//! `<noscript>`, comments and the rest of `<head>` are dropped.
//!
//! A forgiving scan, not a parser: it never fails, and malformed markup
//! only costs some spacing.

/// Elements whose content is never shown.
const HIDDEN: &[&str] = &["script", "style", "noscript", "head", "template", "svg"];

/// Elements that start and end a line of text.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "br",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tr",
    "ul",
    "caption",
    "html",
];

/// The readable text of `html`, the title on the first line.
pub fn html_to_text(html: &str) -> String {
    let mut out = Reducer::default();
    let mut title = String::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.text(&rest[..lt]);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let Some(tag) = Tag::parse(rest) else {
            // A lone `<` is text.
            out.text("<");
            rest = &rest[1..];
            continue;
        };
        rest = &rest[tag.len..];
        // Raw-text elements: their content ends only at their end tag.
        if !tag.closing && matches!(tag.name.as_str(), "script" | "style" | "textarea" | "title") {
            let end = find_end_tag(rest, &tag.name);
            let content = &rest[..end.0];
            rest = &rest[end.1..];
            match tag.name.as_str() {
                "title" if title.is_empty() => title = collapse(&decode_entities(content)),
                "textarea" => out.text(content),
                _ => {}
            }
            continue;
        }
        out.tag(&tag);
    }
    out.text(rest);
    let body = out.finish();
    match (title.is_empty(), body.is_empty()) {
        (true, _) => body,
        (false, true) => title,
        (false, false) => format!("{title}\n\n{body}"),
    }
}

#[derive(Default)]
struct Reducer {
    out: String,
    /// Depth inside elements whose content is dropped.
    hidden: usize,
    /// Depth inside `<pre>`, where whitespace is kept.
    pre: usize,
    /// A space is owed before the next word.
    space: bool,
}

impl Reducer {
    fn text(&mut self, raw: &str) {
        if self.hidden > 0 || raw.is_empty() {
            return;
        }
        let text = decode_entities(raw);
        if self.pre > 0 {
            self.out.push_str(&text);
            self.space = false;
            return;
        }
        for (i, word) in text.split_whitespace().enumerate() {
            if (i > 0 || self.space || text.starts_with(char::is_whitespace))
                && !self.out.is_empty()
                && !self.out.ends_with(['\n', ' '])
            {
                self.out.push(' ');
            }
            self.out.push_str(word);
            self.space = false;
        }
        if text.ends_with(char::is_whitespace) {
            self.space = true;
        }
    }

    fn tag(&mut self, tag: &Tag) {
        let name = tag.name.as_str();
        // `</head>` may be left out; the body starts what is shown.
        if name == "body" && !tag.closing {
            self.hidden = 0;
        }
        if HIDDEN.contains(&name) {
            if tag.closing {
                self.hidden = self.hidden.saturating_sub(1);
            } else if !tag.self_closing {
                self.hidden += 1;
            }
            return;
        }
        if self.hidden > 0 {
            return;
        }
        if name == "pre" {
            if tag.closing {
                self.pre = self.pre.saturating_sub(1);
            } else {
                self.pre += 1;
            }
        }
        if BLOCKS.contains(&name) {
            self.line_break();
            if !tag.closing {
                match name {
                    "li" => self.out.push_str("- "),
                    "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                        let level = name[1..].parse().unwrap_or(1);
                        self.out.push_str(&"#".repeat(level));
                        self.out.push(' ');
                    }
                    _ => {}
                }
            }
        } else if matches!(name, "td" | "th") && !tag.closing {
            if !self.out.is_empty() && !self.out.ends_with('\n') {
                self.out.push_str(" | ");
            }
        } else if name == "img"
            && let Some(alt) = tag.attr("alt").filter(|a| !a.trim().is_empty())
        {
            self.text(&format!(" [{}] ", alt.trim()));
        }
    }

    fn line_break(&mut self) {
        let trimmed = self.out.trim_end_matches([' ', '\t']).len();
        self.out.truncate(trimmed);
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.space = false;
    }

    /// Lines trimmed, at most one blank line in a row, no blank edges.
    fn finish(self) -> String {
        let mut result = String::new();
        let mut blank = 0;
        for line in self.out.lines() {
            let line = line.trim_end();
            if line.trim().is_empty() {
                blank += 1;
                continue;
            }
            if !result.is_empty() {
                result.push_str(if blank > 0 { "\n\n" } else { "\n" });
            }
            blank = 0;
            result.push_str(line);
        }
        result
    }
}

/// A start or end tag.
struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    /// The raw text between the name and `>`.
    attributes: String,
    /// Bytes of the input the tag takes, `<` to `>`.
    len: usize,
}

impl Tag {
    /// Parses the tag at the start of `input` (which starts with `<`).
    fn parse(input: &str) -> Option<Tag> {
        let bytes = input.as_bytes();
        let mut i = 1;
        let closing = bytes.get(i) == Some(&b'/');
        if closing {
            i += 1;
        }
        // Declarations and processing instructions (`<!DOCTYPE`, `<?xml`)
        // are tags with no name we use.
        let special = matches!(bytes.get(i), Some(b'!' | b'?'));
        if !special && !bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            return None;
        }
        let name_start = i;
        while bytes
            .get(i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'!' | b'?'))
        {
            i += 1;
        }
        let name = input[name_start..i].to_ascii_lowercase();
        // The end of the tag, skipping quoted attribute values.
        let attr_start = i;
        let mut quote = None;
        while let Some(&b) = bytes.get(i) {
            match (quote, b) {
                (None, b'"' | b'\'') => quote = Some(b),
                (Some(q), b) if b == q => quote = None,
                (None, b'>') => break,
                _ => {}
            }
            i += 1;
        }
        let end = i.min(bytes.len());
        let attributes = input[attr_start..end].to_owned();
        let self_closing = attributes.trim_end().ends_with('/');
        Some(Tag {
            name,
            closing,
            self_closing,
            attributes,
            len: (end + 1).min(input.len()),
        })
    }

    /// The value of attribute `name`, roughly (quoted or bare).
    fn attr(&self, name: &str) -> Option<String> {
        let lower = self.attributes.to_ascii_lowercase();
        let mut from = 0;
        while let Some(found) = lower[from..].find(name) {
            let start = from + found;
            from = start + name.len();
            let before_ok = start == 0 || lower.as_bytes()[start - 1].is_ascii_whitespace();
            let after = lower[from..].trim_start();
            if !before_ok || !after.starts_with('=') {
                continue;
            }
            let offset = self.attributes.len() - after.len() + 1;
            let value = self.attributes[offset..].trim_start();
            let parsed = match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
                _ => value
                    .split(|c: char| c.is_whitespace() || c == '/')
                    .next()
                    .unwrap_or(""),
            };
            return Some(decode_entities(parsed));
        }
        None
    }
}

/// Where the end tag `</name` starts in `input` and where it ends; the
/// end of input when it is missing.
fn find_end_tag(input: &str, name: &str) -> (usize, usize) {
    let lower = input.to_ascii_lowercase();
    let needle = format!("</{name}");
    let mut from = 0;
    while let Some(found) = lower[from..].find(&needle) {
        let start = from + found;
        let after = start + needle.len();
        if lower[after..].starts_with(|c: char| c == '>' || c.is_whitespace() || c == '/') {
            let end = lower[after..]
                .find('>')
                .map_or(input.len(), |e| after + e + 1);
            return (start, end);
        }
        from = after;
    }
    (input.len(), input.len())
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decodes numeric entities and the named ones common in prose.
pub(crate) fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest[1..]
            .find(';')
            .filter(|&end| end > 0 && end <= 32)
            .and_then(|end| decode_entity(&rest[1..=end]).map(|c| (c, end + 2)));
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return Some(
            char::from_u32(code)
                .filter(|&c| c != '\0')
                .unwrap_or('\u{fffd}'),
        );
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "deg" => '°',
        "times" => '×',
        "divide" => '÷',
        "larr" => '←',
        "rarr" => '→',
        "uarr" => '↑',
        "darr" => '↓',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_becomes_its_readable_text() {
        let html = r#"<!DOCTYPE html>
<html><head><title> The  Title </title>
<style>body { color: red }</style>
<script>var x = "<p>not text</p>";</script>
<meta charset="utf-8"></head>
<body>
<!-- a comment <p>hidden</p> -->
<h1>Heading</h1>
<p>First   paragraph with <a href="/x">a link</a> and <b>bold</b>
text.</p><p>Second&nbsp;one &amp; more &lt;tags&gt; &#8212; &#x41;&quot;</p>
<ul><li>one</li><li>two</li></ul>
<noscript>enable JS</noscript>
<div>a<br>b</div>
<table><tr><td>c1</td><td>c2</td></tr></table>
<img src="x.png" alt="a cat">
</body></html>"#;
        assert_eq!(
            html_to_text(html),
            "The Title\n\n# Heading\nFirst paragraph with a link and bold text.\nSecond one & more <tags> — A\"\n- one\n- two\na\nb\nc1 | c2\n[a cat]"
        );
    }

    #[test]
    fn scripts_end_only_at_their_end_tag() {
        assert_eq!(
            html_to_text(
                "<p>a</p><SCRIPT type='x'>if (a < b) { document.write('</p>') }</script >b"
            ),
            "a\nb"
        );
        assert_eq!(html_to_text("<script>never closed <p>x</p>"), "");
    }

    #[test]
    fn pre_keeps_its_whitespace() {
        assert_eq!(
            html_to_text("<p>x</p><pre>fn main() {\n    1\n}</pre>"),
            "x\nfn main() {\n    1\n}"
        );
    }

    #[test]
    fn malformed_markup_never_fails() {
        assert_eq!(html_to_text("a < b and c > d"), "a < b and c > d");
        assert_eq!(html_to_text("x <p"), "x");
        assert_eq!(html_to_text("<div title='a>b'>t</div>"), "t");
        assert_eq!(
            html_to_text("&bogus; &amp &#xZZ; &"),
            "&bogus; &amp &#xZZ; &"
        );
        assert_eq!(html_to_text("<!-- unterminated"), "");
    }
}
