//! The real peers: Dovecot (IMAP, with STARTTLS on its plain port and TLS
//! on its IMAPS port) and aiosmtpd (SMTP with AUTH and STARTTLS, and TLS
//! on a second port), each
//! with a private configuration in a temporary directory, on free ports
//! of 127.0.0.1, their certificate signed by a CA made for the test.
//! Found through `HERMOD_DOVECOT` (the dovecot binary) and
//! `HERMOD_AIOSMTPD_PYTHON` (a Python with aiosmtpd); a test without them
//! is skipped with a note, except under CI, where it fails.
//!
//! Each is started in its own process group, waited for (Dovecot's
//! greeting, aiosmtpd's `ready` line), and the group killed on drop.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::AsyncReadExt;

/// The bot's mailbox and login.
pub const BOT: &str = "bot@localhost";
/// Distinctive, so the conformance suite can look for it in logs.
pub const PASSWORD: &str = "Pw-mail-0secret-9x";

/// The two servers' paths, or `None` (the test skips) outside CI.
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
pub fn binaries() -> Option<(PathBuf, PathBuf)> {
    let dovecot = std::env::var_os("HERMOD_DOVECOT");
    let python = std::env::var_os("HERMOD_AIOSMTPD_PYTHON");
    if let (Some(d), Some(p)) = (dovecot, python) {
        return Some((d.into(), p.into()));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "HERMOD_DOVECOT and HERMOD_AIOSMTPD_PYTHON are needed under CI \
         (.ci/run installs dovecot-imapd and aiosmtpd)"
    );
    eprintln!(
        "skipped: HERMOD_DOVECOT (the dovecot binary) and HERMOD_AIOSMTPD_PYTHON \
         (a Python with aiosmtpd) are not set"
    );
    None
}

/// A process group we started, killed on drop.
#[derive(Debug)]
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // The child leads its own group (`process_group(0)`): its id is
        // the group's. Never 0 or 1, which would name other processes.
        let pgid = self.0.id();
        if pgid > 1 {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pgid}")])
                .status();
        }
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Dovecot and aiosmtpd for one test.
#[derive(Debug)]
pub struct Servers {
    dir: TempDir,
    dovecot_bin: PathBuf,
    dovecot: Option<Group>,
    _smtp: Group,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub smtp_port: u16,
    /// SMTP with TLS from the first byte.
    pub smtps_port: u16,
}

impl Servers {
    /// Starts both, or `None` when they are not installed (outside CI).
    pub async fn start() -> Option<Self> {
        let (dovecot_bin, python) = binaries()?;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Dovecot's login and mail processes run as other users.
        set_mode(root, 0o755);
        hermod_testkit::certificates::make(root).expect("test certificates");
        std::fs::create_dir(root.join("mail")).unwrap();
        set_mode(&root.join("mail"), 0o777);
        std::fs::write(root.join("users"), format!("{BOT}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        let (imap_port, imaps_port) = (free_port(), free_port());
        let (smtp_port, smtps_port) = (free_port(), free_port());
        std::fs::write(
            root.join("dovecot.conf"),
            dovecot_conf(root, imap_port, imaps_port),
        )
        .unwrap();

        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/support/smtp_server.py");
        let smtp_dir = root.join("smtp");
        let mut command = Command::new(python);
        command
            .arg(script)
            .args(["127.0.0.1", &smtp_port.to_string()])
            .arg(smtp_dir.join("maildir"))
            .arg(smtp_dir.join("fault"))
            .args([BOT, PASSWORD])
            .arg(root.join("cert.pem"))
            .arg(root.join("key.pem"))
            .arg(smtps_port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0);
        std::fs::create_dir(&smtp_dir).unwrap();
        let mut child = command.spawn().expect("the aiosmtpd Python starts");
        let stdout = child.stdout.take().unwrap();
        let smtp = Group(child);
        let ready = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            line
        });
        let line = tokio::time::timeout(Duration::from_secs(20), ready)
            .await
            .expect("aiosmtpd became ready within 20 s")
            .unwrap();
        assert_eq!(line.trim(), "ready", "aiosmtpd did not start");

        let mut servers = Self {
            dir,
            dovecot_bin,
            dovecot: None,
            _smtp: smtp,
            imap_port,
            imaps_port,
            smtp_port,
            smtps_port,
        };
        servers.start_imap().await;
        Some(servers)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The CA that signed both servers' certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.path().join("ca.pem")
    }

    /// Where aiosmtpd keeps what it received.
    pub fn smtp_maildir(&self) -> PathBuf {
        self.path().join("smtp/maildir")
    }

    /// The next DATA is answered with `reply` (`421 4.7.0 ...`).
    pub fn fail_next_send(&self, reply: &str) {
        std::fs::write(self.path().join("smtp/fault"), reply).unwrap();
    }

    /// Starts Dovecot (again) and waits for its greeting.
    pub async fn start_imap(&mut self) {
        let child = Command::new(&self.dovecot_bin)
            .arg("-F")
            .arg("-c")
            .arg(self.path().join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("dovecot starts");
        self.dovecot = Some(Group(child));
        let port = self.imap_port;
        let greeted = async {
            loop {
                if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    let mut buf = [0u8; 64];
                    if let Ok(n) = stream.read(&mut buf).await
                        && buf[..n].starts_with(b"* OK")
                    {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), greeted)
            .await
            .unwrap_or_else(|_| {
                let log =
                    std::fs::read_to_string(self.path().join("dovecot.log")).unwrap_or_default();
                panic!("dovecot did not greet within 20 s: {log}")
            });
    }

    /// Kills Dovecot (every connection drops).
    pub fn stop_imap(&mut self) {
        self.dovecot = None;
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `id <flag>`'s answer: who runs the test.
fn id(flag: &str) -> String {
    let out = Command::new("id").arg(flag).output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The sockets Dovecot would hand to its own group, which only root can.
const NO_GROUPS: &str = "service stats {
  unix_listener stats-writer {
    group =
    mode = 0666
  }
}
service imap-hibernate {
  unix_listener imap-hibernate {
    group =
  }
}
service dict {
  unix_listener dict {
    group =
  }
}
service dict-async {
  unix_listener dict-async {
    group =
  }
}
";

/// As root, Dovecot runs its processes as its own users and the mail as
/// `nobody`; as anyone else, everything runs as that user.
fn dovecot_users() -> (String, String) {
    if id("-u") == "0" {
        (String::new(), "uid=nobody gid=nogroup".to_owned())
    } else {
        let (user, group) = (id("-un"), id("-gn"));
        (
            format!("default_internal_user = {user}\ndefault_login_user = {user}\n{NO_GROUPS}"),
            format!("uid={user} gid={group}"),
        )
    }
}

fn dovecot_conf(root: &Path, imap: u16, imaps: u16) -> String {
    let d = root.display();
    let (process_users, mail_user) = dovecot_users();
    format!(
        r#"{process_users}protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = {mail_user} home={d}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
  }}
}}
service anvil {{
  chroot =
}}
"#
    )
}
