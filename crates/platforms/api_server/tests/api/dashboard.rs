//! The dashboard's endpoints over real HTTP: platforms paused and resumed
//! (a second, in-process chat platform beside the API server), pairing
//! requests from strangers on it listed, approved and refused, and the
//! overview's errors and metrics.

use crate::support::{KEY, json_of, user};
use hermod_api_server::{ApiServer, ApiServerConfig};
use hermod_core::{ComponentState, Gateway, GatewayConfig, GatewayStatus, Health, StatusBoard};
use hermod_model::{ChatTarget, PlatformId, Secret};
use hermod_store::{NewOutbox, SqliteStore, Store};
use hermod_testkit::{ScriptedAgent, TestPlatform};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A gateway with the API server and the chat platform `chat`.
struct Dash {
    base: String,
    http: reqwest::Client,
    store: Arc<SqliteStore>,
    chat: TestPlatform,
    health: Health,
    status: StatusBoard,
    shutdown: CancellationToken,
    done: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Dash {
    async fn start() -> Self {
        Self::start_with(|_| async {}).await
    }

    /// Starts the gateway after `prepare` has written to its store.
    async fn start_with<F, Fut>(prepare: F) -> Self
    where
        F: FnOnce(Arc<SqliteStore>) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
        prepare(store.clone()).await;
        let config = ApiServerConfig {
            port: 0,
            key: Some(Secret::new(KEY)),
            ..ApiServerConfig::default()
        };
        let status = StatusBoard::default();
        let api = ApiServer::bind(config)
            .await
            .unwrap()
            .with_store(store.clone())
            .with_status(status.clone());
        let base = format!("http://{}", api.local_addr());
        let chat = TestPlatform::new("chat");
        let health = Health::default();
        let gateway = Gateway::builder(
            store.clone(),
            Arc::new(ScriptedAgent::echo()),
            GatewayConfig::default(),
        )
        .adapter(Arc::new(api))
        .adapter(chat.adapter())
        .health(health.clone())
        .build()
        .unwrap();
        let shutdown = CancellationToken::new();
        let done = tokio::spawn(gateway.run(shutdown.clone()));
        chat.wait_running().await;
        hermod_http::install_crypto_provider();
        Self {
            base,
            http: reqwest::Client::new(),
            store,
            chat,
            health,
            status,
            shutdown,
            done,
            _dir: dir,
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        json_of(response).await
    }

    async fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        json_of(request.send().await.unwrap()).await
    }

    /// The platform's row in `GET /api/platforms`.
    async fn platform(&self, name: &str) -> Value {
        let (status, body) = self.get("/api/platforms").await;
        assert_eq!(status, 200, "{body}");
        body["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} is not listed: {body}"))
    }

    /// A stranger's DM on `chat`, and the pairing code the gateway gave them.
    async fn stranger(&self, id: &str) -> String {
        self.chat.user(id).dm("hello?").await.unwrap();
        let sent = self
            .chat
            .wait_for_text(id, |t| t.contains("pairing code"))
            .await;
        let text = sent.current_text();
        let start = text.find("code: `").unwrap() + "code: `".len();
        text[start..start + 8].to_owned()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.done)
            .await
            .unwrap()
            .unwrap();
    }
}

fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().len() > 10,
        "{body}"
    );
    assert!(body["error"]["type"].is_string(), "{body}");
}

