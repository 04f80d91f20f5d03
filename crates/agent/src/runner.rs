//! [`LlmAgent`]: the built-in [`Agent`]: calls the model, runs the tools it
//! asks for, feeds the results back, and repeats until the model answers.

use crate::config::LlmConfig;
use crate::llm::{CallEnd, Completion, CompletionRequest, LlmClient};
use crate::summary::{FixedContext, SummaryError, SummaryFuture, SummaryRequest, summary_prompt};
use crate::tools::{ToolContext, ToolRegistry};
use crate::turn::{
    AgentError, AgentEvent, FinishReason, TurnControl, TurnHandle, TurnOutcome, TurnRequest,
};
use crate::{Agent, SEGMENT_SEPARATOR};
use hermod_model::{ChatMessage, Content, Role, ToolCall, TurnOptions, Usage};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Events buffered between the turn's task and its consumer.
const EVENT_BUFFER: usize = 256;

/// Why approval requests made after the turn ended are denied.
const TURN_OVER_REASON: &str = "the turn is over";

/// The result text given for tool calls a turn was interrupted before running.
const INTERRUPTED_RESULT: &str = "error: the turn was interrupted before this tool ran";

/// An [`Agent`] backed by an OpenAI-compatible model and a [`ToolRegistry`].
#[derive(Debug, Clone)]
pub struct LlmAgent {
    client: LlmClient,
    tools: Arc<ToolRegistry>,
}

impl LlmAgent {
    /// # Panics
    ///
    /// When the HTTP client cannot be built at all, which takes a broken
    /// TLS stack; see [`LlmAgent::try_new`].
    pub fn new(config: LlmConfig, tools: ToolRegistry) -> Self {
        Self::try_new(config, tools).expect("the HTTP client for the model can be built")
    }

    /// [`LlmAgent::new`] that reports a failure to build the HTTP client.
    pub fn try_new(config: LlmConfig, tools: ToolRegistry) -> Result<Self, AgentError> {
        Ok(Self {
            client: LlmClient::new(config)?,
            tools: Arc::new(tools),
        })
    }

    /// An agent that calls the model through `client`.
    pub fn with_client(client: LlmClient, tools: ToolRegistry) -> Self {
        Self {
            client,
            tools: Arc::new(tools),
        }
    }

    pub fn client(&self) -> &LlmClient {
        &self.client
    }

    pub fn tools(&self) -> &ToolRegistry {
        &self.tools
    }
}

impl Agent for LlmAgent {
    fn run_turn(&self, request: TurnRequest) -> TurnHandle {
        let (control, cancel, steer) = TurnControl::new();
        let (events, receiver) = mpsc::channel(EVENT_BUFFER);
        let turn = Turn {
            client: self.client.clone(),
            tools: self.tools.clone(),
            schemas: self.tools.schemas(),
            cancel,
            steer,
            control: control.clone(),
            events,
            produced: Vec::new(),
            segments: Vec::new(),
            usage: Usage::default(),
        };
        tokio::spawn(turn.run(request));
        TurnHandle {
            events: receiver,
            control,
        }
    }

    fn summarize(&self, request: SummaryRequest) -> SummaryFuture {
        let client = self.client.clone();
        Box::pin(async move { summarize(&client, request).await })
    }

    fn fixed_context(&self) -> FixedContext {
        FixedContext {
            system_prompt_chars: self
                .client
                .config()
                .system_prompt
                .as_deref()
                .map_or(0, |p| p.chars().count()),
            tools_chars: self
                .tools
                .schemas()
                .iter()
                .map(|schema| schema.to_string().chars().count())
                .sum(),
        }
    }
}

/// One tool-less model call with the summary prompt; its text is the
/// summary. No `max_tokens` is sent: a summary cut at a cap is worse than
/// one a little long.
async fn summarize(client: &LlmClient, request: SummaryRequest) -> Result<String, SummaryError> {
    let messages = [ChatMessage::user(summary_prompt(&request))];
    let options = TurnOptions {
        max_tokens: None,
        ..request.options
    };
    let call = CompletionRequest {
        messages: &messages,
        tools: &[],
        options: &options,
    };
    // The call streams its text as events; nobody shows it, but the
    // receiver must stay open (a closed one cancels the call).
    let (events, mut shown) = mpsc::channel(EVENT_BUFFER);
    let drain = async { while shown.recv().await.is_some() {} };
    let complete = async {
        let result = client
            .complete(&call, &CancellationToken::new(), &events)
            .await;
        drop(events);
        result
    };
    let (result, ()) = tokio::join!(complete, drain);
    let completion = result?;
    // A reasoning model's thinking is no part of the summary.
    let visible = hermod_model::text::strip_think(&completion.text);
    let text = visible.trim();
    if completion.end != CallEnd::Finished || completion.is_truncated() {
        return Err(SummaryError::Model(AgentError::Transient(
            "the summary's answer was cut off".to_owned(),
        )));
    }
    if text.is_empty() {
        return Err(SummaryError::Empty);
    }
    Ok(text.to_owned())
}

