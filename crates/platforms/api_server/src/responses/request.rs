//! Pure parsing of a `POST /v1/responses` body into a checked
//! [`ResponseRequest`]: the new user input and the earlier items of
//! `input` as history ([`super::input`]), the instructions (with the
//! `system`/`developer` items of `input`), chaining and the turn's options.
//! What hermod cannot do is refused with a 400 that says so: client tool
//! calls demanded by `tool_choice`, `background` responses.

use super::input::{Input, input_items};
use crate::error::ApiError;
use hermod_model::{ChatMessage, Content, Role};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

/// The fields of a Responses request hermod reads; others (`metadata`,
/// `user`, `text`, `reasoning`, `truncation`, ...) are accepted and
/// ignored, as OpenAI clients send many.
#[derive(Debug, Deserialize)]
struct RawRequest {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    instructions: Option<Value>,
    #[serde(default)]
    previous_response_id: Option<Value>,
    #[serde(default)]
    conversation: Option<Value>,
    /// Hermes' own: the conversation so far, sent by the client instead
    /// of chaining.
    #[serde(default)]
    conversation_history: Option<Value>,
    #[serde(default, deserialize_with = "crate::inbound::lenient_bool")]
    stream: bool,
    #[serde(default, deserialize_with = "lenient_option_bool")]
    store: Option<bool>,
    #[serde(default, deserialize_with = "lenient_option_bool")]
    background: Option<bool>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    max_output_tokens: Option<u64>,
    #[serde(default)]
    tools: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    tool_choice: Option<Value>,
}

/// A checked request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResponseRequest {
    /// The model the client named, echoed in the response.
    pub(crate) model: Option<String>,
    /// The new user message of the turn.
    pub(crate) content: Content,
    /// `conversation_history`, then the items of `input` before the last,
    /// in order.
    pub(crate) history: Vec<ChatMessage>,
    /// The client sent the conversation so far (`conversation_history`):
    /// it wins over `previous_response_id` and `conversation`, whose
    /// responses are then not read (as in Hermes).
    pub(crate) own_history: bool,
    /// `instructions` and the `system`/`developer` items of `input`, as
    /// given (`None`: carried over from the previous response).
    pub(crate) instructions: Option<String>,
    pub(crate) previous_response_id: Option<String>,
    /// The named conversation to continue (`conversation`: a name, or
    /// `{"id": ...}`).
    pub(crate) conversation: Option<String>,
    pub(crate) stream: bool,
    /// Whether the response is kept for `GET` and chaining (default true).
    pub(crate) store: bool,
    pub(crate) temperature: Option<f64>,
    pub(crate) max_output_tokens: Option<u64>,
    /// How many client-supplied tools were left out of the turn.
    pub(crate) ignored_tools: usize,
}

/// `store`, `background` as booleans or the strings some clients send.
fn lenient_option_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Null(()),
        Any(#[serde(deserialize_with = "crate::inbound::lenient_bool")] bool),
    }
    Ok(match B::deserialize(d)? {
        B::Null(()) => None,
        B::Any(b) => Some(b),
    })
}

fn invalid_json(e: &serde_json::Error) -> ApiError {
    ApiError::bad_request(
        "invalid_json",
        format!("The request body is not valid JSON: {e}"),
    )
}

/// Parses and checks a request body.
pub(crate) fn parse(body: &[u8]) -> Result<ResponseRequest, ApiError> {
    // Checked first: serde would also read a struct from a JSON array.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(match serde_json::from_slice::<IgnoredAny>(body) {
            Ok(_) => {
                ApiError::bad_request("invalid_request", "The request body must be a JSON object.")
            }
            Err(e) => invalid_json(&e),
        });
    }
    let raw: RawRequest = serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            invalid_json(&e)
        } else {
            ApiError::bad_request("invalid_request", format!("The request is malformed: {e}"))
        }
    })?;
    check(raw)
}

