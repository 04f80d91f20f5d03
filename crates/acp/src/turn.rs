//! One hermod turn as one ACP prompt turn: `session/prompt`, the
//! `session/update`s it causes turned into [`AgentEvent`]s, permission
//! requests through hermod's approvals, and `session/cancel` on interrupt.

use crate::config::AcpConfig;
use crate::connection::{Connection, LOG_TARGET, SessionMessage};
use crate::error::AcpError;
use crate::prompt::{self, PromptInput};
use crate::protocol::{self, PermissionRequest, PlanEntry, PromptResponse, StopReason, Update};
use crate::sessions::Sessions;
use crate::supervisor::{Supervisor, Unavailable};
use hermod_agent::{
    AgentError, AgentEvent, FinishReason, SEGMENT_SEPARATOR, ToolContext, TurnControl, TurnOutcome,
    TurnRequest,
};
use hermod_model::{ChatMessage, Usage};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Why approval requests made after the turn ended are denied.
const TURN_OVER_REASON: &str = "the turn is over";

/// The result of a tool call the turn was interrupted before it ended.
const INTERRUPTED_RESULT: &str = "error: the turn was interrupted before this tool ended";

/// Added to the text of a turn the agent refused.
const REFUSAL_NOTE: &str = "[The agent refused to continue this request.]";

/// What a turn shares with the agent that started it.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub config: Arc<AcpConfig>,
    pub supervisor: Arc<Supervisor>,
    pub sessions: Arc<Sessions>,
}

/// Why a turn stopped without an outcome.
enum Stop {
    Failed(AgentError),
    /// Nobody listens to the events any more: end quietly.
    Gone,
    Interrupted,
}

/// A tool call seen in this turn.
struct SeenTool {
    name: String,
    finished: bool,
}

/// The state of one running turn.
pub(crate) struct Turn {
    shared: Shared,
    control: TurnControl,
    cancel: CancellationToken,
    /// Fires once `session/cancel` went out: only then are open permission
    /// requests answered `cancelled`, so the agent reads the cancel first
    /// (as the protocol asks) instead of carrying on after the answer.
    cancel_sent: CancellationToken,
    steer: mpsc::UnboundedReceiver<String>,
    events: mpsc::Sender<AgentEvent>,
    /// Finished text segments (text before a tool call).
    segments: Vec<String>,
    /// Text since the last tool call.
    current: String,
    tools: HashMap<String, SeenTool>,
    plans: usize,
    usage: Usage,
}

impl Turn {
    pub(crate) fn new(
        shared: Shared,
        control: TurnControl,
        cancel: CancellationToken,
        steer: mpsc::UnboundedReceiver<String>,
        events: mpsc::Sender<AgentEvent>,
    ) -> Self {
        Self {
            shared,
            control,
            cancel,
            cancel_sent: CancellationToken::new(),
            steer,
            events,
            segments: Vec::new(),
            current: String::new(),
            tools: HashMap::new(),
            plans: 0,
            usage: Usage::default(),
        }
    }

    pub(crate) async fn run(mut self, request: TurnRequest) {
        let mut result = self.drive(&request).await;
        if matches!(result, Err(Stop::Interrupted))
            && let Err(stop) = self.end_open_tools().await
        {
            result = Err(stop);
        }
        self.control.approvals().close(TURN_OVER_REASON);
        // An ACP prompt cannot take text mid-turn: every steering text goes
        // back to the gateway, which runs it as the next turn.
        self.steer.close();
        let mut unused = Vec::new();
        while let Ok(text) = self.steer.try_recv() {
            if !text.trim().is_empty() {
                unused.push(text);
            }
        }
        let last = match result {
            Ok(finish) => AgentEvent::Final(self.outcome(finish, unused)),
            Err(Stop::Interrupted) if self.has_text() => {
                AgentEvent::Final(self.outcome(FinishReason::Interrupted, unused))
            }
            Err(Stop::Interrupted) => AgentEvent::Failed(AgentError::Cancelled),
            Err(Stop::Failed(err)) => AgentEvent::Failed(err),
            Err(Stop::Gone) => return,
        };
        let _ = self.events.send(last).await;
    }

