//! Tools the model may call: the [`Tool`] trait and the [`ToolRegistry`]
//! that offers them to the model and runs them.

use crate::approval::{
    ApprovalDecision, ApprovalPolicy, Approvals, INTERRUPTED_REASON, WithdrawOnDrop,
};
use crate::tool_source::ToolSource;
use crate::turn::AgentEvent;
use hermod_model::SessionId;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

/// What a tool call knows about where it runs.
#[derive(Debug, Clone)]
pub struct ToolContext {
    pub session_id: SessionId,
    /// The model's id for this call.
    pub call_id: String,
    /// Fires when the turn is interrupted; long tools should stop then.
    pub cancel: CancellationToken,
    /// Where approval requests go; `None` outside a turn that can ask.
    approver: Option<Approver>,
}

/// How a tool call reaches the user for approvals.
#[derive(Debug, Clone)]
struct Approver {
    tool: String,
    approvals: Approvals,
    events: mpsc::Sender<AgentEvent>,
    timeout: Duration,
    /// Keys approved without asking; `None` asks every time.
    policy: Option<Arc<dyn ApprovalPolicy>>,
}

impl ToolContext {
    /// A context whose approval requests are all denied (nobody to ask);
    /// see [`ToolContext::with_approvals`].
    pub fn new(
        session_id: SessionId,
        call_id: impl Into<String>,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            session_id,
            call_id: call_id.into(),
            cancel,
            approver: None,
        }
    }

    /// Lets the tool named `tool` ask for approval: requests are announced
    /// as [`AgentEvent::ApprovalRequested`] on `events`, decided through
    /// `approvals`, and denied when undecided after `timeout`.
    pub fn with_approvals(
        mut self,
        tool: impl Into<String>,
        approvals: Approvals,
        events: mpsc::Sender<AgentEvent>,
        timeout: Duration,
    ) -> Self {
        self.approver = Some(Approver {
            tool: tool.into(),
            approvals,
            events,
            timeout,
            policy: None,
        });
        self
    }

    /// Lets `policy` approve keys without asking (the grants the user gave
    /// for this session or for good). Only applies to a context that can
    /// ask ([`ToolContext::with_approvals`]).
    pub fn with_approval_policy(mut self, policy: Option<Arc<dyn ApprovalPolicy>>) -> Self {
        if let Some(approver) = &mut self.approver {
            approver.policy = policy;
        }
        self
    }

    /// [`ToolContext::request_approval_for`] with the tool's name as the key.
    pub async fn request_approval(&self, description: impl Into<String>) -> ApprovalDecision {
        let key = match &self.approver {
            Some(approver) => approver.tool.clone(),
            None => String::new(),
        };
        self.request_approval_for(key, description).await
    }

    /// Asks the user whether the tool may do what `description` says, and
    /// waits for the answer. `key` names the kind of action (a dangerous
    /// command's pattern name, say): a key the user approved for this
    /// session or for good is approved at once, without asking. Denied when
    /// nobody answers in time, when the turn is interrupted, or when this
    /// context cannot ask at all.
    pub async fn request_approval_for(
        &self,
        key: impl Into<String>,
        description: impl Into<String>,
    ) -> ApprovalDecision {
        let Some(approver) = &self.approver else {
            return ApprovalDecision::denied("approval cannot be requested here");
        };
        let (key, description) = (key.into(), description.into());
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => ApprovalDecision::denied(INTERRUPTED_REASON),
            decision = approver.ask(&self.session_id, key, description) => decision,
        }
    }
}

