//! Home Assistant's WebSocket API, as much as the adapter speaks: the
//! authentication phase (`auth_required` → `auth` → `auth_ok` or
//! `auth_invalid`), `subscribe_events`, `ping`/`pong`, and the `result`
//! and `event` messages of the command phase. Pure: frames in, values
//! out, for tests on the documentation's examples.

use serde_json::{Value, json};

/// A message from Home Assistant, read from one text frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Incoming {
    /// The first message: send `auth` now.
    AuthRequired,
    /// The token was accepted; the command phase starts.
    AuthOk { ha_version: Option<String> },
    /// The token was refused; Home Assistant closes the connection.
    AuthInvalid { message: String },
    /// The answer to command `id`.
    Result {
        id: u64,
        success: bool,
        /// `error.code` and `error.message` of a failure.
        error: Option<(String, String)>,
    },
    /// An event of subscription `id`.
    Event { id: u64, event: Value },
    /// The answer to ping `id`.
    Pong { id: u64 },
    /// A message type the adapter does not use.
    Other(String),
    /// Not a JSON object with a `type`: what is wrong with it.
    Malformed(String),
}

/// Reads one text frame.
pub(crate) fn parse(text: &str) -> Incoming {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => return Incoming::Malformed(format!("not JSON: {e}")),
    };
    let Some(kind) = value.get("type").and_then(Value::as_str) else {
        return Incoming::Malformed("a message without a type".into());
    };
    let id = value.get("id").and_then(Value::as_u64);
    let text_of = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    match (kind, id) {
        ("auth_required", _) => Incoming::AuthRequired,
        ("auth_ok", _) => Incoming::AuthOk {
            ha_version: text_of("ha_version"),
        },
        ("auth_invalid", _) => Incoming::AuthInvalid {
            message: text_of("message").unwrap_or_else(|| "no reason given".into()),
        },
        ("result", Some(id)) => {
            let error = value.get("error").map(|e| {
                let field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                (field("code"), field("message"))
            });
            Incoming::Result {
                id,
                success: value.get("success").and_then(Value::as_bool) == Some(true),
                error,
            }
        }
        ("event", Some(id)) => match value.get("event") {
            Some(event) if event.is_object() => Incoming::Event {
                id,
                event: event.clone(),
            },
            _ => Incoming::Malformed("an event message without an event object".into()),
        },
        ("pong", Some(id)) => Incoming::Pong { id },
        ("result" | "event" | "pong", None) => {
            Incoming::Malformed(format!("a {kind} message without an id"))
        }
        (other, _) => Incoming::Other(other.to_owned()),
    }
}

/// The `auth` message. The only frame that holds the token: it is never
/// logged.
pub(crate) fn auth(token: &str) -> String {
    json!({"type": "auth", "access_token": token}).to_string()
}

/// Subscribes to events of `event_type`.
pub(crate) fn subscribe_events(id: u64, event_type: &str) -> String {
    json!({"id": id, "type": "subscribe_events", "event_type": event_type}).to_string()
}

/// A heartbeat.
pub(crate) fn ping(id: u64) -> String {
    json!({"id": id, "type": "ping"}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_authentication_phase() {
        assert_eq!(
            parse(r#"{"type": "auth_required", "ha_version": "2021.5.3"}"#),
            Incoming::AuthRequired
        );
        assert_eq!(
            parse(r#"{"type": "auth_ok", "ha_version": "2021.5.3"}"#),
            Incoming::AuthOk {
                ha_version: Some("2021.5.3".into())
            }
        );
        assert_eq!(
            parse(r#"{"type": "auth_invalid", "message": "Invalid password"}"#),
            Incoming::AuthInvalid {
                message: "Invalid password".into()
            }
        );
        let auth: Value = serde_json::from_str(&auth("ABCDEFGHIJKLMNOPQ")).unwrap();
        assert_eq!(
            auth,
            json!({"type": "auth", "access_token": "ABCDEFGHIJKLMNOPQ"})
        );
    }

    #[test]
    fn the_documented_command_phase() {
        assert_eq!(
            parse(r#"{"id": 18, "type": "result", "success": true, "result": null}"#),
            Incoming::Result {
                id: 18,
                success: true,
                error: None
            }
        );
        assert_eq!(
            parse(
                r#"{"id": 12, "type": "result", "success": false,
                    "error": {"code": "invalid_format", "message": "Message incorrectly formatted."}}"#
            ),
            Incoming::Result {
                id: 12,
                success: false,
                error: Some((
                    "invalid_format".into(),
                    "Message incorrectly formatted.".into()
                ))
            }
        );
        let event = parse(
            r#"{"id": 5, "type": "event", "event": {"data": {}, "event_type": "test_event",
                "time_fired": "2016-11-26T01:37:24.265429+00:00", "origin": "LOCAL"}}"#,
        );
        assert!(matches!(event, Incoming::Event { id: 5, .. }), "{event:?}");
        assert_eq!(
            parse(r#"{"id": 19, "type": "pong"}"#),
            Incoming::Pong { id: 19 }
        );
        let subscribe: Value =
            serde_json::from_str(&subscribe_events(18, "state_changed")).unwrap();
        assert_eq!(
            subscribe,
            json!({"id": 18, "type": "subscribe_events", "event_type": "state_changed"})
        );
        let ping: Value = serde_json::from_str(&ping(19)).unwrap();
        assert_eq!(ping, json!({"id": 19, "type": "ping"}));
    }

    #[test]
    fn unknown_and_malformed_frames_are_told_apart() {
        assert_eq!(
            parse(r#"{"type": "supervisor_event"}"#),
            Incoming::Other("supervisor_event".into())
        );
        assert!(matches!(parse("{not json"), Incoming::Malformed(_)));
        assert!(matches!(parse("[1, 2]"), Incoming::Malformed(_)));
        assert!(matches!(
            parse(r#"{"type": "event", "id": 3, "event": "x"}"#),
            Incoming::Malformed(_)
        ));
        assert!(matches!(
            parse(r#"{"type": "result", "success": true}"#),
            Incoming::Malformed(_)
        ));
    }
}
