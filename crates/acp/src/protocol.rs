//! The Agent Client Protocol (v1) messages hermod sends and reads, as serde
//! types: JSON-RPC 2.0 framing, `initialize`, `session/new|load|prompt|
//! cancel`, `session/update` and `session/request_permission`.
//!
//! Only the fields hermod acts on are typed; everything else an agent sends
//! is ignored, so agents that add fields (or `_meta`) keep working. Field
//! names follow the protocol's schema (camelCase on the wire).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version hermod speaks.
pub(crate) const PROTOCOL_VERSION: u32 = 1;

/// JSON-RPC's "method not found", answered to client methods hermod does not
/// offer (`fs/*`, `terminal/*`).
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;

/// One frame from the agent: a response to one of our requests, a request
/// of its own, or a notification.
#[derive(Debug, Deserialize)]
pub(crate) struct Incoming {
    #[serde(default)]
    pub id: Option<Value>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub params: Option<Value>,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<RpcError>,
}

/// A JSON-RPC error object, as the agent sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

/// What an [`Incoming`] frame is.
#[derive(Debug)]
pub(crate) enum Frame {
    Response {
        id: u64,
        result: Result<Value, RpcError>,
    },
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
}

impl Incoming {
    /// Classifies the frame; `None` when it is none of the three (an answer
    /// to an id we never used, a frame with neither method nor result).
    pub(crate) fn classify(self) -> Option<Frame> {
        match (self.method, self.id) {
            (Some(method), Some(id)) => Some(Frame::Request {
                id,
                method,
                params: self.params.unwrap_or(Value::Null),
            }),
            (Some(method), None) => Some(Frame::Notification {
                method,
                params: self.params.unwrap_or(Value::Null),
            }),
            (None, Some(id)) => {
                let id = id.as_u64()?;
                let result = match self.error {
                    Some(error) => Err(error),
                    None => Ok(self.result.unwrap_or(Value::Null)),
                };
                Some(Frame::Response { id, result })
            }
            (None, None) => None,
        }
    }
}

/// `initialize` parameters: protocol version 1, no file system and no
/// terminal (hermod offers neither, so agents use their own tools).
pub(crate) fn initialize_params() -> Value {
    serde_json::json!({
        "protocolVersion": PROTOCOL_VERSION,
        "clientCapabilities": {
            "fs": { "readTextFile": false, "writeTextFile": false },
            "terminal": false,
        },
        "clientInfo": { "name": "hermod", "version": env!("CARGO_PKG_VERSION") },
    })
}

/// The parts of the `initialize` answer hermod uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InitializeResponse {
    #[serde(default)]
    pub protocol_version: u32,
    #[serde(default)]
    pub agent_capabilities: AgentCapabilities,
    #[serde(default)]
    pub agent_info: Option<AgentInfo>,
}

/// What the agent can do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentCapabilities {
    /// `session/load` is supported.
    #[serde(default)]
    pub load_session: bool,
    #[serde(default)]
    pub prompt_capabilities: PromptCapabilities,
}

/// Content the agent accepts in a prompt besides text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptCapabilities {
    #[serde(default)]
    pub image: bool,
}

/// The agent's name and version, for logs.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AgentInfo {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
}

/// `session/new` parameters.
pub(crate) fn new_session_params(cwd: &str) -> Value {
    serde_json::json!({ "cwd": cwd, "mcpServers": [] })
}

/// `session/load` parameters.
pub(crate) fn load_session_params(cwd: &str, session_id: &str) -> Value {
    serde_json::json!({ "cwd": cwd, "sessionId": session_id, "mcpServers": [] })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewSessionResponse {
    pub session_id: String,
}

/// One content block of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ContentBlock {
    Text {
        text: String,
    },
    Image {
        data: String,
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
}

/// `session/prompt` parameters.
pub(crate) fn prompt_params(session_id: &str, prompt: &[ContentBlock]) -> Value {
    serde_json::json!({ "sessionId": session_id, "prompt": prompt })
}

/// `session/cancel` parameters.
pub(crate) fn cancel_params(session_id: &str) -> Value {
    serde_json::json!({ "sessionId": session_id })
}

/// Why the agent ended a prompt turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StopReason {
    EndTurn,
    MaxTokens,
    MaxTurnRequests,
    Refusal,
    Cancelled,
}

/// The answer to `session/prompt`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PromptResponse {
    pub stop_reason: StopReason,
    #[serde(default)]
    pub usage: Option<PromptUsage>,
}

/// Token counts of a prompt turn (the schema's `Usage`).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PromptUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

/// `session/update` parameters.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionNotification {
    pub session_id: String,
    pub update: Value,
}

