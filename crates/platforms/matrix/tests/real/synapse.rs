//! One real Synapse per test binary: started on first use on 127.0.0.1
//! and a free port, with a private config and database in a temporary
//! directory and every rate limit raised; each test registers its own
//! users and rooms on it.
//!
//! Synapse runs under a small Python watchdog that reads its stdin: when
//! this test binary exits (however it exits), the pipe closes and the
//! watchdog kills Synapse by its pid. A `static` is never dropped, so a
//! `Drop` guard alone would leave Synapse running after the tests.

use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// The Python with `matrix-synapse`; `None` (the test skips) outside CI.
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
fn python() -> Option<String> {
    if let Ok(python) = std::env::var("HERMOD_SYNAPSE_PYTHON") {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "HERMOD_SYNAPSE_PYTHON is needed under CI (.ci/run installs matrix-synapse)"
    );
    eprintln!("skipped: HERMOD_SYNAPSE_PYTHON is not set (a Python with matrix-synapse)");
    None
}

/// The running Synapse.
pub struct Synapse {
    pub base_url: String,
    _dir: tempfile::TempDir,
    _watchdog: Mutex<(Child, ChildStdin)>,
}

static SYNAPSE: LazyLock<Option<Synapse>> = LazyLock::new(|| python().map(|p| start(&p)));

/// The shared Synapse; `None` when the tests skip.
pub fn synapse() -> Option<&'static Synapse> {
    SYNAPSE.as_ref()
}

const WATCHDOG: &str = r"
import subprocess, sys
child = subprocess.Popen([sys.executable, '-m', 'synapse.app.homeserver', '-c', sys.argv[1]],
                         stdin=subprocess.DEVNULL, stdout=open(sys.argv[2], 'w'),
                         stderr=subprocess.STDOUT, start_new_session=True)
sys.stdin.read()
child.terminate()
try:
    child.wait(10)
except subprocess.TimeoutExpired:
    child.kill()
";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(dir: &std::path::Path, port: u16) -> String {
    let d = dir.display();
    let unlimited = "{per_second: 10000, burst_count: 10000}";
    format!(
        "server_name: localhost\nreport_stats: false\n\
         listeners:\n  - port: {port}\n    bind_addresses: ['127.0.0.1']\n    type: http\n    tls: false\n    resources:\n      - names: [client]\n        compress: false\n\
         database:\n  name: sqlite3\n  args:\n    database: {d}/homeserver.db\n\
         media_store_path: {d}/media\nsigning_key_path: {d}/signing.key\n\
         macaroon_secret_key: test-macaroon\nform_secret: test-form\n\
         trusted_key_servers: []\nsuppress_key_server_warning: true\n\
         enable_registration: true\nenable_registration_without_verification: true\n\
         url_preview_enabled: false\npresence:\n  enabled: false\n\
         rc_message: {unlimited}\nrc_registration: {unlimited}\n\
         rc_login:\n  address: {unlimited}\n  account: {unlimited}\n  failed_attempts: {unlimited}\n\
         rc_joins:\n  local: {unlimited}\n  remote: {unlimited}\n\
         rc_invites:\n  per_room: {unlimited}\n  per_user: {unlimited}\n  per_issuer: {unlimited}\n\
         rc_room_creation: {unlimited}\nrc_media_create: {unlimited}\n"
    )
}

fn start(python: &str) -> Synapse {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config_path = dir.path().join("homeserver.yaml");
    std::fs::write(&config_path, config(dir.path(), port)).unwrap();
    let keys = Command::new(python)
        .args(["-m", "synapse.app.homeserver", "-c"])
        .arg(&config_path)
        .arg("--generate-keys")
        .output()
        .unwrap();
    assert!(
        keys.status.success(),
        "synapse --generate-keys failed: {keys:?}"
    );
    let log: PathBuf = dir.path().join("synapse.log");
    let mut child = Command::new(python)
        .args(["-c", WATCHDOG])
        .arg(&config_path)
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let base_url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !healthy(port) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Synapse did not become healthy in 60 s; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Synapse {
        base_url,
        _dir: dir,
        _watchdog: Mutex::new((child, stdin)),
    }
}

fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

static NEXT_USER: AtomicUsize = AtomicUsize::new(0);

/// A Matrix account on the shared Synapse, driven by its access token.
#[derive(Debug, Clone)]
pub struct User {
    pub user_id: String,
    pub token: String,
    pub password: String,
    base_url: String,
    http: reqwest::Client,
}

fn http() -> reqwest::Client {
    hermod_adapter_kit::http_client().unwrap().reqwest().clone()
}

fn encode(segment: &str) -> String {
    let mut url = reqwest::Url::parse("http://x/").unwrap();
    url.path_segments_mut().unwrap().push(segment);
    url.path().trim_start_matches('/').to_owned()
}

