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
        shared_database: false,
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

/// Answers refusals with a JSON body of its own, counting handled requests.
#[derive(Default)]
struct Worded {
    calls: AtomicUsize,
}

#[async_trait]
impl WebhookHandler for Worded {
    async fn handle(&self, _headers: HeaderMap, _body: Bytes) -> Response {
        self.calls.fetch_add(1, Ordering::SeqCst);
        (StatusCode::OK, "ok").into_response()
    }

    fn refused(&self, status: StatusCode) -> Response {
        (status, format!("refused {}", status.as_u16())).into_response()
    }
}

/// Refuses every request: the route has nothing to check with.
struct Unconfigured;

impl Verifier for Unconfigured {
    fn verify(&self, _headers: &HeaderMap, _body: &[u8]) -> Verdict {
        Verdict::Forbid("no secret")
    }
}

#[tokio::test]
async fn routes_have_their_own_limits_probes_and_words_for_refusals() {
    let webhooks = listener();
    let handler = Arc::new(Worded::default());
    let small = webhooks
        .register_route(
            RouteSpec::webhook(
                "/small",
                secret("s"),
                handler.clone() as Arc<dyn WebhookHandler>,
            )
            .max_body(10),
        )
        .await
        .unwrap();
    let closed = webhooks
        .register_route(RouteSpec::webhook(
            "/closed",
            Arc::new(Unconfigured),
            handler.clone(),
        ))
        .await
        .unwrap();
    let probe = webhooks
        .register_route(RouteSpec::probe("/health", handler.clone()))
        .await
        .unwrap();
    let zero = webhooks
        .register_route(RouteSpec::webhook("/zero", secret("s"), handler.clone()).max_body(0))
        .await
        .unwrap_err();
    assert!(matches!(zero, KitError::Route(_)), "{zero:?}");
    let addr = webhooks.local_addr().unwrap();
    let http = hermod_http::HttpClient::new().unwrap();
    let post = |path: &str, body: Vec<u8>| {
        http.reqwest()
            .post(format!("http://{addr}{path}"))
            .header("x-secret", "s")
            .body(body)
            .send()
    };

    let ok = post("/small", b"0123456789".to_vec()).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let big = post("/small", b"0123456789a".to_vec()).await.unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(big.text().await.unwrap(), "refused 413");
    let forbidden = post("/closed", b"{}".to_vec()).await.unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(forbidden.text().await.unwrap(), "refused 403");
    let unsigned = http
        .reqwest()
        .post(format!("http://{addr}/small"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unsigned.text().await.unwrap(), "refused 401");

    let health = http
        .reqwest()
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        post("/health", Vec::new()).await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    // The good post and the probe reached the handler; nothing else did.
    assert_eq!(handler.calls.load(Ordering::SeqCst), 2);
    small.close().await;
    closed.close().await;
    probe.close().await;
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let webhooks = listener();
    let handler = Arc::new(Worded::default());
    let route = webhooks
        .register("/hook", secret("s"), handler.clone())
        .await
        .unwrap();
    let addr = webhooks.local_addr().unwrap();
    // Headers only, announcing ten megabytes that never come: the answer
    // arrives without waiting for them.
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(
            b"POST /hook HTTP/1.1\r\nhost: x\r\nx-secret: s\r\ncontent-length: 10485760\r\n\r\n",
        )
        .await
        .unwrap();
    let mut answer = vec![0; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut answer))
        .await
        .expect("answered without the body")
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_eq!(handler.calls.load(Ordering::SeqCst), 0);
    route.close().await;
}
