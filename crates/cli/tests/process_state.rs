//! The gateway process's state, through the binary: the PID and status
//! files, one gateway per home, `gateway status` and `stop`, and the
//! systemd notification protocol.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod support;

use hermod_testkit::FakeLlm;
use serde_json::Value;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use support::{finish, hermod, start, start_with};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("file exists")).expect("JSON")
}

async fn status_json(home: &Path) -> (i32, Value) {
    let output = finish(hermod(home).args(["gateway", "status", "--json"])).await;
    let json = serde_json::from_slice(&output.stdout).expect("status prints JSON");
    (output.status.code().unwrap_or(-1), json)
}

#[tokio::test]
async fn one_gateway_per_home_with_status_and_stop() {
    hermod_http::install_crypto_provider();
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let running = start(home.path(), &llm).await;
    let pid = running.child.id().unwrap();

    let record = read_json(&home.path().join("gateway.pid"));
    assert_eq!(record["pid"], pid);
    assert_eq!(record["kind"], "hermod-gateway");
    assert!(record["argv"].as_array().is_some_and(|a| !a.is_empty()));
    assert_eq!(support::mode(&home.path().join("gateway.pid")), 0o600);

    // A second gateway on the same home is refused, naming the first.
    let second = finish(&mut support::gateway(home.path(), &llm)).await;
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains(&format!("pid {pid}")), "{stderr}");
    assert!(stderr.contains("gateway stop"), "{stderr}");
    assert_eq!(
        read_json(&home.path().join("gateway.pid"))["pid"],
        pid,
        "the refused one leaves the PID file alone"
    );

    // The status file says running right after the ready line (bounded).
    let state_file = home.path().join("gateway_state.json");
    let mut waited = 0;
    while read_json(&state_file)["state"] != "running" {
        assert!(waited < 100, "{}", read_json(&state_file));
        waited += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, json) = status_json(home.path()).await;
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["verdict"], "running");
    assert_eq!(json["pid"], pid);
    assert_eq!(json["status"]["state"], "running");
    assert_eq!(json["status"]["running_turns"], 0, "idle: {json}");
    assert_eq!(
        json["status"]["components"]["api_server"]["state"],
        "running"
    );
    assert_eq!(
        support::mode(&home.path().join("gateway_state.json")),
        0o600
    );

    // `/health/detailed` serves the same status, behind the key.
    let url = format!("{}/health/detailed", running.base);
    let client = reqwest::Client::new();
    let refused = client.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let key = running.key.clone().expect("a key was generated");
    let detailed = client.get(&url).bearer_auth(key).send().await.unwrap();
    assert_eq!(detailed.status(), 200);
    let detailed: Value = detailed.json().await.unwrap();
    assert_eq!(detailed["pid"], pid);
    assert_eq!(detailed["kind"], "hermod-gateway");
    assert_eq!(detailed["components"]["api_server"]["state"], "running");

    // `/metrics` serves the gateway's own metrics, behind the same key.
    let url = format!("{}/metrics", running.base);
    assert_eq!(client.get(&url).send().await.unwrap().status(), 401);
    let key = running.key.clone().expect("a key was generated");
    let scraped = client.get(&url).bearer_auth(key).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    let content_type = scraped.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = scraped.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "hermod_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    assert!(
        text.contains(r#"hermod_platform_state{platform="api_server",state="running"} 1"#),
        "the gateway records into the metrics it serves: {text}"
    );

    // `stop` ends it and says how.
    let mut child = running.child;
    let waited = tokio::spawn(async move { child.wait().await });
    let stop = finish(hermod(home.path()).args(["gateway", "stop"])).await;
    let said = String::from_utf8_lossy(&stop.stdout);
    assert!(stop.status.success(), "{said}");
    assert!(said.contains("stopped by SIGTERM"), "{said}");
    let exit = tokio::time::timeout(Duration::from_secs(20), waited)
        .await
        .expect("exits")
        .unwrap()
        .unwrap();
    assert_eq!(exit.code(), Some(0));

    assert!(
        !home.path().join("gateway.pid").exists(),
        "removed on a clean stop"
    );
    let (code, json) = status_json(home.path()).await;
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["verdict"], "not_running");
    assert_eq!(json["status"]["state"], "stopped");
    assert_eq!(json["status"]["exit_reason"], "stopped by SIGTERM");

    let again = finish(hermod(home.path()).args(["gateway", "stop"])).await;
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("no gateway is running"));
}

