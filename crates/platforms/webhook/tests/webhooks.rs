//! Incoming webhooks through a running gateway: signed requests over HTTP
//! on the shared listener, answered by the agent in a chat of another
//! platform, in Hermes' order and words.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_adapter_kit::WebhookListener;
use hermod_core::{Clock, GatewayConfig, PlatformPolicy};
use hermod_model::PlatformId;
use hermod_store::Store;
use hermod_testkit::agent::ScriptedAgent;
use hermod_testkit::harness::{Running, TestHome, within};
use hermod_testkit::platform::TestPlatform;
use hermod_webhook::{WebhookAdapter, WebhookPlatformConfig};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::net::SocketAddr;
use std::sync::Arc;

const SECRET: &str = "It's a Secret to Everybody";

/// The chat platform answers go to; its home channel is `home-1`.
fn chat_platform() -> TestPlatform {
    TestPlatform::new("chat")
}

/// Nobody is allowlisted: webhooks get in by their signature alone.
fn gateway_config() -> GatewayConfig {
    let mut config = GatewayConfig::default();
    config.platforms.insert(
        "chat".into(),
        PlatformPolicy {
            home_channel: Some("home-1".into()),
            ..PlatformPolicy::default()
        },
    );
    config
}

fn webhook_config(routes: &Value) -> WebhookPlatformConfig {
    let mut config: WebhookPlatformConfig = serde_json::from_value(json!({
        "enabled": true,
        "port": 0,
        "rate_limit": 3,
        "max_body_bytes": 400,
        "routes": routes,
    }))
    .unwrap();
    config.listener.host = Some("127.0.0.1".into());
    config
}

fn github_routes() -> Value {
    json!({
        "gh": {
            "events": ["push"],
            "secret": SECRET,
            "prompt": "{pusher.name} pushed {commits} to {repository.full_name}",
            "deliver": "chat",
        },
        "alert": {
            "secret": SECRET,
            "prompt": "Alert: {message}",
            "deliver": "chat:room-9",
            "deliver_only": true,
        },
        "open": {},
    })
}

struct World {
    home: TestHome,
    chat: TestPlatform,
    agent: Arc<hermod_testkit::agent::AgentStats>,
    running: Running<WebhookAdapter>,
    addr: SocketAddr,
    http: hermod_http::HttpClient,
}

impl World {
    async fn start(home: TestHome, chat: TestPlatform, routes: Value) -> Self {
        let config = webhook_config(&routes);
        let listener = WebhookListener::new(config.listener());
        let adapter =
            WebhookAdapter::new(&config, home.store.clone(), listener, Clock::System).unwrap();
        let agent = ScriptedAgent::echo();
        let stats = agent.stats();
        let running = home
            .gateway(agent)
            .config(gateway_config())
            .adapter(chat.adapter())
            .start(adapter.clone())
            .await;
        running.connected().await;
        let addr = adapter.listener().local_addr().unwrap();
        Self {
            home,
            chat,
            agent: stats,
            running,
            addr,
            http: hermod_http::HttpClient::new().unwrap(),
        }
    }

    /// Stops the gateway, keeping its home and the chat's messages.
    async fn stop(self) -> (TestHome, TestPlatform) {
        self.running.stop().await;
        (self.home, self.chat.restarted())
    }

    async fn post(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, Value) {
        let mut request = self
            .http
            .reqwest()
            .post(format!("http://{}{path}", self.addr))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// A GitHub delivery signed with the route's secret.
    async fn github(&self, event: &str, delivery: &str, body: &[u8]) -> (u16, Value) {
        let headers = [
            ("X-GitHub-Event", event.to_owned()),
            ("X-GitHub-Delivery", delivery.to_owned()),
            ("X-Hub-Signature-256", github_signature(body)),
        ];
        self.post("/webhooks/gh", &headers, body).await
    }

    async fn recorded(&self, key: &str) -> bool {
        let platform = PlatformId::from_static("webhook");
        self.home
            .store
            .inbox_entry(&platform, key)
            .await
            .unwrap()
            .is_some()
    }
}

fn github_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn push_body() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "pusher": {"name": "mona"},
        "commits": ["abc"],
        "repository": {"full_name": "octo/hello"},
    }))
    .unwrap()
}

#[tokio::test]
async fn a_signed_push_is_answered_in_the_home_channel_and_its_redelivery_is_a_duplicate_across_a_restart()
 {
    let world = World::start(TestHome::new(), chat_platform(), github_routes()).await;
    let (status, body) = world.github("push", "d-1", &push_body()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body,
        json!({"status": "accepted", "route": "gh", "event": "push", "delivery_id": "d-1"})
    );
    let answered = world.chat.wait_for_messages("home-1", 1).await;
    let text = answered[0].current_text();
    assert!(
        text.starts_with("echo: mona pushed [\n  \"abc\"\n] to octo/hello"),
        "{text}"
    );
    let inputs = world.agent.inputs();
    assert_eq!(inputs.len(), 1);

    // GitHub delivers the same event again: nothing runs.
    let (status, body) = world.github("push", "d-1", &push_body()).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "duplicate", "delivery_id": "d-1"}));
    world.home.drained().await;
    assert_eq!(world.agent.inputs().len(), 1);

    // A new gateway on the same home remembers it.
    let (home, chat) = world.stop().await;
    let world = World::start(home, chat, github_routes()).await;
    let (status, body) = world.github("push", "d-1", &push_body()).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "duplicate");
    world.home.drained().await;
    assert!(world.agent.inputs().is_empty());
    assert_eq!(world.chat.sent("home-1").len(), 1);

    // Another delivery is a conversation of its own.
    let (status, _) = world.github("push", "d-2", &push_body()).await;
    assert_eq!(status, 202);
    let answered = world.chat.wait_for_messages("home-1", 2).await;
    assert!(
        answered[1].current_text().contains("(0 earlier)"),
        "{answered:?}"
    );
}

