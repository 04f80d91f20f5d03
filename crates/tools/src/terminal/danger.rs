//! Dangerous commands: which commands the terminal asks the user about
//! before running them.
//!
//! The command is first normalized the way a shell would read it, so that
//! spelling does not hide a command: backslashes and quotes are dropped
//! (`r\m`, `"rm"` and `r''m` all read `rm`), `$IFS` is a space, line
//! continuations are joined, whitespace is collapsed, and words other than
//! flags are lower-cased. The result is cut into words and shell operators
//! (`|`, `;`, `&&`, `>`, `$(`, …); a word that starts a command (after an
//! operator, a `sudo`/`env`/`nohup`/… wrapper or `VAR=value`) is reduced
//! to its file name, so `/bin/rm` reads `rm`.
//!
//! A pattern is a sequence of words matched against consecutive words of
//! the command:
//!
//! - a word glob ([`super::glob`]): `rm`, `-[!-]*r*`, `{curl,wget}`;
//!   written in lower case except for flags, as the words it meets are;
//! - `^` before a glob: the word must start a command;
//! - `...`: any words within the same command;
//! - `**`: any words at all, across operators.
//!
//! Besides the patterns, one rule is written in code: a write outside the
//! workspace, by redirection (`>`/`>>`), `tee`, `cp`/`mv`/`install`/`ln`
//! to a destination outside, or `sed -i`/`perl -i` on such a path.
//!
//! This is a speed bump, not a sandbox: a command can always do harm in
//! ways no pattern sees (a script, an interpreter). It stops the common
//! accidents and makes the model's intent visible to the user.

use super::glob::WordGlob;
use crate::ToolsError;
use std::path::{Component, Path, PathBuf};

use defaults::DEFAULTS;
pub use defaults::{DefaultPattern, OUTSIDE_WORKSPACE_RULE, default_dangerous_patterns};

mod defaults;

/// One word of a pattern.
#[derive(Debug, Clone)]
enum Step {
    Word {
        glob: WordGlob,
        command_start: bool,
    },
    /// `...`
    SameCommand,
    /// `**`
    Anything,
}

#[derive(Debug, Clone)]
struct Rule {
    steps: Vec<Step>,
    description: String,
}

impl Rule {
    fn parse(pattern: &str, description: &str) -> Result<Self, ToolsError> {
        let error = |reason: String| ToolsError::Pattern {
            pattern: pattern.to_owned(),
            reason,
        };
        let mut steps = Vec::new();
        for word in pattern.split_whitespace() {
            steps.push(match word {
                "..." => Step::SameCommand,
                "**" => Step::Anything,
                _ => {
                    let (command_start, glob) = match word.strip_prefix('^') {
                        Some(rest) if !rest.is_empty() => (true, rest),
                        _ => (false, word),
                    };
                    Step::Word {
                        glob: WordGlob::parse(glob).map_err(error)?,
                        command_start,
                    }
                }
            });
        }
        if !steps.iter().any(|s| matches!(s, Step::Word { .. })) {
            return Err(error("it has no word to match".to_owned()));
        }
        Ok(Self {
            steps,
            description: description.to_owned(),
        })
    }

    /// Whether the pattern matches consecutive words anywhere in
    /// `command`: an NFA run over the words, linear in their number.
    fn matches(&self, command: &Command) -> bool {
        let n = self.steps.len();
        // active[i]: the pattern has matched its first i steps.
        let mut active = vec![false; n + 1];
        for (index, token) in command.tokens.iter().enumerate() {
            active[0] = true;
            self.close(&mut active);
            if active[n] {
                return true;
            }
            let mut next = vec![false; n + 1];
            for (i, step) in self.steps.iter().enumerate() {
                if !active[i] {
                    continue;
                }
                match step {
                    Step::Word {
                        glob,
                        command_start,
                    } => {
                        if !token.operator
                            && (!command_start || command.starts[index])
                            && glob.matches(&token.text)
                        {
                            next[i + 1] = true;
                        }
                        // Operators are matched literally.
                        if token.operator && !command_start && glob.matches(&token.text) {
                            next[i + 1] = true;
                        }
                    }
                    Step::SameCommand => {
                        if !token.separator {
                            next[i] = true;
                        }
                    }
                    Step::Anything => next[i] = true,
                }
            }
            active = next;
        }
        self.close(&mut active);
        active[n]
    }

    /// Steps that match no words (`...`, `**`) may be skipped.
    fn close(&self, active: &mut [bool]) {
        for (i, step) in self.steps.iter().enumerate() {
            if active[i] && !matches!(step, Step::Word { .. }) {
                active[i + 1] = true;
            }
        }
    }
}

/// The checked patterns of one terminal.
#[derive(Debug, Clone)]
pub(crate) struct Dangers {
    rules: Vec<Rule>,
    outside_rule: bool,
    /// The workspace, lower-cased like the words it is compared with.
    workspace: Vec<String>,
}

