//! The gateway under measurement, run as its own process: hermod's release
//! binary, or the Hermes 0.19 gateway from a Python virtual environment.
//! Both get a fresh home, only their OpenAI-compatible API server on a free
//! loopback port (plus whatever extra environment a scenario adds), and the
//! same fake LLM. The gateway's output goes to `gateway.log` in its home,
//! whose tail is shown when it fails to start. A home can be shared by
//! several starts in turn ([`Target::start_in`]), to restart a gateway on
//! what a previous run left.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The key both gateways are started with (at least 16 characters).
pub const API_KEY: &str = "bench-key-0123456789abcdefghijkl";

/// Which gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hermod,
    Hermes,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Hermod => "hermod",
            Kind::Hermes => "hermes",
        }
    }

    /// The header that pins a conversation to a session id.
    pub fn session_header(self) -> &'static str {
        match self {
            Kind::Hermod => "X-Hermod-Session-Id",
            Kind::Hermes => "X-Hermes-Session-Id",
        }
    }

    /// The model name clients send (each gateway's advertised name).
    pub fn model_name(self) -> &'static str {
        match self {
            Kind::Hermod => "hermod",
            Kind::Hermes => "hermes-agent",
        }
    }
}

/// How to start a gateway.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: Kind,
    /// hermod's binary, or the virtual environment that has `hermes`.
    pub program: PathBuf,
}

/// A running gateway process; killed when dropped.
#[derive(Debug)]
pub struct Running {
    pub kind: Kind,
    pub base_url: String,
    /// From spawning the process to `/health` answering.
    pub ready_after: Duration,
    child: Child,
    /// Shared with later starts on the same home; removed when the last
    /// holder is dropped.
    home: Arc<tempfile::TempDir>,
}

/// The gateway's stdout and stderr, in its home.
const LOG_FILE: &str = "gateway.log";

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

impl Target {
    pub fn hermod(bin: PathBuf) -> Self {
        Self {
            kind: Kind::Hermod,
            program: bin,
        }
    }

    pub fn hermes(venv: PathBuf) -> Self {
        Self {
            kind: Kind::Hermes,
            program: venv,
        }
    }

    /// Starts the gateway on a fresh home against `llm_base_url` (ending in
    /// `/v1`) with extra environment variables, and waits until `/health`
    /// answers.
    pub async fn start(&self, llm_base_url: &str, env: &[(&str, &str)]) -> anyhow::Result<Running> {
        self.start_in(Arc::new(tempfile::tempdir()?), llm_base_url, env)
            .await
    }

    /// Like [`Target::start`], on `home`: a new gateway there finds what a
    /// previous one left (its database above all). Its output is appended
    /// to the home's log.
    pub async fn start_in(
        &self,
        home: Arc<tempfile::TempDir>,
        llm_base_url: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Running> {
        let port = free_port()?;
        let mut command = match self.kind {
            Kind::Hermod => self.hermod_command(home.path(), port, llm_base_url)?,
            Kind::Hermes => self.hermes_command(home.path(), port, llm_base_url)?,
        };
        for (key, value) in env {
            command.env(key, value);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(home.path().join(LOG_FILE))?;
        let started = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.program.display()))?;
        let base_url = format!("http://127.0.0.1:{port}");
        let mut running = Running {
            kind: self.kind,
            base_url,
            ready_after: Duration::ZERO,
            child,
            home,
        };
        match wait_healthy(&mut running, started).await {
            Ok(ready_after) => running.ready_after = ready_after,
            Err(e) => {
                let tail = running.log_tail(20);
                running.stop().await;
                bail!("{e:#}; the end of its output:\n{tail}");
            }
        }
        Ok(running)
    }

