//! [`SqliteStore::backup`]: a copy of a live database, taken with SQLite's
//! online backup API while a gateway keeps using it.
//!
//! The copy reads through a read-only connection of its own, inside one read
//! transaction: in WAL mode that is a snapshot the gateway's writes neither
//! wait for nor disturb, so the backup holds exactly what was committed when
//! it started and never restarts because of a write. Pages are copied a step
//! at a time with a pause between steps, so the copy's I/O does not crowd
//! out the gateway's. The steps run on a thread of their own; the pauses are
//! timed on tokio's clock by the caller's task, which lets the thread go on.
//!
//! The copy is written to a temporary file beside the destination, checked
//! (`PRAGMA quick_check`), synced and only then renamed into place, so a
//! file at the destination is always a complete backup.

use super::check::quick_check;
use super::error::{DbError, DbResult, classify_io};
use super::migrate::APPLICATION_ID;
use super::{BUSY_TIMEOUT, configure};
use crate::{Result, SqliteStore, StoreError};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// How a backup paces itself and what it may replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupOptions {
    /// Pages copied per step (a page is 4 KiB unless the database says
    /// otherwise).
    pub pages_per_step: u16,
    /// The pause after each step, on tokio's clock.
    pub pause: Duration,
    /// Whether an existing file at the destination may be replaced.
    pub replace: bool,
}

impl Default for BackupOptions {
    /// 4 MiB at a time, 10 ms apart: a gigabyte in about three seconds of
    /// pauses.
    fn default() -> Self {
        Self {
            pages_per_step: 1024,
            pause: Duration::from_millis(10),
            replace: false,
        }
    }
}

/// What a finished backup holds, counted in the copy itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReceipt {
    /// Where the backup is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The sessions in it.
    pub sessions: u64,
    /// The (active) messages in it.
    pub messages: u64,
    /// How many steps the copy took (it paused after all but the last).
    pub steps: u32,
}

/// What the copying thread tells the task that paces it.
enum Progress {
    /// A step is done and more pages are left: pause, then let it go on.
    Stepped,
    Done(Result<BackupReceipt>),
}

impl SqliteStore {
    /// Copies the hermod database at `source` — which a gateway may be
    /// using — into a new file `dest`, pausing `options.pause` between
    /// steps of `options.pages_per_step` pages.
    ///
    /// Fails with [`StoreError::NotFound`] when there is no database at
    /// `source`, [`StoreError::Conflict`] when `dest` exists and
    /// `options.replace` is false (or `dest` is the database itself),
    /// [`StoreError::Corrupt`] when the source is not a hermod database or
    /// the copy fails its integrity check, and as any write otherwise. On
    /// failure nothing is left at `dest` (an existing file is kept). If
    /// this future is dropped, the copy stops at its next step.
    pub async fn backup(
        source: &Path,
        dest: &Path,
        options: BackupOptions,
    ) -> Result<BackupReceipt> {
        let (progress_tx, mut progress) = mpsc::channel(1);
        let (go_on, next_step) = std::sync::mpsc::channel::<()>();
        let (source, dest) = (source.to_owned(), dest.to_owned());
        let thread = std::thread::Builder::new()
            .name("hermod-backup".into())
            .spawn(move || {
                let pace = || {
                    progress_tx.blocking_send(Progress::Stepped).is_ok() && next_step.recv().is_ok()
                };
                let done = copy(&source, &dest, options, pace);
                let _ = progress_tx.blocking_send(Progress::Done(done));
            });
        if let Err(e) = thread {
            return Err(StoreError::Other(format!("cannot start the backup: {e}")));
        }
        while let Some(event) = progress.recv().await {
            match event {
                Progress::Stepped => {
                    tokio::time::sleep(options.pause).await;
                    // A send fails only once the thread has given up.
                    let _ = go_on.send(());
                }
                Progress::Done(done) => return done,
            }
        }
        Err(StoreError::Other(
            "the backup stopped without a result".into(),
        ))
    }
}

