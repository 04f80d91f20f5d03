//! IRC messages as lines: parsing what the server sends (IRCv3 message
//! format: optional `@tags`, optional `:prefix`, a command, parameters,
//! the last one possibly `:trailing`) and writing what we send.
//!
//! Parsing is pure and never fails loudly: a line that is not a message
//! is [`ParseError`], which the connection logs and skips. Writing refuses
//! CR, LF and NUL anywhere (they would end the line early and let a
//! reply's text inject commands) and spaces in middle parameters.

use std::fmt;

/// The longest line the server accepts, `\r\n` included (RFC 1459 2.3,
/// tags excluded per IRCv3).
pub const MAX_LINE: usize = 512;

/// Where a message came from: a server name or `nick!user@host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    pub nick: String,
    pub user: Option<String>,
    pub host: Option<String>,
}

impl Prefix {
    fn parse(raw: &str) -> Self {
        let (rest, host) = match raw.split_once('@') {
            Some((rest, host)) => (rest, Some(host.to_owned())),
            None => (raw, None),
        };
        let (nick, user) = match rest.split_once('!') {
            Some((nick, user)) => (nick, Some(user.to_owned())),
            None => (rest, None),
        };
        Self {
            nick: nick.to_owned(),
            user,
            host,
        }
    }

    /// `nick!user@host` as the server writes it.
    pub fn mask(&self) -> String {
        let mut mask = self.nick.clone();
        if let Some(user) = &self.user {
            mask.push('!');
            mask.push_str(user);
        }
        if let Some(host) = &self.host {
            mask.push('@');
            mask.push_str(host);
        }
        mask
    }
}

/// One message from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// IRCv3 tags, unescaped; a tag without a value has an empty one.
    pub tags: Vec<(String, String)>,
    pub prefix: Option<Prefix>,
    /// The command, upper-cased (`PRIVMSG`, `001`, ...).
    pub command: String,
    pub params: Vec<String>,
}

/// Why a line is not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("an empty line")]
    Empty,
    #[error("no command after the tags or prefix")]
    NoCommand,
    #[error("the command {0:?} is neither letters nor three digits")]
    BadCommand(String),
}

impl Message {
    /// The `i`th parameter, or `""`.
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map_or("", String::as_str)
    }

    /// The value of tag `name`, when the message carries it.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The sender's nick, when the prefix names one.
    pub fn nick(&self) -> Option<&str> {
        self.prefix.as_ref().map(|p| p.nick.as_str())
    }

    /// Parses one line (without its line ending; a trailing `\r` is
    /// dropped).
    pub fn parse(line: &str) -> Result<Self, ParseError> {
        let mut rest = line.trim_end_matches(['\r', '\n']).trim_start_matches(' ');
        if rest.is_empty() {
            return Err(ParseError::Empty);
        }
        let mut tags = Vec::new();
        if let Some(after) = rest.strip_prefix('@') {
            let (raw, tail) = after.split_once(' ').unwrap_or((after, ""));
            tags = raw
                .split(';')
                .filter(|t| !t.is_empty())
                .map(|t| match t.split_once('=') {
                    Some((k, v)) => (k.to_owned(), unescape_tag(v)),
                    None => (t.to_owned(), String::new()),
                })
                .collect();
            rest = tail.trim_start_matches(' ');
        }
        let mut prefix = None;
        if let Some(after) = rest.strip_prefix(':') {
            let (raw, tail) = after.split_once(' ').unwrap_or((after, ""));
            prefix = Some(Prefix::parse(raw));
            rest = tail.trim_start_matches(' ');
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if command.is_empty() {
            return Err(ParseError::NoCommand);
        }
        let valid = command.bytes().all(|b| b.is_ascii_alphabetic())
            || (command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit()));
        if !valid {
            return Err(ParseError::BadCommand(command.chars().take(20).collect()));
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_owned());
                break;
            }
            let (param, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(param.to_owned());
            rest = tail;
        }
        Ok(Self {
            tags,
            prefix,
            command: command.to_ascii_uppercase(),
            params,
        })
    }
}

/// IRCv3 tag value escapes: `\:` `;`, `\s` space, `\\` `\`, `\r`, `\n`;
/// any other escaped character stands for itself, a lone `\` at the end is
/// dropped.
fn unescape_tag(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// A line we send, checked: no CR, LF or NUL anywhere, no space or
/// leading `:` in a middle parameter, no empty middle parameter.
#[derive(Clone, PartialEq, Eq)]
pub struct Line(String);

/// Why a line cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("a parameter holds a line break or NUL, which would end the line early")]
    Control,
    #[error("the parameter {0:?} cannot be a middle parameter (empty, a space or a leading ':')")]
    Middle(String),
}