/// Why the loop stopped without an outcome.
enum Stop {
    Failed(AgentError),
    /// The consumer dropped the events receiver: end quietly.
    Gone,
    /// Interrupted through [`TurnControl::interrupt`].
    Interrupted,
}

/// The state of one running turn.
struct Turn {
    client: LlmClient,
    tools: Arc<ToolRegistry>,
    schemas: Vec<Value>,
    cancel: CancellationToken,
    steer: mpsc::UnboundedReceiver<String>,
    /// The turn's own control: its approval registry, and where undelivered
    /// steering goes when the turn fails.
    control: TurnControl,
    events: mpsc::Sender<AgentEvent>,
    /// Messages the turn produced so far.
    produced: Vec<ChatMessage>,
    /// The non-empty text of each model call.
    segments: Vec<String>,
    usage: Usage,
}

impl Turn {
    async fn run(mut self, request: TurnRequest) {
        let result = self.run_loop(&request).await;
        // From here on `steer` returns false; whatever it queued before is
        // handed back instead of being lost.
        self.control.approvals().close(TURN_OVER_REASON);
        self.steer.close();
        let mut unused = Vec::new();
        while let Ok(text) = self.steer.try_recv() {
            if !text.trim().is_empty() {
                unused.push(text);
            }
        }
        let last = match result {
            Ok(finish) => AgentEvent::Final(self.outcome(finish, unused)),
            Err(Stop::Interrupted) if !self.segments.is_empty() => {
                AgentEvent::Final(self.outcome(FinishReason::Interrupted, unused))
            }
            Err(stop) => {
                self.control.set_unused_steer(unused);
                match stop {
                    Stop::Gone => return,
                    Stop::Failed(err) => AgentEvent::Failed(err),
                    Stop::Interrupted => AgentEvent::Failed(AgentError::Cancelled),
                }
            }
        };
        // Nobody may be listening any more; nothing left to do either way.
        let _ = self.events.send(last).await;
    }

    fn outcome(&mut self, finish_reason: FinishReason, unused_steer: Vec<String>) -> TurnOutcome {
        TurnOutcome {
            text: self.segments.join(SEGMENT_SEPARATOR),
            messages: std::mem::take(&mut self.produced),
            usage: self.usage,
            finish_reason,
            unused_steer,
        }
    }

    async fn emit(&self, event: AgentEvent) -> Result<(), Stop> {
        self.events.send(event).await.map_err(|_| Stop::Gone)
    }

    /// The stop reason for a cancellation seen by the model client.
    fn cancelled(&self) -> Stop {
        if self.events.is_closed() {
            Stop::Gone
        } else {
            Stop::Interrupted
        }
    }

    async fn run_loop(&mut self, request: &TurnRequest) -> Result<FinishReason, Stop> {
        let mut conversation =
            initial_messages(self.client.config().system_prompt.as_deref(), request);
        let max_iterations = self.client.config().max_iterations.max(1);
        for iteration in 0..max_iterations {
            if self.cancel.is_cancelled() {
                return Err(Stop::Interrupted);
            }
            if iteration > 0 {
                // Right before the model reads the last tool round's results.
                self.inject_steering(&mut conversation);
            }
            let call = CompletionRequest {
                messages: &conversation,
                tools: &self.schemas,
                options: &request.options,
            };
            let began = tokio::time::Instant::now();
            let result = self
                .client
                .complete(&call, &self.cancel, &self.events)
                .await;
            if let Some(observer) = &request.model_calls {
                match &result {
                    Err(AgentError::Cancelled) => {}
                    Ok(_) => observer.model_call(began.elapsed(), None),
                    Err(err) => observer.model_call(began.elapsed(), Some(err)),
                }
            }
            let completion = match result {
                Ok(completion) => completion,
                Err(AgentError::Cancelled) => return Err(self.cancelled()),
                Err(err) => return Err(Stop::Failed(err)),
            };
            if let Some(usage) = completion.usage {
                self.usage.add(usage);
                self.emit(AgentEvent::Usage(usage)).await?;
            }
            if !completion.text.is_empty() {
                self.segments.push(completion.text.clone());
            }
            let end = match completion.end {
                CallEnd::Finished if !completion.tool_calls.is_empty() => {
                    self.run_tools(completion, request, &mut conversation)
                        .await?;
                    continue;
                }
                CallEnd::Finished if completion.is_truncated() => Ok(FinishReason::Length),
                CallEnd::Finished => Ok(FinishReason::Stop),
                // Part of the answer was shown, so it is kept, as partial.
                CallEnd::Incomplete => Ok(FinishReason::Incomplete),
                CallEnd::Cancelled => Err(self.cancelled()),
            };
            self.produced.push(ChatMessage::assistant(completion.text));
            return end;
        }
        Ok(FinishReason::MaxIterations)
    }

