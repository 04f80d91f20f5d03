//! A new platform is its own crate plus one line in the registry: no other
//! code names a platform. This test reads the sources of every crate that
//! is not a platform (the CLI, core, the adapter kit and the crates below
//! them) and fails on any platform's name, in code, strings or comments.
//! Unit tests (after `#[cfg(test)]`, or in a `tests.rs` file) and the
//! `tests/` directories may name platforms: they drive real ones.
//! `hermod-model` and `hermod-render` are not read: the Markdown dialects
//! they define are named after the platforms whose formats they are.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use std::path::{Path, PathBuf};

/// Platform names distinctive enough to find by substring (common words
/// such as "line", "signal" or "email", and "irc" inside "circuit", would
/// find everything).
const NAMES: &[&str] = &[
    "api_server",
    "telegram",
    "discord",
    "slack",
    "matrix",
    "mattermost",
    "whatsapp",
    "dingtalk",
    "feishu",
    "wecom",
    "weixin",
    "qqbot",
    "yuanbao",
    "bluebubbles",
    "homeassistant",
    "google_chat",
    "simplex",
    "msgraph",
    "twilio",
    "ntfy",
];

/// The crates that must not name a platform, by directory.
const CRATES: &[&str] = &[
    "crates/cli/src",
    "crates/core/src",
    "crates/agent/src",
    "crates/store/src",
    "crates/http/src",
    "crates/platforms/kit/src",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// `(line number, name)` of every platform name in `text` before its
/// unit tests.
fn names_in(text: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        let lower = line.to_ascii_lowercase();
        found.extend(
            NAMES
                .iter()
                .filter(|name| lower.contains(*name))
                .map(|name| (n + 1, *name)),
        );
    }
    found
}

#[test]
fn no_code_outside_the_platform_crates_and_the_registry_names_a_platform() {
    let root = workspace();
    let mut files = Vec::new();
    for dir in CRATES {
        let dir = root.join(dir);
        if dir.exists() {
            rust_files(&dir, &mut files);
        }
    }
    assert!(files.len() > 20, "the sources were found: {files:?}");
    let mut offences = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, name) in names_in(&text) {
            let at = file.strip_prefix(&root).unwrap().display();
            offences.push(format!("{at}:{line}: names {name}"));
        }
    }
    assert!(
        offences.is_empty(),
        "platform names outside the platform crates and the registry (move the code into the platform's crate, or make it generic):\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_check_finds_names_and_stops_at_unit_tests() {
    let text = "fn a() {}\n// Telegram's limit\nlet k = \"API_SERVER_KEY\";\n#[cfg(test)]\nmod tests { \"discord\" }\n";
    assert_eq!(names_in(text), [(2, "telegram"), (3, "api_server")]);
}
