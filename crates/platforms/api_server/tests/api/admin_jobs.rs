//! `/api/jobs` over real HTTP, on a gateway whose scheduler runs: jobs are
//! created, listed, read, changed, paused, resumed and deleted; a job run
//! now runs and shows in its history; invalid schedules, targets and ids
//! are refused with what is accepted; the key is required, and a server
//! without the gateway's jobs says so.

use crate::support::{KEY, json_of};
use hermod_api_server::{ApiServer, ApiServerConfig};
use hermod_core::{Clock, CronJobs, Gateway, GatewayConfig};
use hermod_model::Secret;
use hermod_store::SqliteStore;
use hermod_testkit::ScriptedAgent;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A gateway with the API server, its scheduler running, and (unless
/// `with_jobs` is false) the jobs handed to the server as the binary does.
struct Jobs {
    base: String,
    http: reqwest::Client,
    shutdown: CancellationToken,
    done: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Jobs {
    async fn start(with_jobs: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
        let config = ApiServerConfig {
            port: 0,
            key: Some(Secret::new(KEY)),
            ..ApiServerConfig::default()
        };
        let mut api = ApiServer::bind(config)
            .await
            .unwrap()
            .with_store(store.clone());
        if with_jobs {
            let jobs = CronJobs::new(store.clone(), TimeZone::UTC, Clock::System)
                .with_platforms(["api_server", "pager"]);
            api = api.with_cron(jobs);
        }
        let base = format!("http://{}", api.local_addr());
        let gateway_config = GatewayConfig {
            timezone: Some("UTC".into()),
            ..GatewayConfig::default()
        };
        let gateway = Gateway::builder(store, Arc::new(ScriptedAgent::echo()), gateway_config)
            .adapter(Arc::new(api))
            .output_dir(dir.path().join("output"))
            .build()
            .unwrap();
        let shutdown = CancellationToken::new();
        let done = tokio::spawn(gateway.run(shutdown.clone()));
        hermod_http::install_crypto_provider();
        Self {
            base,
            http: reqwest::Client::new(),
            shutdown,
            done,
            _dir: dir,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.done)
            .await
            .unwrap()
            .unwrap();
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(KEY);
        if let Some(body) = body {
            request = request.json(body);
        }
        json_of(request.send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Creates a job and returns it.
    async fn create(&self, body: &Value) -> Value {
        let (status, created) = self.post("/api/jobs", body).await;
        assert_eq!(status, 200, "{created}");
        created["job"].clone()
    }
}

fn listed_ids(list: &Value) -> Vec<&str> {
    list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn jobs_are_created_listed_read_changed_and_deleted() {
    let s = Jobs::start(true).await;
    let job = s
        .create(&json!({
            "name": "standup",
            "prompt": "summarise yesterday",
            "schedule": "every 30m",
            "deliver": "local",
        }))
        .await;
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 12, "{job}");
    assert_eq!(job["name"], "standup");
    assert_eq!(job["prompt"], "summarise yesterday");
    assert_eq!(
        job["schedule"],
        json!({"kind": "interval", "minutes": 30, "display": "every 30m"})
    );
    assert_eq!(job["schedule_display"], "every 30m");
    assert_eq!(
        (job["enabled"].as_bool(), job["state"].as_str()),
        (Some(true), Some("scheduled"))
    );
    assert_eq!(job["deliver"], "local");
    assert_eq!(job["created_by"]["platform"], "api_server");
    assert!(job["last_run_at"].is_null() && job["last_status"].is_null());
    let next = job["next_run_at"].as_str().unwrap();
    assert!(next.ends_with("+00:00") && next.contains('T'), "{next}");

    let (status, list) = s.get("/api/jobs").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(listed_ids(&list), [id.as_str()]);
    let (status, one) = s.get(&format!("/api/jobs/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["job"]["id"], id.as_str());

    let (status, changed) = s
        .patch(
            &format!("/api/jobs/{id}"),
            &json!({"name": "morning", "schedule": "0 8 * * 1-5", "model": "small", "deliver": ["local", "pager:7"]}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    let changed = &changed["job"];
    assert_eq!(changed["name"], "morning");
    assert_eq!(changed["schedule"]["kind"], "cron");
    assert_eq!(changed["schedule"]["expr"], "0 8 * * 1-5");
    assert_eq!(changed["model"], "small");
    assert_eq!(changed["deliver"], "local,pager:7");
    assert!(
        changed["next_run_at"]
            .as_str()
            .unwrap()
            .contains("T08:00:00"),
        "{changed}"
    );
    // `null` goes back to the default model.
    let (_, cleared) = s
        .patch(&format!("/api/jobs/{id}"), &json!({"model": null}))
        .await;
    assert!(cleared["job"]["model"].is_null(), "{cleared}");

    let (status, deleted) = s.delete(&format!("/api/jobs/{id}")).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["ok"], true);
    assert_eq!(s.get(&format!("/api/jobs/{id}")).await.0, 404);
    let (_, list) = s.get("/api/jobs?include_disabled=true").await;
    assert!(listed_ids(&list).is_empty());
    s.stop().await;
}

#[tokio::test]
async fn jobs_pause_and_resume_and_paused_ones_are_listed_on_request() {
    let s = Jobs::start(true).await;
    let job = s
        .create(&json!({"prompt": "water the plants", "schedule": "every 1d"}))
        .await;
    let id = job["id"].as_str().unwrap().to_owned();
    // No name: the prompt's start, as `hermod cron add`.
    assert_eq!(job["name"], "water the plants");
    assert_eq!(job["deliver"], "local");

    let (status, paused) = s.post(&format!("/api/jobs/{id}/pause"), &json!({})).await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["job"]["enabled"], false);
    assert_eq!(paused["job"]["state"], "paused");
    // As Hermes: paused jobs only with include_disabled.
    let (_, list) = s.get("/api/jobs").await;
    assert!(listed_ids(&list).is_empty(), "{list}");
    let (_, list) = s.get("/api/jobs?include_disabled=true").await;
    assert_eq!(listed_ids(&list), [id.as_str()]);
    // A paused job is not run.
    let (status, refused) = s.post(&format!("/api/jobs/{id}/run"), &json!({})).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "job_paused");

    let (status, resumed) = s.post(&format!("/api/jobs/{id}/resume"), &json!({})).await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["job"]["state"], "scheduled");
    assert!(resumed["job"]["next_run_at"].is_string());
    // And through PATCH, as Hermes' `enabled`.
    let (_, off) = s
        .patch(&format!("/api/jobs/{id}"), &json!({"enabled": false}))
        .await;
    assert_eq!(off["job"]["state"], "paused", "{off}");
    let (_, on) = s
        .patch(&format!("/api/jobs/{id}"), &json!({"enabled": true}))
        .await;
    assert_eq!(on["job"]["state"], "scheduled", "{on}");
    // Created paused.
    let born_paused = s
        .create(&json!({"prompt": "later", "schedule": "every 2h", "paused": true}))
        .await;
    assert_eq!(born_paused["state"], "paused");
    s.stop().await;
}

#[tokio::test]
async fn a_job_run_now_runs_and_shows_in_its_history() {
    let s = Jobs::start(true).await;
    let job = s
        .create(&json!({"name": "report", "prompt": "count the sheep", "schedule": "every 1d"}))
        .await;
    let id = job["id"].as_str().unwrap().to_owned();
    let (_, runs) = s.get(&format!("/api/jobs/{id}/runs")).await;
    assert_eq!(runs, json!({"job_id": id, "runs": []}));

    let (status, asked) = s.post(&format!("/api/jobs/{id}/run"), &json!({})).await;
    assert_eq!(status, 200, "{asked}");
    assert_eq!(asked["job"]["run_requested"], true);
    // The scheduler notices the request within seconds; wait for the run
    // to finish rather than for a time.
    let finished = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let (_, history) = s.get(&format!("/api/jobs/{id}/runs")).await;
            if history["runs"][0]["finished_at"].is_string() {
                return history;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the run finished");
    let run = &finished["runs"][0];
    assert_eq!(run["job_id"], id.as_str());
    assert_eq!(run["status"], "ok", "{finished}");
    assert!(
        run["output"].as_str().unwrap().contains("count the sheep"),
        "{run}"
    );
    assert!(run["started_at"].is_string());
    let (_, after) = s.get(&format!("/api/jobs/{id}")).await;
    let after = &after["job"];
    assert_eq!(after["last_status"], "ok", "{after}");
    assert_eq!(after["last_outcome"], "ok");
    assert!(after["last_run_at"].is_string());
    assert_eq!(after["run_requested"], false);
    assert_eq!(after["state"], "scheduled");
    s.stop().await;
}

#[tokio::test]
async fn invalid_jobs_and_ids_are_refused_with_what_is_accepted() {
    let s = Jobs::start(true).await;
    let cases = [
        (
            json!({"prompt": "p", "schedule": "whenever"}),
            "accepted schedules",
        ),
        (json!({"prompt": "p"}), "accepted schedules"),
        (
            json!({"prompt": "p", "schedule": "every 1h", "deliver": "nowhere:1"}),
            "accepted targets",
        ),
        (
            json!({"prompt": "p", "schedule": "every 1h", "deliver": "origin"}),
            "no chat of origin",
        ),
        (
            json!({"prompt": " ", "schedule": "every 1h"}),
            "needs a prompt",
        ),
        (
            json!({"prompt": "p", "schedule": "every 1h", "skills": ["web"]}),
            "skills",
        ),
        (
            json!({"prompt": "p".repeat(5001), "schedule": "every 1h"}),
            "at most 5000",
        ),
        (json!({"prompt": "p", "schedule": 5}), "must be a string"),
    ];
    for (body, says) in cases {
        let (status, error) = s.post("/api/jobs", &body).await;
        assert_eq!(status, 400, "{body}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    let (_, list) = s.get("/api/jobs?include_disabled=true").await;
    assert!(listed_ids(&list).is_empty(), "nothing was created");

    let job = s
        .create(&json!({"prompt": "p", "schedule": "every 1h"}))
        .await;
    let id = job["id"].as_str().unwrap();
    let (status, error) = s
        .patch(&format!("/api/jobs/{id}"), &json!({"schedule": "never"}))
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "invalid_scheduled_job");
    let (status, error) = s
        .patch(&format!("/api/jobs/{id}"), &json!({"colour": "red"}))
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("no_valid_fields"))
    );

    let unknown = "0123456789ab";
    for (method, suffix) in [
        (reqwest::Method::GET, ""),
        (reqwest::Method::PATCH, ""),
        (reqwest::Method::DELETE, ""),
        (reqwest::Method::POST, "/pause"),
        (reqwest::Method::POST, "/resume"),
        (reqwest::Method::POST, "/run"),
        (reqwest::Method::GET, "/runs"),
    ] {
        let body = json!({"name": "x"});
        let (status, error) = s
            .send(
                method.clone(),
                &format!("/api/jobs/{unknown}{suffix}"),
                Some(&body),
            )
            .await;
        assert_eq!(status, 404, "{method} {suffix}: {error}");
        assert_eq!(error["error"]["code"], "job_not_found");
        // A prefix is not an id over HTTP.
        let (status, error) = s
            .send(
                method.clone(),
                &format!("/api/jobs/{}{suffix}", &id[..4]),
                Some(&body),
            )
            .await;
        assert_eq!(status, 400, "{method} {suffix}: {error}");
        assert_eq!(error["error"]["code"], "invalid_job_id");
    }
    s.stop().await;
}

#[tokio::test]
async fn jobs_need_the_key_and_the_gateways_jobs() {
    let s = Jobs::start(true).await;
    let response = s
        .http
        .get(format!("{}/api/jobs", s.base))
        .send()
        .await
        .unwrap();
    let (status, error) = json_of(response).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (401, Some("invalid_api_key"))
    );
    let response = s
        .http
        .post(format!("{}/api/jobs", s.base))
        .json(&json!({"prompt": "p", "schedule": "every 1h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let (_, list) = s.get("/api/jobs?include_disabled=true").await;
    assert!(listed_ids(&list).is_empty(), "nothing was created");
    s.stop().await;

    let s = Jobs::start(false).await;
    for path in [
        "/api/jobs",
        "/api/jobs/0123456789ab",
        "/api/jobs/0123456789ab/runs",
    ] {
        let (status, error) = s.get(path).await;
        assert_eq!(status, 503, "{path}: {error}");
        assert_eq!(error["error"]["code"], "jobs_unavailable");
    }
    s.stop().await;
}