/// The session updates hermod turns into events; the rest
/// (`available_commands_update`, `usage_update`, ...) are [`Update::Other`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Update {
    AgentMessage(String),
    AgentThought(String),
    ToolCall(ToolCallUpdate),
    ToolCallUpdate(ToolCallUpdate),
    Plan(Vec<PlanEntry>),
    Other(String),
}

/// A `tool_call` or `tool_call_update`: every field but the id is optional
/// in an update.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ToolCallUpdate {
    pub tool_call_id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub raw_input: Option<Value>,
    #[serde(default)]
    pub raw_output: Option<Value>,
    #[serde(default)]
    pub content: Option<Vec<Value>>,
}

impl ToolCallUpdate {
    /// What to call the tool: its title, else its kind.
    pub(crate) fn name(&self) -> Option<String> {
        self.title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .or_else(|| self.kind.clone())
    }

    /// The text of the call's `content` (text blocks, diffs by path,
    /// terminals by id), else its `rawOutput`.
    pub(crate) fn output_text(&self) -> String {
        let mut parts = Vec::new();
        for item in self.content.iter().flatten() {
            match item["type"].as_str() {
                Some("content") => {
                    if let Some(text) = item["content"]["text"].as_str() {
                        parts.push(text.to_owned());
                    }
                }
                Some("diff") => {
                    if let Some(path) = item["path"].as_str() {
                        parts.push(format!("edited {path}"));
                    }
                }
                _ => {}
            }
        }
        if parts.is_empty() {
            return match &self.raw_output {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
        }
        parts.join("\n")
    }

    /// `rawInput` as a JSON document, or empty.
    pub(crate) fn arguments(&self) -> String {
        match &self.raw_input {
            None | Some(Value::Null) => String::new(),
            Some(value) => value.to_string(),
        }
    }

    /// `completed` or `failed`.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.status.as_deref(), Some("completed" | "failed"))
    }
}

/// One entry of an agent's plan.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct PlanEntry {
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub status: String,
}

impl Update {
    /// Reads a `session/update`'s `update` object; `None` when it is
    /// malformed.
    pub(crate) fn parse(update: &Value) -> Option<Update> {
        let kind = update["sessionUpdate"].as_str()?;
        let chunk_text = || match update["content"]["type"].as_str() {
            Some("text") => update["content"]["text"].as_str().map(str::to_owned),
            // Images and resources in the agent's reply have no place in a
            // chat message's text.
            _ => Some(String::new()),
        };
        Some(match kind {
            "agent_message_chunk" => Update::AgentMessage(chunk_text()?),
            "agent_thought_chunk" => Update::AgentThought(chunk_text()?),
            "tool_call" => Update::ToolCall(serde_json::from_value(update.clone()).ok()?),
            "tool_call_update" => {
                Update::ToolCallUpdate(serde_json::from_value(update.clone()).ok()?)
            }
            "plan" => Update::Plan(serde_json::from_value(update["entries"].clone()).ok()?),
            other => Update::Other(other.to_owned()),
        })
    }
}

/// `session/request_permission` parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PermissionRequest {
    pub session_id: String,
    pub tool_call: ToolCallUpdate,
    #[serde(default)]
    pub options: Vec<PermissionOption>,
}

/// One answer the agent offers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PermissionOption {
    pub option_id: String,
    #[serde(default)]
    pub name: String,
    /// `allow_once`, `allow_always`, `reject_once` or `reject_always`.
    pub kind: String,
}

/// The answer to a permission request: the option picked, or `None` for the
/// `cancelled` outcome (the turn was interrupted, or nothing fits).
pub(crate) fn permission_outcome(option_id: Option<&str>) -> Value {
    match option_id {
        Some(id) => serde_json::json!({ "outcome": { "outcome": "selected", "optionId": id } }),
        None => serde_json::json!({ "outcome": { "outcome": "cancelled" } }),
    }
}

