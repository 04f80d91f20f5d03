//! A real Home Assistant for the tests: started from `HERMOD_HASS` (the
//! `hass` executable of a virtual environment with `homeassistant`
//! installed) with a private configuration directory, on 127.0.0.1 and
//! a free port; ready when `GET /api/` answers; its owner created by
//! onboarding, whose access token the adapter uses. Killed by process id
//! when the guard drops.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// How long Home Assistant may take to start (5-15 s on a quiet machine;
/// CI machines are busier).
const STARTUP: Duration = Duration::from_secs(180);

const CLIENT_ID: &str = "http://127.0.0.1/";

/// [`CLIENT_ID`], form-encoded.
const CLIENT_ID_ENCODED: &str = "http%3A%2F%2F127.0.0.1%2F";

/// The `hass` executable, or `None` (the test skips) outside CI.
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
pub fn executable() -> Option<PathBuf> {
    if let Some(hass) = std::env::var_os("HERMOD_HASS") {
        return Some(PathBuf::from(hass));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "HERMOD_HASS is needed under CI (.ci/run installs Home Assistant 2025.4.4)"
    );
    eprintln!("skipped: HERMOD_HASS is not set (the hass executable of Home Assistant 2025.4.4)");
    None
}

/// A running Home Assistant; killed when dropped.
pub struct RealHass {
    child: Child,
    executable: PathBuf,
    pub url: String,
    pub token: String,
    /// Keeps the configuration directory (and its `hass.log`) until the
    /// process is gone.
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for RealHass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealHass").field("url", &self.url).finish()
    }
}

impl Drop for RealHass {
    fn drop(&mut self) {
        // By process id: this child only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `hass -c <dir>`, its output appended to `<dir>/hass.log`.
fn spawn(hass: &PathBuf, dir: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("hass.log"))
        .unwrap();
    Command::new(hass)
        .arg("-c")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", hass.display()))
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl RealHass {
    /// Starts Home Assistant and creates its owner.
    pub async fn start(hass: &PathBuf) -> Self {
        hermod_http::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = format!(
            "homeassistant:\n  name: hermod test\n  latitude: 0\n  longitude: 0\n  elevation: 0\n  \
             unit_system: metric\n  time_zone: UTC\n  country: US\n\
             http:\n  server_host: 127.0.0.1\n  server_port: {port}\n\
             api:\nwebsocket_api:\nonboarding:\npersistent_notification:\nnotify:\n\
             input_boolean:\n  test_switch:\n    name: Test\n"
        );
        std::fs::write(dir.path().join("configuration.yaml"), config).unwrap();
        let child = spawn(hass, dir.path());
        let mut hass = Self {
            child,
            executable: hass.clone(),
            url: format!("http://127.0.0.1:{port}"),
            token: String::new(),
            dir,
        };
        hass.wait_until_ready().await;
        hass.token = hass.onboard().await;
        hass
    }

    /// Stops Home Assistant as its service manager would (SIGTERM to its
    /// process id), so it saves its storage — the owner's token among it
    /// (killed, it may not have written it yet) — and closes its
    /// connections; killed if it has not stopped within a minute.
    pub async fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            // A process gives no signal we could await here.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts the stopped Home Assistant again on the same configuration
    /// and port; the owner's token stays valid.
    pub async fn start_again(&mut self) {
        self.child = spawn(&self.executable, self.dir.path());
        self.wait_until_ready().await;
    }

    /// The end of Home Assistant's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("hass.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    async fn wait_until_ready(&mut self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("Home Assistant exited ({status}):\n{}", self.log_tail());
            }
            let answered = http
                .get(format!("{}/api/", self.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answered.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Home Assistant did not answer within {STARTUP:?}:\n{}",
                self.log_tail()
            );
            // Polling a process that cannot tell us it is ready.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Onboarding's first step creates the owner and returns an
    /// authorization code, exchanged for an access token (valid 30 min).
    async fn onboard(&self) -> String {
        let http = reqwest::Client::new();
        let created: Value = http
            .post(format!("{}/api/onboarding/users", self.url))
            .json(
                &json!({"client_id": CLIENT_ID, "name": "Owner", "username": "owner",
                "password": "hermod-test-pass", "language": "en"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let code = created["auth_code"].as_str().expect("an auth_code");
        let token: Value = http
            .post(format!("{}/auth/token", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=authorization_code&code={code}&client_id={CLIENT_ID_ENCODED}"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        token["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Calls a REST endpoint as the owner; returns the status.
    pub async fn post(&self, path: &str, body: &Value) -> u16 {
        reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// The persistent notifications (`persistent_notification/get` over
    /// the websocket: they have no REST endpoint), oldest first.
    pub async fn notifications(&self) -> Vec<Value> {
        let url = format!("{}/api/websocket", self.url.replace("http://", "ws://"));
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut answer = None;
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(text.as_str()).unwrap();
            match value["type"].as_str() {
                Some("auth_required") => {
                    let auth = json!({"type": "auth", "access_token": self.token});
                    socket.send(Message::text(auth.to_string())).await.unwrap();
                }
                Some("auth_ok") => {
                    let get = json!({"id": 1, "type": "persistent_notification/get"});
                    socket.send(Message::text(get.to_string())).await.unwrap();
                }
                Some("result") => {
                    answer = Some(value["result"].as_array().cloned().unwrap_or_default());
                    break;
                }
                _ => {}
            }
        }
        let _ = socket.close(None).await;
        let mut list = answer.expect("Home Assistant answered persistent_notification/get");
        list.sort_by(|a, b| a["created_at"].as_str().cmp(&b["created_at"].as_str()));
        list
    }

    /// Waits (up to 30 s) until a notification's message satisfies `found`.
    pub async fn wait_for_notification(&self, what: &str, found: impl Fn(&str) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(n) = self
                .notifications()
                .await
                .into_iter()
                .find(|n| found(n["message"].as_str().unwrap_or_default()))
            {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "no notification {what} within 30 s; there are {:?}",
                self.notifications().await
            );
            // Home Assistant pushes no change we could wait on here.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
