//! The fake's JSON-RPC methods, answered as signal-cli answers them: a
//! `result`, or an error object with signal-cli's codes.

use super::{Fault, Reaction, Sent, SentFile, Shared, State, Typing, User, base64};
use serde_json::{Value, json};

/// signal-cli's error codes (`SignalJsonRpcCommandHandler`,
/// `JsonRpcResponse.Error`).
pub(super) const USER_ERROR: i64 = -1;
pub(super) const RATELIMIT_ERROR: i64 = -5;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

/// What a call gave: a result or an error object.
pub(super) type Answer = Result<Value, Value>;

pub(super) fn error(code: i64, message: &str, data: &Value) -> Value {
    json!({"code": code, "message": message, "data": data})
}

/// A parameter that signal-cli reads as a list: `name` or `name + "s"`,
/// a single value or an array (`JsonRpcNamespace`).
fn list(params: &Value, name: &str) -> Vec<String> {
    let value = match params.get(name) {
        Some(v) if !v.is_null() => v,
        _ => match params.get(format!("{name}s")) {
            Some(v) => v,
            None => return Vec::new(),
        },
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) => items.iter().filter_map(text).collect(),
        other => text(other).into_iter().collect(),
    }
}

fn number(params: &Value, name: &str) -> Option<u64> {
    match params.get(name)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn flag(params: &Value, name: &str) -> bool {
    params.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// The recipients and group of a call; signal-cli refuses neither or both.
fn target(params: &Value) -> Result<(Vec<String>, Option<String>), Value> {
    let recipients = list(params, "recipient");
    let groups = list(params, "groupId");
    if recipients.is_empty() && groups.is_empty() {
        return Err(error(USER_ERROR, "No recipients given", &Value::Null));
    }
    if !recipients.is_empty() && !groups.is_empty() {
        return Err(error(
            USER_ERROR,
            "You cannot specify recipients by phone number and groups at the same time",
            &Value::Null,
        ));
    }
    Ok((recipients, groups.into_iter().next()))
}

/// The send results signal-cli reports, one per recipient.
fn results(
    recipients: &[String],
    group: Option<&String>,
    kind: &str,
    retry_after: Option<u64>,
) -> Value {
    let addresses: Vec<String> = if recipients.is_empty() {
        vec!["+15550009999".into()]
    } else {
        recipients.to_vec()
    };
    let results: Vec<Value> = addresses
        .iter()
        .map(|r| {
            let user = User::number(r);
            let mut result = json!({
                "recipientAddress": {"uuid": user.uuid, "number": user.number},
                "type": kind,
            });
            if let Some(group) = group {
                result["groupId"] = json!(group);
            }
            if let Some(secs) = retry_after {
                result["retryAfterSeconds"] = json!(secs);
            }
            result
        })
        .collect();
    json!(results)
}

/// A scripted fault as signal-cli would answer it.
pub(super) fn fault_answer(state: &mut State, fault: &Fault, params: &Value) -> Option<Answer> {
    match fault {
        Fault::RateLimited { retry_after } => {
            let (recipients, group) = target(params).unwrap_or_default();
            let timestamp = state.tick();
            Some(Err(error(
                RATELIMIT_ERROR,
                "Failed to send message due to rate limiting",
                &json!({"response": {
                    "timestamp": timestamp,
                    "results": results(&recipients, group.as_ref(), "RATE_LIMIT_FAILURE", *retry_after),
                }}),
            )))
        }
        Fault::Error { code, message } => Some(Err(error(*code, message, &Value::Null))),
        Fault::Http(_) => None,
    }
}

/// Decodes an attachment given as a data URI
/// (`data:<mime>;filename=<name>;base64,<data>`); a path is read from disk.
fn attachment(spec: &str) -> Result<SentFile, Value> {
    let bad = |why: &str| {
        error(
            USER_ERROR,
            &format!("Invalid attachment: {why}"),
            &Value::Null,
        )
    };
    let Some(rest) = spec.strip_prefix("data:") else {
        let data = std::fs::read(spec).map_err(|e| bad(&format!("{spec}: {e}")))?;
        let filename = std::path::Path::new(spec)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        return Ok(SentFile {
            content_type: None,
            filename,
            data,
        });
    };
    let (meta, data) = rest.split_once(',').ok_or_else(|| bad("no data"))?;
    let mut parts = meta.split(';');
    let content_type = parts.next().filter(|m| !m.is_empty()).map(str::to_owned);
    let mut filename = None;
    let mut encoded = false;
    for part in parts {
        if part == "base64" {
            encoded = true;
        } else if let Some(name) = part.strip_prefix("filename=") {
            filename = Some(name.to_owned());
        }
    }
    if !encoded {
        return Err(bad("only base64 data URIs are supported"));
    }
    let data = base64::decode(data).ok_or_else(|| bad("the data is not base64"))?;
    Ok(SentFile {
        content_type,
        filename,
        data,
    })
}

/// `start:length:STYLE` with a style signal-cli knows.
fn valid_style(style: &str) -> bool {
    let mut parts = style.splitn(3, ':');
    let (Some(start), Some(length), Some(kind)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    start.parse::<u32>().is_ok()
        && length.parse::<u32>().is_ok()
        && matches!(
            kind,
            "BOLD" | "ITALIC" | "SPOILER" | "STRIKETHROUGH" | "MONOSPACE"
        )
}

fn send(state: &mut State, params: &Value) -> Answer {
    let (recipients, group_id) = target(params)?;
    let message = params
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let text_styles = list(params, "textStyle");
    if let Some(bad) = text_styles.iter().find(|s| !valid_style(s)) {
        return Err(error(
            USER_ERROR,
            &format!("Invalid textStyle syntax ({bad}) expected 'start:length:STYLE'"),
            &Value::Null,
        ));
    }
    let attachments = list(params, "attachment")
        .iter()
        .map(|a| attachment(a))
        .collect::<Result<Vec<_>, _>>()?;
    if message.is_empty() && attachments.is_empty() {
        return Err(error(
            USER_ERROR,
            "Sending empty message is not allowed, either a message, attachment or sticker must be given.",
            &Value::Null,
        ));
    }
    let timestamp = state.tick();
    let answer = json!({
        "timestamp": timestamp,
        "results": results(&recipients, group_id.as_ref(), "SUCCESS", None),
    });
    state.sent.push(Sent {
        timestamp,
        recipients,
        group_id,
        message,
        text_styles,
        attachments,
        quote_timestamp: number(params, "quoteTimestamp"),
        quote_author: params
            .get("quoteAuthor")
            .and_then(Value::as_str)
            .map(str::to_owned),
        deleted: false,
    });
    Ok(answer)
}

fn send_reaction(state: &mut State, params: &Value) -> Answer {
    let (recipients, group_id) = target(params)?;
    let emoji = params
        .get("emoji")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let author = params.get("targetAuthor").and_then(Value::as_str);
    let (Some(author), Some(target_timestamp)) = (author, number(params, "targetTimestamp")) else {
        return Err(error(
            INVALID_PARAMS,
            "targetAuthor and targetTimestamp are required",
            &Value::Null,
        ));
    };
    let timestamp = state.tick();
    state.reactions.push(Reaction {
        recipients: recipients.clone(),
        group_id: group_id.clone(),
        emoji: emoji.to_owned(),
        target_author: author.to_owned(),
        target_timestamp,
        remove: flag(params, "remove"),
    });
    Ok(
        json!({"timestamp": timestamp, "results": results(&recipients, group_id.as_ref(), "SUCCESS", None)}),
    )
}

fn send_typing(state: &mut State, params: &Value) -> Answer {
    let (recipients, group_id) = target(params)?;
    state.typing.push(Typing {
        recipients,
        group_id,
        stop: flag(params, "stop"),
    });
    Ok(json!({}))
}

fn remote_delete(state: &mut State, params: &Value) -> Answer {
    let (recipients, group_id) = target(params)?;
    let Some(target) = number(params, "targetTimestamp") else {
        return Err(error(
            INVALID_PARAMS,
            "targetTimestamp is required",
            &Value::Null,
        ));
    };
    for sent in state.sent.iter_mut().filter(|m| m.timestamp == target) {
        sent.deleted = true;
    }
    let timestamp = state.tick();
    Ok(
        json!({"timestamp": timestamp, "results": results(&recipients, group_id.as_ref(), "SUCCESS", None)}),
    )
}

fn get_attachment(state: &State, params: &Value) -> Answer {
    let id = params.get("id").and_then(Value::as_str).unwrap_or_default();
    match state.files.get(id) {
        Some((_, _, bytes)) => Ok(json!({"data": base64::encode(bytes)})),
        None => Err(error(
            USER_ERROR,
            &format!("Attachment file not found: {id}"),
            &Value::Null,
        )),
    }
}

/// Answers one call of `method`. Like a multi-account daemon, a call
/// naming another `account` is refused.
pub(super) fn call(shared: &Shared, state: &mut State, method: &str, params: &Value) -> Answer {
    let account = params.get("account").and_then(Value::as_str);
    if account.is_some_and(|a| a != shared.account)
        && method != "listAccounts"
        && method != "version"
    {
        return Err(error(
            INVALID_PARAMS,
            "Specified account does not exist",
            &Value::Null,
        ));
    }
    match method {
        "send" => send(state, params),
        "sendReaction" => send_reaction(state, params),
        "sendTyping" => send_typing(state, params),
        "remoteDelete" => remote_delete(state, params),
        "getAttachment" => get_attachment(state, params),
        "listAccounts" => Ok(json!([{"number": shared.account, "aci": super::ACCOUNT_UUID}])),
        "version" => Ok(json!({"version": "0.14.6-fake"})),
        other => Err(error(
            METHOD_NOT_FOUND,
            &format!("Method not implemented: {other}"),
            &Value::Null,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_take_one_value_or_many_under_either_name() {
        let p = json!({"recipient": "+1", "textStyles": ["0:1:BOLD", "2:3:ITALIC"], "attachment": "data:,x"});
        assert_eq!(list(&p, "recipient"), ["+1"]);
        assert_eq!(list(&p, "textStyle"), ["0:1:BOLD", "2:3:ITALIC"]);
        assert_eq!(list(&p, "attachment"), ["data:,x"]);
        assert!(list(&p, "groupId").is_empty());
    }

    #[test]
    fn data_uris_decode_with_their_name() {
        let file = attachment("data:image/png;filename=a.png;base64,aGk=").unwrap();
        assert_eq!(file.content_type.as_deref(), Some("image/png"));
        assert_eq!(file.filename.as_deref(), Some("a.png"));
        assert_eq!(file.data, b"hi");
        assert!(attachment("data:text/plain,hi").is_err());
    }

    #[test]
    fn styles_must_be_start_length_style() {
        assert!(valid_style("0:4:BOLD"));
        assert!(valid_style("10:2:SPOILER"));
        assert!(!valid_style("0:4:UNDERLINE"));
        assert!(!valid_style("a:4:BOLD"));
        assert!(!valid_style("0:4"));
    }
}
