//! Pure conversion of a chat-completions request into an
//! [`InboundEvent`](hermod_model::InboundEvent).

use crate::error::ApiError;
use hermod_model::{
    ChatMessage, Content, InboundEvent, Role, SessionId, Source, ToolCall, TurnOptions,
};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

/// The user id of the API key's holder in the source of API sessions
/// started without a session key.
pub(crate) const API_USER: &str = "api-key";

/// The user of a request: the API key's holder, or with a session key
/// (`X-Hermes-Session-Key`) one of that holder's users, `api-key:<key>`.
/// Per-user state (memory notes, approvals granted `always`, session
/// search) belongs to this user, so clients with different session keys
/// do not share it.
pub(crate) fn api_user(session_key: Option<&str>) -> String {
    match session_key {
        Some(key) => format!("{API_USER}:{key}"),
        None => API_USER.to_owned(),
    }
}

/// The fields of a chat-completions request hermod reads. Other fields
/// (response_format, ...) are accepted and ignored, as OpenAI clients send
/// many.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatRequest {
    #[serde(default)]
    pub(crate) model: Option<String>,
    /// Optional here only to answer a missing field with its own error.
    #[serde(default)]
    pub(crate) messages: Option<Vec<RequestMessage>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub(crate) stream: bool,
    #[serde(default)]
    pub(crate) temperature: Option<f64>,
    #[serde(default)]
    pub(crate) max_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) max_completion_tokens: Option<u64>,
    /// `{"include_usage": true}`: a stream ends with a chunk that has the
    /// usage and no choices, as OpenAI's does.
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    /// Client-supplied tools (and `functions`, their older form). hermod
    /// runs its own tools and never hands a tool call back to the client,
    /// so these are left out of the turn; see [`ChatRequest::client_tools`].
    #[serde(default)]
    tools: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    functions: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    function_call: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

impl ChatRequest {
    /// Whether a stream is to end with OpenAI's separate usage chunk.
    pub(crate) fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// How many client-supplied tools the request carries (all ignored).
    pub(crate) fn client_tools(&self) -> usize {
        [&self.tools, &self.functions]
            .into_iter()
            .flatten()
            .map(Vec::len)
            .sum()
    }

    /// The field that demands a call of a client tool, if one does:
    /// `tool_choice` `"required"` or naming a function, or `function_call`
    /// naming one. Such a request cannot be answered as asked.
    fn forced_tool_call(&self) -> Option<&'static str> {
        let forces = |choice: &Option<Value>, allowed: &[&str]| match choice {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !allowed.contains(&s.as_str()),
            Some(_) => true,
        };
        if forces(&self.tool_choice, &["auto", "none"]) {
            Some("tool_choice")
        } else if forces(&self.function_call, &["auto", "none"]) {
            Some("function_call")
        } else {
            None
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RequestMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    tool_calls: Vec<ToolCall>,
    #[serde(default)]
    tool_call_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// `stream` as a boolean, or as the strings some clients send.
pub(crate) fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Str(String),
        Null(()),
    }
    match B::deserialize(d)? {
        B::Bool(b) => Ok(b),
        B::Null(()) => Ok(false),
        B::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" | "" => Ok(false),
            _ => Err(serde::de::Error::custom(format!(
                "`stream` must be a boolean, got \"{s}\""
            ))),
        },
    }
}

/// Parses a request body straight into the typed request: one pass, no
/// intermediate JSON tree, strings copied once.
pub(crate) fn parse_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    let invalid_json = |e: serde_json::Error| {
        ApiError::bad_request(
            "invalid_json",
            format!("The request body is not valid JSON: {e}"),
        )
    };
    // Checked first: serde would also read a struct from a JSON array.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => ApiError::bad_request(
                    "invalid_request",
                    "The request body must be a JSON object.",
                ),
                Err(e) => invalid_json(e),
            },
        );
    }
    let request: ChatRequest = serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            invalid_json(e)
        } else {
            ApiError::bad_request("invalid_request", format!("The request is malformed: {e}"))
        }
    })?;
    if request.messages.is_none() {
        return Err(ApiError::bad_request(
            "missing_messages",
            "The request has no `messages` field.",
        ));
    }
    if let Some(param) = request.forced_tool_call() {
        return Err(ApiError::bad_request(
            "unsupported_parameter",
            format!(
                "`{param}` asks for a call of a client-supplied tool, which this server \
                 cannot make: client tools (function calling) are not supported, hermod runs \
                 its own tools. Leave `{param}` out, or set it to \"auto\" or \"none\"."
            ),
        )
        .param(param));
    }
    Ok(request)
}

