//! Summaries for the gateway's context compression: one tool-less call
//! with the summary prompt, its text the summary.

use crate::support::*;
use hermod_agent::{
    Agent, AgentError, FixedContext, SummaryError, SummaryRequest, ToolRegistry, TurnHandle,
    TurnRequest,
};
use hermod_model::{ChatMessage, TurnOptions};
use hermod_testkit::{FakeLlm, Reply};
use std::sync::Arc;

fn ask(focus: Option<&str>) -> SummaryRequest {
    SummaryRequest {
        messages: vec![
            ChatMessage::user("my server is called tern"),
            ChatMessage::assistant("noted: tern"),
        ],
        previous: None,
        focus: focus.map(str::to_owned),
        target_tokens: 2000,
        options: TurnOptions {
            model: Some("session-model".into()),
            max_tokens: Some(50),
            reasoning_effort: Some("low".into()),
            ..TurnOptions::default()
        },
    }
}

#[tokio::test]
async fn a_summary_is_one_tool_less_call_with_the_prompt() {
    let fake = FakeLlm::start().await;
    fake.push(
        Reply::text("<think>What matters here?</think>## Goal\nName the server.").chunk_size(5),
    );
    let agent = new_agent(config(&fake), registry_with(Arc::new(Lookup::default())));
    let summary = agent.summarize(ask(Some("servers"))).await.unwrap();
    assert_eq!(summary, "## Goal\nName the server.");

    let sent = &fake.requests()[0];
    assert!(
        sent.body.get("tools").is_none(),
        "no tools in a summary call"
    );
    assert_eq!(sent.model(), Some("session-model"));
    assert_eq!(sent.body["reasoning_effort"], "low");
    assert!(
        sent.body.get("max_tokens").is_none(),
        "the summary is never capped"
    );
    let messages = sent.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["role"], "user");
    let prompt = messages[0]["content"].as_str().unwrap();
    assert!(
        prompt.contains("[USER]: my server is called tern"),
        "{prompt}"
    );
    assert!(prompt.contains("FOCUS: \"servers\""), "{prompt}");
}

#[tokio::test]
async fn a_failed_or_empty_summary_is_an_error() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::status(401));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    assert!(matches!(
        agent.summarize(ask(None)).await,
        Err(SummaryError::Model(AgentError::Auth { status: 401 }))
    ));
    fake.push(Reply::text("   "));
    assert!(matches!(
        agent.summarize(ask(None)).await,
        Err(SummaryError::Empty)
    ));
}

#[tokio::test]
async fn the_fixed_context_counts_the_system_prompt_and_tools() {
    let fake = FakeLlm::start().await;
    let bare = new_agent(config(&fake), ToolRegistry::new());
    assert_eq!(bare.fixed_context(), FixedContext::default());
    let agent = new_agent(
        hermod_agent::LlmConfig {
            system_prompt: Some("Be brief.".into()),
            ..config(&fake)
        },
        registry_with(Arc::new(Lookup::default())),
    );
    let fixed = agent.fixed_context();
    assert_eq!(fixed.system_prompt_chars, 9);
    assert!(fixed.tools_chars > 20, "{fixed:?}");
}

/// An agent that keeps its own context.
struct External;

impl Agent for External {
    fn run_turn(&self, _request: TurnRequest) -> TurnHandle {
        unreachable!("not run here")
    }
}

#[tokio::test]
async fn an_agent_that_keeps_its_own_context_cannot_summarize() {
    assert!(matches!(
        External.summarize(ask(None)).await,
        Err(SummaryError::Unsupported)
    ));
    assert_eq!(External.fixed_context(), FixedContext::default());
}
