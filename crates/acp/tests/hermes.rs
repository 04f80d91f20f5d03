//! The ACP client against the real Hermes agent (`hermes acp`, PyPI
//! `hermes-agent[acp]==0.19.0`) whose model is the testkit's scripted
//! `FakeLlm`. The path of `hermes` comes from `HERMOD_ACP_HERMES` (`.ci/run`
//! installs it): without it each test says it is skipped, except under CI,
//! where it fails, so CI cannot pass them by accident.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use hermod_acp::{AcpAgent, AcpConfig};
use hermod_agent::{AgentError, AgentEvent, ApprovalDecision, FinishReason};
use hermod_model::{ChatMessage, Secret};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;
use support::*;

/// True (the test skips, saying why) when `hermes` is not configured,
/// outside CI; under CI that fails.
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
fn skipped() -> bool {
    if std::env::var_os("HERMOD_ACP_HERMES").is_some_and(|p| !p.is_empty()) {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "HERMOD_ACP_HERMES is needed under CI (.ci/run installs hermes-agent[acp])"
    );
    eprintln!("skipped: HERMOD_ACP_HERMES is not set (the `hermes` of hermes-agent[acp]==0.19.0)");
    true
}

fn hermes_binary() -> PathBuf {
    match std::env::var_os("HERMOD_ACP_HERMES") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "HERMOD_ACP_HERMES is not set: point it at the `hermes` binary of \
             `pip install 'hermes-agent[acp]==0.19.0'` (e.g. ~/.cache/hermod/venv-acp/bin/hermes) \
             to run the ACP tests against Hermes"
        ),
    }
}

/// Hermes in a temporary home, on the fake model, working in `work`.
struct Hermes {
    llm: FakeLlm,
    agent: AcpAgent,
    work: tempfile::TempDir,
    home: tempfile::TempDir,
}

async fn hermes() -> Hermes {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let agent = AcpAgent::new(hermes_config(&llm, &home, &work), store());
    Hermes {
        llm,
        agent,
        work,
        home,
    }
}

fn hermes_config(llm: &FakeLlm, home: &tempfile::TempDir, work: &tempfile::TempDir) -> AcpConfig {
    let binary = hermes_binary();
    // `approvals.mode: manual`: Hermes' default (`smart`) asks an
    // auxiliary model first, which would eat the scripted replies; so would
    // the session titles it generates in the background.
    std::fs::write(
        home.path().join("config.yaml"),
        format!(
            "model:\n  provider: custom\n  base_url: {}\n  api_key: test\n  default: fake-model\n  context_length: 131072\napprovals:\n  mode: manual\nauxiliary:\n  title_generation:\n    enabled: false\n",
            llm.base_url()
        ),
    )
    .unwrap();
    let mut config = AcpConfig::new(binary.display().to_string(), ["acp"]);
    config.env.insert(
        "HERMES_HOME".into(),
        Secret::new(home.path().display().to_string()),
    );
    config
        .env
        .insert("TIRITH_ENABLED".into(), Secret::new("false"));
    config.cwd = Some(work.path().to_path_buf());
    config.approval_timeout_secs = 30;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_from_the_model_streams_through_hermes() {
    if skipped() {
        return;
    }
    let h = hermes().await;
    h.llm
        .push(Reply::text("Hello from the fake model, streamed in pieces.").chunk_size(6));
    let events = say(&h.agent, "s1", "say hello").await;
    let AgentEvent::Final(outcome) = last(&events) else {
        panic!("{events:?}")
    };
    assert_eq!(outcome.finish_reason, FinishReason::Stop);
    assert_eq!(
        outcome.text,
        "Hello from the fake model, streamed in pieces."
    );
    assert_eq!(shown(&events), outcome.text);
    let deltas = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::TextDelta(_)))
        .count();
    assert!(deltas > 1, "streamed, not in one piece: {events:?}");
    // The user's text reached the model.
    let asked = h.llm.requests();
    assert!(
        asked[0]
            .messages()
            .iter()
            .any(|m| m["role"] == "user" && m["content"].to_string().contains("say hello")),
        "{:?}",
        asked[0].messages()
    );
    let caps = h.agent.capabilities().await.unwrap();
    assert!(caps.load_session && caps.prompt_capabilities.image);
    h.agent.shutdown().await;
}

