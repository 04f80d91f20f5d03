//! `hermod gateway install | uninstall`: the gateway as a service of the
//! system's service manager — a systemd unit on Linux, a launchd agent on
//! macOS — and `--print`, which writes that file to stdout and installs
//! nothing.
//!
//! The unit is `Type=notify`: the gateway sends `READY=1` once it serves,
//! `WATCHDOG=1` at half of `WatchdogSec=` and `STOPPING=1` on shutdown
//! (`notify`). Its exit codes tell systemd what to do: 75 asks for a restart
//! (`RestartForceExitStatus=`), 78 is a configuration error that a restart
//! would not fix (`RestartPreventExitStatus=`), 0 is a clean stop, anything
//! else a failure that `Restart=on-failure` revives.
//!
//! A system unit runs in a file-system sandbox (`ProtectSystem=strict`) in
//! which only `HERMOD_HOME` and the token lock directory are writable; both
//! must exist when it starts, so `install` creates them. A user unit gets
//! the sandboxing that works without the system manager: the per-user
//! manager cannot set up file-system namespaces on its own
//! (systemd.exec(5)).

use super::pidfile;
use crate::commands::{err, out};
use crate::config;
use anyhow::{Context, bail};
use hermod_core::GatewayConfig;
use hermod_platforms::lock::LockDir;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `WatchdogSec=`: the gateway pings every half of it.
const WATCHDOG_SECS: u64 = 60;
/// `RestartSec=`: the pause before systemd starts a failed gateway again.
const RESTART_SECS: u64 = 5;
/// What the gateway gives cancelled turns after the drain, in seconds.
const CANCEL_GRACE_SECS: u64 = 5;
/// Exit code asking the supervisor for a restart (EX_TEMPFAIL).
const EXIT_RESTART: u8 = 75;

/// Which service manager instance runs the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The user's own manager (`systemctl --user`, a LaunchAgent).
    User,
    /// The system manager, as a given user (`/etc/systemd/system`).
    System,
}

/// What file to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A systemd unit (Linux).
    Systemd,
    /// A launchd property list (macOS).
    Launchd,
}

impl Format {
    fn native() -> Self {
        if cfg!(target_os = "macos") {
            Self::Launchd
        } else {
            Self::Systemd
        }
    }
}

/// The options of `hermod gateway install`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// A service of your own user (~/.config/systemd/user; the default). It
    /// starts when you log in; `loginctl enable-linger` starts it at boot.
    #[arg(long, conflicts_with = "system")]
    user: bool,
    /// A system service (/etc/systemd/system; needs root), run as the user
    /// who invoked sudo, or --run-as.
    #[arg(long)]
    system: bool,
    /// Write the unit (or plist) to stdout and install nothing.
    #[arg(long)]
    print: bool,
    /// Install and enable, but do not start it now.
    #[arg(long)]
    no_start: bool,
    /// The service's name, so that several homes can be installed side by
    /// side.
    #[arg(long, default_value = "hermod")]
    name: String,
    /// The user a system service runs as.
    #[arg(long, requires = "system", value_name = "USER")]
    run_as: Option<String>,
    /// The kind of file: a systemd unit or a launchd plist (default: the one
    /// of this system).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// The options of `hermod gateway uninstall`.
#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    /// The user service (the default).
    #[arg(long, conflicts_with = "system")]
    user: bool,
    /// The system service (needs root).
    #[arg(long)]
    system: bool,
    /// The service's name, as given to `install`.
    #[arg(long, default_value = "hermod")]
    name: String,
}

/// Everything the unit and the plist say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub name: String,
    pub scope: Scope,
    /// The binary `gateway run` starts, absolute.
    pub exe: PathBuf,
    /// `HERMOD_HOME`, absolute.
    pub home: PathBuf,
    /// `HOME` of the user the gateway runs as.
    pub user_home: PathBuf,
    /// The token lock directory (`ReadWritePaths=`).
    pub lock_dir: PathBuf,
    /// `User=` and `Group=` (system services only).
    pub account: Option<(String, String)>,
    /// The configured drain timeout, in seconds.
    pub drain_secs: u64,
}

