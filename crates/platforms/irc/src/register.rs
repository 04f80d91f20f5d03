//! Registration, as a state machine fed the server's messages: IRCv3
//! capability negotiation (`CAP LS 302`), SASL PLAIN when the server
//! offers it and a password is set, `PASS`, `NICK`/`USER`, another nick
//! when ours is taken, until `001 RPL_WELCOME`.
//!
//! Pure: it returns the lines to send, so every path is tested without a
//! socket. The session sends them and answers PINGs meanwhile.

use crate::config::IrcConfig;
use crate::proto::{Line, LineError, Message};
use base64::Engine;
use hermod_model::Secret;

/// How many other nicks are tried when ours is taken (`nick_`,
/// `nick__`, ...), before the attempt is given up and retried later.
pub const NICK_ATTEMPTS: usize = 5;

/// SASL payloads are sent in pieces of this many bytes (IRCv3 SASL 3.1).
const SASL_CHUNK: usize = 400;

/// What the session does after a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these lines (maybe none) and read on.
    Send(Vec<Line>),
    /// Registered under this nick.
    Welcome { nick: String },
    /// This attempt failed; try again after the backoff.
    Retry(String),
    /// The server refused our credentials or settings: stop.
    Refused(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sasl {
    /// Not asked for (not offered, or no password).
    Off,
    /// `CAP REQ :sasl` sent.
    Requested,
    /// `AUTHENTICATE PLAIN` sent.
    Started,
    /// Logged in.
    Done,
}

/// One registration attempt.
#[derive(Debug)]
pub struct Registration {
    nick: String,
    /// The nick being tried now.
    trying: String,
    attempts: usize,
    server_password: Option<Secret>,
    sasl_credentials: Option<(String, Secret)>,
    /// Capabilities offered so far (`CAP LS` may span several lines).
    offered: Vec<String>,
    sasl: Sasl,
    /// `CAP END` sent (or never needed).
    cap_ended: bool,
}

impl Registration {
    pub fn new(config: &IrcConfig) -> Self {
        Self {
            nick: config.nickname.clone(),
            trying: config.nickname.clone(),
            attempts: 0,
            server_password: config.server_password.clone().filter(|p| !p.is_empty()),
            sasl_credentials: config
                .sasl()
                .map(|(account, password)| (account.to_owned(), password.clone())),
            offered: Vec::new(),
            sasl: Sasl::Off,
            cap_ended: false,
        }
    }

    /// Whether SASL logged us in (then NickServ needs no IDENTIFY).
    pub fn logged_in(&self) -> bool {
        self.sasl == Sasl::Done
    }

    /// The first lines: `CAP LS 302`, `PASS`, `NICK`, `USER`.
    pub fn start(&self) -> Result<Vec<Line>, LineError> {
        let mut lines = vec![Line::new("CAP", &["LS", "302"], None)?];
        if let Some(password) = &self.server_password {
            lines.push(Line::new("PASS", &[], Some(password.expose()))?);
        }
        lines.push(Line::new("NICK", &[&self.trying], None)?);
        lines.push(Line::new("USER", &["hermod", "0", "*"], Some("hermod"))?);
        Ok(lines)
    }

    /// Reads one message from the server.
    pub fn on(&mut self, msg: &Message) -> Step {
        match self.step(msg) {
            Ok(step) => step,
            Err(e) => Step::Refused(format!("cannot write a registration line: {e}")),
        }
    }

    fn step(&mut self, msg: &Message) -> Result<Step, LineError> {
        let none = || Ok(Step::Send(Vec::new()));
        match msg.command.as_str() {
            "CAP" => self.cap(msg),
            "AUTHENTICATE" if msg.param(0) == "+" && self.sasl == Sasl::Started => {
                self.sasl_payload().map(Step::Send)
            }
            // RPL_SASLSUCCESS
            "903" => {
                self.sasl = Sasl::Done;
                self.end_cap().map(Step::Send)
            }
            // ERR_SASLFAIL: the account or password is wrong.
            "904" => Ok(Step::Refused(
                "the server refused the SASL login (904); check IRC_NICKSERV_PASSWORD and IRC_SASL_USERNAME".into(),
            )),
            // Too long, aborted, already logged in, mechanisms: go on without.
            "902" | "905" | "906" | "907" | "908" => {
                if self.sasl != Sasl::Done {
                    self.sasl = Sasl::Off;
                }
                self.end_cap().map(Step::Send)
            }
            // ERR_NICKNAMEINUSE, ERR_NICKCOLLISION, ERR_UNAVAILRESOURCE
            "433" | "436" | "437" => self.another_nick(),
            // ERR_ERRONEUSNICKNAME
            "432" => Ok(Step::Refused(format!(
                "the server refuses the nick {:?} (432); choose another IRC_NICKNAME",
                self.trying
            ))),
            // ERR_PASSWDMISMATCH
            "464" => Ok(Step::Refused(
                "the server refused the password (464); check IRC_SERVER_PASSWORD".into(),
            )),
            // ERR_YOUREBANNEDCREEP
            "465" => Ok(Step::Refused(format!(
                "the server bans this client (465): {}",
                msg.params.last().map_or("", String::as_str)
            ))),
            "001" => Ok(Step::Welcome {
                nick: match msg.param(0) {
                    "" | "*" => self.trying.clone(),
                    nick => nick.to_owned(),
                },
            }),
            // Some servers (ngircd, InspIRCd) refuse a wrong password with
            // ERROR alone, no 464: before the welcome, an ERROR naming the
            // password is that refusal.
            "ERROR" if msg.param(0).to_ascii_lowercase().contains("password") => {
                Ok(Step::Refused(format!(
                    "the server refused the password ({}); check IRC_SERVER_PASSWORD",
                    msg.param(0)
                )))
            }
            "ERROR" => Ok(Step::Retry(format!(
                "the server closed the link: {}",
                msg.param(0)
            ))),
            _ => none(),
        }
    }

    fn cap(&mut self, msg: &Message) -> Result<Step, LineError> {
        match msg.param(1).to_ascii_uppercase().as_str() {
            "LS" => {
                // `CAP * LS * :caps` continues; `CAP * LS :caps` ends.
                let more = msg.params.len() > 3 && msg.param(2) == "*";
                let caps = msg.params.last().map_or("", String::as_str);
                self.offered
                    .extend(caps.split_whitespace().map(str::to_owned));
                if more {
                    return Ok(Step::Send(Vec::new()));
                }
                // `message-tags` gives messages the server's `msgid`, the
                // key they are recorded under; asked for on its own line so
                // its answer never stands in for the one about SASL.
                let mut lines = Vec::new();
                if self.offered.iter().any(|c| c == "message-tags") {
                    lines.push(Line::new("CAP", &["REQ"], Some("message-tags"))?);
                }
                if self.sasl_credentials.is_some() && self.plain_offered() {
                    self.sasl = Sasl::Requested;
                    lines.push(Line::new("CAP", &["REQ"], Some("sasl"))?);
                } else {
                    lines.extend(self.end_cap()?);
                }
                Ok(Step::Send(lines))
            }
            "ACK" if self.sasl == Sasl::Requested && names_sasl(msg) => {
                self.sasl = Sasl::Started;
                Ok(Step::Send(vec![Line::new(
                    "AUTHENTICATE",
                    &["PLAIN"],
                    None,
                )?]))
            }
            "NAK" if self.sasl == Sasl::Requested && names_sasl(msg) => {
                self.sasl = Sasl::Off;
                self.end_cap().map(Step::Send)
            }
            _ => Ok(Step::Send(Vec::new())),
        }
    }

    /// Whether `sasl` is offered with PLAIN among its mechanisms (a bare
    /// `sasl`, from servers before CAP 302 values, may support it).
    fn plain_offered(&self) -> bool {
        self.offered.iter().any(|cap| match cap.split_once('=') {
            Some((name, mechanisms)) => {
                name == "sasl"
                    && mechanisms
                        .split(',')
                        .any(|m| m.eq_ignore_ascii_case("PLAIN"))
            }
            None => cap == "sasl",
        })
    }

    fn end_cap(&mut self) -> Result<Vec<Line>, LineError> {
        if std::mem::replace(&mut self.cap_ended, true) {
            return Ok(Vec::new());
        }
        Ok(vec![Line::new("CAP", &["END"], None)?])
    }

    /// `AUTHENTICATE` lines carrying `account\0account\0password` in
    /// base64, 400 bytes a line, and `+` after a final full line.
    fn sasl_payload(&self) -> Result<Vec<Line>, LineError> {
        let Some((account, password)) = &self.sasl_credentials else {
            return Ok(Vec::new());
        };
        let raw = format!("{account}\0{account}\0{}", password.expose());
        let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
        let mut lines = Vec::new();
        for chunk in encoded.as_bytes().chunks(SASL_CHUNK) {
            // Base64 is ASCII: every chunk is valid UTF-8.
            let chunk = std::str::from_utf8(chunk).unwrap_or_default();
            lines.push(Line::new("AUTHENTICATE", &[chunk], None)?);
        }
        if encoded.len() % SASL_CHUNK == 0 {
            lines.push(Line::new("AUTHENTICATE", &["+"], None)?);
        }
        Ok(lines)
    }

    fn another_nick(&mut self) -> Result<Step, LineError> {
        self.attempts += 1;
        if self.attempts > NICK_ATTEMPTS {
            return Ok(Step::Retry(format!(
                "the nick {} and {NICK_ATTEMPTS} variants of it are taken",
                self.nick
            )));
        }
        self.trying = format!("{}{}", self.nick, "_".repeat(self.attempts));
        Ok(Step::Send(vec![Line::new("NICK", &[&self.trying], None)?]))
    }
}

/// Whether a `CAP ACK`/`NAK` answers about `sasl`.
fn names_sasl(msg: &Message) -> bool {
    msg.params.last().is_some_and(|caps| {
        caps.split_whitespace()
            .any(|c| c.trim_start_matches('-') == "sasl")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> IrcConfig {
        IrcConfig {
            server: Some("irc.example.net".into()),
            nickname: "bot".into(),
            ..IrcConfig::default()
        }
    }

    fn msg(line: &str) -> Message {
        Message::parse(line).unwrap()
    }

    fn sent(step: Step) -> Vec<String> {
        match step {
            Step::Send(lines) => lines.iter().map(|l| l.as_str().to_owned()).collect(),
            other => panic!("expected lines, got {other:?}"),
        }
    }

    #[test]
    fn without_sasl_caps_end_and_001_welcomes() {
        let mut config = config();
        config.server_password = Some(Secret::new("pw"));
        let mut reg = Registration::new(&config);
        let start: Vec<_> = reg
            .start()
            .unwrap()
            .iter()
            .map(|l| l.as_str().to_owned())
            .collect();
        assert_eq!(
            start,
            [
                "CAP LS 302",
                "PASS :pw",
                "NICK bot",
                "USER hermod 0 * :hermod"
            ]
        );
        assert_eq!(
            sent(reg.on(&msg(":s CAP * LS :multi-prefix sasl=PLAIN"))),
            ["CAP END"]
        );
        assert_eq!(
            reg.on(&msg(":s 001 bot :Welcome")),
            Step::Welcome { nick: "bot".into() }
        );
        assert!(!reg.logged_in());
    }

    #[test]
    fn sasl_plain_when_offered_and_a_password_is_set() {
        let mut config = config();
        config.nickserv_password = Some(Secret::new("secret"));
        let mut reg = Registration::new(&config);
        assert!(sent(reg.on(&msg(":s CAP * LS * :multi-prefix"))).is_empty());
        assert_eq!(
            sent(reg.on(&msg(":s CAP * LS :sasl=EXTERNAL,PLAIN server-time"))),
            ["CAP REQ :sasl"]
        );
        assert_eq!(
            sent(reg.on(&msg(":s CAP * ACK :sasl"))),
            ["AUTHENTICATE PLAIN"]
        );
        // base64("bot\0bot\0secret")
        assert_eq!(
            sent(reg.on(&msg("AUTHENTICATE +"))),
            ["AUTHENTICATE Ym90AGJvdABzZWNyZXQ="]
        );
        assert_eq!(
            sent(reg.on(&msg(":s 903 bot :SASL authentication successful"))),
            ["CAP END"]
        );
        assert!(reg.logged_in());
        assert!(
            matches!(reg.on(&msg(":s 904 bot :failed")), Step::Refused(r) if r.contains("IRC_NICKSERV_PASSWORD"))
        );
    }

    #[test]
    fn long_sasl_payloads_go_in_400_byte_pieces() {
        let mut config = config();
        // 3 * (3 + 1) + ... : pick a password whose encoding is exactly 800 bytes.
        let password = "p".repeat(600 - "bot\0bot\0".len());
        config.nickserv_password = Some(Secret::new(password));
        let mut reg = Registration::new(&config);
        reg.on(&msg(":s CAP * LS :sasl"));
        reg.on(&msg(":s CAP * ACK :sasl"));
        let lines = sent(reg.on(&msg("AUTHENTICATE +")));
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0].len(), "AUTHENTICATE ".len() + 400);
        assert_eq!(lines[2], "AUTHENTICATE +");
    }

    #[test]
    fn message_tags_are_asked_for_when_offered_apart_from_sasl() {
        let mut config = config();
        config.nickserv_password = Some(Secret::new("secret"));
        let mut reg = Registration::new(&config);
        assert_eq!(
            sent(reg.on(&msg(":s CAP * LS :message-tags sasl"))),
            ["CAP REQ :message-tags", "CAP REQ :sasl"]
        );
        assert!(sent(reg.on(&msg(":s CAP * ACK :message-tags"))).is_empty());
        assert_eq!(
            sent(reg.on(&msg(":s CAP * ACK :sasl"))),
            ["AUTHENTICATE PLAIN"]
        );
        let mut reg = Registration::new(&IrcConfig {
            nickserv_password: None,
            ..config
        });
        assert_eq!(
            sent(reg.on(&msg(":s CAP * LS :message-tags"))),
            ["CAP REQ :message-tags", "CAP END"]
        );
        assert!(sent(reg.on(&msg(":s CAP * NAK :message-tags"))).is_empty());
    }

    #[test]
    fn sasl_is_not_asked_for_without_plain_or_a_password() {
        let mut reg = Registration::new(&config());
        assert_eq!(sent(reg.on(&msg(":s CAP * LS :sasl"))), ["CAP END"]);
        let mut config = config();
        config.nickserv_password = Some(Secret::new("x"));
        let mut reg = Registration::new(&config);
        assert_eq!(
            sent(reg.on(&msg(":s CAP * LS :sasl=EXTERNAL"))),
            ["CAP END"]
        );
        let mut reg = Registration::new(&config);
        assert_eq!(sent(reg.on(&msg(":s CAP * LS :sasl"))), ["CAP REQ :sasl"]);
        assert_eq!(sent(reg.on(&msg(":s CAP * NAK :sasl"))), ["CAP END"]);
        assert!(
            sent(reg.on(&msg(":s 906 * :aborted"))).is_empty(),
            "CAP END once"
        );
    }

    #[test]
    fn a_taken_nick_gets_underscores_a_bounded_number_of_times() {
        let mut reg = Registration::new(&config());
        for n in 1..=NICK_ATTEMPTS {
            let lines = sent(reg.on(&msg(":s 433 * bot :Nickname is already in use")));
            assert_eq!(lines, [format!("NICK bot{}", "_".repeat(n))]);
        }
        assert!(matches!(reg.on(&msg(":s 433 * x :in use")), Step::Retry(_)));
        assert_eq!(
            reg.on(&msg(":s 001 bot_____ :Welcome")),
            Step::Welcome {
                nick: "bot_____".into()
            }
        );
    }

    #[test]
    fn refusals_name_the_setting() {
        let mut reg = Registration::new(&config());
        assert!(
            matches!(reg.on(&msg(":s 464 * :Password incorrect")), Step::Refused(r) if r.contains("IRC_SERVER_PASSWORD"))
        );
        assert!(
            matches!(reg.on(&msg(":s 432 * bot :Erroneous")), Step::Refused(r) if r.contains("IRC_NICKNAME"))
        );
        assert!(
            matches!(reg.on(&msg("ERROR :Closing link")), Step::Retry(r) if r.contains("Closing link"))
        );
        // ngircd refuses a wrong password with ERROR alone.
        assert!(
            matches!(reg.on(&msg("ERROR :Access denied: Bad password?")), Step::Refused(r) if r.contains("IRC_SERVER_PASSWORD"))
        );
    }
}
