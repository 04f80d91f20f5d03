//! Lays a table out as aligned monospace text, for every platform that
//! cannot show a real table: columns separated by ` | `, the header row
//! underlined with `-` and `+`, each column padded to its widest cell and
//! aligned as the Markdown delimiter row asks.
//!
//! ```text
//! Name  | Qty
//! ------+----
//! Apple |   3
//! ```

use crate::text::display_width;
use pulldown_cmark::Alignment;

/// Formats `rows` (the header row first, cells as plain text) as aligned
/// lines joined by `\n`, without a trailing newline.
pub(crate) fn layout(alignments: &[Alignment], rows: &[Vec<String>]) -> String {
    let columns = rows
        .iter()
        .map(Vec::len)
        .chain([alignments.len()])
        .max()
        .unwrap_or(0);
    let mut widths = vec![1; columns];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(display_width(cell));
        }
    }

    let mut lines = Vec::with_capacity(rows.len() + 1);
    for (index, row) in rows.iter().enumerate() {
        let cells: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(column, &width)| {
                let cell = row.get(column).map_or("", String::as_str);
                let alignment = alignments.get(column).copied().unwrap_or(Alignment::None);
                pad(cell, width, alignment)
            })
            .collect();
        lines.push(cells.join(" | ").trim_end().to_owned());
        if index == 0 {
            let rule: Vec<String> = widths.iter().map(|&width| "-".repeat(width)).collect();
            lines.push(rule.join("-+-"));
        }
    }
    lines.join("\n")
}

fn pad(cell: &str, width: usize, alignment: Alignment) -> String {
    let fill = width.saturating_sub(display_width(cell));
    let (left, right) = match alignment {
        Alignment::Right => (fill, 0),
        Alignment::Center => (fill / 2, fill - fill / 2),
        Alignment::Left | Alignment::None => (0, fill),
    };
    format!("{}{cell}{}", " ".repeat(left), " ".repeat(right))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cells: &[&[&str]]) -> Vec<Vec<String>> {
        cells
            .iter()
            .map(|row| row.iter().map(|c| (*c).to_owned()).collect())
            .collect()
    }

    #[test]
    fn aligns_columns() {
        let table = layout(
            &[Alignment::None, Alignment::Right, Alignment::Center],
            &rows(&[
                &["Name", "Qty", "Note"],
                &["Apple", "3", "ok"],
                &["Kiwi", "12", ""],
            ]),
        );
        assert_eq!(
            table,
            "Name  | Qty | Note\n\
             ------+-----+-----\n\
             Apple |   3 |  ok\n\
             Kiwi  |  12 |"
        );
    }

    #[test]
    fn wide_characters_take_two_columns() {
        let table = layout(
            &[Alignment::None; 2],
            &rows(&[&["名前", "x"], &["ab", "y"]]),
        );
        assert_eq!(table, "名前 | x\n-----+--\nab   | y");
    }

    #[test]
    fn ragged_rows_and_empty_tables() {
        assert_eq!(layout(&[], &[]), "");
        let table = layout(&[Alignment::None], &rows(&[&["a"], &["b", "extra"]]));
        assert_eq!(table, "a |\n--+------\nb | extra");
    }
}