impl Plan {
    /// `TimeoutStopSec=`: the drain, the grace period for cancelled turns,
    /// and time to close the database.
    fn stop_timeout_secs(&self) -> u64 {
        self.drain_secs + CANCEL_GRACE_SECS + 10
    }

    /// The lock directory `HOME` alone resolves to; when it is another,
    /// the unit sets `HERMOD_LOCK_DIR`.
    fn default_lock_dir(&self) -> PathBuf {
        self.user_home.join(".local/state/hermod/locks")
    }
}

/// The systemd unit of `plan`.
pub fn systemd_unit(plan: &Plan) -> String {
    let system = plan.scope == Scope::System;
    let mut u = String::new();
    let _ = writeln!(
        u,
        "# The hermod gateway on {home}, written by `hermod gateway install`;\n\
         # remove it with `hermod gateway uninstall{flags}`.",
        home = plan.home.display(),
        flags = uninstall_flags(plan.scope, &plan.name),
    );
    u.push_str("[Unit]\n");
    let _ = writeln!(u, "Description=hermod gateway ({})", escape(&plan.home));
    if system {
        // It calls the model endpoint and the platforms as it starts.
        u.push_str("Wants=network-online.target\nAfter=network-online.target\n");
    }
    u.push_str("\n[Service]\nType=notify\nNotifyAccess=main\n");
    let _ = writeln!(u, "ExecStart={} gateway run", quote(&plan.exe));
    let _ = writeln!(u, "Environment={}", quote_env("HERMOD_HOME", &plan.home));
    let _ = writeln!(u, "Environment={}", quote_env("HOME", &plan.user_home));
    if plan.lock_dir != plan.default_lock_dir() {
        let _ = writeln!(
            u,
            "Environment={}",
            quote_env("HERMOD_LOCK_DIR", &plan.lock_dir)
        );
    }
    if let Some((user, group)) = &plan.account {
        let _ = writeln!(u, "User={user}\nGroup={group}");
    }
    let _ = writeln!(u, "WatchdogSec={WATCHDOG_SECS}");
    u.push_str("Restart=on-failure\n");
    let _ = writeln!(u, "RestartSec={RESTART_SECS}");
    let _ = writeln!(
        u,
        "# {EXIT_RESTART}: a restart was asked for; {}: the configuration is wrong, and\n\
         # restarting does not fix it (`hermod config check` says what is).",
        crate::EXIT_CONFIG
    );
    let _ = writeln!(u, "RestartForceExitStatus={EXIT_RESTART}");
    let _ = writeln!(u, "RestartPreventExitStatus={}", crate::EXIT_CONFIG);
    u.push_str("KillSignal=SIGTERM\n");
    let _ = writeln!(
        u,
        "# The drain timeout ({}s, gateway.drain_timeout_secs) and time to close.",
        plan.drain_secs
    );
    let _ = writeln!(u, "TimeoutStopSec={}", plan.stop_timeout_secs());
    u.push_str("NoNewPrivileges=yes\nRestrictSUIDSGID=yes\nLockPersonality=yes\n");
    if system {
        u.push_str(
            "# Read-only but for HERMOD_HOME and the token locks; both must exist.\n\
             ProtectSystem=strict\n",
        );
        let _ = writeln!(
            u,
            "ReadWritePaths={} {}",
            quote(&plan.home),
            quote(&plan.lock_dir)
        );
        u.push_str("PrivateTmp=yes\nProtectKernelTunables=yes\nProtectControlGroups=yes\n");
    } else {
        u.push_str(
            "# The file-system sandbox (ProtectSystem=strict, PrivateTmp=...) needs the\n\
             # system manager: `hermod gateway install --system`.\n",
        );
    }
    u.push_str("\n[Install]\n");
    let _ = writeln!(
        u,
        "WantedBy={}",
        if system {
            "multi-user.target"
        } else {
            "default.target"
        }
    );
    u
}