#[tokio::test]
async fn refusals_come_in_hermes_order_and_leave_nothing_behind() {
    let world = World::start(TestHome::new(), chat_platform(), github_routes()).await;
    // Too large: refused on its declared length, whatever its signature.
    let big = vec![b' '; 500];
    let (status, body) = world.github("push", "big", &big).await;
    assert_eq!((status, body), (413, json!({"error": "Payload too large"})));
    // A route without a secret refuses everything.
    let (status, body) = world.post("/webhooks/open", &[], b"{}").await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"error": "Webhook route is missing an HMAC secret"})
        )
    );
    // Wrong or no signature, more often than the rate limit allows: none
    // of them counts against it.
    for _ in 0..5 {
        let wrong = [
            ("X-GitHub-Event", "push".to_owned()),
            ("X-GitHub-Delivery", "forged".to_owned()),
            ("X-Hub-Signature-256", github_signature(b"something else")),
        ];
        let (status, body) = world.post("/webhooks/gh", &wrong, &push_body()).await;
        assert_eq!((status, body), (401, json!({"error": "Invalid signature"})));
    }
    let (status, _) = world.post("/webhooks/gh", &[], &push_body()).await;
    assert_eq!(status, 401);
    let (status, _) = world.post("/webhooks/nowhere", &[], b"{}").await;
    assert_eq!(status, 404);
    assert!(!world.recorded("gh:big").await);
    assert!(!world.recorded("gh:forged").await);

    // Signed: events the route does not take are ignored, and count.
    let (status, body) = world.github("issues", "i-1", b"{}").await;
    assert_eq!(
        (status, body),
        (200, json!({"status": "ignored", "event": "issues"}))
    );
    let (status, _) = world.github("push", "p-1", &push_body()).await;
    assert_eq!(status, 202);
    let (status, _) = world.github("push", "p-2", &push_body()).await;
    assert_eq!(status, 202);
    // The fourth signed request within the minute.
    let (status, body) = world.github("push", "p-3", &push_body()).await;
    assert_eq!(
        (status, body),
        (429, json!({"error": "Rate limit exceeded"}))
    );
    assert!(!world.recorded("gh:p-3").await);
    assert!(!world.recorded("gh:i-1").await);
    world.chat.wait_for_messages("home-1", 2).await;
    world.home.drained().await;
    assert_eq!(world.agent.inputs().len(), 2);

    let health = world
        .http
        .reqwest()
        .get(format!("http://{}/health", world.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        json!({"status": "ok", "platform": "webhook"})
    );
}

#[tokio::test]
async fn deliver_only_sends_the_rendered_text_once_without_a_turn() {
    let world = World::start(TestHome::new(), chat_platform(), github_routes()).await;
    let body = br#"{"message": "disk full on db-1"}"#;
    let headers = [
        ("X-Request-ID", "alert-1".to_owned()),
        ("X-Hub-Signature-256", github_signature(body)),
    ];
    let (status, answer) = world.post("/webhooks/alert", &headers, body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"status": "delivered", "route": "alert", "target": "chat:room-9", "delivery_id": "alert-1"})
    );
    let sent = world.chat.wait_for_messages("room-9", 1).await;
    assert_eq!(sent[0].current_text(), "Alert: disk full on db-1");
    let (status, answer) = world.post("/webhooks/alert", &headers, body).await;
    assert_eq!(
        (status, answer["status"].clone()),
        (200, json!("duplicate"))
    );
    world.home.drained().await;
    assert_eq!(world.chat.sent("room-9").len(), 1);
    assert!(world.agent.inputs().is_empty());
}

#[tokio::test]
async fn a_payload_that_reads_as_a_command_is_a_prompt() {
    let routes = json!({
        "cmd": {"secret": SECRET, "prompt": "{title}", "deliver": "chat:room-2"}
    });
    let world = World::start(TestHome::new(), chat_platform(), routes).await;
    let body = br#"{"title": "/new"}"#;
    let headers = [
        ("X-Request-ID", "c-1".to_owned()),
        ("X-Hub-Signature-256", github_signature(body)),
    ];
    let (status, _) = world.post("/webhooks/cmd", &headers, body).await;
    assert_eq!(status, 202);
    let sent = world.chat.wait_for_messages("room-2", 1).await;
    assert!(sent[0].current_text().starts_with("echo: "), "{sent:?}");
    within("the turn", world.agent.wait_started(1)).await;
    assert!(world.agent.inputs()[0].ends_with("/new"));
}