impl Dangers {
    pub(crate) fn new(
        extra: &[crate::DangerousPattern],
        replace_defaults: bool,
        workspace: &[&Path],
    ) -> Result<Self, ToolsError> {
        let mut rules = Vec::new();
        if !replace_defaults {
            for default in DEFAULTS {
                rules.push(Rule::parse(default.pattern, default.description)?);
            }
        }
        for pattern in extra {
            rules.push(Rule::parse(pattern.pattern(), pattern.description())?);
        }
        Ok(Self {
            rules,
            outside_rule: !replace_defaults,
            workspace: workspace
                .iter()
                .map(|p| p.to_string_lossy().to_lowercase())
                .collect(),
        })
    }

    /// What is dangerous about `command` run in `cwd` (inside the
    /// workspace): the descriptions of the matching rules, in order.
    pub(crate) fn check(&self, command: &str, cwd: &Path) -> Vec<String> {
        let parsed = Command::parse(command);
        let mut found: Vec<String> = Vec::new();
        for rule in &self.rules {
            if rule.matches(&parsed) && !found.contains(&rule.description) {
                found.push(rule.description.clone());
            }
        }
        if self.outside_rule {
            let cwd = cwd.to_string_lossy().to_lowercase();
            for target in write_targets(&parsed) {
                if self.is_outside(&target, &cwd) {
                    found.push(format!("{OUTSIDE_WORKSPACE_RULE} ({target})"));
                    break;
                }
            }
        }
        found
    }

    fn is_outside(&self, target: &str, cwd: &str) -> bool {
        if matches!(
            target,
            "/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/tty"
        ) || target.starts_with("/dev/fd/")
        {
            return false;
        }
        if target.starts_with('~') || target.starts_with("$home") || target.starts_with("${home}") {
            return true;
        }
        if target.starts_with('$') || target.is_empty() {
            // A variable: unknown until the shell expands it.
            return false;
        }
        let path = normalize(&Path::new(cwd).join(target));
        !self
            .workspace
            .iter()
            .any(|root| path.starts_with(Path::new(root)))
    }
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Where `command` writes files: redirection targets, `tee` operands,
/// the destination of `cp`/`mv`/`install`/`ln`, and the absolute or home
/// paths of `sed -i`/`perl -i`.
fn write_targets(command: &Command) -> Vec<String> {
    let tokens = &command.tokens;
    let mut targets = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if token.operator && matches!(token.text.as_str(), ">" | ">>") {
            if let Some(next) = tokens.get(i + 1).filter(|t| !t.operator) {
                targets.push(next.text.clone());
            }
            continue;
        }
        if token.operator || !command.starts[i] {
            continue;
        }
        let args: Vec<&str> = tokens[i + 1..]
            .iter()
            .take_while(|t| !t.operator)
            .map(|t| t.text.as_str())
            .collect();
        let operands = || args.iter().filter(|a| !a.starts_with('-'));
        match token.text.as_str() {
            "tee" => targets.extend(operands().map(|a| (*a).to_owned())),
            "cp" | "mv" | "install" | "ln" if operands().count() >= 2 => {
                targets.extend(operands().next_back().map(|a| (*a).to_owned()));
            }
            "sed" | "perl" if in_place(&args) => targets.extend(in_place_paths(&token.text, &args)),
            _ => {}
        }
    }
    targets
}

/// `sed -i`, `perl -pi`, `--in-place`.
fn in_place(args: &[&str]) -> bool {
    args.iter().any(|a| {
        a.starts_with("--in-place")
            || (a.starts_with('-') && !a.starts_with("--") && a.contains('i'))
    })
}

/// The absolute and home paths an in-place edit names, skipping its
/// script (the first operand, or the argument of `-e`).
fn in_place_paths(program: &str, args: &[&str]) -> Vec<String> {
    let has_script_flag = args.iter().any(|a| {
        matches!(*a, "-e" | "-f" | "-pe" | "-pie" | "-ne")
            || a.starts_with("--expression")
            || a.starts_with("--file")
    });
    let mut skip_first = program == "sed" && !has_script_flag;
    let mut paths = Vec::new();
    let mut previous = "";
    for arg in args {
        let script = previous == "-e"
            || previous.ends_with('e') && previous.starts_with('-') && !previous.starts_with("--");
        previous = arg;
        if arg.starts_with('-') || script {
            continue;
        }
        if skip_first {
            skip_first = false;
            continue;
        }
        if arg.starts_with('/') || arg.starts_with('~') || arg.starts_with("$home") {
            paths.push((*arg).to_owned());
        }
    }
    paths
}

