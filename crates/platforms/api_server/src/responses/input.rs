//! The `input` of a Responses request: a string (one user message) or a
//! list of items — strings, messages (`{"role","content"}`, with or
//! without `"type":"message"`) whose content is a string or a list of
//! parts (`input_text`, `output_text`, `text`, `input_image`,
//! `image_url`) — as hermod's chat messages. Items of client-side tools and
//! file parts are refused with a 400 that says why.

use crate::error::ApiError;
use hermod_model::{ChatMessage, Content, ContentPart, ImageUrl, Role};
use serde_json::Value;

/// The messages of `input`, and the text of its system items.
pub(super) struct Input {
    pub(super) history: Vec<ChatMessage>,
    pub(super) system: Vec<String>,
}

/// The items of `field` (`input`, or Hermes' `conversation_history`).
pub(super) fn input_items(field: &'static str, input: Value) -> Result<Input, ApiError> {
    let mut out = Input {
        history: Vec::new(),
        system: Vec::new(),
    };
    match input {
        Value::String(text) => out.history.push(ChatMessage::user(text)),
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                input_item(field, i, item, &mut out)?;
            }
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_input",
                format!("`{field}` must be a string or a list of input items."),
            )
            .param(field));
        }
    }
    Ok(out)
}

fn input_item(field: &'static str, i: usize, item: Value, out: &mut Input) -> Result<(), ApiError> {
    let mut item = match item {
        Value::String(text) => {
            out.history.push(ChatMessage::user(text));
            return Ok(());
        }
        Value::Object(item) => item,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_input",
                format!("{field}[{i}] must be a string or an object."),
            )
            .param(field));
        }
    };
    match item.get("type").and_then(Value::as_str) {
        None | Some("message") => {}
        Some(kind) => {
            return Err(ApiError::bad_request(
                "unsupported_input_item",
                format!(
                    "{field}[{i}] is a `{kind}` item, which this server does not take: only \
                     messages are supported (client tools and function calls are not; hermod \
                     runs its own tools)."
                ),
            )
            .param(field));
        }
    }
    let role_name = match item.remove("role") {
        None => "user".to_owned(),
        Some(Value::String(role)) => role,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_role",
                format!("{field}[{i}].role must be a string."),
            )
            .param(field));
        }
    };
    let role = match Role::parse(&role_name) {
        Some(role @ (Role::User | Role::Assistant | Role::System)) => role,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_role",
                format!(
                    "{field}[{i}].role \"{role_name}\" is not one of user, assistant, system, \
                     developer."
                ),
            )
            .param(field));
        }
    };
    let content = content(field, i, item.remove("content").unwrap_or(Value::Null))?;
    if role == Role::System {
        let text = content.text();
        if !text.trim().is_empty() {
            out.system.push(text);
        }
        return Ok(());
    }
    let mut message = ChatMessage::user(content);
    message.role = role;
    out.history.push(message);
    Ok(())
}

/// A message's content: a string, or a list of parts.
fn content(field: &'static str, i: usize, value: Value) -> Result<Content, ApiError> {
    let parts = match value {
        Value::Null => return Ok(Content::Text(String::new())),
        Value::String(text) => return Ok(Content::Text(text)),
        Value::Array(parts) => parts,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_content",
                format!("{field}[{i}].content must be a string or a list of content parts."),
            )
            .param(field));
        }
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.into_iter().enumerate() {
        if let Some(part) = content_part(field, i, j, part)? {
            out.push(part);
        }
    }
    // Text alone stays a string, as the model sees plain messages.
    if out.iter().all(|p| matches!(p, ContentPart::Text { .. })) {
        let texts: Vec<String> = out
            .into_iter()
            .filter_map(|p| match p {
                ContentPart::Text { text } => Some(text),
                ContentPart::ImageUrl { .. } => None,
            })
            .collect();
        return Ok(Content::Text(texts.join("\n")));
    }
    Ok(Content::Parts(out))
}

fn content_part(
    field: &'static str,
    i: usize,
    j: usize,
    part: Value,
) -> Result<Option<ContentPart>, ApiError> {
    let at = format!("{field}[{i}].content[{j}]");
    let unsupported = |message: String| {
        Err(ApiError::bad_request("unsupported_content_type", message).param(field))
    };
    let mut part = match part {
        Value::String(text) => return Ok(Some(ContentPart::Text { text })),
        Value::Object(part) => part,
        _ => return unsupported(format!("{at} must be an object.")),
    };
    let kind = part
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match kind.as_str() {
        "input_text" | "output_text" | "text" => match part.remove("text") {
            Some(Value::String(text)) => Ok(Some(ContentPart::Text { text })),
            _ => Err(ApiError::bad_request(
                "invalid_content",
                format!("{at} ({kind}) must have a string `text`."),
            )
            .param(field)),
        },
        "input_image" | "image_url" => {
            let mut detail = part
                .remove("detail")
                .and_then(|d| d.as_str().map(str::to_owned));
            let url = match part.remove("image_url") {
                Some(Value::String(url)) => Some(url),
                Some(Value::Object(mut o)) => {
                    if let Some(Value::String(d)) = o.remove("detail") {
                        detail = Some(d);
                    }
                    o.remove("url").and_then(|u| u.as_str().map(str::to_owned))
                }
                _ => None,
            };
            let Some(url) = url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()) else {
                return Err(ApiError::bad_request(
                    "invalid_image_url",
                    format!(
                        "{at} has no image URL: send `image_url` as an http(s) or data:image/ \
                         URL (uploaded files by `file_id` are not supported)."
                    ),
                )
                .param(field));
            };
            let lowered = url.to_ascii_lowercase();
            let allowed = lowered.starts_with("http://")
                || lowered.starts_with("https://")
                || (lowered.starts_with("data:image/") && url.contains(','));
            if !allowed {
                return Err(ApiError::bad_request(
                    "invalid_image_url",
                    format!("{at}: images must be http(s) URLs or data:image/... URLs."),
                )
                .param(field));
            }
            Ok(Some(ContentPart::ImageUrl {
                image_url: ImageUrl { url, detail },
            }))
        }
        "input_file" | "file" => unsupported(format!(
            "{at}: files are not supported on this endpoint; send text and images."
        )),
        "refusal" => Ok(None),
        other => unsupported(format!(
            "{at} has type \"{other}\"; only input_text, output_text and input_image parts are \
             supported."
        )),
    }
}