    fn hermod_command(&self, home: &Path, port: u16, llm: &str) -> anyhow::Result<Command> {
        let mut command = Command::new(&self.program);
        command
            .args(["gateway", "run"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HERMOD_HOME", home)
            .env("RUST_LOG", "warn")
            .env("API_SERVER_KEY", API_KEY)
            .env("API_SERVER_PORT", port.to_string())
            .env("OPENAI_BASE_URL", llm)
            .env("OPENAI_API_KEY", "sk-bench")
            .env("HERMOD_MODEL", "fake-model");
        Ok(command)
    }

    fn hermes_command(&self, home: &Path, port: u16, llm: &str) -> anyhow::Result<Command> {
        let config = format!(
            "model: {{default: fake-model, provider: custom, base_url: {llm}, api_key: sk-bench, context_length: 131072}}\n\
             platforms:\n  api_server: {{enabled: true, extra: {{host: 127.0.0.1, port: {port}}}}}\n"
        );
        std::fs::write(home.join("config.yaml"), config)?;
        let env = format!(
            "API_SERVER_ENABLED=true\nAPI_SERVER_KEY={API_KEY}\nAPI_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT={port}\nTIRITH_ENABLED=false\n"
        );
        std::fs::write(home.join(".env"), env)?;
        let mut command = Command::new(self.program.join("bin").join("hermes"));
        command
            .args(["gateway", "run", "-v"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("HERMES_HOME", home)
            .env("TIRITH_ENABLED", "false");
        Ok(command)
    }
}

/// Polls `/health` until it answers (a benchmark harness may poll; tests may not).
async fn wait_healthy(running: &mut Running, started: Instant) -> anyhow::Result<Duration> {
    let client = crate::client()?;
    let url = format!("{}/health", running.base_url);
    let deadline = started + Duration::from_secs(120);
    loop {
        if let Some(status) = running.child.try_wait()? {
            bail!(
                "{} exited before it was ready ({status})",
                running.kind.name()
            );
        }
        if let Ok(response) = client.get(&url).send().await
            && response.status().is_success()
        {
            return Ok(started.elapsed());
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not answer /health within 120 s",
                running.kind.name()
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

impl Running {
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The home the gateway runs in, to start another one there later.
    pub fn home(&self) -> Arc<tempfile::TempDir> {
        Arc::clone(&self.home)
    }

    /// The last `lines` lines the gateway printed.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.home.path().join(LOG_FILE)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Resident memory of the gateway process and any processes it started,
    /// in KiB, from `/proc/<pid>/status` (VmRSS).
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let root = self.pid().context("the gateway has exited")?;
        let mut total = status_field(root, "VmRSS:")?;
        for pid in process_tree(root).into_iter().skip(1) {
            // A child may exit between listing and reading.
            total += status_field(pid, "VmRSS:").unwrap_or(0);
        }
        Ok(total)
    }

    /// Peak resident memory of the gateway process itself (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        status_field(self.pid().context("the gateway has exited")?, "VmHWM:")
    }

    /// CPU time (user + system, all threads) used so far by the gateway
    /// process and the processes it started, from `/proc/<pid>/stat`.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        let root = self.pid().context("the gateway has exited")?;
        let mut total = process_cpu_time(root)?;
        for pid in process_tree(root).into_iter().skip(1) {
            // A child may exit between listing and reading.
            total += process_cpu_time(pid).unwrap_or_default();
        }
        Ok(total)
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// `kill -9`: ends the gateway with SIGKILL, so it gets no chance to
    /// finish anything, and waits for it. tokio's `start_kill` is
    /// `kill(pid, SIGKILL)` on unix; the exit status is checked to say so,
    /// and a gateway that had exited by itself is an error.
    pub async fn kill9(mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} had exited before it was killed ({status}); the end of its output:\n{}",
                self.kind.name(),
                self.log_tail(20)
            );
        }
        self.child.start_kill().context("sending SIGKILL")?;
        let status = self.child.wait().await?;
        check_sigkill(status)
    }
}

/// An exit status that says "killed by SIGKILL" (signal 9).
#[cfg(unix)]
fn check_sigkill(status: ExitStatus) -> anyhow::Result<()> {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(9) => Ok(()),
        _ => bail!("the gateway was meant to end by SIGKILL but ended with {status}"),
    }
}

#[cfg(not(unix))]
fn check_sigkill(status: ExitStatus) -> anyhow::Result<()> {
    bail!("kill -9 needs unix; the gateway ended with {status}")
}

/// CPU time (user + system, all threads) of one process, from
/// `/proc/<pid>/stat` (10 ms resolution).
pub fn process_cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at 3.
    let (_, rest) = stat.rsplit_once(')').context("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .with_context(|| format!("field {n} missing from /proc/{pid}/stat"))
    };
    let ticks = field(14)? + field(15)?;
    // USER_HZ is 100 on every Linux architecture.
    Ok(Duration::from_millis(ticks * 10))
}

/// A `kB` field of `/proc/<pid>/status`.
fn status_field(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("{field} missing from /proc/{pid}/status"))
}

/// `root` and its descendants (bounded: the process table is read once).
fn process_tree(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parents.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut next = 0;
    while next < tree.len() {
        let parent = tree[next];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        next += 1;
    }
    tree
}
