//! The PDF reader in a child process, with stand-in children (shell
//! scripts): its answer is read, a child that runs too long is killed, and
//! one that fails, answers nonsense or cannot start is reported or left to
//! the caller. The real child, `hermod extract-text`, is tested with the
//! binary (crates/cli/tests/extract_text.rs).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_media::document::DocumentError;
use hermod_media::worker::{Extracted, PdfWorker};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An executable `/bin/sh` script running `body`.
fn script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("reader.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn the_childs_answer_is_the_text_and_it_is_asked_for_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let answer = serde_json::to_string(&Extracted::Text {
        text: "page one".into(),
        truncated: true,
        total_chars: 8,
    })
    .unwrap();
    // The child echoes its arguments into a file, then answers.
    let args = dir.path().join("args");
    let program = script(
        dir.path(),
        &format!("echo \"$@\" > {}\necho '{answer}'", args.display()),
    );
    let read = PdfWorker::new(program)
        .read(Path::new("/m/a.pdf"), Some("application/pdf"), 77, LIMIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((read.text.as_str(), read.truncated), ("page one", true));
    assert_eq!(
        std::fs::read_to_string(args).unwrap().trim(),
        "extract-text --max-chars 77 --mime application/pdf /m/a.pdf"
    );
}

#[tokio::test]
async fn a_child_that_runs_too_long_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let program = script(
        dir.path(),
        &format!("echo $$ > {}\nexec sleep 600", pid_file.display()),
    );
    // The child never ends: the outcome does not depend on the machine.
    let read = PdfWorker::new(program)
        .read(Path::new("/m/a.pdf"), None, 10, Duration::from_millis(300))
        .await
        .unwrap();
    assert!(
        matches!(&read, Err(DocumentError::Unreadable(why)) if why.contains("took longer")),
        "{read:?}"
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let proc = PathBuf::from(format!("/proc/{}", pid.trim()));
    for _ in 0..500 {
        let state = std::fs::read_to_string(proc.join("stat")).unwrap_or_default();
        // Gone, or a zombie waiting for tokio to reap it.
        if state.is_empty() || state.contains(") Z") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the child {pid} still runs");
}

#[tokio::test]
async fn a_failing_or_garbled_child_is_an_unreadable_pdf() {
    let dir = tempfile::tempdir().unwrap();
    for (body, expected) in [
        ("exit 3", "the PDF reader stopped"),
        ("kill -9 $$", "the PDF reader stopped"),
        ("echo 'not json'", "could not be read"),
    ] {
        let program = script(dir.path(), body);
        let read = PdfWorker::new(program)
            .read(Path::new("/m/a.pdf"), None, 10, LIMIT)
            .await
            .unwrap();
        assert!(
            matches!(&read, Err(DocumentError::Unreadable(why)) if why.contains(expected)),
            "{body}: {read:?}"
        );
    }
}

#[tokio::test]
async fn an_answer_longer_than_the_cap_allows_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "head -c 1000000 /dev/zero | tr '\\0' 'x'");
    let read = PdfWorker::new(program)
        .read(Path::new("/m/a.pdf"), None, 10, LIMIT)
        .await
        .unwrap();
    assert!(
        matches!(&read, Err(DocumentError::Unreadable(why)) if why.contains("too long")),
        "{read:?}"
    );
}

#[tokio::test]
async fn a_child_that_cannot_start_leaves_the_reading_to_the_caller() {
    let read = PdfWorker::new("/no/such/hermod")
        .read(Path::new("/m/a.pdf"), None, 10, LIMIT)
        .await;
    assert!(read.is_none(), "{read:?}");
}
