//! Tests for message splitting: examples, then properties over all units.

use super::*;

/// Whether a code block is still open at the end of `text` read on its own.
fn open_at_end(text: &str) -> bool {
    let text = format!("{text}\n");
    FenceMap::new(&text).state_at(text.len()).is_some()
}

fn chars(text: &str, budget: usize) -> Cut {
    cut(text, budget, LengthUnit::Chars)
}

fn pair(head: &str, tail: &str) -> Cut {
    Cut {
        head: head.into(),
        tail: tail.into(),
    }
}

#[test]
fn text_that_fits_is_left_alone() {
    assert_eq!(chars("hello", 5), pair("hello", ""));
    assert_eq!(chars("", 0), pair("", ""));
    let text = "a\n```\nb";
    assert_eq!(split_message(text, 7, LengthUnit::Chars), vec![text]);
    assert_eq!(reassemble(&[text.to_owned()]), text);
}

#[test]
fn cuts_prefer_newline_then_whitespace_then_anything() {
    assert_eq!(chars("aaa bbb\nccc ddd", 10), pair("aaa bbb\n", "ccc ddd"));
    assert_eq!(chars("aaa bbb ccc", 9), pair("aaa bbb", " ccc"));
    assert_eq!(chars("abcdefghij", 4), pair("abcd", "efghij"));
    // The newline stays with the head; a piece that is not cut at a newline
    // never holds one, so this cuts at the newline although more would fit.
    assert_eq!(chars("ab\ncdefghij", 6), pair("ab\n", "cdefghij"));
}

#[test]
fn cuts_respect_the_unit_and_characters() {
    assert_eq!(cut("😀😀😀", 3, LengthUnit::Utf16), pair("😀", "😀😀"));
    assert_eq!(cut("😀😀😀", 7, LengthUnit::Bytes), pair("😀", "😀😀"));
    assert_eq!(cut("😀😀😀", 2, LengthUnit::Chars), pair("😀😀", "😀"));
    assert_eq!(cut("éé", 3, LengthUnit::Bytes), pair("é", "é"));
    // Too small for a single character: one is taken anyway.
    assert_eq!(cut("😀a", 1, LengthUnit::Bytes), pair("😀", "a"));
}

#[test]
fn hard_cuts_keep_modifiers_with_their_character() {
    assert_eq!(chars("ab👍🏽cd", 3), pair("ab", "👍🏽cd"));
    assert_eq!(chars("x👩\u{200d}👧y", 3), pair("x", "👩\u{200d}👧y"));
    assert_eq!(chars("abe\u{301}z", 3), pair("ab", "e\u{301}z"));
    // Only glued characters: cut anyway.
    assert_eq!(
        chars("e\u{301}\u{301}\u{301}", 2),
        pair("e\u{301}", "\u{301}\u{301}")
    );
}

#[test]
fn no_break_spaces_are_not_cut_at() {
    assert_eq!(chars("aaaa\u{a0}bbbb", 6), pair("aaaa\u{a0}b", "bbb"));
    assert_eq!(chars("aa\u{a0}b cc", 6), pair("aa\u{a0}b", " cc"));
}

#[test]
fn a_cut_inside_a_code_block_closes_and_reopens_it() {
    let text = "```rust\nline1\nline2\nline3\n```\n";
    let c = chars(text, 20);
    assert_eq!(
        c,
        pair("```rust\nline1\n```", "```rust\nline2\nline3\n```\n")
    );
    assert_eq!(unrepair(&[&c.head, &c.tail]), text);

    let text = "~~~~ py\nab\nxxxxxxxxxxxxxxxxxxxx";
    let c = chars(text, 18);
    assert_eq!(
        c,
        pair("~~~~ py\nab\n~~~~", "~~~~ py\nxxxxxxxxxxxxxxxxxxxx")
    );
}

