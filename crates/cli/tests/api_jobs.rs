//! The gateway binary serves its scheduled jobs at `/api/jobs`: the same
//! jobs as `hermod cron`, read in `gateway.timezone`, targets checked
//! against the platform names, and a job run now is run by the gateway's
//! scheduler.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

mod support;

use hermod_testkit::FakeLlm;
use serde_json::{Value, json};
use std::time::Duration;
use support::{finish, gateway, hermod, start_with, terminate};

async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http.request(method, url).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_gateway_serves_its_jobs_over_http() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = gateway(home.path(), &llm);
    // No daylight saving time: the offset is always +09:00.
    cmd.env("HERMES_TIMEZONE", "Asia/Tokyo");
    let running = start_with(cmd).await;
    let key = running.key.clone().expect("a key generated on first run");
    hermod_http::install_crypto_provider();
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", running.base);

    let (status, created) = send(
        &http,
        reqwest::Method::POST,
        url("/api/jobs"),
        &key,
        Some(json!({"name": "sheep", "prompt": "count the sheep", "schedule": "0 9 * * *"})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let job = &created["job"];
    let id = job["id"].as_str().unwrap().to_owned();
    // Read in gateway.timezone: 9:00 in Tokyo.
    let next = job["next_run_at"].as_str().unwrap();
    assert!(next.ends_with("T09:00:00+09:00"), "{next}");
    // Targets are checked against the platforms there are.
    let (status, refused) = send(
        &http,
        reqwest::Method::POST,
        url("/api/jobs"),
        &key,
        Some(json!({"prompt": "p", "schedule": "every 1h", "deliver": "nowhere"})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("accepted targets"),
        "{refused}"
    );

    // The same jobs as `hermod cron`.
    let out = finish(hermod(home.path()).args(["cron", "list", "--json"])).await;
    assert!(out.status.success());
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["created_by"]["platform"], "api_server");

    // Run now: the gateway's scheduler takes it up; wait for the outcome.
    let (status, asked) = send(
        &http,
        reqwest::Method::POST,
        url(&format!("/api/jobs/{id}/run")),
        &key,
        None,
    )
    .await;
    assert_eq!(status, 200, "{asked}");
    let history = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let (_, history) = send(
                &http,
                reqwest::Method::GET,
                url(&format!("/api/jobs/{id}/runs")),
                &key,
                None,
            )
            .await;
            if history["runs"][0]["finished_at"].is_string() {
                return history;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the run finished");
    let run = &history["runs"][0];
    assert_eq!(run["status"], "ok", "{history}");
    assert!(
        run["output"].as_str().unwrap().contains("count the sheep"),
        "{run}"
    );
    assert!(
        run["started_at"].as_str().unwrap().ends_with("+09:00"),
        "{run}"
    );
    assert_eq!(terminate(running.child).await, 0);
}
