//! Small text helpers shared by the renderers: HTML escaping, URL and
//! code-language checks, and the monospace display width used to align
//! table columns.

/// Appends `text` with `&`, `<` and `>` escaped, and `"` too when `attribute`
/// is set (for a double-quoted attribute value).
pub(crate) fn escape_html(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
}

/// Whether `url` starts with a URI scheme (`https:`, `mailto:`, `tg:` …),
/// so a platform can make a clickable link of it. Relative references
/// (`/docs`, `#top`, `page.html`) cannot be opened from a chat message.
pub(crate) fn is_absolute_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    starts_with_letter
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !url.chars().any(char::is_control)
}

/// The language of a fenced code block: the first word of its info string,
/// reduced to characters that are safe in an HTML class name and in a
/// Telegram MarkdownV2 pre block (`rust`, `c++`, `c#`, `objective-c`, …).
pub(crate) fn code_language(info: &str) -> Option<String> {
    let word = info.split_whitespace().next()?;
    let lang: String = word
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '#' | '.'))
        .collect();
    (!lang.is_empty()).then_some(lang)
}

/// The number of monospace columns `text` occupies: East Asian wide
/// characters and most emoji take two, combining marks and joiners none.
/// An approximation of Unicode's East Asian Width that is good enough to
/// line up table columns.
pub(crate) fn display_width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    let cp = u32::from(c);
    match cp {
        0 => 0,
        _ if c.is_control() => 0,
        // Combining marks, zero-width spaces and joiners, variation selectors.
        0x0300..=0x036F
        | 0x0483..=0x0489
        | 0x0591..=0x05BD
        | 0x0610..=0x061A
        | 0x064B..=0x065F
        | 0x0E31
        | 0x0E34..=0x0E3A
        | 0x1AB0..=0x1AFF
        | 0x1DC0..=0x1DFF
        | 0x200B..=0x200F
        | 0x2028..=0x202E
        | 0x2060..=0x2064
        | 0x20D0..=0x20FF
        | 0xFE00..=0xFE0F
        | 0xFE20..=0xFE2F
        | 0xFEFF
        | 0x1F3FB..=0x1F3FF
        | 0xE0000..=0xE0FFF => 0,
        // Wide: Hangul Jamo, CJK, Hangul syllables, full-width forms, emoji.
        0x1100..=0x115F
        | 0x231A..=0x231B
        | 0x2329..=0x232A
        | 0x23E9..=0x23EC
        | 0x23F0
        | 0x23F3
        | 0x25FD..=0x25FE
        | 0x2614..=0x2615
        | 0x2648..=0x2653
        | 0x267F
        | 0x2693
        | 0x26A1
        | 0x26AA..=0x26AB
        | 0x26BD..=0x26BE
        | 0x26C4..=0x26C5
        | 0x26CE
        | 0x26D4
        | 0x26EA
        | 0x26F2..=0x26F3
        | 0x26F5
        | 0x26FA
        | 0x26FD
        | 0x2705
        | 0x270A..=0x270B
        | 0x2728
        | 0x274C
        | 0x274E
        | 0x2753..=0x2755
        | 0x2757
        | 0x2795..=0x2797
        | 0x27B0
        | 0x27BF
        | 0x2B1B..=0x2B1C
        | 0x2B50
        | 0x2B55
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xA960..=0xA97F
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE10..=0xFE19
        | 0xFE30..=0xFE6F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F004
        | 0x1F0CF
        | 0x1F18E
        | 0x1F191..=0x1F19A
        | 0x1F200..=0x1F251
        | 0x1F300..=0x1F64F
        | 0x1F680..=0x1F6FF
        | 0x1F7E0..=0x1F7EB
        | 0x1F90C..=0x1F9FF
        | 0x1FA70..=0x1FAFF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_text_and_attributes() {
        let mut out = String::new();
        escape_html(&mut out, r#"a<b>&"c""#, false);
        assert_eq!(out, r#"a&lt;b&gt;&amp;"c""#);
        out.clear();
        escape_html(&mut out, r#"x"y"#, true);
        assert_eq!(out, "x&quot;y");
    }

    #[test]
    fn absolute_urls_need_a_scheme() {
        assert!(is_absolute_url("https://example.com/a_(b)"));
        assert!(is_absolute_url("mailto:someone@example.com"));
        assert!(is_absolute_url("tg://user?id=1"));
        assert!(!is_absolute_url("/docs/page"));
        assert!(!is_absolute_url("page.html#top"));
        assert!(!is_absolute_url("1http://x"));
        assert!(!is_absolute_url("https:"));
        assert!(!is_absolute_url(""));
    }

    #[test]
    fn code_language_is_the_sanitised_first_word() {
        assert_eq!(code_language("rust ignore").as_deref(), Some("rust"));
        assert_eq!(code_language("c++").as_deref(), Some("c++"));
        assert_eq!(code_language("<x\"y>").as_deref(), Some("xy"));
        assert_eq!(code_language("  "), None);
        assert_eq!(code_language("\"\""), None);
    }

    #[test]
    fn widths() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("日本"), 4);
        assert_eq!(display_width("🎉"), 2);
        assert_eq!(display_width("e\u{301}"), 1);
        assert_eq!(display_width("👍🏽"), 2);
    }
}
