//! The API server scenarios: what the gateway adds to a turn, and how many
//! turns per second it carries.
//!
//! Both run against an in-process fake LLM that answers instantly with
//! `echo: <last user text>`; every reply is checked. Clients send
//! `stream: false` chat completions with the gateway's session header
//! (`X-Hermod-Session-Id` / `X-Hermes-Session-Id`): each conversation lasts
//! [`SESSION_TURNS`] turns and then a new session id starts. That keeps the
//! history each turn carries bounded and identical for both gateways (so a
//! figure does not depend on how many turns a run has), and it covers
//! creating sessions as well as continuing them. One warm-up turn, not
//! counted, precedes each measurement (Hermes' first request is cold).
//!
//! `latency`: one client, sequential turns; a turn's overhead is the time
//! the client saw minus the time the fake LLM spent answering during that
//! turn. `throughput`: concurrent clients, each on its own sessions, for a
//! bounded time; turns per second and the latency each client saw.
//!
//! Both also report the gateway's CPU time per turn (from `/proc`), which
//! is steadier than wall time on a shared machine; the load generator and
//! the fake LLM run in this process and share the same cores.

use crate::report::{Metric, Report, percentile};
use crate::scenarios::progress;
use crate::target::{API_KEY, Kind, Running, Target, process_cpu_time};
use anyhow::{Context, bail};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Turns per conversation before a new session id starts.
pub const SESSION_TURNS: usize = 10;

/// How long one turn may take before it counts as an error.
const TURN_TIMEOUT: Duration = Duration::from_secs(60);

/// A client of the chat completions endpoint of one gateway, or of several
/// gateways of one kind taken in turn, request by request (what a
/// round-robin load balancer in front of them does). Clones share the
/// turn, so concurrent clients spread over the gateways together.
#[derive(Debug, Clone)]
pub struct Chat {
    client: reqwest::Client,
    urls: Arc<[String]>,
    next: Arc<AtomicUsize>,
    kind: Kind,
}

impl Chat {
    pub fn new(running: &Running) -> anyhow::Result<Self> {
        Self::round_robin(&[running])
    }

    /// A client of `gateways` (at least one, all of one kind) in turn.
    pub fn round_robin(gateways: &[&Running]) -> anyhow::Result<Self> {
        let first = gateways.first().context("no gateway to send turns to")?;
        Ok(Self {
            client: crate::client()?,
            urls: gateways
                .iter()
                .map(|g| format!("{}/v1/chat/completions", g.base_url))
                .collect(),
            next: Arc::new(AtomicUsize::new(0)),
            kind: first.kind,
        })
    }

    /// How many gateways the turns are spread over.
    pub fn gateways(&self) -> usize {
        self.urls.len()
    }

