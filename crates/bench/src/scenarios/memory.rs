//! Resident memory: idle after start, after many sessions that each had
//! one turn, and sampled every second over a soak with light traffic.
//!
//! RSS is `VmRSS` of the gateway process and anything it started, read from
//! `/proc`. hermod runs with its API server and every chat platform it
//! has, each connected to an in-process peer: the testkit's fakes
//! (Telegram long-polling a fake Bot API server, Discord on a fake gateway
//! websocket, Slack in Socket Mode, ntfy, Mattermost, signal-cli) and the
//! bench's idle peers (Matrix, IRC, IMAP and SMTP, Home Assistant); Hermes
//! runs with its API server only (its adapters would need the real
//! platforms). Sessions are created by up to
//! [`CREATORS`] concurrent clients (Hermes runs at most 10 turns at once).

use crate::peers::{IdleHass, IdleImap, IdleIrc, IdleMatrix};
use crate::report::{Metric, Report};
use crate::scenarios::api::{self, Chat};
use crate::scenarios::progress;
use crate::target::{Kind, Running, Target};
use anyhow::{Context, bail};
use hermod_testkit::mattermost::FakeMattermost;
use hermod_testkit::ntfy::FakeNtfy;
use hermod_testkit::signal::FakeSignal;
use hermod_testkit::{FakeDiscord, FakeSlack, FakeTelegram};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Concurrent clients creating sessions.
const CREATORS: usize = 8;

/// How long the gateway is left alone before the idle figure is read.
const SETTLE: Duration = Duration::from_secs(2);

/// The idle figure is the largest of the samples taken over this window
/// after [`SETTLE`], one every [`IDLE_SAMPLE_EVERY`]: an idle gateway's
/// code faults back in as its timers fire, so one early sample could
/// catch it low.
const IDLE_WINDOW: Duration = Duration::from_secs(4);
const IDLE_SAMPLE_EVERY: Duration = Duration::from_millis(250);

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
    let peers = match target.kind {
        Kind::Hermod => Some(ChatPeers::start().await?),
        Kind::Hermes => None,
    };
    let vars = peers.as_ref().map(ChatPeers::vars).unwrap_or_default();
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_llm, running) = api::start(target, &env).await?;
    let result = measure(&running, sessions, soak_seconds).await;
    if let Some(name) = peers.as_ref().and_then(ChatPeers::never_connected) {
        running.stop().await;
        bail!("hermod's {name} adapter never connected to its peer");
    }
    running.stop().await;
    let metrics = result?;
    let platforms = match target.kind {
        Kind::Hermod => {
            "api_server + every chat platform: telegram (fake Bot API server, long polling, 1 s timeout), discord (fake gateway), slack (fake, Socket Mode), ntfy, mattermost and signal (testkit fakes), matrix, irc, email (IMAP IDLE) and homeassistant (idle peers)"
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

/// A peer for every chat platform hermod has: the testkit's fakes where
/// there is one, idle peers for the platforms tested against real servers.
struct ChatPeers {
    telegram: FakeTelegram,
    discord: FakeDiscord,
    slack: FakeSlack,
    ntfy: FakeNtfy,
    mattermost: FakeMattermost,
    signal: FakeSignal,
    matrix: IdleMatrix,
    irc: IdleIrc,
    email: IdleImap,
    hass: IdleHass,
}

impl ChatPeers {
    async fn start() -> anyhow::Result<Self> {
        Ok(Self {
            telegram: FakeTelegram::start().await,
            discord: FakeDiscord::start().await,
            slack: FakeSlack::start().await,
            ntfy: FakeNtfy::start().await,
            mattermost: FakeMattermost::start().await,
            signal: FakeSignal::start().await,
            matrix: IdleMatrix::start().await?,
            irc: IdleIrc::start().await?,
            email: IdleImap::start().await?,
            hass: IdleHass::start().await?,
        })
    }

    /// The environment that points each adapter at its peer.
    fn vars(&self) -> Vec<(&'static str, String)> {
        let local = |port: u16| port.to_string();
        vec![
            ("TELEGRAM_BOT_TOKEN", self.telegram.token()),
            ("TELEGRAM_API_BASE_URL", self.telegram.base_url()),
            ("TELEGRAM_POLL_TIMEOUT", "1".into()),
            ("DISCORD_BOT_TOKEN", self.discord.token()),
            ("DISCORD_API_BASE_URL", self.discord.api_base_url()),
            ("SLACK_BOT_TOKEN", self.slack.config().bot_token.clone()),
            ("SLACK_APP_TOKEN", self.slack.config().app_token.clone()),
            ("SLACK_API_BASE_URL", self.slack.api_base_url()),
            ("NTFY_SERVER_URL", self.ntfy.base_url()),
            ("NTFY_TOPIC", "hermod_bench".into()),
            ("MATTERMOST_URL", self.mattermost.base_url()),
            ("MATTERMOST_TOKEN", self.mattermost.token()),
            ("SIGNAL_HTTP_URL", self.signal.base_url()),
            ("SIGNAL_ACCOUNT", self.signal.account()),
            ("MATRIX_HOMESERVER", self.matrix.base_url.clone()),
            ("MATRIX_ACCESS_TOKEN", "syt_bench_token".into()),
            ("IRC_SERVER", "127.0.0.1".into()),
            ("IRC_PORT", local(self.irc.port)),
            ("IRC_USE_TLS", "false".into()),
            ("IRC_NICKNAME", "hermod".into()),
            ("IRC_CHANNEL", "#bench".into()),
            ("EMAIL_ADDRESS", "hermod@bench.local".into()),
            ("EMAIL_PASSWORD", "bench-password".into()),
            ("EMAIL_IMAP_HOST", "127.0.0.1".into()),
            ("EMAIL_IMAP_PORT", local(self.email.imap_port)),
            ("EMAIL_IMAP_SECURITY", "none".into()),
            ("EMAIL_SMTP_HOST", "127.0.0.1".into()),
            ("EMAIL_SMTP_PORT", local(self.email.smtp_port)),
            ("EMAIL_SMTP_SECURITY", "none".into()),
            ("HASS_URL", self.hass.base_url.clone()),
            ("HASS_TOKEN", "bench-hass-token".into()),
        ]
    }

    /// The first platform whose adapter never got through to its peer.
    fn never_connected(&self) -> Option<&'static str> {
        [
            ("Telegram", !self.telegram.calls_of("getUpdates").is_empty()),
            ("Discord", self.discord.identify_count() > 0),
            ("Slack", self.slack.connections_opened() > 0),
            ("ntfy", !self.ntfy.subscriptions().is_empty()),
            ("Mattermost", !self.mattermost.connections().is_empty()),
            ("Signal", !self.signal.connections().is_empty()),
            ("Matrix", self.matrix.connected.any()),
            ("IRC", self.irc.connected.any()),
            ("email", self.email.connected.any()),
            ("Home Assistant", self.hass.connected.any()),
        ]
        .into_iter()
        .find(|(_, connected)| !connected)
        .map(|(name, _)| name)
    }
}

async fn measure(
    running: &Running,
    sessions: usize,
    soak_seconds: u64,
) -> anyhow::Result<Vec<Metric>> {
    tokio::time::sleep(SETTLE).await;
    let mut idle = running.rss_kib()?;
    let window_ends = Instant::now() + IDLE_WINDOW;
    while Instant::now() < window_ends {
        tokio::time::sleep(IDLE_SAMPLE_EVERY).await;
        idle = idle.max(running.rss_kib()?);
    }
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
