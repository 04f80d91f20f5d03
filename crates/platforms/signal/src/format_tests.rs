//! Markdown to text and UTF-16 style ranges.

use super::*;
use proptest::prelude::*;

/// The text a range covers.
fn covered(styled: &Styled, range: Range) -> String {
    let units: Vec<u16> = styled.text.encode_utf16().collect();
    String::from_utf16(&units[range.start..range.start + range.length]).unwrap()
}

fn styles(styled: &Styled) -> Vec<(String, &'static str)> {
    styled
        .ranges
        .iter()
        .map(|r| (covered(styled, *r), r.style.as_str()))
        .collect()
}

#[test]
fn each_markdown_style_becomes_its_signal_style() {
    let styled = to_styled("**bold** *it* ~~gone~~ `code` ||secret||");
    assert_eq!(styled.text, "bold it gone code secret");
    assert_eq!(
        styles(&styled),
        [
            ("bold".into(), "BOLD"),
            ("it".into(), "ITALIC"),
            ("gone".into(), "STRIKETHROUGH"),
            ("code".into(), "MONOSPACE"),
            ("secret".into(), "SPOILER"),
        ]
    );
    assert_eq!(
        styled
            .ranges
            .iter()
            .map(|r| r.to_param())
            .collect::<Vec<_>>(),
        [
            "0:4:BOLD",
            "5:2:ITALIC",
            "8:4:STRIKETHROUGH",
            "13:4:MONOSPACE",
            "18:6:SPOILER"
        ]
    );
}

#[test]
fn offsets_count_utf16_units_past_emoji_and_cjk() {
    // 👋 is two UTF-16 units, 日本 two; the bold starts at unit 6.
    let styled = to_styled("👋 日本 **語です** 😀 *x*");
    assert_eq!(styled.text, "👋 日本 語です 😀 x");
    assert_eq!(
        styled.ranges,
        [
            Range {
                start: 6,
                length: 3,
                style: Style::Bold
            },
            Range {
                start: 13,
                length: 1,
                style: Style::Italic
            },
        ]
    );
    assert_eq!(styles(&styled)[0].0, "語です");
}

#[test]
fn headings_code_blocks_links_lists_and_quotes_read_as_text() {
    let styled = to_styled(
        "# Title\n\nSee [the docs](https://example.com) and <https://x.org>.\n\n- one\n- two\n\n> quoted\n> lines\n\n```rust\nlet a = 1 < 2;\n```",
    );
    assert!(styled.text.starts_with("Title\n"), "{}", styled.text);
    assert!(
        styled.text.contains("the docs (https://example.com)"),
        "{}",
        styled.text
    );
    assert!(styled.text.contains("https://x.org."), "{}", styled.text);
    assert!(
        !styled.text.contains("https://x.org (https"),
        "{}",
        styled.text
    );
    assert!(styled.text.contains("• one\n• two"), "{}", styled.text);
    assert!(styled.text.contains("> quoted\n> lines"), "{}", styled.text);
    assert!(styled.text.ends_with("let a = 1 < 2;"), "{}", styled.text);
    let found = styles(&styled);
    assert!(found.contains(&("Title".into(), "BOLD")), "{found:?}");
    assert!(
        found.contains(&("let a = 1 < 2;".into(), "MONOSPACE")),
        "{found:?}"
    );
    assert_eq!(
        found.iter().filter(|(_, s)| *s == "MONOSPACE").count(),
        1,
        "a code block is one range: {found:?}"
    );
}

#[test]
fn spoiler_marks_inside_code_and_unclosed_ones_stay_text() {
    let styled = to_styled("`a||b||c` and ||open");
    assert_eq!(styled.text, "a||b||c and ||open");
    assert_eq!(styles(&styled), [("a||b||c".into(), "MONOSPACE")]);
}

#[test]
fn long_replies_are_split_within_the_limit_with_their_styles() {
    let paragraph = format!(
        "**{}** {}\n\n",
        "word ".repeat(20).trim(),
        "plain 😀 ".repeat(60)
    );
    let markdown = paragraph.repeat(40);
    let messages = to_messages(&markdown);
    assert!(messages.len() >= 3, "{} messages", messages.len());
    for message in &messages {
        let units = message.text.encode_utf16().count();
        assert!(units <= MAX_MESSAGE_LEN, "{units} units");
        for range in &message.ranges {
            assert!(range.start + range.length <= units);
            assert!(!covered(message, *range).contains('*'));
        }
        assert!(message.ranges.iter().any(|r| r.style == Style::Bold));
    }
}

#[test]
fn an_overlong_rendered_text_is_cut_with_its_ranges() {
    let styled = Styled {
        text: format!("{}\n{}", "a".repeat(6), "b".repeat(6)),
        ranges: vec![Range {
            start: 4,
            length: 5,
            style: Style::Bold,
        }],
    };
    let pieces = cut(styled, 8);
    assert_eq!(pieces.len(), 2);
    assert_eq!(pieces[0].text, "aaaaaa\n");
    assert_eq!(
        pieces[0].ranges,
        [Range {
            start: 4,
            length: 3,
            style: Style::Bold
        }]
    );
    assert_eq!(pieces[1].text, "bbbbbb");
    assert_eq!(
        pieces[1].ranges,
        [Range {
            start: 0,
            length: 2,
            style: Style::Bold
        }]
    );
}

/// Words of letters, CJK, emoji (astral, two UTF-16 units each) and
/// digits: nothing Markdown would read.
fn word() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("a"),
            Just("Z"),
            Just("é"),
            Just("語"),
            Just("日本"),
            Just("😀"),
            Just("👋🏽"),
            Just("𝄞"),
            Just("7"),
            Just("ß"),
        ],
        1..6,
    )
    .prop_map(|parts| parts.concat())
}

fn style() -> impl Strategy<Value = Option<Style>> {
    prop_oneof![
        Just(None),
        Just(Some(Style::Bold)),
        Just(Some(Style::Italic)),
        Just(Some(Style::Strikethrough)),
        Just(Some(Style::Monospace)),
        Just(Some(Style::Spoiler)),
    ]
}

proptest! {
    #[test]
    fn ranges_cover_exactly_the_styled_words(words in proptest::collection::vec((word(), style()), 1..12)) {
        let markdown: Vec<String> = words
            .iter()
            .map(|(w, s)| match s {
                None => w.clone(),
                Some(Style::Bold) => format!("**{w}**"),
                Some(Style::Italic) => format!("*{w}*"),
                Some(Style::Strikethrough) => format!("~~{w}~~"),
                Some(Style::Monospace) => format!("`{w}`"),
                Some(Style::Spoiler) => format!("||{w}||"),
            })
            .collect();
        let styled = to_styled(&markdown.join(" "));
        let plain: Vec<&str> = words.iter().map(|(w, _)| w.as_str()).collect();
        prop_assert_eq!(&styled.text, &plain.join(" "));
        let mut expected = Vec::new();
        let mut at = 0;
        for (w, s) in &words {
            let length = w.encode_utf16().count();
            if let Some(style) = s {
                expected.push(Range { start: at, length, style: *style });
            }
            at += length + 1;
        }
        expected.sort();
        prop_assert_eq!(&styled.ranges, &expected);
    }
}