fn check(raw: RawRequest) -> Result<ResponseRequest, ApiError> {
    if raw.background == Some(true) {
        return Err(ApiError::bad_request(
            "unsupported_parameter",
            "Background responses are not supported: send the request without `background` \
             (use `stream: true` to see the answer as it is written).",
        )
        .param("background"));
    }
    if forces_tool(&raw.tool_choice) {
        return Err(ApiError::bad_request(
            "unsupported_parameter",
            "`tool_choice` asks for a call of a client-supplied tool, which this server cannot \
             make: client tools (function calling) are not supported, hermod runs its own \
             tools. Leave `tool_choice` out, or set it to \"auto\" or \"none\".",
        )
        .param("tool_choice"));
    }
    if raw.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
        return Err(ApiError::bad_request(
            "invalid_temperature",
            "`temperature` must be between 0 and 2.",
        )
        .param("temperature"));
    }
    if raw.max_output_tokens == Some(0) {
        return Err(ApiError::bad_request(
            "invalid_max_output_tokens",
            "`max_output_tokens` must be at least 1.",
        )
        .param("max_output_tokens"));
    }
    let instructions = optional_string(raw.instructions, "instructions")?;
    let previous_response_id = optional_string(raw.previous_response_id, "previous_response_id")?
        .filter(|id| !id.trim().is_empty());
    let conversation = conversation_name(raw.conversation)?;
    if previous_response_id.is_some() && conversation.is_some() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "Send either `previous_response_id` or `conversation`, not both.",
        )
        .param("conversation"));
    }
    let Some(input) = raw.input else {
        return Err(ApiError::bad_request(
            "missing_input",
            "The request has no `input` field: send the user's message as a string or a list \
             of input items.",
        )
        .param("input"));
    };
    let (mut history, mut system) = conversation_history(raw.conversation_history)?;
    let own_history = !history.is_empty();
    let items = input_items("input", input)?;
    history.extend(items.history);
    system.extend(items.system);
    let last = history.pop();
    let content = match last {
        Some(m) if m.role == Role::User => m.content.filter(|c| !c.is_empty()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "no_user_message",
                "The last item of `input` must be a user message (it is the new input of the \
                 turn).",
            )
            .param("input"));
        }
        None => None,
    };
    let Some(content) = content else {
        return Err(ApiError::bad_request(
            "empty_input",
            "`input` has no user message with text or an image.",
        )
        .param("input"));
    };
    let instructions = match (instructions, system.is_empty()) {
        (instructions, true) => instructions,
        (Some(text), false) => Some(format!("{text}\n\n{}", system.join("\n\n"))),
        (None, false) => Some(system.join("\n\n")),
    };
    Ok(ResponseRequest {
        model: raw.model.filter(|m| !m.trim().is_empty()),
        content,
        history,
        own_history,
        instructions: instructions.filter(|i| !i.trim().is_empty()),
        previous_response_id,
        conversation,
        stream: raw.stream,
        store: raw.store.unwrap_or(true),
        temperature: raw.temperature,
        max_output_tokens: raw.max_output_tokens,
        ignored_tools: raw.tools.map_or(0, |t| t.len()),
    })
}

/// Hermes' `conversation_history`: a list of `{"role", "content"}`.
fn conversation_history(value: Option<Value>) -> Result<(Vec<ChatMessage>, Vec<String>), ApiError> {
    const FIELD: &str = "conversation_history";
    let entries = match value {
        None | Some(Value::Null) => return Ok((Vec::new(), Vec::new())),
        Some(Value::Array(entries)) => entries,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "`conversation_history` must be a list of {\"role\", \"content\"} messages.",
            )
            .param(FIELD));
        }
    };
    if let Some(i) = entries
        .iter()
        .position(|e| e.get("role").is_none() || e.get("content").is_none())
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("conversation_history[{i}] must have `role` and `content` fields."),
        )
        .param(FIELD));
    }
    let Input { history, system } = input_items(FIELD, Value::Array(entries))?;
    Ok((history, system))
}

fn forces_tool(choice: &Option<Value>) -> bool {
    match choice {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !matches!(s.as_str(), "auto" | "none"),
        Some(_) => true,
    }
}

fn optional_string(value: Option<Value>, field: &'static str) -> Result<Option<String>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::bad_request(
            "invalid_request",
            format!("`{field}` must be a string."),
        )
        .param(field)),
    }
}

