//! Text on IRC: case mapping of nicks and channels, formatting codes
//! stripped from what users write, CTCP, whether a channel message
//! addresses the bot, and replies cut into lines that fit the 512-byte
//! limit as the server relays them.

use crate::proto::MAX_LINE;

/// How the server folds case in nicks and channel names (`CASEMAPPING` in
/// `005 RPL_ISUPPORT`); RFC 1459's, where `[]\~` are the upper case of
/// `{}|^`, unless the server says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaseMapping {
    Ascii,
    #[default]
    Rfc1459,
    /// RFC 1459 without `~`/`^`.
    StrictRfc1459,
}

impl CaseMapping {
    /// The mapping an `ISUPPORT` value names; RFC 1459 for unknown ones.
    pub fn parse(value: &str) -> Self {
        match value.to_ascii_lowercase().as_str() {
            "ascii" => Self::Ascii,
            "strict-rfc1459" => Self::StrictRfc1459,
            _ => Self::Rfc1459,
        }
    }

    /// `name` in lower case under this mapping.
    pub fn fold(self, name: &str) -> String {
        name.chars()
            .map(|c| match (self, c) {
                (_, 'A'..='Z') => c.to_ascii_lowercase(),
                (Self::Rfc1459 | Self::StrictRfc1459, '[') => '{',
                (Self::Rfc1459 | Self::StrictRfc1459, ']') => '}',
                (Self::Rfc1459 | Self::StrictRfc1459, '\\') => '|',
                (Self::Rfc1459, '~') => '^',
                _ => c,
            })
            .collect()
    }

    /// Whether two names are the same under this mapping.
    pub fn eq(self, a: &str, b: &str) -> bool {
        self.fold(a) == self.fold(b)
    }
}

/// Whether `target` names a channel (`#`, `&`, `+` or `!`).
pub fn is_channel(target: &str) -> bool {
    target.starts_with(['#', '&', '+', '!'])
}