/// The copy itself, on the backup's thread; `pace` waits out the pause
/// after a step and says whether to go on.
fn copy(
    source: &Path,
    dest: &Path,
    options: BackupOptions,
    pace: impl FnMut() -> bool,
) -> Result<BackupReceipt> {
    let name = source.display().to_string();
    if !source.is_file() {
        return Err(StoreError::NotFound(format!("no database at {name}")));
    }
    if is_the_database(source, dest) {
        return Err(StoreError::Conflict(format!(
            "{} is the database itself (or one of its files); back up to another file",
            dest.display()
        )));
    }
    if !options.replace && dest.exists() {
        return Err(StoreError::Conflict(format!(
            "{} already exists",
            dest.display()
        )));
    }
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| StoreError::Invalid(format!("{} does not name a file", dest.display())))?;
    let io = |what: String| move |e: std::io::Error| classify_io(&e, &what);
    // Hidden and marked partial, so an interrupted backup is never taken
    // for one; removed when dropped on any failure below.
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(io(format!("cannot create a file in {}", dir.display())))?;
    let temp_name = partial.path().display().to_string();

    let mut receipt = copy_pages(source, partial.path(), options, pace).map_err(|e| {
        e.classify(&format!(
            "the backup of {} into {temp_name}",
            source.display()
        ))
    })?;
    partial
        .as_file()
        .sync_all()
        .map_err(io(format!("cannot write {temp_name}")))?;
    let persisted = if options.replace {
        partial.persist(dest)
    } else {
        partial.persist_noclobber(dest)
    };
    persisted.map_err(|e| match e.error.kind() {
        std::io::ErrorKind::AlreadyExists => {
            StoreError::Conflict(format!("{} already exists", dest.display()))
        }
        _ => classify_io(
            &e.error,
            &format!("cannot rename {temp_name} to {}", dest.display()),
        ),
    })?;
    receipt.path = dest.to_owned();
    receipt.bytes = std::fs::metadata(dest)
        .map_err(io(format!("cannot read {}", dest.display())))?
        .len();
    Ok(receipt)
}

/// Copies `source` into the empty file `temp` and checks the copy; the
/// receipt's path and size are left for the caller.
fn copy_pages(
    source: &Path,
    temp: &Path,
    options: BackupOptions,
    mut pace: impl FnMut() -> bool,
) -> DbResult<BackupReceipt> {
    let name = source.display().to_string();
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let src = Connection::open_with_flags(source, flags)
        .map_err(|e| DbError::from(e).classify_open(&name))?;
    configure(&src)?;
    // The snapshot every step copies from (see the module docs): a
    // transaction is read from its first statement that reads.
    src.execute_batch("BEGIN")?;
    let app_id: i32 = src.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let _tables: i64 = src.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    if app_id != APPLICATION_ID {
        return Err(StoreError::Corrupt(format!("{name} is not a hermod database")).into());
    }

    let temp_name = temp.display().to_string();
    let mut dst = Connection::open(temp).map_err(|e| DbError::from(e).classify_open(&temp_name))?;
    dst.busy_timeout(BUSY_TIMEOUT)?;
    let mut steps = 0u32;
    {
        let backup = Backup::new(&src, &mut dst)?;
        loop {
            steps += 1;
            // Busy or locked cannot last (nothing else uses the new file,
            // and the source is read in a snapshot): like more pages left,
            // they mean pause and step again.
            if backup.step(i32::from(options.pages_per_step))? == StepResult::Done {
                break;
            }
            if !pace() {
                return Err(StoreError::Other("the backup was cancelled".into()).into());
            }
        }
    }
    src.execute_batch("COMMIT")?;
    drop(src);

    quick_check(&dst, &temp_name)?;
    let count = |sql: &str| dst.query_row(sql, [], |r| r.get::<_, i64>(0));
    let sessions = count("SELECT count(*) FROM sessions")?;
    let messages = count("SELECT count(*) FROM messages WHERE active = 1")?;
    dst.close().map_err(|(_, e)| DbError::from(e))?;
    Ok(BackupReceipt {
        path: PathBuf::new(),
        bytes: 0,
        sessions: u64::try_from(sessions).unwrap_or(0),
        messages: u64::try_from(messages).unwrap_or(0),
        steps,
    })
}

/// Whether `dest` is the database at `source` or its WAL or shared-memory
/// file, which a rename would destroy.
fn is_the_database(source: &Path, dest: &Path) -> bool {
    let Ok(source) = source.canonicalize() else {
        return false;
    };
    let Some(dest_name) = dest.file_name() else {
        return false;
    };
    let dest_dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(dest_dir) = dest_dir.canonicalize() else {
        return false;
    };
    let dest = dest_dir.join(dest_name);
    let as_is = dest.canonicalize().unwrap_or_else(|_| dest.clone());
    ["", "-wal", "-shm", "-journal"].iter().any(|suffix| {
        let mut file = source.clone().into_os_string();
        file.push(suffix);
        let file = PathBuf::from(file);
        file == dest || file == as_is
    })
}