#[tokio::test]
async fn platforms_are_listed_paused_and_resumed() {
    let d = Dash::start().await;
    let chat = d.platform("chat").await;
    assert_eq!(chat["state"], "connected", "{chat}");
    assert_eq!(chat["controllable"], true);
    assert_eq!(chat["failures"], 0);
    let api = d.platform("api_server").await;
    assert_eq!(api["state"], "connected", "{api}");
    assert_eq!(api["controllable"], false);

    let (status, body) = d
        .post(
            "/api/platforms/CHAT/pause",
            Some(json!({"reason": "maintenance window"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "paused");
    d.chat.wait_stopped().await;
    let chat = d.platform("chat").await;
    assert_eq!(chat["state"], "paused", "{chat}");
    assert_eq!(chat["paused_by_operator"], "maintenance window");
    // Persisted as `/platform pause` persists it: it outlives a restart.
    assert_eq!(
        d.store.setting("platform_paused:chat").await.unwrap(),
        Some("maintenance window".to_owned())
    );

    let (status, body) = d.post("/api/platforms/chat/pause", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "already_paused");

    let (status, body) = d.post("/api/platforms/chat/resume", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "resumed");
    d.chat.wait_running().await;
    assert_eq!(d.store.setting("platform_paused:chat").await.unwrap(), None);
    let (status, body) = d.post("/api/platforms/chat/resume", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "already_running");

    // A pause with no body takes the dashboard's reason.
    let (status, _) = d.post("/api/platforms/chat/pause", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        d.platform("chat").await["paused_by_operator"],
        "paused from the dashboard"
    );
    d.post("/api/platforms/chat/resume", None).await;

    d.stop().await;
}

#[tokio::test]
async fn the_server_itself_and_unknown_platforms_are_refused() {
    let d = Dash::start().await;
    let (status, body) = d.post("/api/platforms/api_server/pause", None).await;
    assert_eq!(status, 409, "{body}");
    assert_error(&body, "platform_serves_this_page");
    assert_eq!(d.platform("api_server").await["state"], "connected");
    assert_eq!(
        d.store.setting("platform_paused:api_server").await.unwrap(),
        None
    );

    for path in [
        "/api/platforms/nope/pause",
        "/api/platforms/nope/resume",
        "/api/pairing/nope/ABCDEFGH/approve",
        "/api/pairing/nope/1/deny",
    ] {
        let (status, body) = d.post(path, None).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_error(&body, "platform_not_found");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("chat"),
            "names the known platforms: {body}"
        );
    }

    let (status, body) = d
        .post("/api/platforms/chat/pause", Some(json!({"reason": 7})))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "invalid_reason");
    assert_eq!(d.platform("chat").await["state"], "connected");

    // Everything behind the key.
    for path in ["/api/platforms", "/api/pairing", "/api/overview"] {
        let response = d
            .http
            .get(format!("{}{path}", d.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
    let response = d
        .http
        .post(format!("{}/api/platforms/chat/pause", d.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(d.platform("chat").await["state"], "connected");
    d.stop().await;
}

#[tokio::test]
async fn a_platform_that_failed_for_good_is_not_resumed() {
    let d = Dash::start().await;
    d.health.set(
        "chat",
        ComponentState::Failed {
            reason: "the token was refused".into(),
        },
    );
    let (status, body) = d.post("/api/platforms/chat/resume", None).await;
    assert_eq!(status, 409, "{body}");
    assert_error(&body, "platform_failed");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the token was refused")
    );
    let chat = d.platform("chat").await;
    assert_eq!(chat["state"], "failed");
    assert_eq!(chat["reason"], "the token was refused");
    d.stop().await;
}

#[tokio::test]
async fn pairing_requests_are_listed_approved_and_denied() {
    let d = Dash::start().await;
    let (status, body) = d.get("/api/pairing").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"pending": [], "approved": []}));

    let alice_code = d.stranger("alice").await;
    let bob_code = d.stranger("bob").await;
    let (status, body) = d.get("/api/pairing").await;
    assert_eq!(status, 200, "{body}");
    let text = body.to_string();
    assert!(
        !text.contains(&alice_code) && !text.contains(&bob_code),
        "codes are never listed: {text}"
    );
    let pending = body["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 2, "{body}");
    let alice = pending.iter().find(|p| p["user_id"] == "alice").unwrap();
    assert_eq!(alice["platform"], "chat");
    assert_eq!(alice["user_name"], "alice");
    assert!(alice["expires_at_ms"].as_i64() > alice["created_at_ms"].as_i64());
    assert_eq!(alice["age_minutes"], 0);
    let alice_id = alice["id"].as_str().unwrap().to_owned();

    // By the listed id.
    let (status, body) = d
        .post(&format!("/api/pairing/chat/{alice_id}/approve"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "approved");
    assert_eq!(body["user"]["user_id"], "alice");
    let chat = PlatformId::from_static("chat");
    assert!(d.store.is_approved(&chat, "alice").await.unwrap());
    // Alice is answered now.
    d.chat.user("alice").dm("ping").await.unwrap();
    d.chat.wait_for_text("alice", |t| t.contains("ping")).await;

    // The same request again: gone.
    let (status, body) = d
        .post(&format!("/api/pairing/chat/{alice_id}/approve"), None)
        .await;
    assert_eq!(status, 404, "{body}");
    assert_error(&body, "pairing_not_found");

    // A wrong code counts towards the lockout, as on the command line.
    let (status, body) = d.post("/api/pairing/chat/ZZZZZZZZ/approve", None).await;
    assert_eq!(status, 404, "{body}");
    assert_error(&body, "pairing_not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4 more wrong codes"),
        "{body}"
    );

    // Bob refused by his code, typed loosely.
    let typed = format!("{}-{}", &bob_code[..4], bob_code[4..].to_lowercase());
    let (status, body) = d
        .post(&format!("/api/pairing/chat/{typed}/deny"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "denied");
    assert_eq!(body["user"]["user_id"], "bob");
    assert!(!d.store.is_approved(&chat, "bob").await.unwrap());
    let (_, body) = d.get("/api/pairing").await;
    assert_eq!(body["pending"], json!([]), "{body}");
    let approved = body["approved"].as_array().unwrap();
    assert_eq!(approved.len(), 1, "{body}");
    assert_eq!(approved[0]["user_id"], "alice");
    assert_eq!(approved[0]["platform"], "chat");
    d.stop().await;
}

#[tokio::test]
async fn a_pairing_code_approves_and_an_id_denies() {
    let d = Dash::start().await;
    let carol_code = d.stranger("carol").await;
    let dave_code = d.stranger("dave").await;
    let (status, body) = d
        .post(&format!("/api/pairing/chat/{carol_code}/approve"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["user_id"], "carol");
    let chat = PlatformId::from_static("chat");
    assert!(d.store.is_approved(&chat, "carol").await.unwrap());

    let (_, body) = d.get("/api/pairing").await;
    let dave_id = body["pending"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = d
        .post(&format!("/api/pairing/chat/{dave_id}/deny"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["user_id"], "dave");
    // Dave's code went with his request.
    let (status, _) = d
        .post(&format!("/api/pairing/chat/{dave_code}/approve"), None)
        .await;
    assert_eq!(status, 404);
    assert!(!d.store.is_approved(&chat, "dave").await.unwrap());
    d.stop().await;
}

#[tokio::test]
async fn the_overview_shows_errors_and_metrics() {
    let d = Dash::start().await;
    let (status, body) = d.get("/api/overview").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["healthy"], true);
    assert_eq!(body["errors"], json!([]), "{body}");
    assert_eq!(body["uptime_secs"], Value::Null, "no status published");
    assert_eq!(body["metrics"]["turns_answered"], 0);

    // A turn through the API counts.
    let response = d
        .http
        .post(format!("{}/v1/chat/completions", d.base))
        .bearer_auth(KEY)
        .json(&user("count me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, body) = d.get("/api/overview").await;
    let metrics = &body["metrics"];
    assert_eq!(metrics["turns_answered"], 1, "{body}");
    assert_eq!(metrics["turns_failed"], 0);
    assert!(metrics["turn_seconds_avg"].as_f64().is_some(), "{body}");

    // A component's problem now, and one it had before (the published
    // status keeps it after it recovered).
    d.health.degraded("chat", "peer answers 502");
    let mut published = GatewayStatus::starting(1, "x", hermod_core::now_ms() - 90_000);
    let earlier = Health::default();
    earlier.degraded("store", "disk full");
    published.apply_health(&earlier.report());
    earlier.recovered("store");
    published.apply_health(&earlier.report());
    d.status.publish(published);
    let (_, body) = d.get("/api/overview").await;
    assert_eq!(body["healthy"], false);
    assert!(body["uptime_secs"].as_u64().unwrap() >= 90, "{body}");
    let errors = body["errors"].as_array().unwrap();
    let now = errors.iter().find(|e| e["name"] == "chat").unwrap();
    assert_eq!(now["message"], "peer answers 502");
    assert_eq!(now["current"], true);
    assert_eq!(now["source"], "component");
    let before = errors.iter().find(|e| e["name"] == "store").unwrap();
    assert_eq!(before["message"], "disk full");
    assert_eq!(before["current"], false);
    d.health.recovered("chat");

    d.stop().await;
}

#[tokio::test]
async fn deliveries_waiting_for_a_retry_are_errors() {
    let d = Dash::start().await;
    let now = hermod_core::now_ms();
    // Written after the gateway started (an entry older than the start is
    // delivered at once by the start's recovery sweep), with its next try
    // an hour away: no sweep takes it up while the test looks.
    let entry = d
        .store
        .outbox_put(NewOutbox {
            key: "reply:1".into(),
            platform: PlatformId::from_static("chat"),
            target: ChatTarget {
                chat_id: "alice".into(),
                thread_id: None,
            },
            reply_to: None,
            text: "the reply".into(),
            session: None,
            message_ids: Vec::new(),
            attachments: Vec::new(),
            created_at_ms: now + 60_000,
        })
        .await
        .unwrap();
    d.store
        .outbox_retry_later(
            entry.id,
            "temporary platform failure: peer answers 503",
            now + 3_600_000,
            now - 1_000,
        )
        .await
        .unwrap();
    let (status, body) = d.get("/api/overview").await;
    assert_eq!(status, 200, "{body}");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["source"], "delivery");
    assert_eq!(errors[0]["name"], "chat");
    assert_eq!(
        errors[0]["message"],
        "temporary platform failure: peer answers 503"
    );
    assert_eq!(errors[0]["current"], true);
    assert_eq!(errors[0]["at_ms"], now - 1_000);
    assert!(
        !body.to_string().contains("the reply"),
        "a delivery's text is not shown: {body}"
    );
    d.stop().await;
}