/// `conversation`: a name, or an object with its `id`.
fn conversation_name(value: Option<Value>) -> Result<Option<String>, ApiError> {
    let name = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s,
        Some(Value::Object(mut o)) => match o.remove("id") {
            Some(Value::String(s)) => s,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    "`conversation` must be a name or {\"id\": \"<name>\"}.",
                )
                .param("conversation"));
            }
        },
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "`conversation` must be a name or {\"id\": \"<name>\"}.",
            )
            .param("conversation"));
        }
    };
    let name = name.trim();
    if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_request",
            "`conversation` must be 1 to 256 printable characters.",
        )
        .param("conversation"));
    }
    Ok(Some(name.to_owned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;
    use hermod_model::{ContentPart, ImageUrl};
    use serde_json::json;

    fn parse_json(body: &Value) -> Result<ResponseRequest, ApiError> {
        parse(body.to_string().as_bytes())
    }

    #[test]
    fn a_string_input_is_one_user_message() {
        let r =
            parse_json(&json!({"model": "m", "input": "hi", "instructions": "be brief"})).unwrap();
        assert_eq!(r.content, Content::Text("hi".into()));
        assert!(r.history.is_empty());
        assert_eq!(r.instructions.as_deref(), Some("be brief"));
        assert!(r.store, "stored by default");
        assert!(!r.stream);
    }

    #[test]
    fn items_and_parts_become_history_and_content() {
        let r = parse_json(&json!({"input": [
            {"role": "developer", "content": "answer in French"},
            {"role": "user", "content": "first"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "one"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"}
            ]}
        ], "instructions": "be brief", "store": "false", "stream": true, "max_output_tokens": 50}))
        .unwrap();
        assert_eq!(r.history.len(), 2);
        assert_eq!(r.history[1].role, Role::Assistant);
        assert_eq!(r.history[1].text(), "one");
        let Content::Parts(parts) = &r.content else {
            panic!("{:?}", r.content)
        };
        assert_eq!(
            parts[0],
            ContentPart::Text {
                text: "look".into()
            }
        );
        assert_eq!(
            parts[1],
            ContentPart::ImageUrl {
                image_url: ImageUrl {
                    url: "https://example.com/a.png".into(),
                    detail: Some("low".into())
                }
            }
        );
        assert_eq!(
            r.instructions.as_deref(),
            Some("be brief\n\nanswer in French")
        );
        assert!(!r.store);
        assert!(r.stream);
        assert_eq!(r.max_output_tokens, Some(50));
    }

    #[test]
    fn conversation_is_a_name_or_an_object() {
        let by_name = parse_json(&json!({"input": "x", "conversation": "trip"})).unwrap();
        assert_eq!(by_name.conversation.as_deref(), Some("trip"));
        let by_id = parse_json(&json!({"input": "x", "conversation": {"id": "trip"}})).unwrap();
        assert_eq!(by_id.conversation.as_deref(), Some("trip"));
    }

    #[test]
    fn bad_input_is_a_clear_400() {
        let cases = [
            (json!({"model": "x"}), "missing_input"),
            (json!({"input": 5}), "invalid_input"),
            (json!({"input": []}), "empty_input"),
            (json!({"input": "  "}), "empty_input"),
            (json!({"input": [7]}), "invalid_input"),
            (
                json!({"input": [{"role": "assistant", "content": "x"}]}),
                "no_user_message",
            ),
            (
                json!({"input": [{"role": "wizard", "content": "x"}]}),
                "invalid_role",
            ),
            (
                json!({"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}),
                "unsupported_input_item",
            ),
            (
                json!({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}),
                "unsupported_content_type",
            ),
            (
                json!({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "file:///etc/passwd"}]}]}),
                "invalid_image_url",
            ),
            (
                json!({"input": [{"role": "user", "content": {"text": "x"}}]}),
                "invalid_content",
            ),
            (
                json!({"input": "x", "temperature": 3}),
                "invalid_temperature",
            ),
            (json!({"input": "x", "instructions": 5}), "invalid_request"),
            (
                json!({"input": "x", "previous_response_id": "resp_1", "conversation": "c"}),
                "invalid_request",
            ),
            (json!({"input": "x", "conversation": 5}), "invalid_request"),
            (
                json!({"input": "x", "background": true}),
                "unsupported_parameter",
            ),
            (
                json!({"input": "x", "tool_choice": "required"}),
                "unsupported_parameter",
            ),
            (json!({"input": "x", "stream": "maybe"}), "invalid_request"),
            (json!([1]), "invalid_request"),
        ];
        for (body, code) in cases {
            let err = parse_json(&body).unwrap_err();
            assert_eq!(err.code, code, "{body}: {}", err.message);
            assert_eq!(err.status, 400);
        }
        assert_eq!(parse(b"{nope").unwrap_err().code, "invalid_json");
    }

    #[test]
    fn hermes_conversation_history_comes_before_the_input() {
        let r = parse_json(&json!({
            "conversation_history": [
                {"role": "user", "content": "I am Ann"},
                {"role": "assistant", "content": [{"type": "output_text", "text": "Hi Ann"}]}
            ],
            "input": [{"role": "user", "content": "and?"}, "who am I?"],
            "previous_response_id": "resp_x"
        }))
        .unwrap();
        assert!(r.own_history);
        let texts: Vec<String> = r.history.iter().map(ChatMessage::text).collect();
        assert_eq!(texts, ["I am Ann", "Hi Ann", "and?"]);
        assert_eq!(r.content, Content::Text("who am I?".into()));
        let plain = parse_json(&json!({"input": "x", "conversation_history": []})).unwrap();
        assert!(!plain.own_history, "an empty history is none");
        for bad in [
            json!({"input": "x", "conversation_history": "hi"}),
            json!({"input": "x", "conversation_history": [{"role": "user"}]}),
        ] {
            let err = parse_json(&bad).unwrap_err();
            assert_eq!(err.param, Some("conversation_history"), "{bad}");
        }
        let err = parse_json(
            &json!({"input": "x", "conversation_history": [{"role": "user", "content": 5}]}),
        )
        .unwrap_err();
        assert!(
            err.message.starts_with("conversation_history[0]"),
            "{}",
            err.message
        );
    }

    #[test]
    fn client_tools_are_counted() {
        let r = parse_json(&json!({"input": "x", "tools": [{"type": "function", "name": "f"}], "tool_choice": "auto"}))
            .unwrap();
        assert_eq!(r.ignored_tools, 1);
    }
}