#[test]
fn a_block_is_never_cut_right_after_its_opening_line() {
    let text = format!("```\n{}", "x".repeat(30));
    let c = chars(&text, 12);
    assert_eq!(
        c,
        pair("```\nxxx\n````", &format!("```\n{}", "x".repeat(27)))
    );
    // Cutting the tail again makes progress the same way.
    let again = chars(&c.tail, 12);
    assert_eq!(again.head, "```\nxxx\n````");
    assert_eq!(unrepair(&[&c.head, &again.head, &again.tail]), text);
}

#[test]
fn a_block_moves_whole_when_it_starts_near_the_cut() {
    let text = "para\n```\nlong line of code\n```";
    assert_eq!(
        chars(text, 12),
        pair("para\n", "```\nlong line of code\n```")
    );
}

#[test]
fn a_long_code_line_is_cut_mid_line_with_a_longer_closer() {
    let text = format!("```\nab\n{}\n```", "x".repeat(30));
    let parts = split_message(&text, 30, LengthUnit::Chars);
    let fifteen = "x".repeat(15);
    assert_eq!(
        parts,
        vec![
            "```\nab\n```\n(1/3)".to_owned(),
            format!("```\n{fifteen}\n````\n(2/3)"),
            format!("```\n{fifteen}\n```\n(3/3)"),
        ]
    );
    assert_eq!(reassemble(&parts), text);
}

#[test]
fn markers_number_the_parts() {
    let text = "one two three four five six seven eight nine ten";
    let parts = split_message(text, 20, LengthUnit::Chars);
    assert_eq!(
        parts,
        vec![
            "one two three (1/4)",
            " four five six (2/4)",
            " seven eight (3/4)",
            " nine ten (4/4)"
        ]
    );
    assert_eq!(reassemble(&parts), text);
}

#[test]
fn a_marker_after_a_newline_sits_on_its_own_line() {
    let text = "first line here\nsecond line here\n";
    let parts = split_message(text, 24, LengthUnit::Chars);
    assert_eq!(
        parts,
        vec!["first line here\n(1/2)", "second line here\n(2/2)"]
    );
    assert_eq!(reassemble(&parts), text);
}

#[test]
fn every_part_of_a_long_code_block_is_a_closed_block() {
    let mut text = String::from("Intro\n```rust\n");
    for i in 0..12 {
        text.push_str(&format!("let x{i} = {i};\n"));
    }
    text.push_str("```\nOutro");
    let parts = split_message(&text, 60, LengthUnit::Chars);
    assert!(parts.len() > 2);
    for part in &parts {
        assert!(part.chars().count() <= 60, "{part:?}");
        assert!(!open_at_end(part), "{part:?}");
    }
    assert_eq!(reassemble(&parts), text);
}

#[test]
fn tiny_limits_give_plain_slices() {
    let text = "hello world, this is long";
    for limit in 0..MIN_SPLIT_LIMIT {
        let parts = split_message(text, limit, LengthUnit::Chars);
        assert_eq!(parts.concat(), text);
        for part in &parts {
            assert!(part.chars().count() <= limit.max(1), "{limit}: {part:?}");
        }
    }
    assert_eq!(
        split_message("😀😀", 3, LengthUnit::Bytes),
        vec!["😀", "😀"]
    );
}