impl Approver {
    async fn ask(&self, session: &SessionId, key: String, description: String) -> ApprovalDecision {
        if let Some(policy) = &self.policy
            && policy.pre_approved(session, &key).await
        {
            tracing::debug!(tool = %self.tool, %key, "approved without asking: the user granted this key");
            return ApprovalDecision::Approved;
        }
        let (request, mut decision) = match self.approvals.open(&self.tool, &key, &description) {
            Ok(opened) => opened,
            Err(reason) => return ApprovalDecision::denied(reason),
        };
        let request_id = request.id;
        let _withdraw = WithdrawOnDrop {
            approvals: &self.approvals,
            request_id: &request_id,
        };
        let event = AgentEvent::ApprovalRequested {
            request_id: request_id.clone(),
            tool: self.tool.clone(),
            key,
            description,
            timeout: self.timeout,
        };
        if self.events.send(event).await.is_err() {
            return ApprovalDecision::denied("nobody is listening for approval requests");
        }
        match tokio::time::timeout(self.timeout, &mut decision).await {
            Ok(Ok(decision)) => decision,
            // Only a withdrawn request loses its sender undecided.
            Ok(Err(_)) => ApprovalDecision::denied("the request was withdrawn"),
            Err(_) if self.approvals.withdraw(&request_id) => {
                tracing::debug!(tool = %self.tool, "approval request timed out");
                ApprovalDecision::denied(format!(
                    "nobody answered within {}",
                    crate::human::describe(self.timeout)
                ))
            }
            // Decided just as the time ran out: the decision is waiting.
            Err(_) => decision
                .try_recv()
                .unwrap_or_else(|_| ApprovalDecision::denied("the request was withdrawn")),
        }
    }
}

/// A function the model can call.
#[async_trait::async_trait]
pub trait Tool: Send + Sync {
    /// The function name the model uses (`[a-zA-Z0-9_-]`, unique).
    fn name(&self) -> &str;
    fn description(&self) -> &str;
    /// The JSON Schema of the arguments object.
    fn parameters(&self) -> Value;
    /// Runs the tool. `Ok` is the result shown to the model; `Err` is an
    /// error message, also shown to the model, which may then correct itself.
    async fn call(&self, arguments: Value, ctx: ToolContext) -> Result<String, String>;
}

/// The tools offered to the model: the registered ones in registration
/// order, then those of each [`ToolSource`] as it has them at that moment.
#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: Vec<Arc<dyn Tool>>,
    by_name: HashMap<String, usize>,
    /// Asked at each use; a registered tool wins over a source's tool of
    /// the same name, an earlier source over a later one.
    sources: Vec<Arc<dyn ToolSource>>,
}

impl std::fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolRegistry")
            .field("tools", &self.names())
            .finish()
    }
}

impl ToolRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tool; one with the same name is replaced in place.
    pub fn register(&mut self, tool: impl Tool + 'static) -> &mut Self {
        self.register_arc(Arc::new(tool))
    }

    /// [`ToolRegistry::register`] for a shared tool.
    pub fn register_arc(&mut self, tool: Arc<dyn Tool>) -> &mut Self {
        match self.by_name.get(tool.name()) {
            Some(&i) => self.tools[i] = tool,
            None => {
                self.by_name
                    .insert(tool.name().to_owned(), self.tools.len());
                self.tools.push(tool);
            }
        }
        self
    }

    /// Builder form of [`ToolRegistry::register`].
    pub fn with(mut self, tool: impl Tool + 'static) -> Self {
        self.register(tool);
        self
    }

    /// Adds a source of tools that may change while the agent runs.
    pub fn add_source(&mut self, source: Arc<dyn ToolSource>) -> &mut Self {
        self.sources.push(source);
        self
    }

    /// Builder form of [`ToolRegistry::add_source`].
    pub fn with_source(mut self, source: Arc<dyn ToolSource>) -> Self {
        self.add_source(source);
        self
    }

    /// The tool called `name`: a registered one, or one a source knows
    /// (even one it does not offer right now, which then says why).
    pub fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        match self.by_name.get(name) {
            Some(&i) => Some(self.tools[i].clone()),
            None => self.sources.iter().find_map(|s| s.get(name)),
        }
    }

    /// The names of the tools offered now.
    pub fn names(&self) -> Vec<String> {
        self.offered().iter().map(|t| t.name().to_owned()).collect()
    }

    pub fn len(&self) -> usize {
        self.offered().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tools offered now, each name once.
    fn offered(&self) -> Vec<Arc<dyn Tool>> {
        let mut tools = self.tools.clone();
        if self.sources.is_empty() {
            return tools;
        }
        let mut seen: HashSet<String> = tools.iter().map(|t| t.name().to_owned()).collect();
        for source in &self.sources {
            tools.extend(
                source
                    .tools()
                    .into_iter()
                    .filter(|t| seen.insert(t.name().to_owned())),
            );
        }
        tools
    }

    /// The OpenAI `tools` array:
    /// `[{"type":"function","function":{"name","description","parameters"}}]`.
    pub fn schemas(&self) -> Vec<Value> {
        self.offered()
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": {
                        "name": t.name(),
                        "description": t.description(),
                        "parameters": t.parameters(),
                    },
                })
            })
            .collect()
    }

    /// Runs the call named `name` with raw JSON `arguments`. Unknown tools,
    /// invalid arguments, tool errors and tool panics all become an error
    /// result for the model: `(text, is_error)`.
    pub async fn execute(&self, name: &str, arguments: &str, ctx: ToolContext) -> (String, bool) {
        let Some(tool) = self.get(name) else {
            let available = self.names().join(", ");
            return (
                format!("error: unknown tool '{name}'; available tools: [{available}]"),
                true,
            );
        };
        let arguments = match parse_arguments(arguments) {
            Ok(value) => value,
            Err(err) => {
                return (
                    format!("error: the arguments for {name} are not a valid JSON object ({err})"),
                    true,
                );
            }
        };
        // Run on its own task so a panicking tool fails only its call; the
        // task is aborted if this future is dropped (turn interrupted).
        let name = name.to_owned();
        let task = tokio::spawn(async move { tool.call(arguments, ctx).await });
        match AbortOnDropHandle::new(task).await {
            Ok(Ok(result)) => (result, false),
            Ok(Err(message)) => (format!("error: {message}"), true),
            Err(err) => {
                tracing::error!(tool = %name, error = %err, "tool panicked");
                (format!("error: the tool {name} crashed"), true)
            }
        }
    }
}

