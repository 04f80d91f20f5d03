//! A Hermes Agent 0.19 home, read for the import: what it holds, in
//! Hermes' terms, and how each piece reads as hermod's (a [`Source`], a
//! [`ChatMessage`]). Nothing here writes.

mod files;
pub mod state_db;

use hermod_model::{
    ChatMessage, ChatType, Content, ContentPart, PlatformId, Role, Source, ToolCall,
};
use serde_json::Value;
use std::path::Path;

/// Everything the import takes from a Hermes home.
#[derive(Debug, Default)]
pub struct HermesHome {
    pub sessions: Vec<HermesSession>,
    pub routes: Vec<HermesRoute>,
    pub pairings: Vec<HermesPairing>,
    /// `cron/jobs.json`'s jobs as Hermes wrote them.
    pub jobs: Vec<Value>,
    /// Platform, chat id and thread id.
    pub home_channels: Vec<(String, String, Option<String>)>,
    /// What could not be read, with why.
    pub skipped: Vec<Skipped>,
}

/// Reads the Hermes home at `home`. `platforms` are hermod's platform
/// names, `home_variables` their own home-channel variables (platform,
/// variable).
pub fn read(
    home: &Path,
    platforms: &[&str],
    home_variables: &[(&str, &str)],
) -> anyhow::Result<HermesHome> {
    if !home.is_dir() {
        anyhow::bail!(
            "{} is not a Hermes home (no such directory); name it: `hermod import hermes <HERMES_HOME>`",
            home.display()
        );
    }
    let mut out = HermesHome::default();
    let db = home.join("state.db");
    if db.exists() {
        let state = state_db::read(&db)?;
        out.sessions = state.sessions;
        out.routes = state.routes;
    } else {
        out.skipped.push(Skipped::new(
            "file",
            &db.display().to_string(),
            "does not exist: there are no sessions to import",
        ));
    }
    files::routes_from_sessions_json(home, &mut out);
    files::pairings(home, &mut out);
    files::jobs(home, &mut out);
    files::home_channels(home, home_variables, &mut out);
    files::config_home_channels(home, platforms, &mut out);
    Ok(out)
}

/// Something left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub kind: String,
    pub what: String,
    pub why: String,
}

impl Skipped {
    pub fn new(kind: &str, what: &str, why: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            what: what.to_owned(),
            why: why.to_owned(),
        }
    }
}

/// A row of Hermes' `sessions` table and its active messages.
#[derive(Debug)]
pub struct HermesSession {
    pub id: String,
    /// Hermes' `source`: the platform (`cli` for its terminal).
    pub platform: String,
    pub user_id: Option<String>,
    /// The routing key the gateway recorded, if it did.
    pub key: Option<String>,
    pub chat_id: Option<String>,
    pub chat_type: Option<String>,
    pub thread_id: Option<String>,
    pub chat_name: Option<String>,
    /// The full origin (`SessionSource.to_dict()`), when recorded.
    pub origin_json: Option<String>,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub end_reason: Option<String>,
    pub title: Option<String>,
    pub messages: Vec<HermesMessage>,
}

impl HermesSession {
    /// Where the session's messages came from, as hermod records it: the
    /// origin Hermes recorded, else its columns.
    pub fn source(&self) -> Source {
        let origin: Option<Value> = self
            .origin_json
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok());
        match origin.as_ref().and_then(source_from_origin) {
            Some(source) => source,
            None => Source {
                platform: PlatformId::new(self.platform.clone()),
                chat_type: self
                    .chat_type
                    .as_deref()
                    .and_then(ChatType::parse)
                    .unwrap_or(ChatType::Dm),
                chat_id: self.chat_id.clone(),
                chat_name: self.chat_name.clone(),
                user_id: self.user_id.clone(),
                user_id_alt: None,
                user_name: None,
                thread_id: self.thread_id.clone(),
                is_bot: false,
            },
        }
    }
}

