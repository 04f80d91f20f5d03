//! The subcommands.

pub mod backup;
pub mod chat;
pub mod config_check;
pub mod cron;
pub mod doctor;
pub mod gateway;
pub mod handoff;
pub mod hooks;
pub mod import;
pub mod mcp;
pub mod pairing;
pub mod sessions;
pub mod store;
pub mod web;

use std::io::Write;

/// Writes a line to stdout (the command's output, as opposed to logs).
pub fn out(line: impl std::fmt::Display) {
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (piped into `head`) is not an error worth reporting.
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Writes a line to stderr, for what the operator must see even with logs
/// filtered out.
pub fn err(line: impl std::fmt::Display) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
}

/// Reports a command's failure on stderr with its causes.
pub fn eprintln_error(error: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {error}");
    for cause in error.chain().skip(1) {
        let _ = writeln!(stderr, "  caused by: {cause}");
    }
}

/// A stored timestamp (Unix ms) for people: `2026-11-21 05:33:12 UTC`.
pub fn utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| ms.to_string())
}
