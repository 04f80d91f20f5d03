//! Resident memory: idle after start, after many sessions that each had
//! one turn, and sampled every second over a soak with light traffic.
//!
//! RSS is `VmRSS` of the gateway process and anything it started, read from
//! `/proc`. hermod runs with its API server and three chat platforms
//! connected to in-process fakes: Telegram long-polling a fake Bot API
//! server, Discord on a fake gateway websocket and Slack in Socket Mode on
//! a fake Slack; Hermes runs with its API server only (its adapters would
//! need the real platforms). Sessions are created by up to
//! [`CREATORS`] concurrent clients (Hermes runs at most 10 turns at once).

use crate::report::{Metric, Report};
use crate::scenarios::api::{self, Chat};
use crate::scenarios::progress;
use crate::target::{Kind, Running, Target};
use anyhow::{Context, bail};
use hermod_testkit::{FakeDiscord, FakeSlack, FakeTelegram};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Concurrent clients creating sessions.
const CREATORS: usize = 8;

/// How long the gateway is left alone before the idle figure is read.
const SETTLE: Duration = Duration::from_secs(2);

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Idle RSS, RSS after `sessions` one-turn sessions, and a soak of
/// `soak_seconds` seconds.
pub async fn run(target: &Target, sessions: usize, soak_seconds: u64) -> anyhow::Result<Report> {
    progress(&format!(
        "memory of {}: {sessions} sessions, {soak_seconds} s soak",
        target.kind.name()
    ));
    let fakes = match target.kind {
        Kind::Hermod => Some((
            FakeTelegram::start().await,
            FakeDiscord::start().await,
            FakeSlack::start().await,
        )),
        Kind::Hermes => None,
    };
    let mut vars: Vec<(&str, String)> = Vec::new();
    if let Some((telegram, discord, slack)) = &fakes {
        vars = vec![
            ("TELEGRAM_BOT_TOKEN", telegram.token()),
            ("TELEGRAM_API_BASE_URL", telegram.base_url()),
            ("TELEGRAM_POLL_TIMEOUT", "1".into()),
            ("DISCORD_BOT_TOKEN", discord.token()),
            ("DISCORD_API_BASE_URL", discord.api_base_url()),
            ("SLACK_BOT_TOKEN", slack.config().bot_token.clone()),
            ("SLACK_APP_TOKEN", slack.config().app_token.clone()),
            ("SLACK_API_BASE_URL", slack.api_base_url()),
        ];
    }
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_llm, running) = api::start(target, &env).await?;
    let result = measure(&running, sessions, soak_seconds).await;
    if let Some((telegram, discord, slack)) = &fakes {
        let silent = [
            ("Telegram", telegram.calls_of("getUpdates").is_empty()),
            ("Discord", discord.identify_count() == 0),
            ("Slack", slack.connections_opened() == 0),
        ];
        if let Some((name, _)) = silent.iter().find(|(_, silent)| *silent) {
            running.stop().await;
            bail!("hermod's {name} adapter never connected to its fake");
        }
    }
    running.stop().await;
    let metrics = result?;
    let platforms = match target.kind {
        Kind::Hermod => {
            "api_server + telegram (fake Bot API server, long polling, 1 s timeout) + discord (fake gateway) + slack (fake, Socket Mode)"
        }
        Kind::Hermes => "api_server",
    };
    Ok(Report {
        scenario: "memory".into(),
        target: target.kind.name().into(),
        parameters: json!({
            "sessions": sessions,
            "soak_seconds": soak_seconds,
            "platforms": platforms,
            "creating_clients": CREATORS,
            "soak_traffic": "2 turns/s: one new session, one continued",
        }),
        metrics,
        failures: Vec::new(),
    })
}

async fn measure(
    running: &Running,
    sessions: usize,
    soak_seconds: u64,
) -> anyhow::Result<Vec<Metric>> {
    tokio::time::sleep(SETTLE).await;
    let idle = running.rss_kib()?;
    progress(&format!(
        "idle: {:.1} MiB; creating {sessions} sessions",
        mib(idle)
    ));

    let chat = Chat::new(running)?;
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CREATORS.min(sessions.max(1)) {
        let (chat, next, errors) = (chat.clone(), next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= sessions {
                    break;
                }
                let text = format!("session {i}");
                if let Err(e) = chat.turn(&format!("bench-mem-{i}"), &text).await {
                    errors.fetch_add(1, Ordering::Relaxed);
                    first_error.get_or_insert(e);
                }
            }
            first_error
        }));
    }
    for task in tasks {
        if let Some(e) = task.await.context("a client task failed")? {
            progress(&format!("a session turn failed: {e:#}"));
        }
    }
    let creating = started.elapsed();
    let errors = errors.load(Ordering::Relaxed);
    if errors == sessions && sessions > 0 {
        bail!("every session turn failed\n{}", running.log_tail(10));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = running.rss_kib()?;
    let per_session = (after as f64 - idle as f64) / sessions.max(1) as f64;
    progress(&format!(
        "after {sessions} sessions: {:.1} MiB ({per_session:.2} KiB each); soaking",
        mib(after)
    ));

    let mut samples = Vec::new();
    let mut soak_errors = 0usize;
    let soak_start = Instant::now();
    for second in 0..soak_seconds {
        let tick = soak_start + Duration::from_secs(second);
        tokio::time::sleep_until(tick.into()).await;
        let fresh = format!("bench-soak-{second}");
        let old = format!("bench-mem-{}", second as usize % sessions.max(1));
        for (session, text) in [
            (fresh, format!("soak {second}")),
            (old, format!("again {second}")),
        ] {
            if chat.turn(&session, &text).await.is_err() {
                soak_errors += 1;
            }
        }
        samples.push(running.rss_kib()?);
    }
    let peak = running.peak_rss_kib()?;

    let mut metrics = vec![
        Metric::new("rss_idle", mib(idle), "MiB").goal("<= 15 MB"),
        Metric::new("rss_after_sessions", mib(after), "MiB"),
        Metric::new("per_session", per_session, "KiB").goal("<= 4 KB"),
        Metric::new(
            "sessions_per_second",
            sessions as f64 / creating.as_secs_f64(),
            "turns/s",
        ),
        Metric::new("errors", (errors + soak_errors) as f64, "count").goal("0"),
    ];
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        let min = samples.iter().copied().min().unwrap_or(*first);
        let max = samples.iter().copied().max().unwrap_or(*first);
        metrics.extend([
            Metric::new("soak_min", mib(min), "MiB"),
            Metric::new("soak_max", mib(max), "MiB"),
            Metric::new("soak_last", mib(*last), "MiB"),
            Metric::new("soak_growth", mib(*last) - mib(*first), "MiB").goal("flat"),
        ]);
    }
    metrics.push(Metric::new("peak_rss", mib(peak), "MiB"));
    Ok(metrics)
}