    /// Records the assistant's tool calls, runs them and records the results.
    async fn run_tools(
        &mut self,
        completion: Completion,
        request: &TurnRequest,
        conversation: &mut Vec<ChatMessage>,
    ) -> Result<(), Stop> {
        if !completion.text.is_empty() {
            self.emit(AgentEvent::SegmentBreak).await?;
        }
        let assistant = ChatMessage {
            role: Role::Assistant,
            content: (!completion.text.is_empty()).then_some(Content::Text(completion.text)),
            tool_calls: completion.tool_calls.clone(),
            tool_call_id: None,
            name: None,
        };
        conversation.push(assistant.clone());
        self.produced.push(assistant);

        let mut interrupted = false;
        for call in &completion.tool_calls {
            interrupted = interrupted || self.cancel.is_cancelled();
            let result = if interrupted {
                INTERRUPTED_RESULT.to_owned()
            } else {
                self.run_tool(call, request).await?
            };
            let message = tool_message(call, result);
            conversation.push(message.clone());
            self.produced.push(message);
        }
        if interrupted || self.cancel.is_cancelled() {
            return Err(Stop::Interrupted);
        }
        Ok(())
    }

    /// Runs one call, announcing it with events; returns the result text.
    async fn run_tool(&self, call: &ToolCall, request: &TurnRequest) -> Result<String, Stop> {
        self.emit(AgentEvent::ToolStarted {
            call_id: call.id.clone(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
        })
        .await?;
        let ctx = ToolContext::new(
            request.session_id.clone(),
            call.id.clone(),
            self.cancel.child_token(),
        )
        .with_approvals(
            call.name.clone(),
            self.control.approvals().clone(),
            self.events.clone(),
            self.client.config().approval_timeout,
        )
        .with_approval_policy(request.approval_policy.clone());
        let (result, is_error) = tokio::select! {
            biased;
            () = self.cancel.cancelled() => (INTERRUPTED_RESULT.to_owned(), true),
            () = self.events.closed() => return Err(Stop::Gone),
            result = self.tools.execute(&call.name, &call.arguments, ctx) => result,
        };
        if is_error {
            tracing::debug!(tool = %call.name, "tool call failed");
        }
        self.emit(AgentEvent::ToolFinished {
            call_id: call.id.clone(),
            name: call.name.clone(),
            result: result.clone(),
            is_error,
        })
        .await?;
        Ok(result)
    }

    /// Appends text the user sent while tools ran to the last tool result
    /// (the last message of the conversation after a tool round).
    fn inject_steering(&mut self, conversation: &mut [ChatMessage]) {
        let mut texts = Vec::new();
        while let Ok(text) = self.steer.try_recv() {
            if !text.trim().is_empty() {
                texts.push(text);
            }
        }
        if texts.is_empty() {
            return;
        }
        let note = format!(
            "\n\n[The user sent this while the tool ran: {}]",
            texts.join("\n")
        );
        for message in [conversation.last_mut(), self.produced.last_mut()]
            .into_iter()
            .flatten()
        {
            if message.role == Role::Tool {
                let mut text = message.text();
                text.push_str(&note);
                message.content = Some(Content::Text(text));
            }
        }
    }
}

fn tool_message(call: &ToolCall, result: String) -> ChatMessage {
    ChatMessage {
        role: Role::Tool,
        content: Some(Content::Text(result)),
        tool_calls: Vec::new(),
        tool_call_id: Some(call.id.clone()),
        name: Some(call.name.clone()),
    }
}

/// System prompt (configured, then the turn's own), history, input.
fn initial_messages(configured: Option<&str>, request: &TurnRequest) -> Vec<ChatMessage> {
    let system: Vec<&str> = [configured, request.system_prompt.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect();
    let mut messages = Vec::with_capacity(request.history.len() + 2);
    if !system.is_empty() {
        messages.push(ChatMessage::system(system.join("\n\n")));
    }
    messages.extend(request.history.iter().cloned());
    messages.push(request.input.clone());
    messages
}
