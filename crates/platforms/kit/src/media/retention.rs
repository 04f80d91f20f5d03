//! [`MediaRetention`]: how long inbound files are kept and how much space
//! they may take, and the cleanup task that enforces it.
//!
//! [`cleanup`] deletes files older than the age limit, then the oldest
//! (by modification time) while the directory is over its size. The kit's
//! temporary files (names starting with a dot) are downloads still being
//! written and are left alone until they are older than the age limit.
//! [`MediaCleanup::shared`] runs it once per gateway: at start, then every
//! [`CLEANUP_EVERY`] on tokio's clock, until the gateway stops.

use crate::config::{Env, EnvSettings};
use hermod_core::BuildContext;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// Days a file is kept unless `HERMOD_MEDIA_MAX_AGE_DAYS` says otherwise.
pub const DEFAULT_MEDIA_MAX_AGE_DAYS: u64 = 30;
/// Megabytes the directory may hold unless `HERMOD_MEDIA_MAX_MB` says
/// otherwise.
pub const DEFAULT_MEDIA_MAX_MB: u64 = 1024;
/// How often the cleanup runs after the first time.
pub const CLEANUP_EVERY: Duration = Duration::from_secs(60 * 60);

const DAY: u64 = 24 * 60 * 60;
const MB: u64 = 1024 * 1024;

/// How long inbound files are kept and how much space they may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaRetention {
    /// Files older than this are deleted.
    pub max_age: Duration,
    /// The oldest files are deleted while the directory holds more.
    pub max_total_bytes: u64,
}

impl Default for MediaRetention {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(DEFAULT_MEDIA_MAX_AGE_DAYS * DAY),
            max_total_bytes: DEFAULT_MEDIA_MAX_MB * MB,
        }
    }
}

impl EnvSettings for MediaRetention {
    fn env(&mut self, env: &mut Env<'_>) {
        let mut days = self.max_age.as_secs() / DAY;
        env.number("HERMOD_MEDIA_MAX_AGE_DAYS", &mut days)
            .at_least(1);
        self.max_age = Duration::from_secs(days.saturating_mul(DAY));
        let mut mb = self.max_total_bytes / MB;
        env.number("HERMOD_MEDIA_MAX_MB", &mut mb).at_least(1);
        self.max_total_bytes = mb.saturating_mul(MB);
    }
}

/// What one cleanup did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupReport {
    pub deleted: usize,
    pub freed_bytes: u64,
    /// What the directory holds after.
    pub kept_bytes: u64,
}

/// Enforces `retention` on `dir` as of `now`. A missing directory is
/// empty; a file that cannot be read or deleted is skipped (another
/// cleanup will try again).
pub fn cleanup(dir: &Path, retention: &MediaRetention, now: SystemTime) -> CleanupReport {
    let mut report = CleanupReport::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return report;
    };
    let mut files: Vec<(SystemTime, u64, PathBuf, bool)> = Vec::new();
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().unwrap_or(now);
        let temporary = entry.file_name().to_string_lossy().starts_with('.');
        files.push((modified, meta.len(), entry.path(), temporary));
    }
    files.sort_by_key(|(modified, ..)| *modified);
    let mut total: u64 = files.iter().map(|(_, len, ..)| len).sum();
    for (modified, len, path, temporary) in files {
        let age = now.duration_since(modified).unwrap_or_default();
        let expired = age > retention.max_age;
        let over = total > retention.max_total_bytes && !temporary;
        if !(expired || over) {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                total -= len;
                report.deleted += 1;
                report.freed_bytes += len;
            }
            Err(e) => {
                debug!(path = %path.display(), error = %e, "cannot delete an old inbound file")
            }
        }
    }
    report.kept_bytes = total;
    report
}

/// The gateway's one media cleanup task. Cheap to clone; clones are the
/// same task.
#[derive(Debug, Clone)]
pub struct MediaCleanup {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    retention: MediaRetention,
}

impl MediaCleanup {
    /// The gateway's cleanup of `ctx.media_dir`: started by the first
    /// platform that asks (with its retention) and shared with the others.
    /// It stops with `ctx.shutdown`.
    pub fn shared(ctx: &BuildContext, retention: MediaRetention) -> Self {
        ctx.shared.get_or_insert_with(|| {
            Self::start(ctx.media_dir.clone(), retention, ctx.shutdown.clone())
        })
    }

    /// Runs the cleanup of `dir` now and every [`CLEANUP_EVERY`] until
    /// `shutdown` is cancelled.
    pub fn start(dir: PathBuf, retention: MediaRetention, shutdown: CancellationToken) -> Self {
        let inner = Arc::new(Inner { dir, retention });
        let task = Arc::clone(&inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(CLEANUP_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = every.tick() => {}
                }
                let job = Arc::clone(&task);
                let run = tokio::task::spawn_blocking(move || {
                    cleanup(&job.dir, &job.retention, SystemTime::now())
                });
                match run.await {
                    Ok(report) if report.deleted > 0 => debug!(
                        deleted = report.deleted,
                        freed_bytes = report.freed_bytes,
                        kept_bytes = report.kept_bytes,
                        "deleted old inbound files"
                    ),
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "the media cleanup failed"),
                }
            }
        });
        Self { inner }
    }

    pub fn retention(&self) -> &MediaRetention {
        &self.inner.retention
    }
}

#[cfg(test)]
mod tests;