/// The launchd property list of `plan` (a LaunchAgent).
pub fn launchd_plist(plan: &Plan) -> String {
    let s = |p: &Path| xml(&p.to_string_lossy());
    let logs = plan.home.join("logs");
    let mut p = String::new();
    p.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n",
    );
    let _ = writeln!(
        p,
        "  <key>Label</key>\n  <string>{}</string>",
        xml(&plan.name)
    );
    let _ = writeln!(
        p,
        "  <key>ProgramArguments</key>\n  <array>\n    <string>{}</string>\n    <string>gateway</string>\n    <string>run</string>\n  </array>",
        s(&plan.exe)
    );
    p.push_str("  <key>EnvironmentVariables</key>\n  <dict>\n");
    let mut env = vec![("HERMOD_HOME", &plan.home), ("HOME", &plan.user_home)];
    if plan.lock_dir != plan.default_lock_dir() {
        env.push(("HERMOD_LOCK_DIR", &plan.lock_dir));
    }
    for (key, value) in env {
        let _ = writeln!(p, "    <key>{key}</key>\n    <string>{}</string>", s(value));
    }
    p.push_str("  </dict>\n");
    p.push_str("  <key>RunAtLoad</key>\n  <true/>\n");
    // Started again when it exits with a failure; a clean stop stays stopped.
    p.push_str(
        "  <key>KeepAlive</key>\n  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>\n",
    );
    let _ = writeln!(
        p,
        "  <key>ExitTimeOut</key>\n  <integer>{}</integer>",
        plan.stop_timeout_secs()
    );
    let _ = writeln!(
        p,
        "  <key>StandardOutPath</key>\n  <string>{}</string>",
        s(&logs.join("gateway.out.log"))
    );
    let _ = writeln!(
        p,
        "  <key>StandardErrorPath</key>\n  <string>{}</string>",
        s(&logs.join("gateway.err.log"))
    );
    p.push_str("</dict>\n</plist>\n");
    p
}

/// `hermod gateway install`.
pub fn install(args: InstallArgs) -> anyhow::Result<()> {
    let InstallArgs {
        user: _,
        system,
        print,
        no_start,
        name,
        run_as,
        format,
    } = args;
    let scope = scope_of(system);
    let name = checked_name(&name)?;
    let format = format.unwrap_or_else(Format::native);
    let env = config::process_env();
    let plan = plan(&env, scope, &name, run_as.as_deref())?;
    let text = match format {
        Format::Systemd => systemd_unit(&plan),
        Format::Launchd => launchd_plist(&plan),
    };
    if print {
        out(text.strip_suffix('\n').unwrap_or(&text));
        return Ok(());
    }
    if format == Format::Launchd {
        return install_launchd(&plan, &text, no_start);
    }
    if cfg!(target_os = "macos") {
        bail!(
            "macOS has no systemd: install a launchd agent with `hermod gateway install`, or add --print to see the unit"
        );
    }
    if scope == Scope::System && !is_root() {
        bail!(
            "installing a system service writes /etc/systemd/system: run it as root (`sudo \"$(command -v hermod)\" gateway install --system`), or install a user service (`hermod gateway install --user`)"
        );
    }
    if let Some(Ok(record)) = pidfile::running(&plan.home)
        && record.supervisor.as_deref() != Some("systemd")
    {
        let message = format!(
            "a gateway already runs on {} (pid {}), started outside systemd; the service could not take the home while it runs. Stop it first (`hermod gateway stop`)",
            plan.home.display(),
            record.pid
        );
        if !no_start {
            bail!("{message}, then run this again (or add --no-start)");
        }
        err(format_args!("note: {message}, then start the service."));
    }

    let path = unit_path(scope, &env, &name)?;
    for dir in [&plan.home, &plan.lock_dir] {
        create_owned_dir(dir, &plan)?;
    }
    write_file(&path, &text)?;
    out(format_args!("wrote {}", path.display()));

    let flag = user_flag(scope);
    let Some(systemctl) = find_on_path("systemctl") else {
        out(format_args!(
            "systemctl is not on PATH, so nothing was enabled or started: the unit is {}; have systemd load it (`systemctl{flag} daemon-reload`, then `systemctl{flag} enable --now {name}`) where systemd runs",
            path.display()
        ));
        return Ok(());
    };
    systemctl_run(&systemctl, scope, &["daemon-reload"])?;
    out(format_args!("ran systemctl{flag} daemon-reload"));
    let enable: &[&str] = if no_start {
        &["enable", &name]
    } else {
        &["enable", "--now", &name]
    };
    systemctl_run(&systemctl, scope, enable)?;
    out(format_args!("ran systemctl{flag} {}", enable.join(" ")));
    if no_start {
        out(format_args!(
            "enabled, not started: start it with `systemctl{flag} start {name}`"
        ));
    } else {
        out(format_args!("the gateway {name} is started and enabled"));
    }
    out(format_args!("  logs:   journalctl{flag} -u {name} -f"));
    out(format_args!(
        "  status: hermod gateway status (or systemctl{flag} status {name})"
    ));
    if scope == Scope::User {
        out(format_args!(
            "  a user service runs while you are logged in; to start it at boot and keep it running after you log out: loginctl enable-linger {}",
            current_user_name().unwrap_or_else(|| "$USER".to_owned())
        ));
    }
    Ok(())
}