impl Line {
    /// `command` with `middle` parameters and an optional `trailing` one
    /// (always written with `:`, so it may hold spaces or be empty).
    pub fn new(command: &str, middle: &[&str], trailing: Option<&str>) -> Result<Self, LineError> {
        let control = |s: &str| s.contains(['\r', '\n', '\0']);
        let mut line = command.to_owned();
        for param in middle {
            if control(param) {
                return Err(LineError::Control);
            }
            if param.is_empty() || param.contains(' ') || param.starts_with(':') {
                return Err(LineError::Middle((*param).to_owned()));
            }
            line.push(' ');
            line.push_str(param);
        }
        if let Some(trailing) = trailing {
            if control(trailing) {
                return Err(LineError::Control);
            }
            line.push_str(" :");
            line.push_str(trailing);
        }
        Ok(Self(line))
    }

    /// The line without its `\r\n`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The line's first word, for logs that must not show parameters
    /// (`PASS`, `AUTHENTICATE` carry secrets).
    pub fn command(&self) -> &str {
        self.0.split(' ').next().unwrap_or_default()
    }
}

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parameters may be secrets (PASS, AUTHENTICATE).
        write!(f, "Line({} ...)", self.command())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_1459_and_ircv3_lines_parse() {
        let m = Message::parse(":alice!~a@host.example PRIVMSG #chan :hello there :)\r").unwrap();
        assert_eq!(m.nick(), Some("alice"));
        let prefix = m.prefix.clone().unwrap();
        assert_eq!(prefix.user.as_deref(), Some("~a"));
        assert_eq!(prefix.host.as_deref(), Some("host.example"));
        assert_eq!(prefix.mask(), "alice!~a@host.example");
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(m.params, ["#chan", "hello there :)"]);

        // The examples of the IRCv3 message-tags specification.
        let m = Message::parse(
            "@aaa=bbb;ccc;example.com/ddd=eee :nick!ident@host.com PRIVMSG me :Hello",
        )
        .unwrap();
        assert_eq!(m.tag("aaa"), Some("bbb"));
        assert_eq!(m.tag("ccc"), Some(""));
        assert_eq!(m.tag("example.com/ddd"), Some("eee"));
        assert_eq!(m.params, ["me", "Hello"]);
        let m = Message::parse(r"@msgid=a\:b\sc\\d PING").unwrap();
        assert_eq!(m.tag("msgid"), Some(r"a;b c\d"));

        let m = Message::parse("PING :irc.example.net").unwrap();
        assert_eq!(m.prefix, None);
        assert_eq!(m.params, ["irc.example.net"]);
        let m = Message::parse(":irc.example.net 001 bot :Welcome").unwrap();
        assert_eq!(m.command, "001");
        assert_eq!(m.nick(), Some("irc.example.net"));
        let m = Message::parse(":s CAP * LS :multi-prefix sasl").unwrap();
        assert_eq!(m.params, ["*", "LS", "multi-prefix sasl"]);
        let m = Message::parse(":s 005 bot CASEMAPPING=ascii  NICKLEN=30 :are supported").unwrap();
        assert_eq!(
            m.params,
            ["bot", "CASEMAPPING=ascii", "NICKLEN=30", "are supported"]
        );
        let m = Message::parse("privmsg bot :").unwrap();
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(m.params, ["bot", ""]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(Message::parse(""), Err(ParseError::Empty));
        assert_eq!(Message::parse("\r\n"), Err(ParseError::Empty));
        assert_eq!(Message::parse(":prefix.only"), Err(ParseError::NoCommand));
        assert_eq!(Message::parse("@a=b"), Err(ParseError::NoCommand));
        assert!(matches!(
            Message::parse("{\"json\": true}"),
            Err(ParseError::BadCommand(_))
        ));
        assert!(Message::parse("12 x").is_err());
        for garbage in ["@", ":", "@;;; :", "\u{1}\u{2}", "@=\\ x"] {
            let _ = Message::parse(garbage);
        }
    }

    #[test]
    fn lines_refuse_injection() {
        let line = Line::new("PRIVMSG", &["#chan"], Some("hi :) there")).unwrap();
        assert_eq!(line.as_str(), "PRIVMSG #chan :hi :) there");
        assert_eq!(
            Line::new("PRIVMSG", &["#c"], Some("a\r\nQUIT :bye")),
            Err(LineError::Control)
        );
        assert!(Line::new("PRIVMSG", &["a b"], Some("x")).is_err());
        assert!(Line::new("PRIVMSG", &[""], Some("x")).is_err());
        assert!(Line::new("PRIVMSG", &[":x"], Some("x")).is_err());
        let pass = Line::new("PASS", &[], Some("hunter2")).unwrap();
        assert!(!format!("{pass:?}").contains("hunter2"));
        assert_eq!(pass.command(), "PASS");
    }
}
