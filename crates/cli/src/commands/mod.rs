//! The subcommands.

pub mod backup;
pub mod config_check;
pub mod gateway;
pub mod pairing;
pub mod sessions;

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

/// The one `curl` line that sends a chat to the local API server listening
/// on `host:port`, for someone trying hermod for the first time.
pub fn chat_example(host: &str, port: u16, key: &str, model: &str) -> String {
    // A server on every address is reached on the loopback one.
    let host = match host {
        "" | "0.0.0.0" => "127.0.0.1",
        "::" | "[::]" => "::1",
        other => other,
    };
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    // Port 0 is chosen when the server starts; the ready line names it.
    let port = if port == 0 {
        "PORT".to_owned()
    } else {
        port.to_string()
    };
    let body = format!(
        r#"{{"model":{},"messages":[{{"role":"user","content":"Hello"}}]}}"#,
        serde_json::Value::from(model)
    );
    format!(
        "curl -s http://{host}:{port}/v1/chat/completions -H \"Authorization: Bearer {key}\" \
         -H \"Content-Type: application/json\" -d '{}'",
        body.replace('\'', r"'\''")
    )
}

/// A stored timestamp (Unix ms) for people: `2026-11-21 05:33:12 UTC`.
pub fn utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chat_example_reaches_the_configured_server() {
        assert_eq!(
            chat_example("127.0.0.1", 8642, "hermod-k", "hermod"),
            r#"curl -s http://127.0.0.1:8642/v1/chat/completions -H "Authorization: Bearer hermod-k" -H "Content-Type: application/json" -d '{"model":"hermod","messages":[{"role":"user","content":"Hello"}]}'"#
        );
        let everywhere = chat_example("0.0.0.0", 9000, "k", "m");
        assert!(
            everywhere.contains("http://127.0.0.1:9000/v1/"),
            "{everywhere}"
        );
        let v6 = chat_example("::", 9000, "k", "m");
        assert!(v6.contains("http://[::1]:9000/v1/"), "{v6}");
        let chosen = chat_example("127.0.0.1", 0, "k", "m");
        assert!(chosen.contains("http://127.0.0.1:PORT/v1/"), "{chosen}");
        let quoted = chat_example("127.0.0.1", 1, "k", r#"it's "x""#);
        assert!(quoted.contains(r#"{"model":"it'\''s \"x\"","#), "{quoted}");
    }
}