/// `hermod gateway uninstall`.
pub fn uninstall(args: UninstallArgs) -> anyhow::Result<()> {
    let UninstallArgs {
        user: _,
        system,
        name,
    } = args;
    let scope = scope_of(system);
    let name = checked_name(&name)?;
    let env = config::process_env();
    if cfg!(target_os = "macos") {
        return uninstall_launchd(&env, &name);
    }
    if scope == Scope::System && !is_root() {
        bail!(
            "removing a system service changes /etc/systemd/system: run it as root (`sudo \"$(command -v hermod)\" gateway uninstall --system`)"
        );
    }
    let path = unit_path(scope, &env, &name)?;
    let flag = user_flag(scope);
    let systemctl = find_on_path("systemctl");
    if path.exists()
        && let Some(systemctl) = &systemctl
    {
        systemctl_run(systemctl, scope, &["disable", "--now", &name])?;
        out(format_args!("ran systemctl{flag} disable --now {name}"));
    }
    match std::fs::remove_file(&path) {
        Ok(()) => out(format_args!("removed {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            out(format_args!(
                "no {name} service is installed: {} does not exist{}",
                path.display(),
                match scope {
                    Scope::User => " (a system service is removed with --system)",
                    Scope::System => "",
                }
            ));
            return Ok(());
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot remove {}", path.display()));
        }
    }
    match &systemctl {
        Some(systemctl) => {
            systemctl_run(systemctl, scope, &["daemon-reload"])?;
            out(format_args!("ran systemctl{flag} daemon-reload"));
        }
        None => out(format_args!(
            "systemctl is not on PATH, so nothing was stopped or disabled; {} is removed",
            path.display()
        )),
    }
    Ok(())
}

fn scope_of(system: bool) -> Scope {
    if system { Scope::System } else { Scope::User }
}

fn user_flag(scope: Scope) -> &'static str {
    match scope {
        Scope::User => " --user",
        Scope::System => "",
    }
}

fn uninstall_flags(scope: Scope, name: &str) -> String {
    let mut flags = String::new();
    if scope == Scope::System {
        flags.push_str(" --system");
    }
    if name != "hermod" {
        let _ = write!(flags, " --name {name}");
    }
    flags
}

/// The service name without `.service`, if it is one systemd and launchd
/// both accept as it is.
pub fn checked_name(name: &str) -> anyhow::Result<String> {
    let name = name.strip_suffix(".service").unwrap_or(name);
    let valid = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        bail!(
            "{name:?} cannot be a service name: use letters, digits, '-', '_' and '.' (for example hermod-work)"
        );
    }
    Ok(name.to_owned())
}