/// A Hermes origin (`SessionSource.to_dict()`: in `origin_json`, in a
/// routing entry's `origin`, in a cron job's `origin`) as a [`Source`].
pub fn source_from_origin(origin: &Value) -> Option<Source> {
    let field = |name: &str| -> Option<String> {
        match origin.get(name)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    Some(Source {
        platform: PlatformId::new(field("platform")?),
        chat_type: field("chat_type")
            .as_deref()
            .and_then(ChatType::parse)
            .unwrap_or(ChatType::Dm),
        chat_id: field("chat_id"),
        chat_name: field("chat_name"),
        user_id: field("user_id"),
        user_id_alt: field("user_id_alt"),
        user_name: field("user_name"),
        thread_id: field("thread_id"),
        is_bot: origin
            .get("is_bot")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// A row of Hermes' `messages` table.
#[derive(Debug)]
pub struct HermesMessage {
    /// Hermes' row id: later rows have higher ids, so the import remembers
    /// the last one it took.
    pub id: i64,
    pub role: String,
    pub content: Option<String>,
    pub tool_call_id: Option<String>,
    /// The calls as Hermes stored them: a JSON list in OpenAI's shape.
    pub tool_calls: Option<String>,
    pub tool_name: Option<String>,
    pub at_ms: i64,
    pub platform_message_id: Option<String>,
}

impl HermesMessage {
    /// The message as hermod stores it; `Err` says why it cannot be.
    pub fn to_chat(&self) -> Result<ChatMessage, String> {
        let role = Role::parse(&self.role)
            .ok_or_else(|| format!("its role {:?} is not one hermod has", self.role))?;
        let tool_calls = match self.tool_calls.as_deref().map(str::trim) {
            None | Some("") | Some("null") | Some("[]") => Vec::new(),
            Some(json) => tool_calls(json)?,
        };
        let mut content = self
            .content
            .as_deref()
            // An assistant message that only calls tools has no content.
            .filter(|text| !text.is_empty() || tool_calls.is_empty())
            .map(content);
        if matches!(&content, Some(Content::Parts(parts)) if parts.is_empty())
            && tool_calls.is_empty()
        {
            // A tool result stays, empty: its call must be answered.
            if role != Role::Tool {
                return Err("none of its content's parts is of a kind hermod has".to_owned());
            }
            content = Some(Content::Text(String::new()));
        }
        Ok(ChatMessage {
            role,
            content,
            tool_calls,
            tool_call_id: self.tool_call_id.clone().filter(|_| role == Role::Tool),
            name: self.tool_name.clone().filter(|_| role == Role::Tool),
        })
    }
}

/// The marker before multimodal content Hermes stored as JSON (its
/// `SessionDB._CONTENT_JSON_PREFIX`).
const JSON_CONTENT: &str = "\u{0}json:";

/// A message's content: text, or the parts (text, images) Hermes stored as
/// JSON behind [`JSON_CONTENT`]. Parts hermod has no type for are left out.
fn content(stored: &str) -> Content {
    let Some(json) = stored.strip_prefix(JSON_CONTENT) else {
        return Content::Text(stored.to_owned());
    };
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Array(parts)) => Content::Parts(
            parts
                .into_iter()
                .filter_map(|part| serde_json::from_value::<ContentPart>(part).ok())
                .collect(),
        ),
        Ok(Value::String(text)) => Content::Text(text),
        _ => Content::Text(json.to_owned()),
    }
}

/// Hermes' stored tool calls; arguments it kept as an object are written
/// back as the JSON text OpenAI sends.
fn tool_calls(json: &str) -> Result<Vec<ToolCall>, String> {
    let Value::Array(calls) = serde_json::from_str::<Value>(json)
        .map_err(|e| format!("its tool calls are not JSON: {e}"))?
    else {
        return Err("its tool calls are not a list".to_owned());
    };
    calls
        .into_iter()
        .map(|mut call| {
            if let Some(arguments) = call.pointer_mut("/function/arguments")
                && !arguments.is_string()
            {
                *arguments = Value::String(arguments.to_string());
            }
            serde_json::from_value::<ToolCall>(call)
                .map_err(|e| format!("a tool call cannot be read: {e}"))
        })
        .collect()
}

/// An entry of Hermes' routing index: a chat's key and its current
/// session.
#[derive(Debug, Clone)]
pub struct HermesRoute {
    pub key: String,
    pub session_id: String,
}

impl HermesRoute {
    /// From a `SessionEntry.to_dict()` JSON text stored under `key`.
    pub fn from_entry(key: &str, entry: &str) -> Option<Self> {
        let entry: Value = serde_json::from_str(entry).ok()?;
        let session_id = entry.get("session_id")?.as_str()?.to_owned();
        Some(Self {
            key: key.to_owned(),
            session_id,
        })
    }
}

/// A user approved through Hermes' DM pairing.
#[derive(Debug, Clone)]
pub struct HermesPairing {
    pub platform: String,
    pub user_id: String,
    pub user_name: Option<String>,
    pub approved_at_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: &str, content: Option<&str>, calls: Option<&str>) -> HermesMessage {
        HermesMessage {
            id: 1,
            role: role.to_owned(),
            content: content.map(str::to_owned),
            tool_call_id: Some("call_1".to_owned()),
            tool_calls: calls.map(str::to_owned),
            tool_name: Some("web_fetch".to_owned()),
            at_ms: 1,
            platform_message_id: None,
        }
    }

    #[test]
    fn tool_calls_read_with_arguments_as_text_and_no_empty_content() {
        let m = message(
            "assistant",
            Some(""),
            Some(r#"[{"id":"call_1","type":"function","function":{"name":"f","arguments":{"a":1}}}]"#),
        )
        .to_chat()
        .unwrap();
        assert_eq!(m.content, None);
        assert_eq!(m.tool_calls[0].arguments, r#"{"a":1}"#);
        assert_eq!(m.tool_call_id, None, "only a tool result answers a call");
        let tool = message("tool", Some("sunny"), None).to_chat().unwrap();
        assert_eq!(tool.tool_call_id.as_deref(), Some("call_1"));
        assert_eq!(tool.name.as_deref(), Some("web_fetch"));
    }

    #[test]
    fn multimodal_content_reads_as_parts() {
        let stored = "\u{0}json:[{\"type\":\"text\",\"text\":\"look\"},\
                      {\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AA==\"}},\
                      {\"type\":\"input_audio\",\"input_audio\":{}}]";
        let Content::Parts(parts) = content(stored) else {
            panic!("parts expected");
        };
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert_eq!(content("plain"), Content::Text("plain".into()));
        let unknown = message(
            "user",
            Some("\u{0}json:[{\"type\":\"input_audio\",\"input_audio\":{}}]"),
            None,
        );
        assert!(
            unknown
                .to_chat()
                .unwrap_err()
                .contains("none of its content")
        );
        let tool = HermesMessage {
            role: "tool".to_owned(),
            ..unknown
        };
        assert_eq!(
            tool.to_chat().unwrap().content,
            Some(Content::Text(String::new()))
        );
    }

    #[test]
    fn an_unknown_role_or_broken_calls_are_reasons() {
        assert!(message("narrator", Some("x"), None).to_chat().is_err());
        assert!(
            message("assistant", None, Some("{not json"))
                .to_chat()
                .is_err()
        );
    }

    #[test]
    fn an_origin_is_a_source() {
        let origin = serde_json::json!({"platform": "chat", "chat_id": 5, "chat_type": "group",
                                        "user_id": "7", "thread_id": null});
        let source = source_from_origin(&origin).unwrap();
        assert_eq!(source.chat_id.as_deref(), Some("5"));
        assert_eq!(source.chat_type, ChatType::Group);
        assert_eq!(source.thread_id, None);
        assert!(source_from_origin(&serde_json::json!({"chat_id": "1"})).is_none());
    }
}