/// Flags keep their case (`-D` is not `-d`); every other word is
/// lower-cased.
fn lower_unless_flag(word: &str) -> String {
    if word.starts_with('-') {
        word.to_owned()
    } else {
        word.to_lowercase()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
    /// A shell operator (`|`, `>`, `$(`, …), not a word.
    operator: bool,
    /// An operator that ends a command (`|`, `;`, `&&`, `(`, …).
    separator: bool,
}

/// A normalized command cut into words and operators.
#[derive(Debug, Clone)]
struct Command {
    tokens: Vec<Token>,
    /// `starts[i]`: token `i` is the word that starts a command.
    starts: Vec<bool>,
}

/// Words that run the command after them (their own flags skipped).
const WRAPPERS: &[&str] = &[
    "sudo", "doas", "env", "nohup", "exec", "time", "nice", "ionice", "setsid", "stdbuf",
    "timeout", "xargs", "command", "builtin", "busybox", "then", "do", "else", "elif", "if",
    "while", "until", "!", "{", "watch", "chrt", "taskset", "strace", "unbuffer", "run0",
];

/// Operators, longest first.
const OPERATORS: &[(&str, &str, bool)] = &[
    // (spelling, token, ends a command)
    ("&>>", ">>", false),
    ("&&", "&&", true),
    ("&>", ">", false),
    ("||", "||", true),
    ("|&", "|", true),
    (";;", ";", true),
    (">>", ">>", false),
    (">|", ">", false),
    (">&", ">&", false),
    ("<<<", "<<<", false),
    ("<<", "<<", false),
    ("$(", "$(", true),
    ("&", "&", true),
    ("|", "|", true),
    (";", ";", true),
    (">", ">", false),
    ("<", "<", false),
    ("(", "(", true),
    (")", ")", true),
    ("`", "`", true),
    ("\n", ";", true),
];

/// The command as the patterns see it: no quotes or backslashes, `$IFS`
/// as a space, line continuations joined, no NUL.
pub(crate) fn normalize_command(command: &str) -> String {
    let mut text = command
        .replace('\0', "")
        .replace("\\\r\n", "")
        .replace("\\\n", "");
    for ifs in ["${IFS}", "$IFS"] {
        text = text.replace(ifs, " ");
    }
    // `${IFS:0:1}` and the like.
    while let Some(start) = text.find("${IFS") {
        let end = text[start..]
            .find('}')
            .map_or(text.len(), |e| start + e + 1);
        text.replace_range(start..end, " ");
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '\'' | '"' => {}
            c => out.push(c),
        }
    }
    out
}

impl Command {
    fn parse(command: &str) -> Self {
        let text = normalize_command(command);
        let mut tokens: Vec<Token> = Vec::new();
        let mut word = String::new();
        let flush = |word: &mut String, tokens: &mut Vec<Token>| {
            if !word.is_empty() {
                tokens.push(Token {
                    text: lower_unless_flag(word),
                    operator: false,
                    separator: false,
                });
                word.clear();
            }
        };
        let mut rest = text.as_str();
        'outer: while let Some(c) = rest.chars().next() {
            for (spelling, token, separator) in OPERATORS {
                if let Some(after) = rest.strip_prefix(spelling) {
                    flush(&mut word, &mut tokens);
                    tokens.push(Token {
                        text: (*token).to_owned(),
                        operator: true,
                        separator: *separator,
                    });
                    rest = after;
                    continue 'outer;
                }
            }
            if c.is_whitespace() {
                flush(&mut word, &mut tokens);
            } else {
                word.push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
        flush(&mut word, &mut tokens);
        let starts = command_starts(&mut tokens);
        Self { tokens, starts }
    }
}

/// Marks the words that start a command and reduces them to their file
/// name (`/usr/bin/rm` → `rm`).
fn command_starts(tokens: &mut [Token]) -> Vec<bool> {
    let mut starts = vec![false; tokens.len()];
    let mut expecting = true;
    let mut after_wrapper = false;
    for (i, token) in tokens.iter_mut().enumerate() {
        if token.operator {
            if token.separator {
                expecting = true;
                after_wrapper = false;
            }
            continue;
        }
        if !expecting {
            continue;
        }
        let text = &token.text;
        // `VAR=value` before a command, and a wrapper's own flags and
        // numbers (`nice -n 10`, `timeout 5`), leave the command to come.
        let assignment = text.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && !name.starts_with('-') && !name.contains('/')
        });
        let number = text.starts_with(|c: char| c.is_ascii_digit())
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 's' | 'm' | 'h' | 'd'));
        let wrapper_argument = after_wrapper && (text.starts_with('-') || number);
        if assignment || wrapper_argument {
            continue;
        }
        if let Some((_, name)) = text.rsplit_once('/')
            && !name.is_empty()
        {
            token.text = name.to_owned();
        }
        starts[i] = true;
        if WRAPPERS.contains(&token.text.as_str()) {
            after_wrapper = true;
        } else {
            expecting = false;
            after_wrapper = false;
        }
    }
    starts
}

#[cfg(test)]
mod tests;