/// Which session a request belongs to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SessionChoice {
    /// Continue (or create) the stored session with this id: history comes
    /// from the store.
    Continue(SessionId),
    /// A stateless request recorded under a fresh id: history comes from the
    /// request.
    Stateless(SessionId),
}

/// Builds the event for the router.
pub(crate) fn to_event(
    request: ChatRequest,
    choice: SessionChoice,
    advertised_model: &str,
) -> Result<InboundEvent, ApiError> {
    let messages = request.messages.unwrap_or_default();
    if messages.is_empty() {
        return Err(ApiError::bad_request(
            "empty_messages",
            "`messages` must contain at least one message.",
        ));
    }
    let mut system = Vec::new();
    let mut conversation = Vec::new();
    for (i, m) in messages.into_iter().enumerate() {
        let Some(role) = Role::parse(&m.role) else {
            return Err(ApiError::bad_request(
                "invalid_role",
                format!(
                    "messages[{i}].role \"{}\" is not one of system, developer, user, assistant, tool.",
                    m.role
                ),
            ));
        };
        if role == Role::System {
            let text = m.content.as_ref().map(Content::text).unwrap_or_default();
            if !text.trim().is_empty() {
                system.push(text);
            }
            continue;
        }
        conversation.push(ChatMessage {
            role,
            content: m.content,
            tool_calls: m.tool_calls,
            tool_call_id: m.tool_call_id,
            name: m.name,
        });
    }
    let Some(last) = conversation.pop() else {
        return Err(ApiError::bad_request(
            "no_user_message",
            "`messages` has no user message.",
        ));
    };
    if last.role != Role::User {
        return Err(ApiError::bad_request(
            "no_user_message",
            "The last message must be from the user (it is the new input of the turn).",
        ));
    }
    let content = match last.content {
        Some(c) if !c.is_empty() => c,
        _ => {
            return Err(ApiError::bad_request(
                "empty_content",
                "The last user message is empty.",
            ));
        }
    };
    if request
        .temperature
        .is_some_and(|t| !(0.0..=2.0).contains(&t))
    {
        return Err(ApiError::bad_request(
            "invalid_temperature",
            "`temperature` must be between 0 and 2.",
        ));
    }
    let model = request
        .model
        .filter(|m| !m.trim().is_empty() && m != advertised_model);
    let (session_id, history) = match choice {
        SessionChoice::Continue(id) => (id, None),
        SessionChoice::Stateless(id) => (id, Some(conversation)),
    };
    let mut source = Source::dm(crate::PLATFORM, session_id.as_str());
    // The API key's holder; a caller with a session key sets its own user
    // ([`api_user`]).
    source.user_id = Some(API_USER.to_owned());
    let mut event = InboundEvent::text(source, "");
    event.content = content;
    event.session_id = Some(session_id);
    event.history = history;
    event.system_prompt = (!system.is_empty()).then(|| system.join("\n\n"));
    event.options = TurnOptions {
        model,
        temperature: request.temperature,
        max_tokens: request.max_tokens.or(request.max_completion_tokens),
        ..TurnOptions::default()
    };
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(body: &serde_json::Value, choice: SessionChoice) -> Result<InboundEvent, ApiError> {
        let req = parse_request(body.to_string().as_bytes())?;
        to_event(req, choice, "hermod")
    }

    fn fresh() -> SessionChoice {
        SessionChoice::Stateless(SessionId::parse("s1").unwrap())
    }

    #[test]
    fn stateless_request_keeps_history_and_system_prompt() {
        let ev = event(
            &json!({"model":"hermod","messages":[
                {"role":"system","content":"be brief"},
                {"role":"user","content":"hi"},
                {"role":"assistant","content":"hello"},
                {"role":"user","content":[{"type":"text","text":"how are you"}]}
            ],"temperature":0.5,"max_tokens":10}),
            fresh(),
        )
        .unwrap();
        assert_eq!(ev.content.text(), "how are you");
        assert_eq!(ev.system_prompt.as_deref(), Some("be brief"));
        let history = ev.history.unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].text(), "hello");
        assert_eq!(
            ev.options.model, None,
            "the advertised name maps to the configured model"
        );
        assert_eq!(ev.options.max_tokens, Some(10));
        assert_eq!(ev.source.chat_id.as_deref(), Some("s1"));
    }

    #[test]
    fn continued_session_ignores_request_history_and_passes_model_through() {
        let id = SessionId::parse("abc").unwrap();
        let ev = event(
            &json!({"model":"gpt-4o","stream":"true","messages":[
                {"role":"user","content":"old"},{"role":"user","content":"new"}]}),
            SessionChoice::Continue(id.clone()),
        )
        .unwrap();
        assert_eq!(ev.history, None);
        assert_eq!(ev.session_id, Some(id));
        assert_eq!(ev.content.text(), "new");
        assert_eq!(ev.options.model.as_deref(), Some("gpt-4o"));
    }

    #[test]
    fn bad_input_is_a_clear_400() {
        let cases = [
            (json!({"messages": []}), "empty_messages"),
            (json!({"model": "x"}), "missing_messages"),
            (json!({"messages": "hi"}), "invalid_request"),
            (
                json!({"messages": [{"role": "user", "content": 5}]}),
                "invalid_request",
            ),
            (
                json!({"messages": [{"role": "wizard", "content": "x"}]}),
                "invalid_role",
            ),
            (
                json!({"messages": [{"role": "user", "content": "  "}]}),
                "empty_content",
            ),
            (
                json!({"messages": [{"role": "assistant", "content": "x"}]}),
                "no_user_message",
            ),
            (
                json!({"messages": [{"role": "system", "content": "x"}]}),
                "no_user_message",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "stream": "maybe"}),
                "invalid_request",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "temperature": 9}),
                "invalid_temperature",
            ),
            (json!([1, 2]), "invalid_request"),
            (
                json!([null, [{"role": "user", "content": "x"}]]),
                "invalid_request",
            ),
            (json!("text"), "invalid_request"),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "tools": {"a": 1}}),
                "invalid_request",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}),
                "unsupported_parameter",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}],
                       "tool_choice": {"type": "function", "function": {"name": "f"}}}),
                "unsupported_parameter",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "function_call": {"name": "f"}}),
                "unsupported_parameter",
            ),
        ];
        for (body, code) in cases {
            let err = event(&body, fresh()).unwrap_err();
            assert_eq!(err.code, code, "{body}");
            assert_eq!(err.status, 400);
        }
        for bad in [&b"{not json"[..], b"[1, 2", b"", b"  "] {
            let err = parse_request(bad).unwrap_err();
            assert_eq!(err.code, "invalid_json", "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn client_tools_are_counted_and_set_aside() {
        let tool = json!({"type": "function", "function": {"name": "get_current_timestamp", "parameters": {}}});
        let body = json!({"messages": [{"role": "user", "content": "hi"}],
                          "tools": [tool, tool], "functions": [{"name": "f"}], "tool_choice": "auto"});
        let request = parse_request(body.to_string().as_bytes()).unwrap();
        assert_eq!(request.client_tools(), 3);
        let plain =
            parse_request(br#"{"messages": [], "tools": null, "tool_choice": "none"}"#).unwrap();
        assert_eq!(plain.client_tools(), 0);
        let forced = parse_request(
            json!({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"})
                .to_string()
                .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(forced.param, Some("tool_choice"));
        assert!(
            forced.message.contains("hermod runs its own tools"),
            "{}",
            forced.message
        );
    }
}