/// Resolves what the service runs: this binary, the home, the user.
fn plan(
    env: &hermod_model::EnvVars,
    scope: Scope,
    name: &str,
    run_as: Option<&str>,
) -> anyhow::Result<Plan> {
    let exe = std::env::current_exe()
        .context("cannot tell where this hermod binary is, for ExecStart")?;
    let (user_home, account) = match scope {
        Scope::User => {
            let home = env
                .get("HOME")
                .map(PathBuf::from)
                .context("HOME is not set: set it to your home directory")?;
            (home, None)
        }
        Scope::System => {
            let user = match run_as {
                Some(user) => user.to_owned(),
                None => env
                    .get("SUDO_USER")
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .or_else(current_user_name)
                    .context("cannot tell which user runs the service: add --run-as USER")?,
            };
            let entry = passwd_entry(&user).with_context(|| {
                format!(
                    "there is no user {user:?} (in /etc/passwd): name an existing one with --run-as"
                )
            })?;
            let group = group_name(entry.gid).unwrap_or_else(|| entry.gid.to_string());
            (entry.home, Some((user, group)))
        }
    };
    let home = match env.get("HERMOD_HOME") {
        Some(home) => PathBuf::from(home),
        None => user_home.join(".hermod"),
    };
    let home = std::path::absolute(&home)
        .with_context(|| format!("cannot make {} absolute", home.display()))?;
    let lock_dir = match scope {
        Scope::User => LockDir::from_vars(|n| env.get(n).map(OsString::from)),
        // Under sudo, XDG_STATE_HOME would be root's.
        Scope::System => LockDir::from_vars(|n| match n {
            "HERMOD_LOCK_DIR" => env.get(n).map(OsString::from),
            "HOME" => Some(user_home.clone().into_os_string()),
            _ => None,
        }),
    }
    .map(|d| d.path().to_owned())
    .unwrap_or_else(|| user_home.join(".local/state/hermod/locks"));
    let drain_secs = config::load(&home, env)
        .map(|c| c.gateway.drain_timeout_secs)
        .unwrap_or_else(|_| GatewayConfig::default().drain_timeout_secs);
    Ok(Plan {
        name: name.to_owned(),
        scope,
        exe,
        home,
        user_home,
        lock_dir,
        account,
        drain_secs,
    })
}

/// Where the unit file goes.
fn unit_path(scope: Scope, env: &hermod_model::EnvVars, name: &str) -> anyhow::Result<PathBuf> {
    let file = format!("{name}.service");
    Ok(match scope {
        Scope::System => Path::new("/etc/systemd/system").join(file),
        Scope::User => {
            let config = match env.get("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
                Some(dir) => PathBuf::from(dir),
                None => env
                    .get("HOME")
                    .map(|h| Path::new(h).join(".config"))
                    .context("neither XDG_CONFIG_HOME nor HOME is set: set HOME")?,
            };
            config.join("systemd/user").join(file)
        }
    })
}

/// Writes `text` to `path` (0644: the service manager reads it), creating
/// its directory.
fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("cannot make {} readable (0644)", path.display()))?;
    }
    Ok(())
}

/// Creates `dir` (0700) and what is missing above it, owned by the user
/// the service runs as.
fn create_owned_dir(dir: &Path, plan: &Plan) -> anyhow::Result<()> {
    let mut missing = Vec::new();
    let mut cursor = Some(dir);
    while let Some(d) = cursor.filter(|d| !d.exists()) {
        missing.push(d.to_owned());
        cursor = d.parent();
    }
    for d in missing.iter().rev() {
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(d)
            .with_context(|| format!("cannot create {}", d.display()))?;
        #[cfg(unix)]
        if let Some((user, _)) = &plan.account
            && let Some(entry) = passwd_entry(user)
            && is_root()
        {
            rustix::fs::chown(
                d,
                Some(rustix::fs::Uid::from_raw(entry.uid)),
                Some(rustix::fs::Gid::from_raw(entry.gid)),
            )
            .with_context(|| format!("cannot give {} to {user}", d.display()))?;
        }
    }
    Ok(())
}

