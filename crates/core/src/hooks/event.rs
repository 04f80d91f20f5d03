//! [`HookEvent`]: an event's name and context, what a hook receives, and
//! which hooks an event reaches.
//!
//! A hook gets `{"event": "<name>", "context": {...}}`. The context carries
//! what Hermes passes: `platform`, `user_id`, `chat_id`, `thread_id`,
//! `chat_type`, `session_id`, `message` (its first 500 characters), and
//! what the event adds (`response` on `agent:end`, `iteration` and
//! `tool_names` on `agent:step`, the target and message ids or the error
//! on `delivery:*`).

use super::manifest::Hook;
use hermod_model::{InboundEvent, Source};
use serde_json::{Map, Value};

/// How much of a message or a response a hook is given, in characters.
pub(crate) const TEXT_CAP: usize = 500;

/// The gateway started (context: `platforms`).
pub const GATEWAY_STARTUP: &str = "gateway:startup";
/// The gateway is stopping, its turns drained.
pub const GATEWAY_SHUTDOWN: &str = "gateway:shutdown";
/// A session was created.
pub const SESSION_START: &str = "session:start";
/// A session was ended (`reason`: `idle`, `daily`, `new_session`, ...).
pub const SESSION_END: &str = "session:end";
/// A session was reset: by `/new`, or by the reset policy.
pub const SESSION_RESET: &str = "session:reset";
/// An allowed message reached its session, before it is a command or a turn.
pub const MESSAGE_RECEIVED: &str = "message:received";
/// The agent starts on a message.
pub const AGENT_START: &str = "agent:start";
/// The agent ran tools and goes on (`iteration`, `tool_names`).
pub const AGENT_STEP: &str = "agent:step";
/// The agent's turn ended (`response`, `outcome`).
pub const AGENT_END: &str = "agent:end";
/// A reply reached its chat.
pub const DELIVERY_SENT: &str = "delivery:sent";
/// A reply was given up.
pub const DELIVERY_FAILED: &str = "delivery:failed";

/// The events the gateway emits, for `hermod hooks` and the docs
/// (`command:<name>` besides, one per command).
pub const EVENTS: &[&str] = &[
    GATEWAY_STARTUP,
    GATEWAY_SHUTDOWN,
    SESSION_START,
    SESSION_END,
    SESSION_RESET,
    MESSAGE_RECEIVED,
    AGENT_START,
    AGENT_STEP,
    AGENT_END,
    "command:<name>",
    DELIVERY_SENT,
    DELIVERY_FAILED,
];

/// One event as hooks see it.
#[derive(Debug, Clone, PartialEq)]
pub struct HookEvent {
    name: String,
    context: Map<String, Value>,
}

impl HookEvent {
    /// An event with an empty context.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            context: Map::new(),
        }
    }

    /// An event about a message's source: platform, user, chat, thread
    /// and chat type.
    pub(crate) fn about(name: impl Into<String>, source: &Source) -> Self {
        let event = Self::new(name)
            .with("platform", source.platform.as_str())
            .with("chat_type", source.chat_type.as_str());
        let user = source.user_id_alt.as_ref().or(source.user_id.as_ref());
        event
            .with("user_id", user.cloned())
            .with("chat_id", source.chat_id.clone())
            .with("thread_id", source.thread_id.clone())
    }

    /// An event about an inbound message: its source and its text (capped).
    pub(crate) fn about_message(name: impl Into<String>, event: &InboundEvent) -> Self {
        Self::about(name, &event.source).with("message", capped(&event.content.text()))
    }

    /// Sets one context value.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.context.insert(key.to_owned(), value.into());
        self
    }

    /// Sets every key of `extra` (a JSON object), replacing what is there.
    pub fn merge(mut self, extra: Map<String, Value>) -> Self {
        self.context.extend(extra);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn context(&self) -> &Map<String, Value> {
        &self.context
    }

    /// Whether hooks may decide its outcome (`command:*`).
    pub fn is_decision(&self) -> bool {
        self.name.starts_with("command:")
    }

    /// What a hook receives: `{"event": ..., "context": {...}}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "event": self.name, "context": self.context }).to_string()
    }
}

/// The first [`TEXT_CAP`] characters of `text`.
pub(crate) fn capped(text: &str) -> String {
    text.chars().take(TEXT_CAP).collect()
}

/// The hooks `event` reaches, in order: those naming it exactly, then
/// those listening to `<base>:*` (a bare `agent` never matches
/// `agent:start`), each in directory order and at most once.
pub(crate) fn matching<'a>(hooks: &'a [Hook], event: &str) -> Vec<&'a Hook> {
    let wildcard = event.split_once(':').map(|(base, _)| format!("{base}:*"));
    let exact = hooks.iter().filter(|h| h.events.iter().any(|e| e == event));
    let wild = hooks.iter().filter(|h| {
        wildcard
            .as_ref()
            .is_some_and(|w| h.events.contains(w) && !h.events.iter().any(|e| e == event))
    });
    exact.chain(wild).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::manifest::Handler;
    use hermod_model::PlatformId;
    use std::path::PathBuf;

    fn hook(name: &str, events: &[&str]) -> Hook {
        Hook {
            name: name.to_owned(),
            description: String::new(),
            dir: PathBuf::new(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            handler: Handler::Run(PathBuf::from("/bin/true")),
            timeout: super::super::manifest::DEFAULT_TIMEOUT,
        }
    }

    fn names(hooks: &[&Hook]) -> Vec<String> {
        hooks.iter().map(|h| h.name.clone()).collect()
    }

    #[test]
    fn exact_handlers_come_first_then_wildcards_each_once() {
        let hooks = [
            hook("a-wild", &["agent:*"]),
            hook("b-exact", &["agent:start"]),
            hook("c-both", &["agent:*", "agent:start"]),
            hook("d-other", &["session:*", "agent:end"]),
            hook("e-bare", &["agents:*"]),
        ];
        assert_eq!(
            names(&matching(&hooks, "agent:start")),
            ["b-exact", "c-both", "a-wild"]
        );
        assert_eq!(
            names(&matching(&hooks, "agent:end")),
            ["d-other", "a-wild", "c-both"]
        );
        assert_eq!(names(&matching(&hooks, "session:reset")), ["d-other"]);
        assert!(matching(&hooks, "delivery:sent").is_empty());
        assert!(
            matching(&hooks, "agent").is_empty(),
            "a bare base matches nothing"
        );
    }

    #[test]
    fn the_context_carries_the_source_and_a_capped_message() {
        let mut source = Source::dm(PlatformId::from_static("test"), "c1");
        source.user_id = Some("u1".into());
        source.thread_id = Some("t1".into());
        let long = "é".repeat(TEXT_CAP + 10);
        let inbound = InboundEvent::text(source, long);
        let event = HookEvent::about_message(MESSAGE_RECEIVED, &inbound).with("session_id", "s1");
        let json: Value = serde_json::from_str(&event.to_json()).unwrap();
        assert_eq!(json["event"], "message:received");
        let context = &json["context"];
        assert_eq!(context["platform"], "test");
        assert_eq!(context["user_id"], "u1");
        assert_eq!(context["chat_id"], "c1");
        assert_eq!(context["thread_id"], "t1");
        assert_eq!(context["chat_type"], "dm");
        assert_eq!(context["session_id"], "s1");
        assert_eq!(
            context["message"].as_str().unwrap().chars().count(),
            TEXT_CAP
        );
        assert!(!event.is_decision());
        assert!(HookEvent::new("command:new").is_decision());
    }
}
