//! Webhook mode: Telegram posts updates to the adapter's listener, which
//! checks the secret and bounds the body.

use crate::support::{Running, World, allow_all, settled, within};
use hermod_core::ComponentState;
use hermod_model::Secret;
use hermod_testkit::ScriptedAgent;
use reqwest::StatusCode;

const SECRET: &str = "webhook-secret_123";

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a gateway receiving by webhook on a free port; returns it and
/// the webhook's URL once Telegram (the fake) knows it.
async fn start_hooked(world: &World) -> (Running, String) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/telegram/hook");
    let mut config = world.config();
    config.webhook_url = Some(url.clone());
    config.webhook_secret = Some(Secret::new(SECRET));
    config.webhooks.port = Some(port);
    let running = world
        .start_with(ScriptedAgent::echo(), allow_all(), config)
        .await;
    within("the webhook", world.fake.wait_for_calls("setWebhook", 1)).await;
    within("the webhook to be registered", async {
        while world.fake.webhook().is_none() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    (running, url)
}

#[tokio::test]
async fn updates_arrive_by_webhook_with_the_secret_only() {
    let world = World::new().await;
    let (running, url) = start_hooked(&world).await;
    assert_eq!(
        world.fake.webhook(),
        Some((url.clone(), Some(SECRET.to_owned())))
    );

    world.fake.user(6001, "Alice").dm("by webhook");
    let statuses = world.fake.deliver_pending_webhook().await;
    assert_eq!(statuses, [StatusCode::OK]);
    let answer = settled(&world.fake, 6001, 1).await;
    assert_eq!(answer[0].current_text(), "echo: by webhook (0 earlier)");
    assert!(world.fake.calls_of("getUpdates").is_empty());

    let http = hermod_http::HttpClient::new().unwrap();
    let update = serde_json::json!({"update_id": 9, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"}, "from": {"id": 1, "is_bot": false, "first_name": "M"}, "date": 0, "text": "forged"}});
    let forged = http
        .reqwest()
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", "wrong")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let missing = http
        .reqwest()
        .post(&url)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let huge = http
        .reqwest()
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

    running.stop().await;
    assert_eq!(world.fake.calls_of("deleteWebhook").len(), 1);
    assert_eq!(world.fake.webhook(), None);
}

#[tokio::test]
async fn an_update_that_cannot_be_recorded_is_refused_and_reported_until_storage_is_back() {
    let world = World::new().await;
    let (running, _url) = start_hooked(&world).await;
    world.store.fail("inbox_record", u32::MAX);
    world.fake.user(6002, "Alice").dm("while the disk is full");

    // 500: Telegram keeps the update and delivers it again later.
    let statuses = world.fake.deliver_pending_webhook().await;
    assert_eq!(statuses, [StatusCode::INTERNAL_SERVER_ERROR]);
    let reason = running.degraded_reason();
    assert!(reason.contains("record"), "{reason}");
    assert!(!reason.contains(&world.fake.token()), "{reason}");

    world.store.heal();
    let statuses = world.fake.deliver_pending_webhook().await;
    assert_eq!(statuses, [StatusCode::OK]);
    assert_eq!(
        running.health.get("telegram").map(|s| s.state),
        Some(ComponentState::Running)
    );
    let answer = settled(&world.fake, 6002, 1).await;
    assert_eq!(
        answer[0].current_text(),
        "echo: while the disk is full (0 earlier)"
    );
    running.stop().await;
}