fn systemctl_run(systemctl: &Path, scope: Scope, args: &[&str]) -> anyhow::Result<()> {
    let mut cmd = Command::new(systemctl);
    if scope == Scope::User {
        cmd.arg("--user");
    }
    cmd.args(args);
    let shown = format!("systemctl{} {}", user_flag(scope), args.join(" "));
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!(
            "{shown} failed ({status}); what systemctl printed above says why{}",
            match scope {
                Scope::User =>
                    " (a user service needs a running user manager: log in as this user, or see `loginctl enable-linger`)",
                Scope::System => "",
            }
        );
    }
    Ok(())
}

/// The launchd agent's file.
fn plist_path(env: &hermod_model::EnvVars, name: &str) -> anyhow::Result<PathBuf> {
    let home = env
        .get("HOME")
        .context("HOME is not set: set it to your home directory")?;
    Ok(Path::new(home)
        .join("Library/LaunchAgents")
        .join(format!("{name}.plist")))
}

fn install_launchd(plan: &Plan, text: &str, no_start: bool) -> anyhow::Result<()> {
    if !cfg!(target_os = "macos") {
        bail!("a launchd agent is installed only on macOS; add --print to see it");
    }
    if plan.scope == Scope::System {
        bail!("on macOS hermod installs a launchd agent of your user: leave out --system");
    }
    let env = config::process_env();
    let path = plist_path(&env, &plan.name)?;
    for dir in [&plan.home, &plan.home.join("logs"), &plan.lock_dir] {
        create_owned_dir(dir, plan)?;
    }
    write_file(&path, text)?;
    out(format_args!("wrote {}", path.display()));
    if !no_start {
        let domain = format!("gui/{}", uid());
        let status = Command::new("launchctl")
            .args(["bootstrap", &domain])
            .arg(&path)
            .status()
            .context("cannot run launchctl")?;
        if !status.success() {
            bail!(
                "launchctl bootstrap {domain} {} failed ({status}); if it is loaded already, run `hermod gateway uninstall` first",
                path.display()
            );
        }
        out(format_args!(
            "ran launchctl bootstrap {domain} {}",
            path.display()
        ));
    }
    out(format_args!(
        "  logs:   {}",
        plan.home.join("logs/gateway.err.log").display()
    ));
    out("  status: hermod gateway status");
    Ok(())
}

fn uninstall_launchd(env: &hermod_model::EnvVars, name: &str) -> anyhow::Result<()> {
    let path = plist_path(env, name)?;
    if !path.exists() {
        out(format_args!(
            "no {name} agent is installed: {} does not exist",
            path.display()
        ));
        return Ok(());
    }
    let domain = format!("gui/{}", uid());
    // Not loaded is fine: the file is removed either way.
    let _ = Command::new("launchctl")
        .args(["bootout", &domain])
        .arg(&path)
        .status();
    out(format_args!(
        "ran launchctl bootout {domain} {}",
        path.display()
    ));
    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    out(format_args!("removed {}", path.display()));
    Ok(())
}

/// `name` on `PATH`, if it is there.
fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn uid() -> u32 {
    #[cfg(unix)]
    {
        rustix::process::getuid().as_raw()
    }
    #[cfg(not(unix))]
    {
        0
    }
}

fn is_root() -> bool {
    #[cfg(unix)]
    {
        rustix::process::geteuid().is_root()
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// A user's line of `/etc/passwd`.
#[derive(Debug, PartialEq, Eq)]
struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

fn parse_passwd(text: &str) -> impl Iterator<Item = PasswdEntry> + '_ {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7).then_some(())?;
        Some(PasswdEntry {
            name: f[0].to_owned(),
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: PathBuf::from(f[5]),
        })
    })
}

fn passwd_entry(name: &str) -> Option<PasswdEntry> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    parse_passwd(&text).find(|e| e.name == name)
}

