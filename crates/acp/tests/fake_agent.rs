//! The ACP client against the scripted fake agent of the testkit: the
//! event mapping, sessions and their persistence, permissions, cancel,
//! crashes and restarts, malformed frames.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use hermod_acp::{AcpAgent, AcpConfig, setting_key};
use hermod_agent::{AgentError, AgentEvent, ApprovalDecision, FinishReason};
use hermod_model::{ChatMessage, Content, ContentPart, ImageUrl, Secret, Usage};
use hermod_testkit::acp::{FakeAcpScript, SCRIPT_ENV, Step, fake_acp_agent_path};
use serde_json::json;
use std::path::Path;
use support::*;

/// A config running the fake with `script` in `dir`.
fn fake(dir: &Path, script: &FakeAcpScript) -> AcpConfig {
    let path = script.write(dir).unwrap();
    let mut config = AcpConfig::new(
        fake_acp_agent_path().display().to_string(),
        Vec::<String>::new(),
    );
    config.env.insert(
        SCRIPT_ENV.to_owned(),
        Secret::new(path.display().to_string()),
    );
    config.cwd = Some(dir.to_path_buf());
    quick(config)
}

fn final_text(events: &[AgentEvent]) -> (String, FinishReason) {
    match last(events) {
        AgentEvent::Final(outcome) => (outcome.text.clone(), outcome.finish_reason),
        other => panic!("expected Final, got {other:?}"),
    }
}

fn prompts(dir: &Path) -> Vec<serde_json::Value> {
    FakeAcpScript::received_calls(dir, "session/prompt")
}