    /// One non-streaming turn on `session`; fails unless the reply is the
    /// fake LLM's echo of `text`.
    pub async fn turn(&self, session: &str, text: &str) -> anyhow::Result<()> {
        let body = json!({
            "model": self.kind.model_name(),
            "messages": [{"role": "user", "content": text}],
            "stream": false,
        });
        let url = &self.urls[self.next.fetch_add(1, Ordering::Relaxed) % self.urls.len()];
        let response = self
            .client
            .post(url)
            .bearer_auth(API_KEY)
            .header(self.kind.session_header(), session)
            .timeout(TURN_TIMEOUT)
            .json(&body)
            .send()
            .await
            .context("sending the turn")?;
        let status = response.status();
        let bytes = response.bytes().await.context("reading the reply")?;
        if !status.is_success() {
            let body = String::from_utf8_lossy(&bytes);
            bail!(
                "HTTP {status}: {}",
                body.chars().take(200).collect::<String>()
            );
        }
        let reply: Value = serde_json::from_slice(&bytes).context("the reply is not JSON")?;
        let content = reply["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default();
        let expected = format!("echo: {text}");
        if content.trim() != expected {
            bail!("unexpected reply {content:?} (expected {expected:?})");
        }
        Ok(())
    }
}

/// The session of turn `turn` of client `client`.
fn session_id(scenario: &str, client: usize, turn: usize) -> String {
    format!("bench-{scenario}-{client}-{}", turn / SESSION_TURNS)
}

/// Starts a fake LLM answering instantly with an echo, and the target.
pub async fn start(target: &Target, env: &[(&str, &str)]) -> anyhow::Result<(FakeLlm, Running)> {
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::echo());
    let running = target.start(&llm.base_url(), env).await?;
    progress(&format!(
        "{} answers /health after {:.0} ms",
        target.kind.name(),
        running.ready_after.as_secs_f64() * 1000.0
    ));
    Ok((llm, running))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One client, `turns` sequential turns: the gateway's overhead per turn.
pub async fn latency(target: &Target, turns: usize) -> anyhow::Result<Report> {
    progress(&format!(
        "api-latency against {}: {turns} turns",
        target.kind.name()
    ));
    let (llm, running) = start(target, &[]).await?;
    let result = measure_latency(&llm, &running, turns).await;
    running.stop().await;
    let metrics = result?;
    Ok(Report {
        scenario: "api-latency".into(),
        target: target.kind.name().into(),
        parameters: json!({
            "turns": turns,
            "clients": 1,
            "stream": false,
            "turns_per_session": SESSION_TURNS,
            "warmup_turns": 1,
            "llm": "in-process fake, instant echo",
        }),
        metrics,
        failures: Vec::new(),
    })
}

async fn measure_latency(
    llm: &FakeLlm,
    running: &Running,
    turns: usize,
) -> anyhow::Result<Vec<Metric>> {
    let chat = Chat::new(running)?;
    chat.turn("bench-warmup", "warm up")
        .await
        .context("the warm-up turn")?;
    let cpu_before = running.cpu_time()?;
    let calls_before = llm.request_count();
    let mut overheads = Vec::with_capacity(turns);
    let mut client_times = Vec::with_capacity(turns);
    let mut errors = 0usize;
    let mut first_error = None;
    let started = Instant::now();
    for i in 0..turns {
        let session = session_id("latency", 0, i);
        let text = format!("latency turn {i}");
        let busy_before = llm.busy_time();
        let sent = Instant::now();
        let result = chat.turn(&session, &text).await;
        let elapsed = sent.elapsed();
        let in_llm = llm.busy_time().saturating_sub(busy_before);
        match result {
            Ok(()) => {
                client_times.push(ms(elapsed));
                overheads.push(ms(elapsed.saturating_sub(in_llm)));
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let wall = started.elapsed();
    let cpu = running.cpu_time()?.saturating_sub(cpu_before);
    let calls = llm.request_count() - calls_before;
    if overheads.is_empty() {
        let e = first_error.map_or_else(|| "no turns".to_owned(), |e| format!("{e:#}"));
        bail!("every turn failed: {e}\n{}", running.log_tail(10));
    }
    if let Some(e) = first_error {
        progress(&format!("{errors} turns failed; the first: {e:#}"));
    }
    let ok = overheads.len() as f64;
    let mean = overheads.iter().sum::<f64>() / ok;
    Ok(vec![
        Metric::new("overhead_p50", percentile(&mut overheads, 50.0), "ms").goal("<= 1 ms"),
        Metric::new("overhead_p95", percentile(&mut overheads, 95.0), "ms"),
        Metric::new("overhead_p99", percentile(&mut overheads, 99.0), "ms").goal("<= 5 ms"),
        Metric::new("overhead_mean", mean, "ms"),
        Metric::new("client_p50", percentile(&mut client_times, 50.0), "ms"),
        Metric::new("total_time", wall.as_secs_f64(), "s"),
        Metric::new("gateway_cpu_per_turn", ms(cpu) / ok, "ms"),
        Metric::new("llm_calls_per_turn", calls as f64 / turns as f64, "count"),
        Metric::new("errors", errors as f64, "count").goal("0"),
    ])
}

/// What the clients of `throughput` counted.
#[derive(Debug, Default)]
struct Tally {
    latencies: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
}

/// `clients` concurrent clients on distinct sessions for `seconds` seconds.
pub async fn throughput(target: &Target, clients: usize, seconds: u64) -> anyhow::Result<Report> {
    progress(&format!(
        "api-throughput against {}: {clients} clients for {seconds} s",
        target.kind.name()
    ));
    let (llm, running) = start(target, &[]).await?;
    let result = measure_throughput(&llm, &[&running], clients, seconds).await;
    running.stop().await;
    let metrics = result?;
    Ok(Report {
        scenario: "api-throughput".into(),
        target: target.kind.name().into(),
        parameters: json!({
            "clients": clients,
            "seconds": seconds,
            "stream": false,
            "turns_per_session": SESSION_TURNS,
            "llm": "in-process fake, instant echo",
        }),
        metrics,
        failures: Vec::new(),
    })
}

/// The load of `throughput`, spread over `gateways` in turn (one warm-up
/// turn each first); the gateway CPU figures are the sum over them.
pub async fn measure_throughput(
    llm: &FakeLlm,
    gateways: &[&Running],
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Vec<Metric>> {
    let chat = Chat::round_robin(gateways)?;
    for i in 0..chat.gateways() {
        chat.turn(&format!("bench-warmup-{i}"), "warm up")
            .await
            .context("the warm-up turn")?;
    }
    let clients = clients.max(1);
    let gateways_cpu =
        || -> anyhow::Result<Duration> { gateways.iter().map(|g| g.cpu_time()).sum() };
    let cpu_before = gateways_cpu()?;
    let own_cpu_before = process_cpu_time(std::process::id())?;
    let calls_before = llm.request_count();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let chat = chat.clone();
        let in_flight = in_flight.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut turn = 0;
            while Instant::now() < deadline {
                let session = session_id("throughput", client, turn);
                let text = format!("client {client} turn {turn}");
                turn += 1;
                in_flight.fetch_add(1, Ordering::Relaxed);
                let sent = Instant::now();
                let result = chat.turn(&session, &text).await;
                in_flight.fetch_sub(1, Ordering::Relaxed);
                match result {
                    Ok(()) => tally.latencies.push(ms(sent.elapsed())),
                    Err(e) => {
                        tally.errors += 1;
                        tally.first_error.get_or_insert_with(|| format!("{e:#}"));
                        // A failing gateway answers at once; do not spin.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await.context("a client task failed")?;
        all.latencies.extend(tally.latencies);
        all.errors += tally.errors;
        if all.first_error.is_none() {
            all.first_error = tally.first_error;
        }
    }
    let wall = started.elapsed();
    let cpu = gateways_cpu()?.saturating_sub(cpu_before);
    let own_cpu = process_cpu_time(std::process::id())?.saturating_sub(own_cpu_before);
    let calls = llm.request_count() - calls_before;
    if let Some(e) = &all.first_error {
        progress(&format!("{} turns failed; the first: {e}", all.errors));
    }
    let ok = all.latencies.len();
    if ok == 0 {
        bail!("every turn failed: {}", all.first_error.unwrap_or_default());
    }
    let secs = wall.as_secs_f64();
    let latencies = &mut all.latencies;
    Ok(vec![
        Metric::new("turns_per_second", ok as f64 / secs, "turns/s").goal(">= 5000 turns/s"),
        Metric::new("latency_p50", percentile(latencies, 50.0), "ms"),
        Metric::new("latency_p95", percentile(latencies, 95.0), "ms"),
        Metric::new("latency_p99", percentile(latencies, 99.0), "ms"),
        Metric::new("turns", ok as f64, "count"),
        Metric::new("errors", all.errors as f64, "count").goal("0"),
        Metric::new("gateway_cpu_per_turn", ms(cpu) / ok as f64, "ms"),
        Metric::new("gateway_cpu", cpu.as_secs_f64() / secs, "cores"),
        Metric::new("load_generator_cpu", own_cpu.as_secs_f64() / secs, "cores"),
        Metric::new("llm_calls_per_turn", calls as f64 / ok as f64, "count"),
    ])
}