impl PermissionRequest {
    /// The option of the first of `kinds` the agent offers.
    pub(crate) fn option_of(&self, kinds: &[&str]) -> Option<&str> {
        kinds.iter().find_map(|kind| {
            self.options
                .iter()
                .find(|o| o.kind == *kind)
                .map(|o| o.option_id.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_are_classified() {
        let parse = |v: Value| serde_json::from_value::<Incoming>(v).unwrap().classify();
        assert!(matches!(
            parse(json!({"jsonrpc":"2.0","id":3,"result":{"a":1}})),
            Some(Frame::Response {
                id: 3,
                result: Ok(_)
            })
        ));
        match parse(json!({"jsonrpc":"2.0","id":4,"error":{"code":-32000,"message":"boom"}})) {
            Some(Frame::Response {
                id: 4,
                result: Err(e),
            }) => {
                assert_eq!(e.to_string(), "boom (code -32000)");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(json!({"jsonrpc":"2.0","id":"p1","method":"session/request_permission","params":{}})),
            Some(Frame::Request { method, .. }) if method == "session/request_permission"
        ));
        assert!(matches!(
            parse(json!({"jsonrpc":"2.0","method":"session/update","params":{}})),
            Some(Frame::Notification { .. })
        ));
        assert!(parse(json!({"jsonrpc":"2.0","id":"x","result":{}})).is_none());
        assert!(parse(json!({"jsonrpc":"2.0"})).is_none());
    }

    #[test]
    fn updates_are_read() {
        assert_eq!(
            Update::parse(
                &json!({"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"hi"}})
            ),
            Some(Update::AgentMessage("hi".into()))
        );
        assert_eq!(
            Update::parse(
                &json!({"sessionUpdate":"agent_thought_chunk","content":{"type":"text","text":"hm"}})
            ),
            Some(Update::AgentThought("hm".into()))
        );
        let Some(Update::ToolCall(call)) = Update::parse(&json!({
            "sessionUpdate":"tool_call","toolCallId":"t1","title":"terminal","kind":"execute",
            "status":"pending","rawInput":{"command":"ls"}
        })) else {
            panic!()
        };
        assert_eq!(call.name().as_deref(), Some("terminal"));
        assert_eq!(call.arguments(), r#"{"command":"ls"}"#);
        assert!(!call.is_done());
        let Some(Update::ToolCallUpdate(done)) = Update::parse(&json!({
            "sessionUpdate":"tool_call_update","toolCallId":"t1","status":"failed",
            "content":[{"type":"content","content":{"type":"text","text":"exit 1"}}]
        })) else {
            panic!()
        };
        assert!(done.is_done());
        assert_eq!(done.output_text(), "exit 1");
        assert_eq!(done.name(), None);
        assert_eq!(
            Update::parse(
                &json!({"sessionUpdate":"plan","entries":[{"content":"a","priority":"high","status":"pending"}]})
            ),
            Some(Update::Plan(vec![PlanEntry {
                content: "a".into(),
                status: "pending".into()
            }]))
        );
        assert_eq!(
            Update::parse(&json!({"sessionUpdate":"usage_update","used":1,"size":2})),
            Some(Update::Other("usage_update".into()))
        );
        assert_eq!(Update::parse(&json!({"content":{}})), None);
        assert_eq!(Update::parse(&json!({"sessionUpdate":"tool_call"})), None);
    }

    #[test]
    fn permission_answers_pick_the_offered_option() {
        let request: PermissionRequest = serde_json::from_value(json!({
            "sessionId":"s","toolCall":{"toolCallId":"t"},
            "options":[
                {"optionId":"yes","name":"Allow once","kind":"allow_once"},
                {"optionId":"always","name":"Allow always","kind":"allow_always"},
                {"optionId":"no","name":"Deny","kind":"reject_once"}
            ]
        }))
        .unwrap();
        assert_eq!(
            request.option_of(&["allow_once", "allow_always"]),
            Some("yes")
        );
        assert_eq!(request.option_of(&["reject_once"]), Some("no"));
        assert_eq!(request.option_of(&["reject_always"]), None);
        assert_eq!(
            permission_outcome(Some("yes")),
            json!({"outcome":{"outcome":"selected","optionId":"yes"}})
        );
        assert_eq!(
            permission_outcome(None),
            json!({"outcome":{"outcome":"cancelled"}})
        );
    }

    #[test]
    fn prompts_serialize_as_the_schema_says() {
        let blocks = [
            ContentBlock::Text { text: "hi".into() },
            ContentBlock::Image {
                data: "AAA".into(),
                mime_type: "image/png".into(),
            },
        ];
        assert_eq!(
            prompt_params("s1", &blocks),
            json!({"sessionId":"s1","prompt":[
                {"type":"text","text":"hi"},
                {"type":"image","data":"AAA","mimeType":"image/png"}
            ]})
        );
        let init: InitializeResponse = serde_json::from_value(json!({
            "protocolVersion":1,
            "agentCapabilities":{"loadSession":true,"promptCapabilities":{"image":true}},
            "agentInfo":{"name":"a","version":"1"}
        }))
        .unwrap();
        assert!(
            init.agent_capabilities.load_session
                && init.agent_capabilities.prompt_capabilities.image
        );
        let response: PromptResponse = serde_json::from_value(json!({
            "stopReason":"max_turn_requests","usage":{"inputTokens":3,"outputTokens":4,"totalTokens":7}
        }))
        .unwrap();
        assert_eq!(response.stop_reason, StopReason::MaxTurnRequests);
        assert_eq!(response.usage.unwrap().total_tokens, 7);
    }
}