impl Synapse {
    /// Registers a new user named `<name><n>`.
    pub async fn user(&self, name: &str) -> User {
        let n = NEXT_USER.fetch_add(1, Ordering::Relaxed);
        let local = format!("{name}{n}p{}", std::process::id());
        let password = format!("pw-{local}-secret");
        let http = http();
        let answer: Value = http
            .post(format!("{}/_matrix/client/v3/register", self.base_url))
            .json(&json!({"username": local, "password": password, "auth": {"type": "m.login.dummy"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        User {
            user_id: answer["user_id"].as_str().unwrap().to_owned(),
            token: answer["access_token"]
                .as_str()
                .unwrap_or_else(|| panic!("{answer}"))
                .to_owned(),
            password,
            base_url: self.base_url.clone(),
            http,
        }
    }
}

impl User {
    /// The same user on another session (access token).
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: token.to_owned(),
            ..self.clone()
        }
    }

    /// A client-server API call; panics on a non-2xx answer.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(
                method,
                format!("{}/_matrix/client/v3/{path}", self.base_url),
            )
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Creates a room with `invite`d users; `direct` marks it a DM.
    pub async fn create_room(&self, invite: &[&str], direct: bool, extra: Value) -> String {
        let mut body = json!({"invite": invite, "is_direct": direct, "preset": "private_chat"});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let answer = self
            .call(reqwest::Method::POST, "createRoom", Some(body))
            .await;
        answer["room_id"].as_str().unwrap().to_owned()
    }

    /// A public room with no one else in it yet: others join it without
    /// an invite (which the bot's adapter would answer itself).
    pub async fn open_room(&self) -> String {
        self.create_room(&[], false, json!({"preset": "public_chat"}))
            .await
    }

    pub async fn join(&self, room: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("join/{}", encode(room)),
            Some(json!({})),
        )
        .await;
    }

    /// Sends `content` as an event of `kind`; returns its id.
    pub async fn send_event(&self, room: &str, kind: &str, content: Value) -> String {
        let txn = NEXT_USER.fetch_add(1, Ordering::Relaxed);
        let path = format!("rooms/{}/send/{kind}/t{txn}", encode(room));
        let answer = self.call(reqwest::Method::PUT, &path, Some(content)).await;
        answer["event_id"].as_str().unwrap().to_owned()
    }

    pub async fn say(&self, room: &str, body: &str) -> String {
        self.send_event(
            room,
            "m.room.message",
            json!({"msgtype": "m.text", "body": body}),
        )
        .await
    }

    /// The room's timeline events, oldest first (up to 500).
    pub async fn timeline(&self, room: &str) -> Vec<Value> {
        let path = format!("rooms/{}/messages?dir=b&limit=500", encode(room));
        let answer = self.call(reqwest::Method::GET, &path, None).await;
        let mut events: Vec<Value> = answer["chunk"].as_array().unwrap().clone();
        events.reverse();
        events
    }

    /// The room's `m.room.message` events, oldest first (up to 500).
    pub async fn events(&self, room: &str) -> Vec<Value> {
        self.timeline(room)
            .await
            .into_iter()
            .filter(|e| e["type"] == "m.room.message")
            .collect()
    }

    /// The messages `sender` shows in `room`, edits applied, redacted ones
    /// left out, oldest first: (event id, content).
    pub async fn shown(&self, room: &str, sender: &str) -> Vec<(String, Value)> {
        let mut shown: Vec<(String, Value)> = Vec::new();
        for event in self.events(room).await {
            if event["sender"] != sender {
                continue;
            }
            let content = &event["content"];
            if content["m.relates_to"]["rel_type"] == "m.replace" {
                let target = content["m.relates_to"]["event_id"].as_str().unwrap();
                if let Some(found) = shown.iter_mut().find(|(id, _)| id == target) {
                    // The relations stay the original's (`m.new_content`
                    // has none).
                    let relates = found.1["m.relates_to"].clone();
                    found.1 = content["m.new_content"].clone();
                    if !relates.is_null() {
                        found.1["m.relates_to"] = relates;
                    }
                }
                continue;
            }
            if content.get("body").is_none() {
                continue;
            }
            shown.push((
                event["event_id"].as_str().unwrap().to_owned(),
                content.clone(),
            ));
        }
        shown
    }

    /// The bodies of [`User::shown`].
    pub async fn texts(&self, room: &str, sender: &str) -> Vec<String> {
        self.shown(room, sender)
            .await
            .into_iter()
            .map(|(_, c)| c["body"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits until `sender` shows messages in `room` that `done` accepts.
    pub async fn wait_for(
        &self,
        room: &str,
        sender: &str,
        done: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + hermod_testkit::harness::PATIENCE;
        loop {
            let texts = self.texts(room, sender).await;
            if done(&texts) {
                return texts;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting in {room}; {sender} shows {texts:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