    fn has_text(&self) -> bool {
        !self.segments.is_empty() || !self.current.is_empty()
    }

    fn text(&self) -> String {
        let mut parts = self.segments.clone();
        if !self.current.is_empty() {
            parts.push(self.current.clone());
        }
        parts.join(SEGMENT_SEPARATOR)
    }

    fn outcome(&self, finish_reason: FinishReason, unused_steer: Vec<String>) -> TurnOutcome {
        let text = self.text();
        TurnOutcome {
            messages: vec![ChatMessage::assistant(text.clone())],
            text,
            usage: self.usage,
            finish_reason,
            unused_steer,
        }
    }

    async fn emit(&self, event: AgentEvent) -> Result<(), Stop> {
        self.events.send(event).await.map_err(|_| Stop::Gone)
    }

    async fn drive(&mut self, request: &TurnRequest) -> Result<FinishReason, Stop> {
        let shared = self.shared.clone();
        let connection = match shared.supervisor.connection(&self.cancel).await {
            Ok(connection) => connection,
            Err(Unavailable::Cancelled) => return Err(Stop::Interrupted),
            Err(Unavailable::Failed(err)) => return Err(Stop::Failed(err.into())),
        };
        let resolved = tokio::select! {
            () = self.cancel.cancelled() => return Err(Stop::Interrupted),
            resolved = shared.sessions.resolve(&connection, &shared.config, &request.session_id) => {
                resolved.map_err(|e| Stop::Failed(e.into()))?
            }
        };
        let blocks = prompt::build(&PromptInput {
            input: &request.input,
            history: &request.history,
            system: [
                shared.config.system_prompt.as_deref(),
                request.system_prompt.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect(),
            fresh: resolved.fresh,
            capabilities: &connection.init.agent_capabilities.prompt_capabilities,
        });
        let acp_id = resolved.acp_id;
        let mut updates = connection
            .subscribe(&acp_id)
            .map_err(|e| Stop::Failed(e.into()))?;
        let result = self
            .prompt(&connection, request, &acp_id, &blocks, &mut updates)
            .await;
        connection.unsubscribe(&acp_id);
        let (response, cancel_sent) = result?;
        let response = match response {
            Ok(response) => response,
            // Agents sometimes answer a cancelled prompt with an error; the
            // session may be broken after that, so the next turn starts a
            // new one.
            Err(AcpError::Rpc { error, .. }) if cancel_sent => {
                tracing::info!(target: LOG_TARGET, %error, "the agent answered a cancelled prompt with an error; its session is dropped");
                shared.sessions.forget(&request.session_id).await;
                return Err(Stop::Interrupted);
            }
            Err(err) => return Err(Stop::Failed(err.into())),
        };
        let response: PromptResponse = serde_json::from_value(response).map_err(|e| {
            Stop::Failed(
                AcpError::Protocol(format!("unreadable session/prompt answer: {e}")).into(),
            )
        })?;
        if let Some(usage) = response.usage {
            let usage = Usage {
                prompt_tokens: usage.input_tokens,
                completion_tokens: usage.output_tokens,
                total_tokens: usage.total_tokens,
            };
            self.usage.add(usage);
            self.emit(AgentEvent::Usage(usage)).await?;
        }
        if response.stop_reason != StopReason::Cancelled {
            shared.supervisor.healthy(&connection);
        }
        match response.stop_reason {
            StopReason::EndTurn => Ok(FinishReason::Stop),
            StopReason::MaxTokens => Ok(FinishReason::Length),
            StopReason::MaxTurnRequests => Ok(FinishReason::MaxIterations),
            StopReason::Refusal => {
                let note = if self.has_text() {
                    format!("{SEGMENT_SEPARATOR}{REFUSAL_NOTE}")
                } else {
                    REFUSAL_NOTE.to_owned()
                };
                self.text_delta(note).await?;
                Ok(FinishReason::Stop)
            }
            StopReason::Cancelled => Err(Stop::Interrupted),
        }
    }

    /// Sends the prompt and handles what the agent sends until it answers;
    /// returns the answer and whether `session/cancel` was sent.
    async fn prompt(
        &mut self,
        connection: &Arc<Connection>,
        request: &TurnRequest,
        acp_id: &str,
        blocks: &[protocol::ContentBlock],
        updates: &mut mpsc::UnboundedReceiver<SessionMessage>,
    ) -> Result<(Result<Value, AcpError>, bool), Stop> {
        let params = protocol::prompt_params(acp_id, blocks);
        let answer = connection.request("session/prompt", params);
        let mut answer = std::pin::pin!(answer);
        let mut permissions = JoinSet::new();
        let mut cancel_deadline: Option<Instant> = None;
        let mut gone = false;
        let mut updates_open = true;
        let result = loop {
            let deadline = cancel_deadline;
            tokio::select! {
                biased;
                result = &mut answer => break Ok(result),
                message = updates.recv(), if updates_open => match message {
                    Some(message) => {
                        if let Err(stop) = self.handle(message, connection, request, &mut permissions).await {
                            // The consumer left: stop the agent's work too.
                            gone = matches!(stop, Stop::Gone);
                            if cancel_deadline.is_none() {
                                cancel_deadline = Some(self.send_cancel(connection, acp_id).await);
                            }
                        }
                    }
                    // The connection died; its answer says why.
                    None => updates_open = false,
                },
                () = self.cancel.cancelled(), if cancel_deadline.is_none() => {
                    cancel_deadline = Some(self.send_cancel(connection, acp_id).await);
                }
                () = self.events.closed(), if cancel_deadline.is_none() => {
                    gone = true;
                    cancel_deadline = Some(self.send_cancel(connection, acp_id).await);
                }
                () = sleep_until_some(deadline) => {
                    tracing::warn!(target: LOG_TARGET, acp_session = %acp_id, "the agent did not end a cancelled prompt in time; its session is dropped");
                    break Err(());
                }
            }
        };
        // Updates sent before the answer are already queued: show them.
        while let Ok(message) = updates.try_recv() {
            if gone {
                break;
            }
            if let Err(stop) = self
                .handle(message, connection, request, &mut permissions)
                .await
            {
                gone = matches!(stop, Stop::Gone);
            }
        }
        // Open permission requests are answered `cancelled` by their tasks
        // when the turn's token fires; the prompt is over, so end them.
        permissions.shutdown().await;
        if gone {
            return Err(Stop::Gone);
        }
        match result {
            Ok(answer) => Ok((answer, cancel_deadline.is_some())),
            Err(()) => {
                self.shared.sessions.forget(&request.session_id).await;
                Err(Stop::Interrupted)
            }
        }
    }

    /// Sends `session/cancel` (once) and returns until when the prompt's
    /// answer is awaited.
    async fn send_cancel(&self, connection: &Connection, acp_id: &str) -> Instant {
        if let Err(err) = connection
            .notify("session/cancel", protocol::cancel_params(acp_id))
            .await
        {
            tracing::debug!(target: LOG_TARGET, error = %err, "session/cancel not sent");
        }
        // Open permission requests answer `cancelled` now.
        self.cancel_sent.cancel();
        self.cancel.cancel();
        Instant::now() + self.shared.config.cancel_timeout()
    }

    async fn handle(
        &mut self,
        message: SessionMessage,
        connection: &Arc<Connection>,
        request: &TurnRequest,
        permissions: &mut JoinSet<()>,
    ) -> Result<(), Stop> {
        match message {
            SessionMessage::Update(update) => self.on_update(update).await,
            SessionMessage::Permission { id, request: asked } => {
                let known = self
                    .tools
                    .get(&asked.tool_call.tool_call_id)
                    .map(|t| t.name.clone());
                let tool = asked
                    .tool_call
                    .name()
                    .or(known)
                    .unwrap_or_else(|| "tool".to_owned());
                let ctx = ToolContext::new(
                    request.session_id.clone(),
                    asked.tool_call.tool_call_id.clone(),
                    self.cancel.child_token(),
                )
                .with_approvals(
                    tool,
                    self.control.approvals().clone(),
                    self.events.clone(),
                    self.shared.config.approval_timeout(),
                )
                // Grants the user gave ("for this session", "always") apply
                // to the agent's requests too; the key is the tool's title.
                .with_approval_policy(request.approval_policy.clone());
                permissions.spawn(answer_permission(
                    connection.clone(),
                    id,
                    asked,
                    ctx,
                    self.cancel_sent.clone(),
                ));
                Ok(())
            }
        }
    }

    async fn on_update(&mut self, update: Update) -> Result<(), Stop> {
        match update {
            Update::AgentMessage(text) => self.text_delta(text).await,
            Update::AgentThought(text) => {
                // Hidden like think blocks: the chat sees the answer only.
                tracing::debug!(target: LOG_TARGET, thought = %text, "agent thought");
                Ok(())
            }
            Update::ToolCall(call) => {
                if !self.tools.contains_key(&call.tool_call_id) {
                    let name = call.name().unwrap_or_else(|| "tool".to_owned());
                    self.start_tool(&call.tool_call_id, name, call.arguments())
                        .await?;
                }
                self.finish_tool_if_done(&call).await
            }
            Update::ToolCallUpdate(call) => {
                if !self.tools.contains_key(&call.tool_call_id) {
                    let Some(name) = call.name() else {
                        tracing::debug!(target: LOG_TARGET, call = %call.tool_call_id, "update of an unknown tool call");
                        return Ok(());
                    };
                    self.start_tool(&call.tool_call_id, name, call.arguments())
                        .await?;
                }
                self.finish_tool_if_done(&call).await
            }
            Update::Plan(entries) => self.plan(&entries).await,
            Update::Other(kind) => {
                tracing::debug!(target: LOG_TARGET, kind, "session update not shown");
                Ok(())
            }
        }
    }

    async fn text_delta(&mut self, text: String) -> Result<(), Stop> {
        // Agents often open the text after a tool call with blank lines of
        // their own; hermod separates segments itself.
        let text = if self.current.is_empty() {
            text.trim_start_matches(['\n', '\r']).to_owned()
        } else {
            text
        };
        if text.is_empty() {
            return Ok(());
        }
        self.current.push_str(&text);
        self.emit(AgentEvent::TextDelta(text)).await
    }

    /// Closes the text segment before a tool call or plan.
    async fn segment_break(&mut self) -> Result<(), Stop> {
        if self.current.is_empty() {
            return Ok(());
        }
        self.segments.push(std::mem::take(&mut self.current));
        self.emit(AgentEvent::SegmentBreak).await
    }

    async fn start_tool(&mut self, id: &str, name: String, arguments: String) -> Result<(), Stop> {
        self.segment_break().await?;
        self.tools.insert(
            id.to_owned(),
            SeenTool {
                name: name.clone(),
                finished: false,
            },
        );
        self.emit(AgentEvent::ToolStarted {
            call_id: id.to_owned(),
            name,
            arguments,
        })
        .await
    }

    async fn finish_tool_if_done(&mut self, call: &protocol::ToolCallUpdate) -> Result<(), Stop> {
        if !call.is_done() {
            return Ok(());
        }
        let Some(seen) = self.tools.get_mut(&call.tool_call_id) else {
            return Ok(());
        };
        if seen.finished {
            return Ok(());
        }
        seen.finished = true;
        let event = AgentEvent::ToolFinished {
            call_id: call.tool_call_id.clone(),
            name: seen.name.clone(),
            result: call.output_text(),
            is_error: call.status.as_deref() == Some("failed"),
        };
        self.emit(event).await
    }

    /// Ends the tool calls the agent left running when the turn was
    /// interrupted, so no progress line stays open.
    async fn end_open_tools(&mut self) -> Result<(), Stop> {
        let mut open: Vec<(String, String)> = self
            .tools
            .iter_mut()
            .filter(|(_, seen)| !seen.finished)
            .map(|(id, seen)| {
                seen.finished = true;
                (id.clone(), seen.name.clone())
            })
            .collect();
        open.sort();
        for (call_id, name) in open {
            self.emit(AgentEvent::ToolFinished {
                call_id,
                name,
                result: INTERRUPTED_RESULT.to_owned(),
                is_error: true,
            })
            .await?;
        }
        Ok(())
    }

    /// A plan is shown as tool progress: started and finished at once.
    async fn plan(&mut self, entries: &[PlanEntry]) -> Result<(), Stop> {
        self.segment_break().await?;
        self.plans += 1;
        let call_id = format!("plan-{}", self.plans);
        let arguments = entries
            .iter()
            .map(|e| format!("[{}] {}", e.status, e.content))
            .collect::<Vec<_>>()
            .join("\n");
        self.emit(AgentEvent::ToolStarted {
            call_id: call_id.clone(),
            name: "plan".to_owned(),
            arguments,
        })
        .await?;
        self.emit(AgentEvent::ToolFinished {
            call_id,
            name: "plan".to_owned(),
            result: String::new(),
            is_error: false,
        })
        .await
    }
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Asks the user through hermod's approvals and answers the agent: its
/// `allow_once` option when approved, `reject_once` when denied or timed
/// out, `cancelled` when the turn was interrupted.
async fn answer_permission(
    connection: Arc<Connection>,
    id: Value,
    request: PermissionRequest,
    ctx: ToolContext,
    cancel_sent: CancellationToken,
) {
    let description = describe(&request);
    let decision = tokio::select! {
        biased;
        () = cancel_sent.cancelled() => None,
        decision = ctx.request_approval(description) => Some(decision),
    };
    if ctx.cancel.is_cancelled() {
        // Interrupted while the user was being asked: the answer waits for
        // `session/cancel` to go out first.
        cancel_sent.cancelled().await;
    }
    let option = match &decision {
        None => None,
        Some(_) if ctx.cancel.is_cancelled() => None,
        Some(decision) if decision.is_approved() => {
            request.option_of(&["allow_once", "allow_always"])
        }
        Some(_) => request.option_of(&["reject_once", "reject_always"]),
    };
    tracing::info!(
        target: LOG_TARGET,
        tool_call = %request.tool_call.tool_call_id,
        approved = decision.as_ref().is_some_and(|d| d.is_approved()),
        option = option.unwrap_or("cancelled"),
        "answered a permission request"
    );
    if let Err(err) = connection
        .respond(id, protocol::permission_outcome(option))
        .await
    {
        tracing::debug!(target: LOG_TARGET, error = %err, "permission answer not sent");
    }
}

/// What the agent wants to do, for the user: the tool call's content (an
/// agent usually shows the command there), else its title, else its input.
fn describe(request: &PermissionRequest) -> String {
    let call = &request.tool_call;
    let content = call.output_text();
    if !content.trim().is_empty() {
        return content;
    }
    if let Some(title) = call.title.as_deref().filter(|t| !t.trim().is_empty()) {
        return title.to_owned();
    }
    let arguments = call.arguments();
    if arguments.is_empty() {
        "the agent asks for permission".to_owned()
    } else {
        arguments
    }
}
