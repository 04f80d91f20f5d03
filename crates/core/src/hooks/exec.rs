//! Running an executable hook: the event as JSON on stdin, its stdout and
//! stderr read (and capped), bounded by its timeout on tokio's clock.
//!
//! The hook runs in its own directory with a clean environment: `PATH`,
//! `HOME`, `HERMOD_HOME`, `HERMOD_HOOK_EVENT` and `HERMOD_HOOK_NAME`,
//! nothing of the gateway's own (its tokens and keys stay in the gateway).
//! It leads its own process group, so a hook that outlives its timeout is
//! killed with whatever it started.

use super::event::HookEvent;
use super::manifest::Hook;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// The most of a hook's stdout kept (a decision is a line of JSON).
const STDOUT_CAP: usize = 64 * 1024;
/// The most of its stderr kept, for the log and `hermod hooks test`.
const STDERR_CAP: usize = 4 * 1024;
/// The `PATH` a hook gets: the system's directories, not the gateway's.
const HOOK_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A hook that ran to its end (whatever its exit status).
#[derive(Debug, Clone)]
pub struct Ran {
    /// `None` when a signal ended it.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Ran {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// Why it counts as failed, when it does: the exit status and the
    /// start of its stderr.
    pub(crate) fn failure(&self) -> Option<String> {
        if self.success() {
            return None;
        }
        let status = match self.exit_code {
            Some(code) => format!("exited with {code}"),
            None => "was killed by a signal".to_owned(),
        };
        let stderr = self.stderr.trim();
        Some(if stderr.is_empty() {
            status
        } else {
            let first: String = stderr.chars().take(300).collect();
            format!("{status}: {first}")
        })
    }
}

/// Runs `hook` (a `run:` handler at `program`) on `event`. An error is a
/// hook that could not be started, or was killed at its timeout.
pub(crate) async fn run(
    hook: &Hook,
    program: &Path,
    home: &Path,
    event: &HookEvent,
) -> Result<Ran, String> {
    let started = Instant::now();
    let mut command = tokio::process::Command::new(program);
    command
        .current_dir(&hook.dir)
        .env_clear()
        .env("PATH", HOOK_PATH)
        .env("HERMOD_HOME", home)
        .env("HERMOD_HOOK_EVENT", event.name())
        .env("HERMOD_HOOK_NAME", &hook.name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(user_home) = std::env::var_os("HOME") {
        command.env("HOME", user_home);
    }
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", program.display()))?;
    let group = child.id();
    let input = event.to_json();
    let mut stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let work = async {
        // A hook that does not read its stdin is fine: a closed pipe is
        // not its failure.
        if let Some(stdin) = stdin.as_mut() {
            let _ = stdin.write_all(input.as_bytes()).await;
            let _ = stdin.shutdown().await;
        }
        drop(stdin);
        let (out, err, status) = tokio::join!(
            read_capped(stdout, STDOUT_CAP),
            read_capped(stderr, STDERR_CAP),
            child.wait()
        );
        (out, err, status)
    };
    match tokio::time::timeout(hook.timeout, work).await {
        Ok((stdout, stderr, status)) => {
            let status = status.map_err(|e| format!("could not wait for it: {e}"))?;
            Ok(Ran {
                exit_code: status.code(),
                stdout,
                stderr,
                elapsed: started.elapsed(),
            })
        }
        Err(_) => {
            kill_group(group);
            // Dropping the child kills the hook itself too (`kill_on_drop`).
            Err(format!(
                "timed out after {} s and was killed",
                hook.timeout.as_secs_f32()
            ))
        }
    }
}

/// Kills the process group the hook leads (what it started, too).
#[cfg(unix)]
fn kill_group(group: Option<u32>) {
    let Some(pid) = group
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    // Already gone is fine.
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

#[cfg(not(unix))]
fn kill_group(_group: Option<u32>) {}

/// Reads a pipe to its end, keeping the first `cap` bytes: the rest is
/// read and dropped, so a chatty hook never blocks on a full pipe.
async fn read_capped(pipe: Option<impl AsyncRead + Unpin>, cap: usize) -> String {
    let Some(mut pipe) = pipe else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}
