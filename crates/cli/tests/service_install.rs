//! `hermod gateway install | uninstall`: the unit and plist text, the unit
//! checked by `systemd-analyze verify` where it exists, and install and
//! uninstall end to end against a fake `systemctl` that records its
//! arguments.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    reason = "test helpers fail loudly on unexpected errors; a skipped check says why"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HERMOD: &str = env!("CARGO_BIN_EXE_hermod");

/// A temp dir standing in for the user's home, with `HERMOD_HOME` in it.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn user_home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn hermod_home(&self) -> PathBuf {
        self.dir.path().join("hermod home")
    }

    fn config_home(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// `hermod` with only this fixture's environment and `path` as `PATH`.
    fn hermod(&self, path: &str, args: &[&str]) -> Output {
        Command::new(HERMOD)
            .args(args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.user_home())
            .env("XDG_CONFIG_HOME", self.config_home())
            .env("HERMOD_HOME", self.hermod_home())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    }

    fn print(&self, args: &[&str]) -> String {
        let mut all = vec!["gateway", "install", "--print"];
        all.extend_from_slice(args);
        let output = self.hermod("/usr/bin:/bin", &all);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn lines_of(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

#[test]
fn the_user_unit_runs_this_binary_on_the_home_as_a_notify_service() {
    let f = Fixture::new();
    let unit = f.print(&[]);
    let lines = lines_of(&unit);
    let home = f.hermod_home();
    for expected in [
        "[Service]".to_owned(),
        "Type=notify".to_owned(),
        "NotifyAccess=main".to_owned(),
        format!("ExecStart={HERMOD} gateway run"),
        format!("Environment=\"HERMOD_HOME={}\"", home.display()),
        format!("Environment=HOME={}", f.user_home().display()),
        "WatchdogSec=60".to_owned(),
        "Restart=on-failure".to_owned(),
        "RestartSec=5".to_owned(),
        "RestartForceExitStatus=75".to_owned(),
        "RestartPreventExitStatus=78".to_owned(),
        "KillSignal=SIGTERM".to_owned(),
        "TimeoutStopSec=45".to_owned(),
        "NoNewPrivileges=yes".to_owned(),
        "RestrictSUIDSGID=yes".to_owned(),
        "LockPersonality=yes".to_owned(),
        "WantedBy=default.target".to_owned(),
    ] {
        assert!(
            lines.contains(&expected.as_str()),
            "no {expected:?} in\n{unit}"
        );
    }
    // The per-user manager cannot set up file-system namespaces.
    for absent in ["ProtectSystem=", "User=", "multi-user.target"] {
        assert!(!lines.iter().any(|l| l.starts_with(absent)), "{unit}");
    }
}

#[test]
fn the_system_unit_runs_as_a_user_in_a_sandbox_that_can_write_the_home() {
    let f = Fixture::new();
    let unit = f.print(&["--system", "--run-as", "root"]);
    let lines = lines_of(&unit);
    let home = f.hermod_home();
    for expected in [
        "User=root".to_owned(),
        "Group=root".to_owned(),
        "Environment=HOME=/root".to_owned(),
        format!("Environment=\"HERMOD_HOME={}\"", home.display()),
        "ProtectSystem=strict".to_owned(),
        format!(
            "ReadWritePaths=\"{}\" /root/.local/state/hermod/locks",
            home.display()
        ),
        "PrivateTmp=yes".to_owned(),
        "ProtectKernelTunables=yes".to_owned(),
        "ProtectControlGroups=yes".to_owned(),
        "Type=notify".to_owned(),
        "RestartForceExitStatus=75".to_owned(),
        "After=network-online.target".to_owned(),
        "WantedBy=multi-user.target".to_owned(),
    ] {
        assert!(
            lines.contains(&expected.as_str()),
            "no {expected:?} in\n{unit}"
        );
    }
    assert!(unit.contains("hermod gateway uninstall --system"), "{unit}");
}

#[test]
fn the_drain_timeout_of_the_home_sets_the_stop_timeout() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.hermod_home()).unwrap();
    std::fs::write(
        f.hermod_home().join("config.yaml"),
        "gateway:\n  drain_timeout_secs: 100\n",
    )
    .unwrap();
    let unit = f.print(&[]);
    assert!(lines_of(&unit).contains(&"TimeoutStopSec=115"), "{unit}");
}

#[test]
fn the_plist_keeps_the_gateway_alive_with_its_logs_in_the_home() {
    let f = Fixture::new();
    let plist = f.print(&["--format", "launchd", "--name", "hermod-work"]);
    let home = f.hermod_home();
    for expected in [
        "<key>Label</key>\n  <string>hermod-work</string>".to_owned(),
        format!(
            "<key>ProgramArguments</key>\n  <array>\n    <string>{HERMOD}</string>\n    <string>gateway</string>\n    <string>run</string>\n  </array>"
        ),
        format!(
            "<key>HERMOD_HOME</key>\n    <string>{}</string>",
            home.display()
        ),
        "<key>RunAtLoad</key>\n  <true/>".to_owned(),
        "<key>KeepAlive</key>\n  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>"
            .to_owned(),
        format!(
            "<key>StandardErrorPath</key>\n  <string>{}</string>",
            home.join("logs/gateway.err.log").display()
        ),
    ] {
        assert!(plist.contains(&expected), "no {expected:?} in\n{plist}");
    }
    assert!(plist.starts_with("<?xml"), "{plist}");
}

#[test]
fn a_bad_service_name_is_refused() {
    let f = Fixture::new();
    let output = f.hermod(
        "/usr/bin:/bin",
        &["gateway", "install", "--print", "--name", "a/b"],
    );
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot be a service name"),
        "{output:?}"
    );
}

