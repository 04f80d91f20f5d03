//! Tests against real peers (official SDKs, real servers) find them
//! through an environment variable that `.ci/run` sets after installing
//! them. Without it a test skips with a note outside CI and fails under
//! `CI=true`, so a missing install step cannot pass unnoticed.

/// The peer a test needs is missing: a failure under `CI=true`, else a
/// printed skip note.
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
pub fn missing(what: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} is needed under CI (.ci/run installs it)"
    );
    eprintln!("skipped: {what} is not available");
}

/// The value of `var` (non-empty), or [`missing`] and `None`; `what`
/// says what the variable names.
pub fn var(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            missing(&format!("{var} ({what})"));
            None
        }
    }
}
