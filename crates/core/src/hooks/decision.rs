//! [`Decision`]: what a hook answers to a `command:<name>` event, as
//! Hermes' command hooks do, read from the JSON it prints on stdout.

use serde::Deserialize;

/// A hook's verdict on a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run the command as asked (also what no output means).
    Allow,
    /// Do not run it; tell the user `message` (or that a hook refused it).
    Deny { message: Option<String> },
    /// The hook did the work; tell the user `message`, if any.
    Handled { message: Option<String> },
    /// Run another command, or the same with other arguments.
    Rewrite {
        command_name: String,
        raw_args: String,
    },
}

#[derive(Deserialize)]
struct Raw {
    decision: Option<String>,
    message: Option<String>,
    command_name: Option<String>,
    raw_args: Option<String>,
}

/// Reads a hook's stdout. Nothing printed, or an object without
/// `decision`, is no opinion (`None`); anything else that is not a known
/// decision is an error, and the hook is skipped.
pub(crate) fn parse(stdout: &str) -> Result<Option<Decision>, String> {
    let stdout = stdout.trim();
    if stdout.is_empty() {
        return Ok(None);
    }
    let raw: Raw = serde_json::from_str(stdout)
        .map_err(|e| format!("its output is not a JSON decision object: {e}"))?;
    let message = raw
        .message
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty());
    let Some(decision) = raw.decision else {
        return Ok(None);
    };
    Ok(Some(match decision.trim().to_ascii_lowercase().as_str() {
        "allow" => Decision::Allow,
        "deny" => Decision::Deny { message },
        "handled" => Decision::Handled { message },
        "rewrite" => {
            let name = raw
                .command_name
                .as_deref()
                .map(|n| n.trim().trim_start_matches('/').to_lowercase())
                .filter(|n| !n.is_empty())
                .ok_or("a rewrite needs `command_name`")?;
            Decision::Rewrite {
                command_name: name,
                raw_args: raw.raw_args.unwrap_or_default().trim().to_owned(),
            }
        }
        other => {
            return Err(format!(
                "unknown decision {other:?} (allow, deny, handled or rewrite)"
            ));
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_as_hermes_writes_them() {
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("  \n"), Ok(None));
        assert_eq!(parse(r#"{"note": "just looking"}"#), Ok(None));
        assert_eq!(parse(r#"{"decision": "allow"}"#), Ok(Some(Decision::Allow)));
        assert_eq!(
            parse(r#"{"decision": "deny", "message": "Not today."}"#),
            Ok(Some(Decision::Deny {
                message: Some("Not today.".into())
            }))
        );
        assert_eq!(
            parse(r#"{"decision": "DENY", "message": "  "}"#),
            Ok(Some(Decision::Deny { message: None }))
        );
        assert_eq!(
            parse(r#"{"decision": "handled", "message": "Done elsewhere."}"#),
            Ok(Some(Decision::Handled {
                message: Some("Done elsewhere.".into())
            }))
        );
        assert_eq!(
            parse(r#"{"decision": "rewrite", "command_name": "/Status", "raw_args": " x "}"#),
            Ok(Some(Decision::Rewrite {
                command_name: "status".into(),
                raw_args: "x".into()
            }))
        );
        assert_eq!(
            parse(r#"{"decision": "rewrite", "command_name": "help"}"#),
            Ok(Some(Decision::Rewrite {
                command_name: "help".into(),
                raw_args: String::new()
            }))
        );
    }

    #[test]
    fn garbled_answers_are_errors() {
        assert!(parse("deny").unwrap_err().contains("not a JSON"));
        assert!(parse("[1]").is_err());
        assert!(
            parse(r#"{"decision": "maybe"}"#)
                .unwrap_err()
                .contains("maybe")
        );
        assert!(
            parse(r#"{"decision": "rewrite"}"#)
                .unwrap_err()
                .contains("command_name")
        );
        assert!(parse(r#"{"decision": 3}"#).is_err());
    }
}