/// Arguments as the model sent them: empty means no arguments.
fn parse_arguments(raw: &str) -> Result<Value, String> {
    if raw.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(other) => Err(format!("expected an object, got {other}")),
        Err(err) => Err(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Upper;

    #[async_trait::async_trait]
    impl Tool for Upper {
        fn name(&self) -> &str {
            "upper"
        }
        fn description(&self) -> &str {
            "Upper-cases text."
        }
        fn parameters(&self) -> Value {
            json!({"type": "object", "properties": {"text": {"type": "string"}}})
        }
        async fn call(&self, arguments: Value, _ctx: ToolContext) -> Result<String, String> {
            match arguments["text"].as_str() {
                Some(text) => Ok(text.to_uppercase()),
                None => Err("missing text".into()),
            }
        }
    }

    struct Panics;

    #[async_trait::async_trait]
    impl Tool for Panics {
        fn name(&self) -> &str {
            "panics"
        }
        fn description(&self) -> &str {
            ""
        }
        fn parameters(&self) -> Value {
            json!({"type": "object"})
        }
        async fn call(&self, _arguments: Value, _ctx: ToolContext) -> Result<String, String> {
            panic!("boom")
        }
    }

    fn ctx() -> ToolContext {
        ToolContext::new(
            SessionId::parse("s").unwrap(),
            "c",
            CancellationToken::new(),
        )
    }

    #[test]
    fn schemas_follow_registration_order() {
        let registry = ToolRegistry::new().with(Upper).with(Panics).with(Upper);
        assert_eq!(registry.names(), ["upper", "panics"]);
        let schemas = registry.schemas();
        assert_eq!(schemas[0]["type"], "function");
        assert_eq!(schemas[0]["function"]["name"], "upper");
        assert_eq!(schemas[0]["function"]["parameters"]["type"], "object");
        assert!(format!("{registry:?}").contains("upper"));
    }

    #[tokio::test]
    async fn execution_errors_become_results() {
        let registry = ToolRegistry::new().with(Upper).with(Panics);
        assert_eq!(
            registry.execute("upper", r#"{"text":"hi"}"#, ctx()).await,
            ("HI".into(), false)
        );
        let (text, is_error) = registry.execute("nope", "{}", ctx()).await;
        assert!(
            is_error && text.contains("unknown tool") && text.contains("upper"),
            "{text}"
        );
        let (text, is_error) = registry.execute("upper", "{not json", ctx()).await;
        assert!(is_error && text.contains("not a valid JSON"), "{text}");
        let (text, is_error) = registry.execute("upper", "[1]", ctx()).await;
        assert!(is_error && text.contains("expected an object"), "{text}");
        assert_eq!(
            registry.execute("upper", "", ctx()).await,
            ("error: missing text".into(), true)
        );
        let (text, is_error) = registry.execute("panics", "{}", ctx()).await;
        assert!(is_error && text.contains("crashed"), "{text}");
    }
}
