//! [`PgServer`]: a throwaway PostgreSQL server for tests, from the
//! machine's own PostgreSQL programs (Debian's `postgresql` package):
//! `initdb` in a temporary directory, `pg_ctl start` on a free loopback
//! port, and `pg_ctl stop -m immediate` when it is dropped.
//!
//! The server trusts local connections from the role `hermod` (a test
//! database, never reachable from another machine: it listens on
//! 127.0.0.1 only, and its socket lies in the temporary directory).
//! `initdb` refuses to run as root, so as root the server runs as the
//! `postgres` system user the package creates, owning the directory.
//!
//! [`PgServer::start_tls`] also gives the server a certificate from a
//! throwaway CA, for tests of TLS connections.
//!
//! Where the programs are: `HERMOD_PG_BIN` (a directory with `initdb` and
//! `pg_ctl`), else the newest `/usr/lib/postgresql/<version>/bin`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The role tests connect as.
pub const ROLE: &str = "hermod";

/// A running PostgreSQL server; stopped (at once, without a checkpoint)
/// and its files removed when dropped.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// The system user the server runs as (`postgres` when the tests run
    /// as root), `None` for the current user.
    run_as: Option<String>,
    /// Removed last, after the server stopped.
    _dir: tempfile::TempDir,
}

impl PgServer {
    /// The directory holding `initdb` and `pg_ctl`, if this machine has one.
    pub fn find_bin() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("HERMOD_PG_BIN") {
            return Some(PathBuf::from(dir));
        }
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = entry.path().join("bin");
                bin.join("initdb").is_file().then_some((version, bin))
            })
            .collect();
        found.sort();
        found.pop().map(|(_, bin)| bin)
    }

    /// A new server for a test, started off the async threads; `None`
    /// (after saying so, or failing under `CI=true`, as
    /// [`crate::real_peer::missing`] does) when this machine has no
    /// PostgreSQL programs. Panics when the server does not start.
    pub async fn for_test() -> Option<Self> {
        let Some(bin) = Self::find_bin() else {
            crate::real_peer::missing(
                "PostgreSQL's programs (HERMOD_PG_BIN, or Debian's postgresql package)",
            );
            return None;
        };
        let started = tokio::task::spawn_blocking(move || Self::start(&bin)).await;
        match started {
            Ok(Ok(server)) => Some(server),
            Ok(Err(e)) => panic!("a PostgreSQL server did not start: {e}"),
            Err(e) => panic!("starting a PostgreSQL server failed: {e}"),
        }
    }

    /// Creates a cluster in a new temporary directory and starts it on a
    /// free loopback port; returns once the server accepts connections.
    pub fn start(bin: &Path) -> Result<Self, String> {
        let server = Self::create(bin)?;
        server.launch("")?;
        Ok(server)
    }

    /// [`PgServer::start`] with TLS: the server offers TLS with a
    /// certificate for `localhost` and 127.0.0.1, signed by a throwaway CA
    /// made with the `openssl` command. Returns the server and the CA's
    /// certificate (a PEM file, removed with the server).
    pub fn start_tls(bin: &Path) -> Result<(Self, PathBuf), String> {
        let server = Self::create(bin)?;
        let dir = server.socket_dir();
        let made = crate::certificates::make(dir)?;
        let (cert, key) = (made.cert, made.key);
        // The server reads its key only when the key is private to it.
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| format!("chmod {}: {e}", key.display()))?;
        if let Some(user) = &server.run_as {
            give_to(&key, user)?;
        }
        server.launch(&format!(
            " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            cert.display(),
            key.display()
        ))?;
        let ca = dir.join("ca.pem");
        Ok((server, ca))
    }

    /// A new cluster in a new temporary directory, not started yet.
    fn create(bin: &Path) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let run_as = is_root().then(|| "postgres".to_owned());
        if let Some(user) = &run_as {
            give_to(dir.path(), user)?;
        }
        let data = dir.path().join("data");
        let server = Self {
            bin: bin.to_owned(),
            data,
            port: free_port()?,
            run_as,
            _dir: dir,
        };
        server.run(
            "initdb",
            &[
                "-D".as_ref(),
                server.data.as_os_str(),
                "-U".as_ref(),
                ROLE.as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        Ok(server)
    }

    /// Starts the server, with `extra` server options; returns once it
    /// accepts connections.
    fn launch(&self, extra: &str) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off{extra}",
            self.port,
            self.socket_dir().display()
        );
        let log = self.socket_dir().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        )
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for database `db` as [`ROLE`] (`postgres` is the
    /// database every cluster has).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/{db}", self.port)
    }

    /// Whether a PostgreSQL server answers on the port: the reply to an
    /// `SSLRequest` (`S` or `N`), the first message of the protocol.
    pub fn answers(&self) -> bool {
        answers_on(self.port)
    }

    fn socket_dir(&self) -> &Path {
        self.data.parent().unwrap_or(&self.data)
    }

    /// Runs one of the server's programs, as the server's user.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        let output = command
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
        if output.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(self.socket_dir().join("server.log")).unwrap_or_default();
        Err(format!(
            "{program} failed ({}): {}{}\n{log}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        ))
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        );
    }
}

/// Whether a PostgreSQL server answers an `SSLRequest` on `port`.
pub fn answers_on(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    // Length 8, then the SSLRequest code 80877103.
    let request = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    let mut reply = [0u8; 1];
    stream.write_all(&request).is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && matches!(reply[0], b'S' | b'N')
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Makes `user` the owner of `dir` (the server writes its cluster and
/// socket there), or of the server's TLS key.
fn give_to(dir: &Path, user: &str) -> Result<(), String> {
    let status = Command::new("chown")
        .arg(user)
        .arg(dir)
        .status()
        .map_err(|e| format!("cannot run chown: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "chown {user} {} failed: is the postgresql package installed (it creates the user)?",
            dir.display()
        ))
    }
}

/// A port free on 127.0.0.1 a moment ago.
fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}