fn prompt_text(prompt: &serde_json::Value) -> String {
    prompt["params"]["prompt"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_reply_streams_with_tools_plans_and_hidden_thoughts() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new().turn([
        Step::Thought("let me think".into()),
        Step::text("Look"),
        Step::text("ing."),
        Step::tool_call("t1", "ls the dir", json!({"command": "ls"})),
        Step::tool_done("t1", "a b"),
        Step::Plan(vec!["read".into(), "write".into()]),
        Step::tool_call("t2", "write it", json!(null)),
        Step::ToolDone {
            id: "t2".into(),
            failed: true,
            output: "disk full".into(),
        },
        Step::text("Done."),
        Step::Stop {
            reason: "end_turn".into(),
            usage: Some((3, 4)),
        },
    ]);
    let mut config = fake(dir.path(), &script);
    config.system_prompt = Some("You are Ada.".into());
    let store = store();
    let agent = AcpAgent::new(config, store.clone());
    let events = say(&agent, "s1", "hello").await;

    let usage = Usage {
        prompt_tokens: 3,
        completion_tokens: 4,
        total_tokens: 7,
    };
    assert_eq!(
        events[..events.len() - 1],
        [
            AgentEvent::TextDelta("Look".into()),
            AgentEvent::TextDelta("ing.".into()),
            AgentEvent::SegmentBreak,
            AgentEvent::ToolStarted {
                call_id: "t1".into(),
                name: "ls the dir".into(),
                arguments: r#"{"command":"ls"}"#.into(),
            },
            AgentEvent::ToolFinished {
                call_id: "t1".into(),
                name: "ls the dir".into(),
                result: "a b".into(),
                is_error: false,
            },
            AgentEvent::ToolStarted {
                call_id: "plan-1".into(),
                name: "plan".into(),
                arguments: "[pending] read\n[pending] write".into(),
            },
            AgentEvent::ToolFinished {
                call_id: "plan-1".into(),
                name: "plan".into(),
                result: String::new(),
                is_error: false,
            },
            AgentEvent::ToolStarted {
                call_id: "t2".into(),
                name: "write it".into(),
                arguments: String::new(),
            },
            AgentEvent::ToolFinished {
                call_id: "t2".into(),
                name: "write it".into(),
                result: "disk full".into(),
                is_error: true,
            },
            AgentEvent::TextDelta("Done.".into()),
            AgentEvent::Usage(usage),
        ]
    );
    let AgentEvent::Final(outcome) = last(&events) else {
        panic!("{events:?}")
    };
    assert_eq!(outcome.text, "Looking.\n\nDone.");
    assert_eq!(outcome.finish_reason, FinishReason::Stop);
    assert_eq!(
        outcome.messages,
        [ChatMessage::assistant("Looking.\n\nDone.")]
    );
    assert_eq!(outcome.usage, usage);
    assert!(outcome.unused_steer.is_empty());

    // The first prompt of the session carries the system prompt.
    let sent = prompts(dir.path());
    assert_eq!(prompt_text(&sent[0]), "You are Ada.\n\nhello");
    let caps = agent.capabilities().await.unwrap();
    assert!(caps.load_session && !caps.prompt_capabilities.image);
    // initialize said: no file system, no terminal.
    let init = &FakeAcpScript::received_calls(dir.path(), "initialize")[0];
    assert_eq!(init["params"]["protocolVersion"], 1);
    assert_eq!(init["params"]["clientCapabilities"]["terminal"], false);
    agent.shutdown().await;
}

#[tokio::test]
async fn each_hermod_session_keeps_its_own_acp_session_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new()
        .turn([Step::text("one")])
        .turn([Step::text("two")])
        .turn([Step::text("three")]);
    let store = store();
    let mut config = fake(dir.path(), &script);
    config.system_prompt = Some("SYSTEM".into());
    let agent = AcpAgent::new(config, store.clone());
    assert_eq!(shown(&say(&agent, "s1", "a").await), "one");
    assert_eq!(shown(&say(&agent, "s1", "b").await), "two");
    assert_eq!(shown(&say(&agent, "s2", "c").await), "three");

    let created = FakeAcpScript::received_calls(dir.path(), "session/new");
    assert_eq!(created.len(), 2, "one ACP session per hermod session");
    assert_eq!(created[0]["params"]["mcpServers"], json!([]));
    assert_eq!(
        created[0]["params"]["cwd"],
        dir.path().display().to_string()
    );
    let sent = prompts(dir.path());
    let ids: Vec<_> = sent
        .iter()
        .map(|p| p["params"]["sessionId"].clone())
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert_ne!(ids[0], ids[2]);
    // Only a session's first prompt carries the system prompt.
    assert_eq!(prompt_text(&sent[0]), "SYSTEM\n\na");
    assert_eq!(prompt_text(&sent[1]), "b");
    let stored = store.setting(&setting_key(&session("s1"))).await.unwrap();
    assert_eq!(stored.as_deref(), ids[0].as_str());
    agent.shutdown().await;
}

#[tokio::test]
async fn permission_requests_go_through_hermod_approvals() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new()
        .turn([
            Step::text("asking. "),
            Step::permission("t1", "rm -rf /tmp/x"),
        ])
        .turn([Step::permission("t2", "rm -rf /tmp/y")])
        .turn([Step::permission("t3", "rm -rf /tmp/z")]);
    let mut config = fake(dir.path(), &script);
    config.approval_timeout_secs = 1;
    let agent = AcpAgent::new(config, store());

    // Approved, with a steering text sent meanwhile: it comes back unused.
    let events = run_turn(
        &agent,
        request("s1", ChatMessage::user("go"), vec![]),
        |event, control| {
            if let AgentEvent::ApprovalRequested {
                request_id,
                tool,
                description,
                ..
            } = event
            {
                assert_eq!(tool, "terminal");
                assert_eq!(description, "$ rm -rf /tmp/x");
                assert!(control.steer("also do this"));
                assert!(control.resolve_approval(request_id, ApprovalDecision::Approved));
            }
        },
    )
    .await;
    assert!(
        shown(&events).ends_with("permission: opt-allow-once"),
        "{events:?}"
    );
    let AgentEvent::Final(outcome) = last(&events) else {
        panic!("{events:?}")
    };
    assert_eq!(outcome.unused_steer, ["also do this"]);

    // Denied.
    let events = run_turn(
        &agent,
        request("s1", ChatMessage::user("go"), vec![]),
        |event, control| {
            if let AgentEvent::ApprovalRequested { request_id, .. } = event {
                control.resolve_approval(request_id, ApprovalDecision::denied("no"));
            }
        },
    )
    .await;
    assert_eq!(shown(&events), "permission: opt-reject");

    // Nobody answers: denied after the approval timeout.
    let events = say(&agent, "s1", "go").await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::ApprovalRequested { .. }))
    );
    assert_eq!(shown(&events), "permission: opt-reject");
    agent.shutdown().await;
}

