//! The body of `POST /v1/runs`, read as Hermes reads it, and the
//! [`InboundEvent`] it becomes.
//!
//! `input` is the new message: a string, or an array of messages whose last
//! one's `content` is the input and whose earlier ones are the history
//! (unless `conversation_history` gives it). `instructions` is a system
//! prompt layered on hermod's own. `session_id` names the session: without
//! a history in the body the conversation continues from the store, as
//! with the chat endpoint's session header; without `session_id` the run's
//! own id names a new session. `previous_response_id` carries on a stored
//! response's conversation (`chain`). `model` picks a model as in chat
//! requests. Other fields are accepted and ignored.

use crate::error::ApiError;
use crate::inbound::API_USER;
use hermod_model::{
    ChatMessage, Content, ContentPart, ImageUrl, InboundEvent, Role, SessionId, Source, TurnOptions,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub(crate) struct RunRequest {
    #[serde(default)]
    input: Value,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default)]
    conversation_history: Option<Value>,
    /// A stored response (`/v1/responses`) whose conversation the run
    /// carries on (`chain`).
    #[serde(default)]
    pub(crate) previous_response_id: Option<String>,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    pub(crate) model: Option<String>,
}

/// What the body asks for, checked.
#[derive(Debug)]
pub(crate) struct RunInput {
    pub(crate) content: Content,
    /// `None`: continue the stored session.
    pub(crate) history: Option<Vec<ChatMessage>>,
    pub(crate) system_prompt: Option<String>,
    /// The session the client named.
    pub(crate) session_id: Option<SessionId>,
    /// The body carried history (`conversation_history`, or earlier
    /// messages of `input`).
    pub(crate) body_history: bool,
    pub(crate) model: Option<String>,
}

pub(crate) fn parse(body: &[u8]) -> Result<RunRequest, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "The request body must be a JSON object.",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        ApiError::bad_request("invalid_request", format!("The request is malformed: {e}"))
    })
}

impl RunRequest {
    pub(crate) fn check(self) -> Result<RunInput, ApiError> {
        let missing = || {
            ApiError::bad_request(
                "missing_input",
                "Missing 'input' field: send the message as a string, or an array of messages \
                 whose last one is the new input.",
            )
            .param("input")
        };
        let mut system = Vec::new();
        let (content, mut history) = match self.input {
            Value::Null => return Err(missing()),
            Value::String(text) if text.trim().is_empty() => return Err(missing()),
            Value::String(text) => (Content::Text(text), Vec::new()),
            Value::Array(items) if items.is_empty() => return Err(missing()),
            Value::Array(mut items) => {
                let last = items.pop().unwrap_or_default();
                let content = last.get("content").and_then(content_of);
                (
                    content.unwrap_or(Content::Text(String::new())),
                    messages(&items, &mut system),
                )
            }
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_input",
                    "'input' must be a string or an array of messages.",
                )
                .param("input"));
            }
        };
        if content.is_empty() {
            return Err(ApiError::bad_request(
                "empty_input",
                "No user message found in input: its last message has no content.",
            )
            .param("input"));
        }
        match self.conversation_history {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if items.is_empty() => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if item.get("role").is_none() || item.get("content").is_none() {
                        return Err(ApiError::bad_request(
                            "invalid_history",
                            format!(
                                "conversation_history[{i}] must have 'role' and 'content' fields"
                            ),
                        )
                        .param("conversation_history"));
                    }
                }
                system.clear();
                history = messages(&items, &mut system);
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_history",
                    "'conversation_history' must be an array of message objects",
                )
                .param("conversation_history"));
            }
        }
        let session_id = match self.session_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(SessionId::parse(raw).map_err(|e| {
                ApiError::bad_request("invalid_session_id", format!("Invalid session_id: {e}."))
                    .param("session_id")
            })?),
        };
        if let Some(instructions) = self.instructions.filter(|i| !i.trim().is_empty()) {
            system.insert(0, instructions);
        }
        let body_history = !history.is_empty();
        // A named session with no history in the body continues from the
        // store; otherwise the body's history (possibly none) is the run's.
        let history = match (&session_id, history.is_empty()) {
            (Some(_), true) => None,
            _ => Some(history),
        };
        Ok(RunInput {
            content,
            history,
            system_prompt: (!system.is_empty()).then(|| system.join("\n\n")),
            session_id,
            body_history,
            model: self.model,
        })
    }
}

/// Messages with a role and content, in order; system ones go to `system`.
fn messages(items: &[Value], system: &mut Vec<String>) -> Vec<ChatMessage> {
    let mut out = Vec::new();
    for item in items {
        let role = item
            .get("role")
            .and_then(Value::as_str)
            .and_then(Role::parse);
        let content = item.get("content").and_then(content_of);
        let (Some(role), Some(content)) = (role, content) else {
            continue;
        };
        if content.is_empty() {
            continue;
        }
        if role == Role::System {
            system.push(content.text());
            continue;
        }
        out.push(ChatMessage {
            role,
            content: Some(content),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        });
    }
    out
}