/// `text` without mIRC formatting codes: bold, italic, underline,
/// strikethrough, monospace, reverse, reset, and colours with their
/// `fg[,bg]` digits (and hex colours, `\x04RRGGBB`).
pub fn strip_formatting(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x02' | '\x1d' | '\x1f' | '\x1e' | '\x11' | '\x16' | '\x0f' => {}
            '\x03' | '\x04' => {
                let hex = c == '\x04';
                let digit = |c: &char| {
                    if hex {
                        c.is_ascii_hexdigit()
                    } else {
                        c.is_ascii_digit()
                    }
                };
                let most = if hex { 6 } else { 2 };
                let mut taken = 0;
                while taken < most && chars.peek().is_some_and(digit) {
                    chars.next();
                    taken += 1;
                }
                if taken > 0 && chars.peek() == Some(&',') {
                    let mut ahead = chars.clone();
                    ahead.next();
                    if ahead.peek().is_some_and(digit) {
                        chars.next();
                        let mut taken = 0;
                        while taken < most && chars.peek().is_some_and(digit) {
                            chars.next();
                            taken += 1;
                        }
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one
/// character), case folded by `mapping`.
pub fn matches_mask(pattern: &str, text: &str, mapping: CaseMapping) -> bool {
    let pattern: Vec<char> = mapping.fold(pattern).chars().collect();
    let text: Vec<char> = mapping.fold(text).chars().collect();
    // Iterative glob with backtracking to the last star.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some('?') => {
                p += 1;
                t += 1;
            }
            Some(c) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// What a PRIVMSG's text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    /// Words.
    Text(&'a str),
    /// `/me ...` (CTCP ACTION).
    Action(&'a str),
    /// Another CTCP request (`VERSION`, `PING 123`, ...): the command and
    /// its argument.
    Ctcp(&'a str, &'a str),
}

/// Reads a PRIVMSG's text: CTCP is `\x01COMMAND args\x01` (the closing
/// `\x01` is optional in practice).
pub fn body(text: &str) -> Body<'_> {
    let Some(inner) = text.strip_prefix('\x01') else {
        return Body::Text(text);
    };
    let inner = inner.strip_suffix('\x01').unwrap_or(inner);
    let (command, args) = inner.split_once(' ').unwrap_or((inner, ""));
    if command.eq_ignore_ascii_case("ACTION") {
        Body::Action(args)
    } else {
        Body::Ctcp(command, args)
    }
}

/// When a channel message starts by addressing `nick` (`nick: text`,
/// `nick, text`, `nick text`; case folded by `mapping`), the text after
/// the address; else `None`. As Hermes: only at the start.
pub fn addressed<'a>(text: &'a str, nick: &str, mapping: CaseMapping) -> Option<&'a str> {
    let text = text.trim_start();
    let head = text.get(..nick.len())?;
    if !mapping.eq(head, nick) {
        return None;
    }
    let rest = &text[nick.len()..];
    let after = match rest.chars().next() {
        None => return Some(""),
        Some(':' | ',') => &rest[1..],
        Some(' ') => rest,
        // `nickname` is not `nick`.
        Some(_) => return None,
    };
    Some(after.trim_start())
}

/// How many bytes of text fit in one `PRIVMSG <target> :<text>` as the
/// server relays it to others: `:<nick>!<user>@<host> PRIVMSG <target>
/// :<text>\r\n` within [`MAX_LINE`]. `source` is our `nick!user@host`
/// as the server shows it, or a pessimistic guess.
pub fn room(source_len: usize, target: &str) -> usize {
    // ':' + source + ' PRIVMSG ' + target + ' :' + text + '\r\n'
    let overhead = 1 + source_len + " PRIVMSG ".len() + target.len() + " :".len() + 2;
    MAX_LINE.saturating_sub(overhead)
}

/// Cuts plain text into IRC lines: one or more per line of the text
/// (blank lines dropped), each at most `limit` bytes, cut at a space where
/// one falls in the last two thirds of the room, else at the last UTF-8
/// character boundary that fits (never inside a character).
pub fn lines(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(4);
    let mut out = Vec::new();
    for line in text.split('\n') {
        let mut rest = line.trim_end_matches('\r').trim_end();
        // Tabs are shown oddly by many clients; control characters other
        // than formatting are not for IRC.
        while !rest.is_empty() {
            if rest.len() <= limit {
                out.push(rest.to_owned());
                break;
            }
            let mut cut = limit;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let at_space = rest[..cut].rfind(' ').filter(|&space| space > limit / 3);
            let (head, tail) = match at_space {
                Some(space) => (&rest[..space], &rest[space + 1..]),
                None => (&rest[..cut], &rest[cut..]),
            };
            out.push(head.trim_end().to_owned());
            rest = tail.trim_start();
        }
    }
    out.retain(|l| !l.trim().is_empty());
    out
}

/// `text` with line breaks and NUL taken out of a single line (a reply
/// prefix, a CTCP answer).
pub fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ").replace('\0', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_mappings_fold_as_the_server_says() {
        let rfc = CaseMapping::Rfc1459;
        assert!(rfc.eq("Nick[a]\\~", "nick{a}|^"));
        assert!(!CaseMapping::Ascii.eq("nick[", "nick{"));
        assert!(CaseMapping::StrictRfc1459.eq("a[", "A{"));
        assert!(!CaseMapping::StrictRfc1459.eq("a~", "a^"));
        assert_eq!(CaseMapping::parse("ascii"), CaseMapping::Ascii);
        assert_eq!(CaseMapping::parse("rfc7613"), CaseMapping::Rfc1459);
    }

    #[test]
    fn masks_match_with_wildcards_and_folded_case() {
        let m = CaseMapping::Rfc1459;
        assert!(matches_mask(
            "alice!*@*.example.org",
            "Alice!~a@home.example.org",
            m
        ));
        assert!(matches_mask("*!*@10.0.0.?", "bob!b@10.0.0.7", m));
        assert!(!matches_mask("*!*@10.0.0.?", "bob!b@10.0.0.17", m));
        assert!(!matches_mask("alice!*@host", "alice2!a@host", m));
        assert!(matches_mask("*", "anything!at@all", m));
        assert!(matches_mask("a*b*c", "aXXbYYc", m));
        assert!(!matches_mask("a*b*c", "aXXbYY", m));
    }

    #[test]
    fn formatting_codes_are_stripped() {
        assert_eq!(
            strip_formatting("\x02bold\x02 \x1ditalic\x0f"),
            "bold italic"
        );
        assert_eq!(strip_formatting("\x0304red\x03 \x0312,01blue"), "red blue");
        assert_eq!(strip_formatting("\x03,x"), ",x");
        assert_eq!(strip_formatting("\x034,5"), "");
        assert_eq!(strip_formatting("\x0312,x"), ",x");
        assert_eq!(strip_formatting("\x04ff00AAhex"), "hex");
        assert_eq!(strip_formatting("\x03"), "");
        assert_eq!(strip_formatting("1,2 \x1f\x1e\x11\x16u"), "1,2 u");
    }

    #[test]
    fn ctcp_is_told_from_text() {
        assert_eq!(body("hello"), Body::Text("hello"));
        assert_eq!(body("\x01ACTION waves\x01"), Body::Action("waves"));
        assert_eq!(body("\x01ACTION waves"), Body::Action("waves"));
        assert_eq!(body("\x01VERSION\x01"), Body::Ctcp("VERSION", ""));
        assert_eq!(body("\x01PING 123 4\x01"), Body::Ctcp("PING", "123 4"));
    }

    #[test]
    fn addressing_is_at_the_start_and_case_insensitive() {
        let m = CaseMapping::Rfc1459;
        assert_eq!(addressed("hermes: hi there", "hermes", m), Some("hi there"));
        assert_eq!(addressed("Hermes, hi", "hermes", m), Some("hi"));
        assert_eq!(addressed("HERMES hi", "hermes", m), Some("hi"));
        assert_eq!(addressed("  hermes:hi", "hermes", m), Some("hi"));
        assert_eq!(addressed("hermes:", "hermes", m), Some(""));
        assert_eq!(addressed("hermesbot: hi", "hermes", m), None);
        assert_eq!(addressed("hi hermes", "hermes", m), None);
        assert_eq!(addressed("bot{1}: x", "Bot[1]", m), Some("x"));
        assert_eq!(addressed("hé", "hermes", m), None);
        assert_eq!(addressed("ab", "a\u{e9}", m), None);
    }

    #[test]
    fn room_counts_the_relayed_line() {
        let source = "bot!~bot@127.0.0.1";
        let target = "#chan";
        let room = room(source.len(), target);
        let relayed = format!(":{source} PRIVMSG {target} :{}\r\n", "x".repeat(room));
        assert_eq!(relayed.len(), MAX_LINE);
    }

    #[test]
    fn lines_fit_in_bytes_and_never_cut_a_character() {
        assert_eq!(lines("a\n\nb\r\n  \nc  ", 100), ["a", "b", "c"]);
        let words = "alpha beta gamma delta epsilon";
        let cut = lines(words, 12);
        assert!(cut.iter().all(|l| l.len() <= 12), "{cut:?}");
        assert_eq!(cut.join(" "), words);
        let emoji = "😀".repeat(10);
        let cut = lines(&emoji, 10);
        assert!(
            cut.iter().all(|l| l.len() <= 10 && l.len() % 4 == 0),
            "{cut:?}"
        );
        assert_eq!(cut.concat(), emoji);
        let mixed = format!("{} {}", "é".repeat(300), "word ".repeat(200));
        for line in lines(&mixed, 400) {
            assert!(line.len() <= 400);
        }
    }
}