#[tokio::test]
async fn an_interrupt_cancels_the_prompt_and_open_permission_requests() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new()
        .turn([Step::text("working"), Step::permission("t1", "sleep 100")])
        .turn([
            Step::tool_call("t2", "slow", json!({})),
            Step::WaitForCancel,
        ])
        .turn([Step::text("fresh")]);
    let agent = AcpAgent::new(fake(dir.path(), &script), store());

    // Text was shown: the turn ends as interrupted, with that text.
    let events = run_turn(
        &agent,
        request("s1", ChatMessage::user("go"), vec![]),
        |event, control| {
            if matches!(event, AgentEvent::ApprovalRequested { .. }) {
                control.interrupt();
            }
        },
    )
    .await;
    let (text, finish) = final_text(&events);
    assert_eq!(finish, FinishReason::Interrupted);
    assert!(text.starts_with("working"), "{text}");
    assert!(
        shown(&events).contains("permission: cancelled"),
        "{events:?}"
    );
    assert_eq!(
        FakeAcpScript::received_calls(dir.path(), "session/cancel").len(),
        1
    );

    // Nothing was shown: the turn is cancelled.
    let events = run_turn(
        &agent,
        request("s1", ChatMessage::user("go"), vec![]),
        |event, control| {
            if matches!(event, AgentEvent::ToolStarted { .. }) {
                control.interrupt();
            }
        },
    )
    .await;
    assert_eq!(
        events[1..],
        [
            AgentEvent::ToolFinished {
                call_id: "t2".into(),
                name: "slow".into(),
                result: "error: the turn was interrupted before this tool ended".into(),
                is_error: true,
            },
            AgentEvent::Failed(AgentError::Cancelled),
        ]
    );

    // The session goes on.
    assert_eq!(shown(&say(&agent, "s1", "again").await), "fresh");
    assert_eq!(
        FakeAcpScript::received_calls(dir.path(), "session/new").len(),
        1
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn an_error_answered_after_cancel_is_a_cancel_and_the_next_turn_gets_a_new_session() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new()
        .turn([
            Step::text("partial"),
            Step::WaitForCancel,
            Step::Error("Internal error: task cancelled".into()),
        ])
        .turn([Step::text("fresh")]);
    let store = store();
    let agent = AcpAgent::new(fake(dir.path(), &script), store.clone());
    let events = run_turn(
        &agent,
        request("s1", ChatMessage::user("go"), vec![]),
        |event, control| {
            if matches!(event, AgentEvent::TextDelta(_)) {
                control.interrupt();
            }
        },
    )
    .await;
    assert_eq!(
        final_text(&events),
        ("partial".into(), FinishReason::Interrupted)
    );
    let first = store.setting(&setting_key(&session("s1"))).await.unwrap();
    assert_eq!(first, None, "the broken session is forgotten");

    assert_eq!(shown(&say(&agent, "s1", "again").await), "fresh");
    assert_eq!(
        FakeAcpScript::received_calls(dir.path(), "session/new").len(),
        2
    );
    assert_eq!(
        FakeAcpScript::received_calls(dir.path(), "session/load").len(),
        0
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn a_crash_mid_turn_fails_the_turn_and_the_next_turn_restarts_and_loads_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new()
        .turn([Step::text("one")])
        .turn([
            Step::text("partial"),
            Step::crash(3, "fatal: out of cheese"),
        ])
        .turn([Step::text("back")]);
    let agent = AcpAgent::new(fake(dir.path(), &script), store());
    assert_eq!(shown(&say(&agent, "s1", "a").await), "one");

    let events = say(&agent, "s1", "b").await;
    let AgentEvent::Failed(AgentError::Process(message)) = last(&events) else {
        panic!("{events:?}")
    };
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(message.contains("fatal: out of cheese"), "{message}");

    // A new process; the session is loaded, its replayed history not shown.
    let events = say(&agent, "s1", "c").await;
    assert_eq!(shown(&events), "back");
    assert_eq!(
        FakeAcpScript::received_calls(dir.path(), "initialize").len(),
        2
    );
    let loads = FakeAcpScript::received_calls(dir.path(), "session/load");
    assert_eq!(loads.len(), 1);
    let sent = prompts(dir.path());
    assert_eq!(
        loads[0]["params"]["sessionId"],
        sent[0]["params"]["sessionId"]
    );
    assert_eq!(
        sent[2]["params"]["sessionId"],
        sent[0]["params"]["sessionId"]
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn a_restarted_gateway_loads_the_stored_session_or_starts_a_new_one_with_the_history() {
    for load_session in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let script = FakeAcpScript::new()
            .load_session(load_session)
            .turn([Step::text("first")])
            .turn([Step::text("second")]);
        let store = store();
        let mut config = fake(dir.path(), &script);
        config.system_prompt = Some("SYSTEM".into());
        let before = AcpAgent::new(config.clone(), store.clone());
        assert_eq!(shown(&say(&before, "s1", "hi").await), "first");
        before.shutdown().await;
        drop(before);

        let after = AcpAgent::new(config, store.clone());
        let history = vec![ChatMessage::user("hi"), ChatMessage::assistant("first")];
        let events = run_turn(
            &after,
            request("s1", ChatMessage::user("more"), history),
            |_, _| {},
        )
        .await;
        assert_eq!(shown(&events), "second", "load_session {load_session}");
        let loads = FakeAcpScript::received_calls(dir.path(), "session/load");
        let created = FakeAcpScript::received_calls(dir.path(), "session/new");
        let sent = prompts(dir.path());
        if load_session {
            assert_eq!((loads.len(), created.len()), (1, 1));
            assert_eq!(prompt_text(&sent[1]), "more");
        } else {
            assert_eq!((loads.len(), created.len()), (0, 2));
            // A new session learns the conversation from the first prompt.
            assert_eq!(
                prompt_text(&sent[1]),
                "SYSTEM\n\nThe conversation so far (for context):\nuser: hi\nassistant: first\n\nThe new message:\n\nmore"
            );
        }
        after.shutdown().await;
    }
}

#[tokio::test]
async fn malformed_frames_are_skipped_and_unknown_client_methods_refused() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new().turn([
        Step::Raw("this is not json".into()),
        Step::Raw(r#"{"jsonrpc":"2.0"}"#.into()),
        Step::Raw(r#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":1}}"#.into()),
        Step::text("still here. "),
        Step::ReadFile("/etc/hostname".into()),
    ]);
    let agent = AcpAgent::new(fake(dir.path(), &script), store());
    let events = say(&agent, "s1", "go").await;
    assert_eq!(
        final_text(&events),
        ("still here. fs: -32601".into(), FinishReason::Stop)
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn stop_reasons_map_to_finish_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new()
        .turn([Step::text("cut"), Step::stop("max_tokens")])
        .turn([Step::text("busy"), Step::stop("max_turn_requests")])
        .turn([Step::text("No."), Step::stop("refusal")])
        .turn([Step::stop("refusal")]);
    let agent = AcpAgent::new(fake(dir.path(), &script), store());
    assert_eq!(
        final_text(&say(&agent, "s1", "a").await),
        ("cut".into(), FinishReason::Length)
    );
    assert_eq!(
        final_text(&say(&agent, "s1", "b").await),
        ("busy".into(), FinishReason::MaxIterations)
    );
    let refused = say(&agent, "s1", "c").await;
    assert_eq!(
        final_text(&refused),
        (
            "No.\n\n[The agent refused to continue this request.]".into(),
            FinishReason::Stop
        )
    );
    assert_eq!(
        shown(&refused),
        "No.\n\n[The agent refused to continue this request.]"
    );
    assert_eq!(
        final_text(&say(&agent, "s1", "d").await).0,
        "[The agent refused to continue this request.]"
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn images_are_sent_only_to_agents_that_take_them() {
    let input = ChatMessage::user(Content::Parts(vec![
        ContentPart::Text {
            text: "what is it?".into(),
        },
        ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: "data:image/png;base64,iVBORw0KGgo=".into(),
                detail: None,
            },
        },
    ]));
    for image in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let script = FakeAcpScript::new()
            .image(image)
            .turn([Step::text("a cat")]);
        let agent = AcpAgent::new(fake(dir.path(), &script), store());
        let events = run_turn(&agent, request("s1", input.clone(), vec![]), |_, _| {}).await;
        assert_eq!(shown(&events), "a cat");
        let prompt = &prompts(dir.path())[0]["params"]["prompt"];
        if image {
            assert_eq!(prompt[0], json!({"type": "text", "text": "what is it?"}));
            assert_eq!(
                prompt[1],
                json!({"type": "image", "mimeType": "image/png", "data": "iVBORw0KGgo="})
            );
        } else {
            assert_eq!(prompt.as_array().unwrap().len(), 1);
            assert_eq!(
                prompt[0]["text"],
                "what is it?\n\n[An image was left out: this agent does not accept images.]"
            );
        }
        agent.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn restarts_back_off_exponentially() {
    let mut config = AcpConfig::new("/nonexistent/acp-agent", ["acp"]);
    config.restart_backoff_secs = 2;
    config.restart_backoff_max_secs = 5;
    let agent = AcpAgent::new(config, store());
    let start = tokio::time::Instant::now();
    let mut waits = Vec::new();
    for _ in 0..5 {
        let began = tokio::time::Instant::now();
        let events = say(&agent, "s1", "hi").await;
        let AgentEvent::Failed(AgentError::Process(message)) = last(&events) else {
            panic!("{events:?}")
        };
        assert!(
            message.contains("cannot start the ACP agent `/nonexistent/acp-agent`"),
            "{message}"
        );
        waits.push(began.elapsed().as_secs());
    }
    assert_eq!(waits, [0, 2, 4, 5, 5]);
    assert_eq!(start.elapsed().as_secs(), 16);

    // An interrupt while waiting ends the turn at once.
    let began = tokio::time::Instant::now();
    let mut handle =
        hermod_agent::Agent::run_turn(&agent, request("s1", ChatMessage::user("x"), vec![]));
    handle.control.interrupt();
    assert_eq!(
        handle.events.recv().await,
        Some(AgentEvent::Failed(AgentError::Cancelled))
    );
    assert_eq!(began.elapsed().as_secs(), 0);
}

/// Waits (bounded) until `condition` holds; what is awaited happens in
/// another process, so it is polled.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..400 {
        if condition() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{what} did not happen within 10 s");
}

/// Whether `pid` is a running process (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[tokio::test]
async fn shutdown_kills_the_agent_and_what_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new()
        .turn([Step::SpawnSleeper, Step::text("started a tool")])
        .turn([Step::text("again")]);
    let agent = AcpAgent::new(fake(dir.path(), &script), store());
    assert_eq!(shown(&say(&agent, "s1", "go").await), "started a tool");
    let sleeper = FakeAcpScript::sleeper_pid(dir.path()).unwrap();
    assert!(alive(sleeper));
    assert!(agent.capabilities().await.is_some());

    agent.shutdown().await;
    assert!(agent.capabilities().await.is_none());
    eventually("the agent's tool process ends", || !alive(sleeper)).await;

    // A later turn starts the agent again.
    assert_eq!(shown(&say(&agent, "s1", "more").await), "again");
    assert_eq!(
        FakeAcpScript::received_calls(dir.path(), "initialize").len(),
        2
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn sessions_run_side_by_side_on_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new()
        .turn([Step::Sleep(300), Step::text("first answer")])
        .turn([Step::Sleep(300), Step::text("second answer")]);
    let agent = AcpAgent::new(fake(dir.path(), &script), store());
    let (a, b) = tokio::join!(say(&agent, "s1", "a"), say(&agent, "s2", "b"));
    let mut answers = [shown(&a), shown(&b)];
    answers.sort();
    assert_eq!(answers, ["first answer", "second answer"]);
    assert_eq!(
        FakeAcpScript::received_calls(dir.path(), "initialize").len(),
        1
    );
    assert_eq!(
        FakeAcpScript::received_calls(dir.path(), "session/new").len(),
        2
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn a_consumer_that_leaves_cancels_the_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new().turn([Step::text("a"), Step::WaitForCancel, Step::text("b")]);
    let agent = AcpAgent::new(fake(dir.path(), &script), store());
    let mut handle =
        hermod_agent::Agent::run_turn(&agent, request("s1", ChatMessage::user("go"), vec![]));
    assert_eq!(
        handle.events.recv().await,
        Some(AgentEvent::TextDelta("a".into()))
    );
    drop(handle);
    eventually("session/cancel reaches the agent", || {
        FakeAcpScript::received_calls(dir.path(), "session/cancel").len() == 1
    })
    .await;
    agent.shutdown().await;
}

#[tokio::test]
async fn a_session_the_agent_lost_is_started_anew_with_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new()
        .load_unknown_as_null()
        .turn([Step::text("first")])
        .turn([Step::text("second")]);
    let store = store();
    let config = fake(dir.path(), &script);
    let before = AcpAgent::new(config.clone(), store.clone());
    assert_eq!(shown(&say(&before, "s1", "hi").await), "first");
    before.shutdown().await;
    FakeAcpScript::forget_sessions(dir.path());

    let after = AcpAgent::new(config, store.clone());
    let history = vec![ChatMessage::user("hi"), ChatMessage::assistant("first")];
    let events = run_turn(
        &after,
        request("s1", ChatMessage::user("more"), history),
        |_, _| {},
    )
    .await;
    assert_eq!(shown(&events), "second");
    assert_eq!(
        FakeAcpScript::received_calls(dir.path(), "session/load").len(),
        1
    );
    assert_eq!(
        FakeAcpScript::received_calls(dir.path(), "session/new").len(),
        2
    );
    let sent = prompts(dir.path());
    assert!(prompt_text(&sent[1]).contains("user: hi\nassistant: first"));
    let stored = store.setting(&setting_key(&session("s1"))).await.unwrap();
    assert_eq!(stored.as_deref(), sent[1]["params"]["sessionId"].as_str());
    after.shutdown().await;
}

#[tokio::test]
async fn a_frame_too_long_ends_the_connection_and_the_next_turn_restarts_it() {
    let dir = tempfile::tempdir().unwrap();
    let script = FakeAcpScript::new()
        .turn([
            Step::text("before"),
            Step::Raw("x".repeat(17 * 1024 * 1024)),
        ])
        .turn([Step::text("after")]);
    let agent = AcpAgent::new(fake(dir.path(), &script), store());
    let events = say(&agent, "s1", "go").await;
    let AgentEvent::Failed(AgentError::Protocol(message)) = last(&events) else {
        panic!("{:?}", last(&events))
    };
    assert!(message.contains("exceeded 16777216 bytes"), "{message}");
    assert_eq!(shown(&say(&agent, "s1", "again").await), "after");
    assert_eq!(
        FakeAcpScript::received_calls(dir.path(), "initialize").len(),
        2
    );
    agent.shutdown().await;
}