/// A message's content: a string, or parts in the chat (`text`,
/// `image_url`) or Responses (`input_text`, `output_text`, `input_image`)
/// shape; other parts are skipped.
fn content_of(value: &Value) -> Option<Content> {
    match value {
        Value::String(text) => Some(Content::Text(text.clone())),
        Value::Array(parts) => {
            let parts: Vec<ContentPart> = parts.iter().filter_map(part_of).collect();
            Some(Content::Parts(parts))
        }
        _ => None,
    }
}

fn part_of(part: &Value) -> Option<ContentPart> {
    match part.get("type").and_then(Value::as_str)? {
        "text" | "input_text" | "output_text" => Some(ContentPart::Text {
            text: part.get("text")?.as_str()?.to_owned(),
        }),
        "image_url" | "input_image" => {
            let url = match part.get("image_url")? {
                Value::String(url) => url.clone(),
                other => other.get("url")?.as_str()?.to_owned(),
            };
            Some(ContentPart::ImageUrl {
                image_url: ImageUrl { url, detail: None },
            })
        }
        _ => None,
    }
}

impl RunInput {
    /// The event for the router, recorded under `session_id` (the named
    /// session, else the run's own).
    pub(crate) fn into_event(self, session_id: SessionId, advertised_model: &str) -> InboundEvent {
        let mut source = Source::dm(crate::PLATFORM, session_id.as_str());
        // The API key's holder; a caller with a session key sets its own
        // user (`api_user`).
        source.user_id = Some(API_USER.to_owned());
        let mut event = InboundEvent::text(source, "");
        event.content = self.content;
        event.session_id = Some(session_id);
        event.history = self.history;
        event.system_prompt = self.system_prompt;
        event.options = TurnOptions {
            model: self
                .model
                .filter(|m| !m.trim().is_empty() && m != advertised_model),
            ..TurnOptions::default()
        };
        event
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;
    use serde_json::json;

    fn checked(body: &Value) -> Result<RunInput, ApiError> {
        parse(body.to_string().as_bytes())?.check()
    }

    #[test]
    fn a_string_input_is_a_new_conversation() {
        let input = checked(&json!({"input": "hi", "instructions": "be brief"})).unwrap();
        assert_eq!(input.content.text(), "hi");
        assert_eq!(input.history, Some(Vec::new()));
        assert_eq!(input.system_prompt.as_deref(), Some("be brief"));
        assert_eq!(input.session_id, None);
    }

    #[test]
    fn an_array_input_carries_its_history_and_its_system_messages() {
        let input = checked(&json!({"input": [
            {"role": "system", "content": "be kind"},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "hi there"}]},
            {"role": "user", "content": [{"type": "input_text", "text": "how are you"}]}
        ], "session_id": "s1"}))
        .unwrap();
        assert_eq!(input.content.text(), "how are you");
        let history = input.history.unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].text(), "hi there");
        assert_eq!(input.system_prompt.as_deref(), Some("be kind"));
        assert_eq!(input.session_id.unwrap().as_str(), "s1");
    }

    #[test]
    fn a_named_session_without_history_continues_from_the_store() {
        let input = checked(&json!({"input": "again", "session_id": "s1"})).unwrap();
        assert_eq!(input.history, None);
        let explicit = checked(&json!({"input": ["x"], "conversation_history": [
            {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}
        ]}));
        assert_eq!(explicit.unwrap_err().code, "empty_input");
        let explicit = checked(
            &json!({"input": "c", "session_id": "s1", "conversation_history": [
                {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}
            ]}),
        )
        .unwrap();
        assert_eq!(explicit.history.unwrap().len(), 2);
    }

    #[test]
    fn bad_bodies_are_clear_400s() {
        let cases = [
            (json!({}), "missing_input"),
            (json!({"input": ""}), "missing_input"),
            (json!({"input": []}), "missing_input"),
            (json!({"input": 5}), "invalid_input"),
            (json!({"input": [{"role": "user"}]}), "empty_input"),
            (
                json!({"input": "x", "conversation_history": "no"}),
                "invalid_history",
            ),
            (
                json!({"input": "x", "conversation_history": [{"role": "user"}]}),
                "invalid_history",
            ),
            (
                json!({"input": "x", "session_id": "../etc"}),
                "invalid_session_id",
            ),
            (json!({"input": "x", "instructions": 3}), "invalid_request"),
            (json!([1]), "invalid_request"),
        ];
        for (body, code) in cases {
            let error = checked(&body).unwrap_err();
            assert_eq!((error.status.as_u16(), error.code), (400, code), "{body}");
        }
        assert_eq!(parse(b"{nope").unwrap_err().code, "invalid_json");
    }

    #[test]
    fn the_event_is_the_api_key_holders_and_maps_the_model() {
        let input = checked(&json!({"input": "hi", "model": "gpt-4o"})).unwrap();
        let event = input.into_event(SessionId::parse("run_1").unwrap(), "hermod");
        assert_eq!(event.source.chat_id.as_deref(), Some("run_1"));
        assert_eq!(event.source.user_id.as_deref(), Some(API_USER));
        assert_eq!(event.options.model.as_deref(), Some("gpt-4o"));
        let input = checked(&json!({"input": "hi", "model": "hermod"})).unwrap();
        let event = input.into_event(SessionId::parse("run_1").unwrap(), "hermod");
        assert_eq!(event.options.model, None);
    }
}