#[tokio::test]
async fn a_stale_pid_file_is_taken_over() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    // A pid that is gone: a child that has been reaped.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    std::fs::write(
        home.path().join("gateway.pid"),
        serde_json::json!({
            "pid": dead, "kind": "hermod-gateway", "started_at_ms": 1,
            "argv": ["hermod", "gateway", "run"], "version": "0.0.0"
        })
        .to_string(),
    )
    .unwrap();
    let (code, json) = status_json(home.path()).await;
    assert_eq!(code, 1);
    assert!(
        json["stale_pid_file"].as_str().unwrap().contains("gone"),
        "{json}"
    );

    let mut child = support::gateway(home.path(), &llm)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains(" ready: ") {
                return;
            }
        }
        panic!("hermod exited before it was ready");
    };
    tokio::time::timeout(Duration::from_secs(30), ready)
        .await
        .expect("ready in time");
    let pid = child.id().unwrap();
    assert_eq!(read_json(&home.path().join("gateway.pid"))["pid"], pid);
    let mut stderr = child.stderr.take().unwrap();
    assert_eq!(support::terminate(child).await, 0);
    let mut log = String::new();
    stderr.read_to_string(&mut log).await.unwrap();
    assert!(log.contains("taking over a stale PID file"), "{log}");
    assert!(log.contains(&format!("process {dead} is gone")), "{log}");
}

#[tokio::test]
async fn a_failed_platform_shows_in_the_status_file() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    // The port is taken: the API server, the only platform, cannot start.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = finish(support::gateway(home.path(), &llm).env("API_SERVER_PORT", &port)).await;
    assert!(!output.status.success());
    let status = read_json(&home.path().join("gateway_state.json"));
    assert_eq!(status["state"], "failed", "{status}");
    let reason = status["exit_reason"].as_str().unwrap();
    assert!(reason.contains(&port), "{reason}");
    assert!(!home.path().join("gateway.pid").exists());
}

/// Datagrams received on `socket` until `until` has been seen (bounded).
fn receive_until(socket: &UnixDatagram, until: &str) -> Vec<String> {
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.iter().any(|m: &String| m == until) {
        let n = socket.recv(&mut buf).expect("a notification in time");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    got
}

#[tokio::test]
async fn systemd_hears_ready_watchdog_and_stopping() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let socket_path = home.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let mut cmd = support::gateway(home.path(), &llm);
    cmd.env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000");
    let running = start_with(cmd).await;

    let before = tokio::task::spawn_blocking({
        let socket = socket.try_clone().unwrap();
        move || {
            let mut got = receive_until(&socket, "READY=1");
            got.extend(receive_until(&socket, "WATCHDOG=1"));
            got.extend(receive_until(&socket, "WATCHDOG=1"));
            got
        }
    })
    .await
    .unwrap();
    assert!(
        before.iter().any(|m| m.starts_with("STATUS=starting")),
        "{before:?}"
    );
    assert!(!before.contains(&"STOPPING=1".to_owned()), "{before:?}");

    assert_eq!(support::terminate(running.child).await, 0);
    let after = tokio::task::spawn_blocking(move || receive_until(&socket, "STOPPING=1"))
        .await
        .unwrap();
    assert!(
        !after.contains(&"READY=1".to_owned()),
        "ready once: {after:?}"
    );
}