fn current_user_name() -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    let uid = uid();
    parse_passwd(&text).find(|e| e.uid == uid).map(|e| e.name)
}

fn group_name(gid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        f.next()?;
        (f.next()?.parse::<u32>().ok()? == gid).then(|| name.to_owned())
    })
}

/// `%` doubled, as systemd expands specifiers in most settings.
fn escape(path: &Path) -> String {
    path.to_string_lossy().replace('%', "%%")
}

/// A path as one word of a systemd setting: quoted (C-style escapes) when it
/// has whitespace, quotes or backslashes.
fn quote(path: &Path) -> String {
    quote_word(&escape(path))
}

fn quote_word(word: &str) -> String {
    if word
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\'))
    {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        word.to_owned()
    }
}

/// One `Environment=` assignment; quoted whole when needed.
fn quote_env(key: &str, value: &Path) -> String {
    quote_word(&format!("{key}={}", escape(value)))
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(scope: Scope) -> Plan {
        Plan {
            name: "hermod".into(),
            scope,
            exe: "/usr/local/bin/hermod".into(),
            home: "/home/ada/.hermod".into(),
            user_home: "/home/ada".into(),
            lock_dir: "/home/ada/.local/state/hermod/locks".into(),
            account: (scope == Scope::System).then(|| ("ada".into(), "ada".into())),
            drain_secs: 30,
        }
    }

    #[test]
    fn a_path_with_a_space_or_a_percent_stays_one_word() {
        assert_eq!(quote(Path::new("/a/b")), "/a/b");
        assert_eq!(quote(Path::new("/my home/x")), "\"/my home/x\"");
        assert_eq!(quote(Path::new("/100%")), "/100%%");
        assert_eq!(
            quote_env("HERMOD_HOME", Path::new("/a b")),
            "\"HERMOD_HOME=/a b\""
        );
    }

    #[test]
    fn service_names_are_checked() {
        assert_eq!(checked_name("hermod-work").unwrap(), "hermod-work");
        assert_eq!(checked_name("work.service").unwrap(), "work");
        for bad in ["", "a b", "../x", "-x", "a/b"] {
            assert!(checked_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwd_lines_are_read() {
        let text =
            "root:x:0:0:root:/root:/bin/bash\nada:x:1000:1001:Ada:/home/ada:/bin/sh\nbroken\n";
        let entries: Vec<_> = parse_passwd(text).collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[1],
            PasswdEntry {
                name: "ada".into(),
                uid: 1000,
                gid: 1001,
                home: "/home/ada".into()
            }
        );
    }

    #[test]
    fn the_stop_timeout_covers_the_drain() {
        let p = plan(Scope::User);
        assert!(p.stop_timeout_secs() > p.drain_secs + CANCEL_GRACE_SECS);
        assert!(systemd_unit(&p).contains(&format!("TimeoutStopSec={}\n", p.stop_timeout_secs())));
    }

    #[test]
    fn a_lock_directory_other_than_home_s_is_set_explicitly() {
        let mut p = plan(Scope::System);
        assert!(!systemd_unit(&p).contains("HERMOD_LOCK_DIR"));
        p.lock_dir = "/srv/locks".into();
        let unit = systemd_unit(&p);
        assert!(
            unit.contains("Environment=HERMOD_LOCK_DIR=/srv/locks\n"),
            "{unit}"
        );
        assert!(
            unit.contains("ReadWritePaths=/home/ada/.hermod /srv/locks\n"),
            "{unit}"
        );
        assert!(launchd_plist(&p).contains("<key>HERMOD_LOCK_DIR</key>"));
    }

    #[test]
    fn plist_strings_are_escaped() {
        let mut p = plan(Scope::User);
        p.home = "/Users/a&b/.hermod".into();
        let plist = launchd_plist(&p);
        assert!(
            plist.contains("<string>/Users/a&amp;b/.hermod</string>"),
            "{plist}"
        );
    }
}
