//! Quoted history taken out of a reply before the model sees it: the
//! session already holds the conversation, and a long thread would
//! otherwise be read again with every mail.
//!
//! What is cut: everything from the first attribution line ("On ...
//! wrote:", and its French, German and Spanish forms), a forwarding or
//! Outlook separator ("-----Original Message-----", a line of
//! underscores, a `From:` block after a blank line), or the signature
//! separator `-- `; and every line quoted with `>`. A mail that is all
//! quote keeps its text, so nothing arrives empty.

/// `text` without its quoted history and signature.
pub fn strip_quoted(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if is_separator(trimmed) || starts_attribution(&lines[i..]) {
            break;
        }
        if line == "-- " || trimmed == "--" {
            break;
        }
        if trimmed.starts_with('>') {
            i += 1;
            continue;
        }
        kept.push(line.trim_end());
        i += 1;
    }
    while kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    while kept.first().is_some_and(|l| l.trim().is_empty()) {
        kept.remove(0);
    }
    let stripped = kept.join("\n");
    if stripped.trim().is_empty() {
        text.trim().to_owned()
    } else {
        stripped
    }
}

fn is_separator(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    (lower.starts_with("-----") && lower.contains("original message"))
        || (lower.starts_with("-----") && lower.contains("forwarded message"))
        || lower.starts_with("begin forwarded message")
        || (line.len() >= 20 && line.chars().all(|c| c == '_'))
}

/// Whether the lines start with an attribution: one line (or two, as
/// clients wrap long ones) from "On"/"Le"/"Am"/"El" to "wrote:" /
/// "a écrit :" / "schrieb" / "escribió:", or an Outlook header block
/// (`From:` followed by `Sent:`/`Date:` within a few lines).
fn starts_attribution(lines: &[&str]) -> bool {
    let first = lines[0].trim();
    let starts = ["On ", "Le ", "Am ", "El "]
        .iter()
        .any(|p| first.starts_with(p));
    if starts {
        for joined in [
            first.to_owned(),
            lines
                .get(1)
                .map(|next| format!("{first} {}", next.trim()))
                .unwrap_or_default(),
        ] {
            let joined = joined.trim_end();
            if joined.ends_with("wrote:")
                || joined.ends_with("a écrit :")
                || joined.ends_with("a écrit:")
                || joined.ends_with("escribió:")
                || (joined.contains("schrieb") && joined.ends_with(':'))
            {
                return true;
            }
        }
    }
    if first.starts_with("From:") {
        return lines
            .iter()
            .skip(1)
            .take(4)
            .any(|l| l.trim().starts_with("Sent:") || l.trim().starts_with("Date:"));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_style_quotes_are_cut() {
        let text = "Sounds good, thanks!\n\nOn Mon, 1 Jan 2024 at 10:00, Agent <agent@example.com> wrote:\n> Earlier answer\n> more\n";
        assert_eq!(strip_quoted(text), "Sounds good, thanks!");
        let wrapped = "Yes.\n\nOn Mon, 1 Jan 2024 at 10:00, A Very Long Name\n<agent@example.com> wrote:\n> old";
        assert_eq!(strip_quoted(wrapped), "Yes.");
    }

    #[test]
    fn outlook_blocks_separators_and_signatures_are_cut() {
        let outlook = "Please do.\r\n\r\nFrom: Agent <agent@example.com>\r\nSent: Monday\r\nTo: me\r\nSubject: x\r\n\r\nold text";
        assert_eq!(strip_quoted(outlook), "Please do.");
        let original = "New\n-----Original Message-----\nold";
        assert_eq!(strip_quoted(original), "New");
        let underscores = "New\n________________________________\nFrom: x";
        assert_eq!(strip_quoted(underscores), "New");
        let signed = "Body\n-- \nJane\nACME";
        assert_eq!(strip_quoted(signed), "Body");
        let french = "Oui\nLe lun. 1 janv. 2024, Agent <a@b> a écrit :\n> x";
        assert_eq!(strip_quoted(french), "Oui");
    }

    #[test]
    fn interleaved_quotes_drop_and_answers_stay() {
        let text = "> question one?\nanswer one\n> question two?\nanswer two";
        assert_eq!(strip_quoted(text), "answer one\nanswer two");
    }

    #[test]
    fn a_mail_that_is_all_quote_keeps_its_text() {
        assert_eq!(strip_quoted("> only quoted\n"), "> only quoted");
        assert_eq!(strip_quoted("Onwards we go"), "Onwards we go");
    }
}