/// The model asks Hermes' terminal tool to delete `work/x`; hermod's
/// approval decides.
async fn delete_with(h: &Hermes, decision: ApprovalDecision) -> (Vec<AgentEvent>, bool) {
    let target = h.work.path().join("x");
    std::fs::create_dir_all(target.join("inner")).unwrap();
    let command = format!("rm -rf {}", target.display());
    h.llm.push_all([
        Reply::tool_call("terminal", json!({ "command": command })),
        Reply::text("Done with the directory."),
    ]);
    let mut asked = Vec::new();
    let events = run_turn(
        &h.agent,
        request("s1", ChatMessage::user("delete x"), vec![]),
        |event, control| {
            if let AgentEvent::ApprovalRequested {
                request_id,
                description,
                ..
            } = event
            {
                asked.push(description.clone());
                assert!(control.resolve_approval(request_id, decision.clone()));
            }
        },
    )
    .await;
    assert_eq!(asked.len(), 1, "{events:?}");
    assert!(asked[0].contains(&command), "{asked:?}");
    (events, target.exists())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dangerous_command_runs_only_when_approved() {
    if skipped() {
        return;
    }
    let h = hermes().await;
    let (events, exists) = delete_with(&h, ApprovalDecision::Approved).await;
    assert!(!exists, "approved: the directory is gone; {events:?}");
    // Hermes names the call after the command (its title).
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::ToolStarted { name, .. } if name.contains("rm -rf"))),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(e, AgentEvent::ToolFinished { result, is_error: false, .. } if result.contains("approved"))),
        "{events:?}"
    );
    assert!(
        matches!(last(&events), AgentEvent::Final(o) if o.text == "Done with the directory."),
        "{events:?}"
    );

    let (events, exists) = delete_with(&h, ApprovalDecision::denied("not today")).await;
    assert!(exists, "denied: the directory stays; {events:?}");
    assert!(matches!(last(&events), AgentEvent::Final(_)), "{events:?}");
    h.agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_cancels_the_running_prompt() {
    if skipped() {
        return;
    }
    let h = hermes().await;
    h.llm.push(
        Reply::text("one two three four five six seven eight nine ten eleven twelve")
            .chunk_size(4)
            .token_delay(Duration::from_millis(300)),
    );
    let events = run_turn(
        &h.agent,
        request("s1", ChatMessage::user("count slowly"), vec![]),
        |event, control| {
            if matches!(event, AgentEvent::TextDelta(_)) {
                control.interrupt();
            }
        },
    )
    .await;
    match last(&events) {
        AgentEvent::Final(outcome) => {
            assert_eq!(outcome.finish_reason, FinishReason::Interrupted);
            assert!(outcome.text.starts_with("one"), "{}", outcome.text);
            assert!(!outcome.text.contains("twelve"), "{}", outcome.text);
        }
        AgentEvent::Failed(AgentError::Cancelled) => {}
        other => panic!("{other:?}"),
    }

    // The session still answers.
    h.llm.push(Reply::text("still here"));
    let events = say(&h.agent, "s1", "you there?").await;
    assert!(
        matches!(last(&events), AgentEvent::Final(o) if o.text.contains("still here")),
        "{events:?}"
    );
    h.agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_gateway_continues_the_hermes_session() {
    if skipped() {
        return;
    }
    let h = hermes().await;
    let store = store();
    let config = hermes_config(&h.llm, &h.home, &h.work);
    let before = AcpAgent::new(config.clone(), store.clone());
    h.llm.push(Reply::text("Nice to meet you, Ada."));
    let events = say(&before, "s1", "My name is Ada.").await;
    assert!(matches!(last(&events), AgentEvent::Final(_)), "{events:?}");
    before.shutdown().await;

    // A new process loads the session: Hermes sends the model the earlier
    // exchange, and its replay of that history is not shown as new output.
    let after = AcpAgent::new(config, store);
    h.llm.push(Reply::text("You are Ada."));
    let events = say(&after, "s1", "What is my name?").await;
    assert_eq!(shown(&events), "You are Ada.");
    let requests = h.llm.requests();
    let last_request = requests.last().unwrap().messages().to_vec();
    let said = |role: &str, text: &str| {
        last_request
            .iter()
            .any(|m| m["role"] == role && m["content"].to_string().contains(text))
    };
    assert!(said("user", "My name is Ada."), "{last_request:?}");
    assert!(
        said("assistant", "Nice to meet you, Ada."),
        "{last_request:?}"
    );
    after.shutdown().await;
}
