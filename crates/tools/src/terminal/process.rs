//! Running one shell command: in its own process group, in a clean
//! environment, its output captured up to a cap, the whole group killed
//! when it ends, times out or is cancelled.
//!
//! The group is killed with the system's `kill` program (`kill -KILL --
//! -PGID`): signalling a group needs `kill(2)`, which the standard library
//! does not offer and this workspace builds without `unsafe`.

use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// How long output is still read after the command's group was killed:
/// a process that left the group (`setsid`) may hold the pipe open.
const DRAIN: Duration = Duration::from_secs(2);

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Exited(ExitStatus),
    TimedOut,
    Cancelled,
}

/// What to run.
#[derive(Debug)]
pub(crate) struct Spec<'a> {
    pub(crate) command: &'a str,
    pub(crate) cwd: &'a Path,
    pub(crate) env: &'a [(String, String)],
    pub(crate) timeout: Duration,
    pub(crate) max_chars: usize,
}

/// Runs `spec`; returns how it ended and its output (stdout and stderr
/// interleaved, as a terminal shows them), cut to `max_chars`.
pub(crate) async fn run(
    spec: &Spec<'_>,
    cancel: &CancellationToken,
) -> io::Result<(Ended, String)> {
    let (reader, writer) = io::pipe()?;
    let mut command = tokio::process::Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(spec.command)
        .current_dir(spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    // Our copies of the pipe's write end go with the command, so the
    // reader sees the end once every process of the command is gone.
    drop(command);
    let group = GroupKiller { pgid: child.id() };

    let capture = Arc::new(Mutex::new(Capture::new(spec.max_chars)));
    let mut receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader))?;
    let reading = {
        let capture = Arc::clone(&capture);
        tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match receiver.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => capture
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(&buf[..n]),
                }
            }
        }))
    };

    let ended = tokio::select! {
        biased;
        () = cancel.cancelled() => Ended::Cancelled,
        () = tokio::time::sleep(spec.timeout) => Ended::TimedOut,
        status = child.wait() => Ended::Exited(status?),
    };
    // Whatever the command left running (background jobs) goes with it.
    group.kill().await;
    if !matches!(ended, Ended::Exited(_)) {
        let _ = child.wait().await;
    }
    let _ = tokio::time::timeout(DRAIN, reading).await;
    let output = capture
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .render();
    Ok((ended, output))
}

/// Kills the command's process group: explicitly when the command ends,
/// and on drop when the tool's task is aborted (the turn was interrupted
/// and the registry dropped the call).
#[derive(Debug)]
struct GroupKiller {
    pgid: Option<u32>,
}

impl GroupKiller {
    async fn kill(mut self) {
        if let Some(pgid) = self.pgid.take() {
            let status = tokio::process::Command::new(kill_program())
                .args(kill_args(pgid))
                .env_clear()
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
            if let Err(err) = status {
                tracing::warn!(error = %err, pgid, "cannot run kill to stop a terminal command's processes");
            }
        }
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // Blocking, briefly: `kill` returns at once.
            let status = std::process::Command::new(kill_program())
                .args(kill_args(pgid))
                .env_clear()
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if let Err(err) = status {
                tracing::warn!(error = %err, pgid, "cannot run kill to stop a terminal command's processes");
            }
        }
    }
}

fn kill_program() -> &'static str {
    ["/bin/kill", "/usr/bin/kill"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("kill")
}

fn kill_args(pgid: u32) -> [String; 3] {
    ["-KILL".to_owned(), "--".to_owned(), format!("-{pgid}")]
}

/// How a command ended, for the model.
pub(crate) fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code: {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "ended without an exit code".to_owned(),
    }
}

/// The head and the tail of a stream whose middle may be dropped.
#[derive(Debug)]
pub(crate) struct Capture {
    max_chars: usize,
    head: Vec<u8>,
    head_cap: usize,
    tail: VecDeque<u8>,
    tail_cap: usize,
    total_bytes: u64,
    /// UTF-8 characters seen (bytes that do not continue a character).
    total_chars: u64,
}

impl Capture {
    pub(crate) fn new(max_chars: usize) -> Self {
        // A character is at most four bytes.
        let half = max_chars.div_ceil(2).saturating_mul(4);
        Self {
            max_chars,
            head: Vec::new(),
            head_cap: half,
            tail: VecDeque::new(),
            tail_cap: half,
            total_bytes: 0,
            total_chars: 0,
        }
    }

    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        self.total_bytes += bytes.len() as u64;
        self.total_chars += bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count() as u64;
        let room = self.head_cap.saturating_sub(self.head.len());
        let (first, rest) = bytes.split_at(room.min(bytes.len()));
        self.head.extend_from_slice(first);
        bytes = rest;
        if bytes.len() >= self.tail_cap {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.tail_cap..]);
        } else {
            let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.tail_cap);
            self.tail.drain(..overflow);
            self.tail.extend(bytes);
        }
    }

    /// The output, or its first and last `max_chars / 2` characters with
    /// the cut stated between them.
    pub(crate) fn render(&self) -> String {
        let complete = self.total_bytes <= (self.head.len() + self.tail.len()) as u64;
        let (head, tail) = if complete {
            let mut all = self.head.clone();
            all.extend(&self.tail);
            let text = String::from_utf8_lossy(&all).into_owned();
            if text.chars().count() <= self.max_chars {
                return text;
            }
            (text.clone(), text)
        } else {
            let tail: Vec<u8> = self.tail.iter().copied().collect();
            (
                String::from_utf8_lossy(&self.head).into_owned(),
                String::from_utf8_lossy(&tail).into_owned(),
            )
        };
        let head_chars = self.max_chars / 2;
        let tail_chars = self.max_chars - head_chars;
        let head = crate::text::first_chars(&head, head_chars);
        let tail = crate::text::last_chars(&tail, tail_chars);
        format!(
            "{head}\n[… output cut: {} characters in all; the first {head_chars} and the last {tail_chars} are shown …]\n{tail}",
            self.total_chars
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_whole() {
        let mut capture = Capture::new(10);
        capture.push(b"hello");
        capture.push("é!".as_bytes());
        assert_eq!(capture.render(), "helloé!");
    }

    #[test]
    fn long_output_keeps_head_and_tail() {
        let mut capture = Capture::new(10);
        for chunk in (0..1000).map(|i| format!("{i:04}\n")) {
            capture.push(chunk.as_bytes());
        }
        let out = capture.render();
        assert!(
            out.starts_with("0000\n\n[… output cut: 5000 characters in all"),
            "{out}"
        );
        assert!(out.ends_with("…]\n0999\n"), "{out}");

        // Just over the cap, nothing dropped yet but still cut.
        let mut capture = Capture::new(10);
        capture.push(b"abcdefghijk");
        let out = capture.render();
        assert!(
            out.starts_with("abcde\n[… output cut: 11 characters"),
            "{out}"
        );
        assert!(out.ends_with("\nghijk"), "{out}");
    }

    #[test]
    fn multibyte_characters_are_counted_once() {
        let mut capture = Capture::new(4);
        capture.push("ééééé".as_bytes());
        assert!(capture.render().contains("5 characters in all"));
    }
}
