//! A real IRC server (ngircd) for the tests, and small raw IRC clients
//! that play the users.
//!
//! ngircd is found through `HERMOD_NGIRCD` (its binary's path). Outside
//! CI a test without it prints why and passes; under CI (`CI` set) it
//! fails. One server is shared by the tests that run at the same time:
//! it starts with the first, on a free port of 127.0.0.1 with a private
//! configuration in a temporary directory, is ready once it says it
//! listens, and is killed by its process id when the last test holding
//! it ends. Nicks are unique per test, so tests never meet.

use hermod_irc::{IrcAdapter, IrcConfig};
use hermod_testkit::harness::{self, PlatformUnderTest};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;

pub use hermod_testkit::harness::within;

/// The server password every test server asks for: the secret the tests
/// look for in logs and `Debug` output.
pub const SERVER_PASSWORD: &str = "ngircd-pass-7f3a9c1e5b";

/// The operator's name and password (to KILL the bot's connection).
const OPER: (&str, &str) = ("hermodop", "operpass");

/// The channel the bot joins.
pub const CHANNEL: &str = "#hermod";

/// The ngircd binary, or `None` when the test should skip.
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
pub fn ngircd() -> Option<String> {
    if let Ok(path) = std::env::var("HERMOD_NGIRCD") {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "HERMOD_NGIRCD is needed under CI (.ci/run installs ngircd)"
    );
    eprintln!("skipped: HERMOD_NGIRCD is not set (the path of an ngircd binary)");
    None
}

/// A running ngircd; killed when dropped.
#[derive(Debug)]
pub struct Ngircd {
    /// Plain-text IRC.
    pub port: u16,
    /// IRC over TLS, with a certificate for 127.0.0.1 issued by the CA
    /// in [`Ngircd::ca_file`].
    pub tls_port: u16,
    child: Mutex<Child>,
    _dir: tempfile::TempDir,
}

impl Drop for Ngircd {
    fn drop(&mut self) {
        let mut child = self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }
}

static SHARED: Mutex<Weak<Ngircd>> = Mutex::new(Weak::new());
static NEXT: AtomicUsize = AtomicUsize::new(1);

/// A number unique in this test binary, for nicks.
pub fn unique() -> usize {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Ngircd {
    /// The server the running tests share, started when there is none.
    pub fn shared(binary: &str) -> Arc<Self> {
        let mut shared = SHARED.lock().unwrap();
        if let Some(server) = shared.upgrade() {
            return server;
        }
        let server = Arc::new(Self::start(binary));
        *shared = Arc::downgrade(&server);
        server
    }

    /// A server of its own (for tests that stop it).
    pub fn start(binary: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // ngircd drops root for `nobody`, who must read the MOTD and
        // write the PID file.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let (port, tls_port) = (free_port(), free_port());
        let path = dir.path();
        certificates(path);
        std::fs::write(path.join("motd"), "hermod tests\n").unwrap();
        // `MaxPenaltyTime = 0`: ngircd would otherwise hold back a
        // client's lines beyond its pace (the bot's, at the tests' fast
        // pacing), and a user's round trip (`User::sync`) could not
        // show that everything sent before it was relayed.
        let conf = format!(
            "[Global]\n\
             Name = irc.hermod.test\n\
             Info = hermod test server\n\
             AdminInfo1 = hermod tests\nAdminInfo2 = 127.0.0.1\nAdminEMail = nobody@localhost\n\
             Listen = 127.0.0.1\n\
             Ports = {port}\n\
             MotdFile = {motd}\n\
             PidFile = {pid}\n\
             Password = {SERVER_PASSWORD}\n\
             [Limits]\n\
             MaxConnectionsIP = 0\n\
             MaxJoins = 0\n\
             MaxNickLength = 30\n\
             MaxPenaltyTime = 0\n\
             PingTimeout = 120\n\
             PongTimeout = 20\n\
             [Options]\n\
             PAM = no\n\
             Ident = no\n\
             DNS = no\n\
             [SSL]\n\
             CertFile = {cert}\n\
             KeyFile = {key}\n\
             Ports = {tls_port}\n\
             [Operator]\n\
             Name = {oper}\n\
             Password = {oper_pass}\n",
            motd = path.join("motd").display(),
            pid = path.join("ngircd.pid").display(),
            cert = path.join("cert.pem").display(),
            key = path.join("key.pem").display(),
            oper = OPER.0,
            oper_pass = OPER.1,
        );
        let conf_path = path.join("ngircd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut child = Command::new(binary)
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        // Ready when it says it listens, on both ports; its log is
        // drained afterwards so it never blocks on a full pipe.
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut listening = 0;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("Now listening on") {
                    listening += 1;
                    if listening == 2 {
                        let _ = ready_tx.send(());
                    }
                }
            }
        });
        ready_rx
            .recv_timeout(harness::PATIENCE)
            .expect("ngircd said it listens");
        Self {
            port,
            tls_port,
            child: Mutex::new(child),
            _dir: dir,
        }
    }
}

