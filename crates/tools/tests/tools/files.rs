//! read_file and write_file: confinement to the workspace, caps, text
//! only, atomic writes.

use crate::support::ctx;
use hermod_agent::Tool;
use hermod_tools::{FilesConfig, ReadFile, Workspace, WriteFile};
use serde_json::{Value, json};
use std::os::unix::fs::symlink;
use std::path::Path;

struct Setup {
    /// Holds the workspace and, beside it, an `outside` directory.
    root: tempfile::TempDir,
    read: ReadFile,
    write: WriteFile,
}

impl Setup {
    fn new(config: &FilesConfig) -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("outside")).unwrap();
        std::fs::write(root.path().join("outside/secret.txt"), "secret\n").unwrap();
        let workspace = Workspace::open(root.path().join("ws")).unwrap();
        let (read, write) = config.build(&workspace).unwrap();
        Self { root, read, write }
    }

    fn ws(&self) -> std::path::PathBuf {
        self.root.path().join("ws")
    }

    async fn read(&self, args: Value) -> Result<String, String> {
        self.read.call(args, ctx()).await
    }

    async fn write(&self, args: Value) -> Result<String, String> {
        self.write.call(args, ctx()).await
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn reads_number_lines_and_window_with_offset_and_limit() {
    let s = Setup::new(&FilesConfig::default());
    let text: String = (1..=10).map(|i| format!("line {i}\n")).collect();
    std::fs::write(s.ws().join("ten.txt"), text).unwrap();

    let all = s.read(json!({"path": "ten.txt"})).await.unwrap();
    assert!(all.starts_with("     1\tline 1\n     2\tline 2\n"), "{all}");
    assert!(
        all.ends_with("    10\tline 10\n[ten.txt: lines 1-10 shown; end of file]"),
        "{all}"
    );

    let window = s
        .read(json!({"path": "ten.txt", "offset": 4, "limit": 2}))
        .await
        .unwrap();
    assert_eq!(
        window,
        "     4\tline 4\n     5\tline 5\n[ten.txt: lines 4-5 shown; more follow, continue with offset 6]"
    );
    let past = s
        .read(json!({"path": "ten.txt", "offset": 50}))
        .await
        .unwrap();
    assert!(past.contains("has 10 lines"), "{past}");

    std::fs::write(s.ws().join("empty.txt"), "").unwrap();
    assert_eq!(
        s.read(json!({"path": "empty.txt"})).await.unwrap(),
        "empty.txt is empty"
    );

    // Absolute paths inside the workspace are fine.
    let absolute = s.ws().join("ten.txt");
    let ok = s
        .read(json!({"path": absolute.to_str().unwrap(), "limit": 1}))
        .await
        .unwrap();
    assert!(ok.starts_with("     1\tline 1\n"), "{ok}");
    // So is `..` that stays inside.
    std::fs::create_dir(s.ws().join("sub")).unwrap();
    assert!(
        s.read(json!({"path": "sub/../ten.txt", "limit": 1}))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn reads_outside_the_workspace_are_refused() {
    let s = Setup::new(&FilesConfig::default());
    for path in [
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        "/etc/passwd",
    ] {
        let err = s.read(json!({"path": path})).await.unwrap_err();
        assert!(err.contains("outside the workspace"), "{path}: {err}");
    }
    let absolute = s.root.path().join("outside/secret.txt");
    let err = s
        .read(json!({"path": absolute.to_str().unwrap()}))
        .await
        .unwrap_err();
    assert!(err.contains("outside the workspace"), "{err}");

    // A symlink to a file outside, and one to a directory outside.
    symlink(
        s.root.path().join("outside/secret.txt"),
        s.ws().join("link.txt"),
    )
    .unwrap();
    symlink(s.root.path().join("outside"), s.ws().join("out")).unwrap();
    for path in ["link.txt", "out/secret.txt"] {
        let err = s.read(json!({"path": path})).await.unwrap_err();
        assert!(err.contains("through a symbolic link"), "{path}: {err}");
        assert!(!err.contains("secret\n"), "{err}");
    }
    // A symlink that stays inside is followed.
    std::fs::write(s.ws().join("real.txt"), "real\n").unwrap();
    symlink(s.ws().join("real.txt"), s.ws().join("alias.txt")).unwrap();
    assert!(
        s.read(json!({"path": "alias.txt"}))
            .await
            .unwrap()
            .contains("real")
    );

    let missing = s.read(json!({"path": "nope.txt"})).await.unwrap_err();
    assert!(missing.contains("does not exist"), "{missing}");
    let dir = s.read(json!({"path": "."})).await.unwrap_err();
    assert!(dir.contains("is a directory"), "{dir}");
}

#[tokio::test]
async fn reads_are_capped_and_text_only() {
    let s = Setup::new(&FilesConfig {
        max_read_bytes: 100,
        ..FilesConfig::default()
    });
    let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
    std::fs::write(s.ws().join("long.txt"), text).unwrap();
    let first = s.read(json!({"path": "long.txt"})).await.unwrap();
    let (body, footer) = first.rsplit_once('\n').unwrap();
    assert!(body.len() <= 100, "{} bytes", body.len());
    assert!(
        footer.contains("more follow, continue with offset"),
        "{footer}"
    );
    let next: u64 = footer
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches(']')
        .parse()
        .unwrap();
    let second = s
        .read(json!({"path": "long.txt", "offset": next}))
        .await
        .unwrap();
    assert!(
        second.starts_with(&format!("{next:>6}\tline {next}\n")),
        "{second}"
    );

    // One line longer than the cap: its start, cut.
    std::fs::write(s.ws().join("wide.txt"), "x".repeat(1000)).unwrap();
    let wide = s.read(json!({"path": "wide.txt"})).await.unwrap();
    assert!(
        wide.contains("[this line is cut]") && wide.len() < 300,
        "{wide}"
    );

    std::fs::write(s.ws().join("image.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    let err = s.read(json!({"path": "image.png"})).await.unwrap_err();
    assert!(err.contains("binary file"), "{err}");
    std::fs::write(s.ws().join("latin1.txt"), b"caf\xe9 au lait").unwrap();
    assert!(
        s.read(json!({"path": "latin1.txt"}))
            .await
            .unwrap_err()
            .contains("binary")
    );
}

#[tokio::test]
async fn writes_create_replace_and_append_atomically() {
    let s = Setup::new(&FilesConfig::default());
    let created = s
        .write(json!({"path": "notes/today/a.txt", "content": "one\n"}))
        .await
        .unwrap();
    assert_eq!(created, "wrote 4 bytes to notes/today/a.txt (new file)");
    let replaced = s
        .write(json!({"path": "notes/today/a.txt", "content": "two\n"}))
        .await
        .unwrap();
    assert_eq!(
        replaced,
        "wrote 4 bytes to notes/today/a.txt (replaced its content)"
    );
    let appended = s
        .write(json!({"path": "notes/today/a.txt", "content": "three\n", "append": true}))
        .await
        .unwrap();
    assert_eq!(
        appended,
        "appended 6 bytes to notes/today/a.txt (now 10 bytes)"
    );
    assert_eq!(
        std::fs::read_to_string(s.ws().join("notes/today/a.txt")).unwrap(),
        "two\nthree\n"
    );
    let fresh = s
        .write(json!({"path": "b.txt", "content": "b", "append": true}))
        .await
        .unwrap();
    assert_eq!(fresh, "wrote 1 bytes to b.txt (new file)");
    // No temporary files are left behind.
    assert_eq!(names(&s.ws().join("notes/today")), ["a.txt"]);
    assert_eq!(names(&s.ws()), ["b.txt", "notes"]);

    // Permissions of a replaced file are kept.
    use std::os::unix::fs::PermissionsExt;
    let script = s.ws().join("run.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.write(json!({"path": "run.sh", "content": "#!/bin/sh\necho hi\n"}))
        .await
        .unwrap();
    let mode = std::fs::metadata(&script).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[tokio::test]
async fn writes_outside_the_workspace_are_refused() {
    let s = Setup::new(&FilesConfig::default());
    let outside = s.root.path().join("outside");
    for path in [
        "../outside/new.txt".to_owned(),
        "a/../../outside/new.txt".to_owned(),
        outside.join("new.txt").to_str().unwrap().to_owned(),
        "/tmp/hermod-should-not-exist.txt".to_owned(),
    ] {
        let err = s
            .write(json!({"path": path, "content": "x"}))
            .await
            .unwrap_err();
        assert!(err.contains("outside the workspace"), "{path}: {err}");
    }

    // Through a symlinked parent directory, even one level down.
    symlink(&outside, s.ws().join("out")).unwrap();
    for path in ["out/new.txt", "out/deeper/new.txt"] {
        let err = s
            .write(json!({"path": path, "content": "x"}))
            .await
            .unwrap_err();
        assert!(err.contains("through a symbolic link"), "{path}: {err}");
    }
    // Onto a symlink, even one that points inside.
    symlink(outside.join("secret.txt"), s.ws().join("secret.txt")).unwrap();
    std::fs::write(s.ws().join("inside.txt"), "i").unwrap();
    symlink(s.ws().join("inside.txt"), s.ws().join("alias.txt")).unwrap();
    for path in ["secret.txt", "alias.txt"] {
        let err = s
            .write(json!({"path": path, "content": "x"}))
            .await
            .unwrap_err();
        assert!(err.contains("symbolic link"), "{path}: {err}");
    }
    assert_eq!(names(&outside), ["secret.txt"]);
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "secret\n"
    );

    let err = s
        .write(json!({"path": ".", "content": "x"}))
        .await
        .unwrap_err();
    assert!(err.contains("workspace itself"), "{err}");
    std::fs::create_dir(s.ws().join("dir")).unwrap();
    let err = s
        .write(json!({"path": "dir", "content": "x"}))
        .await
        .unwrap_err();
    assert!(err.contains("is a directory"), "{err}");
    let err = s.write(json!({"path": "x.txt"})).await.unwrap_err();
    assert!(err.contains("invalid arguments"), "{err}");
}

#[tokio::test]
async fn writes_are_capped() {
    let s = Setup::new(&FilesConfig {
        max_write_bytes: 10,
        ..FilesConfig::default()
    });
    let err = s
        .write(json!({"path": "big.txt", "content": "x".repeat(11)}))
        .await
        .unwrap_err();
    assert!(
        err.contains("at most 10 bytes") && err.contains("append"),
        "{err}"
    );
    assert!(!s.ws().join("big.txt").exists());
    s.write(json!({"path": "ok.txt", "content": "x".repeat(10)}))
        .await
        .unwrap();
}

#[test]
fn a_zero_cap_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::open(dir.path()).unwrap();
    let err = FilesConfig {
        max_read_bytes: 0,
        ..FilesConfig::default()
    }
    .build(&workspace)
    .unwrap_err();
    assert!(err.to_string().contains("files.max_read_bytes"), "{err}");
}
