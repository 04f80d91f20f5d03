use super::*;
use axum::http::HeaderValue;
use hermod_model::EnvVars;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Answers 200 with the body it got, counting calls.
#[derive(Default)]
struct Echo {
    calls: AtomicUsize,
}

#[async_trait]
impl WebhookHandler for Echo {
    async fn handle(&self, _headers: HeaderMap, body: Bytes) -> Response {
        self.calls.fetch_add(1, Ordering::SeqCst);
        (StatusCode::OK, body).into_response()
    }
}

fn listener() -> WebhookListener {
    WebhookListener::new(WebhookConfig {
        host: Some("127.0.0.1".into()),
        port: Some(0),
        max_body: 1000,
    })
}

fn secret(value: &str) -> Arc<dyn Verifier> {
    Arc::new(SecretHeader::new(
        HeaderName::from_static("x-secret"),
        Secret::new(value),
    ))
}

#[test]
fn the_address_comes_from_webhook_host_and_port() {
    let mut config = WebhookConfig::default();
    assert_eq!(config.addr(), "127.0.0.1:8644");
    let env: EnvVars = [("WEBHOOK_HOST", "0.0.0.0"), ("WEBHOOK_PORT", "9000")]
        .into_iter()
        .collect();
    crate::config::apply_env(&mut config, &env).unwrap();
    assert_eq!(config.addr(), "0.0.0.0:9000");
    let bad: EnvVars = [("WEBHOOK_PORT", "http")].into_iter().collect();
    let err = crate::config::apply_env(&mut config, &bad).unwrap_err();
    assert!(err.contains("WEBHOOK_PORT"), "{err}");
}

#[test]
fn secrets_are_compared_whole() {
    let verifier = secret("s3cret");
    let mut headers = HeaderMap::new();
    assert_eq!(verifier.verify(&headers, b""), Verdict::Reject("no secret"));
    headers.insert("x-secret", HeaderValue::from_static("s3cre"));
    assert_eq!(
        verifier.verify(&headers, b""),
        Verdict::Reject("wrong secret")
    );
    headers.insert("x-secret", HeaderValue::from_static("s3cret"));
    assert_eq!(verifier.verify(&headers, b""), Verdict::Accept);
    assert!(
        !format!(
            "{:?}",
            SecretHeader::new(HeaderName::from_static("x"), Secret::new("s3cret"))
        )
        .contains("s3cret")
    );
}

#[tokio::test]
async fn routes_share_one_listener_that_checks_before_handling() {
    let webhooks = listener();
    assert_eq!(
        webhooks.local_addr(),
        None,
        "nothing listens before a route"
    );
    let telegram = Arc::new(Echo::default());
    let slack = Arc::new(Echo::default());
    let first = webhooks
        .register("/telegram/hook", secret("one"), telegram.clone())
        .await
        .unwrap();
    let second = webhooks
        .register("/slack/events", secret("two"), slack.clone())
        .await
        .unwrap();
    let taken = webhooks
        .register("/slack/events", secret("x"), slack.clone())
        .await
        .unwrap_err();
    assert!(matches!(taken, KitError::Route(_)), "{taken:?}");
    let addr = webhooks.local_addr().unwrap();
    let http = hermod_http::HttpClient::new().unwrap();
    let post = |path: &str, secret: &str, body: Vec<u8>| {
        http.reqwest()
            .post(format!("http://{addr}{path}"))
            .header("x-secret", secret)
            .body(body)
            .send()
    };
    let ok = post("/telegram/hook", "one", b"update".to_vec())
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.bytes().await.unwrap().as_ref(), b"update");
    assert_eq!(
        post("/slack/events", "two", b"{}".to_vec())
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // Another route's secret is not this one's.
    assert_eq!(
        post("/slack/events", "one", b"{}".to_vec())
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post("/nowhere", "one", Vec::new()).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post("/telegram/hook", "one", vec![b' '; 1001])
            .await
            .unwrap()
            .status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let get = http
        .reqwest()
        .get(format!("http://{addr}/telegram/hook"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Refused requests never reached the handlers.
    assert_eq!(telegram.calls.load(Ordering::SeqCst), 1);
    assert_eq!(slack.calls.load(Ordering::SeqCst), 1);

    // One route closed: the other is still served.
    first.close().await;
    assert_eq!(
        post("/telegram/hook", "one", Vec::new())
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(webhooks.local_addr(), Some(addr));
    // The last one closed: nothing listens.
    second.close().await;
    assert_eq!(webhooks.local_addr(), None);
    assert!(post("/slack/events", "two", Vec::new()).await.is_err());
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_error_at_registration() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let webhooks = WebhookListener::new(WebhookConfig {
        host: Some("127.0.0.1".into()),
        port: Some(port),
        ..WebhookConfig::default()
    });
    let err = webhooks
        .register("/telegram/hook", secret("one"), Arc::new(Echo::default()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("WEBHOOK_PORT"), "{err}");
    // The failed route is not left behind.
    drop(taken);
    webhooks
        .register("/telegram/hook", secret("one"), Arc::new(Echo::default()))
        .await
        .unwrap()
        .close()
        .await;
}

fn build_context(dir: &std::path::Path) -> hermod_core::BuildContext {
    hermod_core::BuildContext {
        store: std::sync::Arc::new(hermod_store::SqliteStore::open(&dir.join("t.db")).unwrap()),
        http: hermod_http::HttpClient::new().unwrap(),
        home: dir.to_owned(),
        media_dir: dir.join("media"),
        shutdown: tokio_util::sync::CancellationToken::new(),
        shared: hermod_core::SharedParts::default(),
    }
}

#[tokio::test]
async fn the_platforms_of_a_gateway_share_one_listener() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = build_context(dir.path());
    let config = WebhookConfig {
        port: Some(0),
        ..WebhookConfig::default()
    };
    let first = WebhookListener::shared(&ctx, config.clone()).unwrap();
    let second = WebhookListener::shared(&ctx, config.clone()).unwrap();
    assert!(Arc::ptr_eq(&first.shared, &second.shared));
    let elsewhere = WebhookConfig {
        port: Some(1),
        ..config
    };
    let err = WebhookListener::shared(&ctx, elsewhere)
        .unwrap_err()
        .to_string();
    assert!(err.contains("WEBHOOK_PORT"), "{err}");
}