impl Ngircd {
    /// The CA that issued the server's certificate (PEM).
    pub fn ca_file(&self) -> std::path::PathBuf {
        self._dir.path().join("ca.pem")
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA and a server certificate for 127.0.0.1 and localhost issued by
/// it (valid until 2126; made once with `openssl`, kept in `certs/` so
/// the tests need no tool), written to `dir` for ngircd to read.
fn certificates(dir: &std::path::Path) {
    let files = [
        ("ca.pem", include_str!("certs/ca.pem")),
        ("cert.pem", include_str!("certs/cert.pem")),
        ("key.pem", include_str!("certs/key.pem")),
    ];
    for (name, pem) in files {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // ngircd reads them as `nobody`.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

/// One line a user received, parsed enough for the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    /// The whole line as received, without `\r\n`.
    pub raw: String,
    pub nick: String,
    pub command: String,
    pub params: Vec<String>,
}

fn hear(raw: &str) -> Heard {
    let mut rest = raw;
    let mut nick = String::new();
    if let Some(after) = rest.strip_prefix(':') {
        let (prefix, tail) = after.split_once(' ').unwrap_or((after, ""));
        nick = prefix.split('!').next().unwrap_or_default().to_owned();
        rest = tail;
    }
    let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut params = Vec::new();
    while !rest.is_empty() {
        if let Some(trailing) = rest.strip_prefix(':') {
            params.push(trailing.to_owned());
            break;
        }
        let (param, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        params.push(param.to_owned());
        rest = tail;
    }
    Heard {
        raw: raw.to_owned(),
        nick,
        command: command.to_owned(),
        params,
    }
}

#[derive(Debug, Default)]
struct Inbox {
    lines: Mutex<Vec<Heard>>,
    changed: Notify,
}

/// A raw IRC client playing a user.
#[derive(Debug)]
pub struct User {
    pub nick: String,
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    inbox: Arc<Inbox>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for User {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl User {
    /// Connects as `nick` and waits for the welcome.
    pub async fn connect(port: u16, nick: &str) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (mut read, write) = stream.into_split();
        let inbox = Arc::new(Inbox::default());
        let sink = Arc::clone(&inbox);
        let reader = tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = read.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=end).collect();
                    let line = String::from_utf8(line).expect("the server relays valid UTF-8");
                    let line = line.trim_end_matches(['\r', '\n']);
                    sink.lines.lock().unwrap().push(hear(line));
                }
                sink.changed.notify_waiters();
            }
            sink.lines.lock().unwrap().push(hear("CLOSED"));
            sink.changed.notify_waiters();
        });
        let user = Self {
            nick: nick.to_owned(),
            writer: tokio::sync::Mutex::new(write),
            inbox,
            reader,
        };
        user.send(&format!("PASS :{SERVER_PASSWORD}")).await;
        user.send(&format!("NICK {nick}")).await;
        user.send(&format!("USER {nick} 0 * :test user")).await;
        user.wait_for("the welcome", |h| h.command == "001").await;
        user
    }

