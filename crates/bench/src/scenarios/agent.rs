//! What the agent side adds to a turn, through the API server:
//!
//! - `tool-call`: the round trip of one tool call. The same sequential
//!   turns run twice on one gateway, first plain (the fake LLM echoes),
//!   then each with one call of the built-in `memory` tool (`list`, a
//!   store read) before the echo: the difference of the gateway's overhead
//!   per turn (client time minus the fake LLM's time) is what a tool call
//!   costs hermod — the second model request, the tool itself, and
//!   persisting the call and its result.
//! - `acp-turn`: a turn answered by an external agent over ACP (the
//!   testkit's `fake-acp-agent`, scripted to answer at once) instead of
//!   the model: the client's time per turn is hermod's part plus the
//!   fake's, beside the overhead of the same turns on hermod's own agent.

use crate::report::{Metric, Report, percentile};
use crate::scenarios::api::Chat;
use crate::scenarios::progress;
use crate::target::{Running, Target};
use anyhow::{Context, bail};
use hermod_testkit::acp::{FakeAcpScript, SCRIPT_ENV, Step};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Turns per session, as in the API scenarios.
const SESSION_TURNS: usize = crate::scenarios::api::SESSION_TURNS;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn session(scenario: &str, turn: usize) -> String {
    format!("bench-{scenario}-{}", turn / SESSION_TURNS)
}

/// Runs `turns` sequential turns; `before` scripts each turn's replies.
/// Returns each turn's overhead (client time minus time in the fake LLM)
/// and client time, in ms.
async fn turns_on(
    llm: &FakeLlm,
    running: &Running,
    scenario: &str,
    turns: usize,
    before: impl Fn(&FakeLlm),
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let chat = Chat::new(running)?;
    let mut overheads = Vec::with_capacity(turns);
    let mut client = Vec::with_capacity(turns);
    for i in 0..turns {
        before(llm);
        let text = format!("{scenario} turn {i}");
        let busy_before = llm.busy_time();
        let sent = Instant::now();
        chat.turn(&session(scenario, i), &text)
            .await
            .with_context(|| format!("{scenario} turn {i}"))?;
        let elapsed = sent.elapsed();
        client.push(ms(elapsed));
        overheads.push(ms(elapsed.saturating_sub(llm.busy_time() - busy_before)));
    }
    Ok((overheads, client))
}

/// The round trip of one tool call: plain turns, then turns with a tool call.
pub async fn tool_call(target: &Target, turns: usize) -> anyhow::Result<Report> {
    progress(&format!(
        "tool-call: {turns} plain turns, then {turns} with a tool call"
    ));
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::echo());
    let running = target.start(&llm.base_url(), &[]).await?;
    let result = async {
        let chat = Chat::new(&running)?;
        chat.turn("bench-warmup", "warm up")
            .await
            .context("the warm-up turn")?;
        let (mut plain, _) = turns_on(&llm, &running, "plain", turns, |_| {}).await?;
        let calls_before = llm.request_count();
        let (mut tooled, _) = turns_on(&llm, &running, "tooled", turns, |llm| {
            llm.push_all([
                Reply::tool_call("memory", json!({"action": "list"})),
                Reply::echo(),
            ]);
        })
        .await?;
        let calls = llm.request_count() - calls_before;
        if calls != 2 * turns {
            bail!("expected two model requests per tool turn, saw {calls} for {turns} turns");
        }
        let plain_p50 = percentile(&mut plain, 50.0);
        let tooled_p50 = percentile(&mut tooled, 50.0);
        Ok(vec![
            Metric::new("plain_overhead_p50", plain_p50, "ms"),
            Metric::new("tool_turn_overhead_p50", tooled_p50, "ms"),
            Metric::new(
                "tool_turn_overhead_p95",
                percentile(&mut tooled, 95.0),
                "ms",
            ),
            Metric::new("tool_call_round_trip_p50", tooled_p50 - plain_p50, "ms"),
        ])
    }
    .await;
    running.stop().await;
    Ok(Report {
        scenario: "tool-call".into(),
        target: target.kind.name().into(),
        parameters: json!({
            "turns": turns,
            "tool": "memory (list)",
            "turns_per_session": SESSION_TURNS,
            "llm": "in-process fake, instant echo",
        }),
        metrics: result?,
        failures: Vec::new(),
    })
}

/// `fake-acp-agent` next to this program (the testkit builds it there).
fn fake_acp_agent() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating hermod-bench")?;
    let path = exe
        .parent()
        .context("hermod-bench has no directory")?
        .join(format!("fake-acp-agent{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        bail!(
            "the fake ACP agent is missing at {}: build it: cargo build -p hermod-testkit \
             --no-default-features --bin fake-acp-agent (with --release for a release bench)",
            path.display()
        );
    }
    Ok(path)
}

/// Turns answered by a fake ACP agent, beside the same turns on hermod's
/// own agent against the fake LLM.
pub async fn acp_turn(target: &Target, turns: usize) -> anyhow::Result<Report> {
    progress(&format!(
        "acp-turn: {turns} turns on the built-in agent, then on an ACP agent"
    ));
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::echo());
    let running = target.start(&llm.base_url(), &[]).await?;
    let builtin = async {
        let chat = Chat::new(&running)?;
        chat.turn("bench-warmup", "warm up")
            .await
            .context("the warm-up turn")?;
        turns_on(&llm, &running, "llm", turns, |_| {}).await
    }
    .await;
    running.stop().await;
    let (mut llm_overheads, _) = builtin?;

    // The fake plays one scripted turn per prompt, in order: the warm-up,
    // then one echo per turn.
    let home = Arc::new(tempfile::tempdir()?);
    let mut script = FakeAcpScript::new().turn([Step::text("echo: warm up")]);
    for i in 0..turns {
        script = script.turn([Step::text(format!("echo: acp turn {i}"))]);
    }
    let script_dir = home.path().join("acp");
    std::fs::create_dir_all(&script_dir)?;
    let script_path = script.write(&script_dir)?;
    let config = json!({
        "agent": {"kind": "acp", "acp": {
            "command": fake_acp_agent()?.display().to_string(),
            "cwd": script_dir.display().to_string(),
            "env": {SCRIPT_ENV: script_path.display().to_string()},
        }},
    });
    std::fs::write(home.path().join("config.yaml"), config.to_string())?;
    let running = target.start_in(home, &llm.base_url(), &[]).await?;
    let acp = async {
        let chat = Chat::new(&running)?;
        chat.turn("bench-warmup", "warm up")
            .await
            .context("the ACP warm-up turn")?;
        turns_on(&llm, &running, "acp", turns, |_| {}).await
    }
    .await;
    let log = running.log_tail(10);
    running.stop().await;
    let (_, mut acp_times) = acp.with_context(|| format!("the end of hermod's output:\n{log}"))?;
    Ok(Report {
        scenario: "acp-turn".into(),
        target: target.kind.name().into(),
        parameters: json!({
            "turns": turns,
            "turns_per_session": SESSION_TURNS,
            "acp_agent": "testkit fake-acp-agent, answers at once",
            "llm": "in-process fake, instant echo",
        }),
        metrics: vec![
            Metric::new("acp_turn_p50", percentile(&mut acp_times, 50.0), "ms"),
            Metric::new("acp_turn_p95", percentile(&mut acp_times, 95.0), "ms"),
            Metric::new(
                "llm_turn_overhead_p50",
                percentile(&mut llm_overheads, 50.0),
                "ms",
            ),
        ],
        failures: Vec::new(),
    })
}