fn systemd_analyze() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("systemd-analyze"))
        .find(|p| p.is_file())
}

/// `systemd-analyze verify` on `unit`, written as `name.service`; fails on
/// any complaint, warnings included.
fn verify(f: &Fixture, unit: &str, user: bool) {
    let Some(analyze) = systemd_analyze() else {
        eprintln!("skipped: systemd-analyze is not installed (Debian/Ubuntu package systemd)");
        return;
    };
    let dir = f
        .dir
        .path()
        .join(if user { "user-unit" } else { "system-unit" });
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hermod.service");
    std::fs::write(&path, unit).unwrap();
    let runtime = f.dir.path().join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    let mut cmd = Command::new(analyze);
    if user {
        cmd.arg("--user").env("XDG_RUNTIME_DIR", &runtime);
    }
    let output = cmd.arg("verify").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && stderr.contains("Failed to initialize manager") {
        eprintln!("skipped: systemd-analyze cannot run here: {stderr}");
        return;
    }
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("hermod.service"))
        .collect();
    assert!(
        output.status.success() && complaints.is_empty(),
        "systemd-analyze verify {}:\n{stderr}\n{unit}",
        path.display()
    );
}

#[test]
fn systemd_analyze_accepts_the_units() {
    let f = Fixture::new();
    verify(&f, &f.print(&[]), true);
    verify(&f, &f.print(&["--system", "--run-as", "root"]), false);
}

/// A directory with a `systemctl` that appends its arguments to `log`.
fn fake_systemctl(f: &Fixture) -> (PathBuf, PathBuf) {
    let bin = f.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = f.dir.path().join("systemctl.log");
    let script = bin.join("systemctl");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n", log.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, log)
}

fn path_with(bin: &Path) -> String {
    format!("{}:/usr/bin:/bin", bin.display())
}

#[test]
fn install_writes_the_unit_and_starts_it_and_uninstall_removes_it() {
    let f = Fixture::new();
    let (bin, log) = fake_systemctl(&f);
    let path = path_with(&bin);
    let output = f.hermod(&path, &["gateway", "install"]);
    assert!(output.status.success(), "{output:?}");
    let unit_path = f.config_home().join("systemd/user/hermod.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    assert!(unit.contains("Type=notify"), "{unit}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&unit_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
    assert!(f.hermod_home().is_dir());
    assert!(f.user_home().join(".local/state/hermod/locks").is_dir());
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "--user daemon-reload\n--user enable --now hermod\n"
    );
    let said = stdout(&output);
    for expected in [
        format!("wrote {}", unit_path.display()),
        "ran systemctl --user enable --now hermod".to_owned(),
        "journalctl --user -u hermod -f".to_owned(),
        "hermod gateway status".to_owned(),
        "loginctl enable-linger".to_owned(),
    ] {
        assert!(said.contains(&expected), "no {expected:?} in\n{said}");
    }

    std::fs::remove_file(&log).unwrap();
    let output = f.hermod(&path, &["gateway", "uninstall"]);
    assert!(output.status.success(), "{output:?}");
    assert!(!unit_path.exists());
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "--user disable --now hermod\n--user daemon-reload\n"
    );
    let said = stdout(&output);
    assert!(
        said.contains(&format!("removed {}", unit_path.display())),
        "{said}"
    );

    // Nothing left to remove: said so, and systemctl is left alone.
    std::fs::remove_file(&log).unwrap();
    let output = f.hermod(&path, &["gateway", "uninstall"]);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).contains("no hermod service is installed"));
    assert!(!log.exists());
}

#[test]
fn a_named_service_installed_without_starting_it() {
    let f = Fixture::new();
    let (bin, log) = fake_systemctl(&f);
    let output = f.hermod(
        &path_with(&bin),
        &["gateway", "install", "--name", "hermod-work", "--no-start"],
    );
    assert!(output.status.success(), "{output:?}");
    let unit = f.config_home().join("systemd/user/hermod-work.service");
    assert!(
        std::fs::read_to_string(unit)
            .unwrap()
            .contains("hermod gateway uninstall --name hermod-work")
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "--user daemon-reload\n--user enable hermod-work\n"
    );
    assert!(stdout(&output).contains("systemctl --user start hermod-work"));
}

#[test]
fn without_systemctl_the_unit_is_written_and_its_path_said() {
    let f = Fixture::new();
    let empty = f.dir.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let output = f.hermod(empty.to_str().unwrap(), &["gateway", "install"]);
    assert!(output.status.success(), "{output:?}");
    let unit = f.config_home().join("systemd/user/hermod.service");
    assert!(unit.is_file());
    let said = stdout(&output);
    assert!(
        said.contains("systemctl is not on PATH") && said.contains(&unit.display().to_string()),
        "{said}"
    );
}

#[test]
fn a_failing_systemctl_fails_the_install_with_what_it_ran() {
    let f = Fixture::new();
    let bin = f.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("systemctl");
    std::fs::write(&script, "#!/bin/sh\nexit 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = f.hermod(&path_with(&bin), &["gateway", "install"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("systemctl --user daemon-reload failed"),
        "{stderr}"
    );
}