    /// Sends a raw line.
    pub async fn send(&self, line: &str) {
        let mut writer = self.writer.lock().await;
        writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    /// Says `text` to `target` (a nick or a channel).
    pub async fn say(&self, target: &str, text: &str) {
        self.send(&format!("PRIVMSG {target} :{text}")).await;
    }

    /// Joins `channel` and waits until in it.
    pub async fn join(&self, channel: &str) {
        self.send(&format!("JOIN {channel}")).await;
        self.wait_for("the end of NAMES", |h| h.command == "366")
            .await;
    }

    /// Becomes an IRC operator.
    pub async fn oper(&self) {
        self.send(&format!("OPER {} {}", OPER.0, OPER.1)).await;
        self.wait_for("RPL_YOUREOPER", |h| h.command == "381").await;
    }

    /// Everything heard so far.
    pub fn heard(&self) -> Vec<Heard> {
        self.inbox.lines.lock().unwrap().clone()
    }

    /// Waits until a line matching `found` has been heard; returns it.
    pub async fn wait_for(&self, what: &str, found: impl Fn(&Heard) -> bool) -> Heard {
        within(what, async {
            loop {
                let changed = self.inbox.changed.notified();
                if let Some(h) = self.heard().into_iter().find(|h| found(h)) {
                    return h;
                }
                changed.await;
            }
        })
        .await
    }

    /// The texts of the PRIVMSGs `from` sent to `target`, in order.
    pub fn messages_from(&self, from: &str, target: &str) -> Vec<String> {
        self.heard()
            .into_iter()
            .filter(|h| {
                h.command == "PRIVMSG"
                    && h.nick.eq_ignore_ascii_case(from)
                    && h.params
                        .first()
                        .is_some_and(|t| t.eq_ignore_ascii_case(target))
            })
            .map(|h| h.params.get(1).cloned().unwrap_or_default())
            .collect()
    }

    /// Waits until `from` sent `target` at least `n` PRIVMSGs; returns
    /// their texts.
    pub async fn wait_messages(&self, from: &str, target: &str, n: usize) -> Vec<String> {
        within("the bot's messages", async {
            loop {
                let changed = self.inbox.changed.notified();
                let messages = self.messages_from(from, target);
                if messages.len() >= n {
                    return messages;
                }
                changed.await;
            }
        })
        .await
    }

    /// A round trip to the server: what it relayed before this returns
    /// has been heard. Twice, so the server has read every socket that
    /// was ready when the first one arrived.
    pub async fn sync(&self) {
        for _ in 0..2 {
            let token = format!("sync{}", unique());
            self.send(&format!("PING :{token}")).await;
            self.wait_for("the PONG", |h| {
                h.command == "PONG" && h.params.last() == Some(&token)
            })
            .await;
        }
    }

    /// Waits until `nick` is on the server (ISON), asking again after
    /// each answer that it is not.
    pub async fn wait_online(&self, nick: &str) {
        within("the bot online", async {
            loop {
                let count = |heard: &[Heard]| heard.iter().filter(|h| h.command == "303").count();
                let before = count(&self.heard());
                self.send(&format!("ISON {nick}")).await;
                loop {
                    let changed = self.inbox.changed.notified();
                    if count(&self.heard()) > before {
                        break;
                    }
                    changed.await;
                }
                let online = self
                    .heard()
                    .into_iter()
                    .rev()
                    .find(|h| h.command == "303")
                    .and_then(|h| h.params.last().cloned())
                    .unwrap_or_default();
                if online
                    .split_whitespace()
                    .any(|n| n.eq_ignore_ascii_case(nick))
                {
                    return;
                }
                // Not yet: the bot is still connecting. Ask again shortly.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }
}

/// IRC in the end-to-end harness: the shared server, the bot's nick and
/// a configuration pointing at the server.
#[derive(Debug)]
pub struct Irc {
    pub server: Arc<Ngircd>,
    pub nick: String,
}

impl PlatformUnderTest for Irc {
    type Fake = Irc;
    type Config = IrcConfig;
    type Adapter = IrcAdapter;

    async fn start_fake() -> Irc {
        let binary = ngircd().expect("checked by the test first");
        Irc {
            server: Ngircd::shared(&binary),
            nick: format!("hbot{}", unique()),
        }
    }

    fn config(world: &World) -> IrcConfig {
        config_for(world.fake.server.port, &world.fake.nick)
    }

    fn adapter(_world: &World, config: IrcConfig) -> IrcAdapter {
        IrcAdapter::new(config).unwrap()
    }
}

/// The bot's configuration on the server at `port`: plain text, the
/// server password, the test channel, fast pacing and reconnects.
pub fn config_for(port: u16, nick: &str) -> IrcConfig {
    IrcConfig {
        server: Some("127.0.0.1".into()),
        port: Some(port),
        use_tls: false,
        nickname: nick.to_owned(),
        channels: vec![CHANNEL.to_owned()],
        server_password: Some(hermod_model::Secret::new(SERVER_PASSWORD)),
        flood_interval_ms: 20,
        connect_timeout_secs: 10,
        max_reconnect_delay_secs: 1,
        ..IrcConfig::default()
    }
}

pub type World = harness::World<Irc>;

/// A user on the world's server, with a fresh nick.
pub async fn user(world: &World, name: &str) -> User {
    User::connect(world.fake.server.port, &format!("{name}{}", unique())).await
}