#[test]
fn digits_of_the_marker_grow_with_the_part_count() {
    let text = "word ".repeat(200);
    let parts = split_message(&text, 20, LengthUnit::Chars);
    assert!(parts.len() >= 100);
    assert!(parts.iter().all(|p| p.chars().count() <= 20));
    assert!(parts[0].ends_with(&format!("(1/{})", parts.len())));
    assert_eq!(reassemble(&parts), text);
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    const PIECES: &[&str] = &[
        "word",
        "hello ",
        " ",
        "  ",
        "\n",
        "\n\n",
        "```rust\n",
        "```\n",
        "~~~\n",
        "~~~~ py\n",
        "````\n",
        "   ```\n",
        "```",
        "~~~",
        "``",
        "`inline`",
        "😀",
        "👩‍👩‍👧",
        "漢字テキスト",
        "é",
        "supercalifragilisticexpialidocious-and-then-some-more-text",
        "let x = 1;\n",
        "\t",
        "\r\n",
        " (1/2)",
        "(2/2)\n",
    ];

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(select(PIECES), 0..120).prop_map(|p| p.concat())
    }

    fn unit() -> impl Strategy<Value = LengthUnit> {
        select(&[LengthUnit::Chars, LengthUnit::Utf16, LengthUnit::Bytes][..])
    }

    /// Paragraphs of short lines and closed code blocks.
    fn document() -> impl Strategy<Value = String> {
        let line = "[a-z]{1,8}( [a-z]{1,8}){0,2}";
        let lines = proptest::collection::vec(line, 1..8);
        let block = (any::<bool>(), select(&["", "rust", "python"][..]), lines).prop_map(
            |(code, lang, lines)| {
                let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
                if code {
                    format!("```{lang}\n{body}```\n")
                } else {
                    format!("{body}\n")
                }
            },
        );
        proptest::collection::vec(block, 1..10).prop_map(|b| b.concat())
    }

    proptest! {
        #[test]
        fn parts_fit_are_numbered_and_reassemble_exactly(
            text in text(),
            limit in 20usize..300,
            unit in unit(),
        ) {
            let parts = split_message(&text, limit, unit);
            if unit.measure(&text) <= limit {
                prop_assert_eq!(parts, vec![text]);
                return Ok(());
            }
            let n = parts.len();
            prop_assert!(n >= 2);
            for (i, part) in parts.iter().enumerate() {
                prop_assert!(unit.measure(part) <= limit, "{:?}", part);
                let marker = format!("({}/{})", i + 1, n);
                prop_assert!(part.ends_with(&marker), "{:?}", part);
            }
            prop_assert_eq!(reassemble(&parts), text);
        }

        #[test]
        fn a_cut_head_fits_and_the_cut_undoes(
            text in text(),
            budget in 4usize..200,
            unit in unit(),
        ) {
            let c = cut(&text, budget, unit);
            if unit.measure(&text) <= budget {
                prop_assert_eq!(&c.head, &text);
                prop_assert_eq!(&c.tail, "");
            } else {
                prop_assert!(unit.measure(&c.head) <= budget, "{:?}", c.head);
                prop_assert!(!c.head.is_empty());
                prop_assert_eq!(unrepair(&[&c.head, &c.tail]), text);
            }
        }

        #[test]
        fn cutting_tails_again_and_again_terminates_and_undoes(
            text in text(),
            budget in 8usize..120,
            unit in unit(),
        ) {
            let mut pieces = Vec::new();
            let mut rest = text.clone();
            // Every cut consumes at least one character of the original.
            for _ in 0..=text.chars().count() {
                let c = cut(&rest, budget, unit);
                prop_assert!(unit.measure(&c.head) <= budget, "{:?}", c.head);
                pieces.push(c.head);
                if c.tail.is_empty() {
                    break;
                }
                rest = c.tail;
            }
            let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
            prop_assert_eq!(unrepair(&pieces), text);
        }

        #[test]
        fn tiny_limits_never_panic_and_concatenate(
            text in text(),
            limit in 0usize..MIN_SPLIT_LIMIT,
            unit in unit(),
        ) {
            let parts = split_message(&text, limit, unit);
            prop_assert_eq!(parts.concat(), text);
            for part in &parts {
                prop_assert!(unit.measure(part) <= limit || part.chars().count() == 1);
            }
        }

        #[test]
        fn code_blocks_stay_closed_in_every_part(doc in document(), limit in 60usize..300) {
            let parts = split_message(&doc, limit, LengthUnit::Chars);
            for part in &parts {
                prop_assert!(!open_at_end(part), "{:?}", part);
            }
            prop_assert_eq!(reassemble(&parts), doc);
        }
    }
}
