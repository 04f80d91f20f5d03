//! The Events API: deliveries signed with the v0 scheme (checked here with
//! an HMAC of the test's own), the `url_verification` handshake, retries,
//! and mis-signed requests.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hermod_testkit::slack::{DeliveryOutcome, FakeSlack, PostKind, Signing, SlackConfig};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One request the app endpoint received.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// How the endpoint answers, in order; then 200.
#[derive(Debug, Clone)]
enum Answer {
    Status(u16),
    StatusNoRetry(u16),
    Slow(Duration),
    Text(String),
}

#[derive(Debug, Default)]
struct Endpoint {
    received: Mutex<Vec<Received>>,
    answers: Mutex<VecDeque<Answer>>,
    secret: String,
}

/// An app's `/slack/events` on a local port; it verifies signatures the
/// way the docs describe and answers 401 when one is wrong.
async fn endpoint(secret: &str, answers: Vec<Answer>) -> (String, Arc<Endpoint>) {
    let state = Arc::new(Endpoint {
        received: Mutex::default(),
        answers: Mutex::new(answers.into()),
        secret: secret.to_owned(),
    });
    let app = Router::new()
        .route("/slack/events", post(receive))
        .with_state(state.clone());
    let listener = hermod_testkit::peer::PeerListener::bind().await;
    let url = format!("http://{}/slack/events", listener.addr());
    tokio::spawn(listener.serve(app, tokio_util::sync::CancellationToken::new()));
    (url, state)
}

async fn receive(State(state): State<Arc<Endpoint>>, headers: HeaderMap, body: Bytes) -> Response {
    let body = String::from_utf8_lossy(&body).into_owned();
    let valid = verify(&state.secret, &headers, &body);
    state.received.lock().expect("unpoisoned").push(Received {
        headers,
        body: body.clone(),
    });
    if !valid {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let answer = state.answers.lock().expect("unpoisoned").pop_front();
    match answer {
        None => StatusCode::OK.into_response(),
        Some(Answer::Status(status)) => StatusCode::from_u16(status)
            .expect("a status")
            .into_response(),
        Some(Answer::StatusNoRetry(status)) => (
            StatusCode::from_u16(status).expect("a status"),
            [("x-slack-no-retry", "1")],
        )
            .into_response(),
        Some(Answer::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            StatusCode::OK.into_response()
        }
        Some(Answer::Text(text)) => text.into_response(),
    }
}

/// The docs' check: the timestamp within five minutes, and `v0=` + hex
/// HMAC-SHA256 of `v0:<timestamp>:<body>` equal to the signature.
fn verify(secret: &str, headers: &HeaderMap, body: &str) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(timestamp), Some(signature)) = (
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
    ) else {
        return false;
    };
    let Ok(at) = timestamp.parse::<u64>() else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    if now.abs_diff(at) > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    signature == format!("v0={expected}")
}

fn quick() -> SlackConfig {
    SlackConfig {
        request_timeout: Duration::from_millis(300),
        retry_delays: vec![Duration::from_millis(10); 3],
        ..SlackConfig::default()
    }
}

#[tokio::test]
async fn events_arrive_signed_and_the_challenge_is_checked() {
    let fake = FakeSlack::start().await;
    let secret = fake.config().signing_secret.clone();
    let (url, app) = endpoint(&secret, vec![Answer::Text("wrong".into())]).await;

    let failed = fake.verify_request_url(&url).await;
    assert!(!failed.passed, "{failed:?}");
    let sent: Value = serde_json::from_str(&app.received.lock().unwrap()[0].body).unwrap();
    assert_eq!(sent["type"], "url_verification");
    assert_eq!(sent["challenge"], failed.challenge);
    assert_eq!(sent["token"], fake.config().verification_token);

    // An endpoint echoing the challenge (here as JSON) passes.
    let echo = Router::new().route(
        "/",
        post(|body: String| async move {
            let sent: Value = serde_json::from_str(&body).unwrap();
            axum::Json(json!({"challenge": sent["challenge"]}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, echo).await });
    assert!(fake.verify_request_url(&echo_url).await.passed);

    fake.set_request_url(Some(&url));
    let alice = fake.user("alice");
    let posted = alice.dm("over http");
    let deliveries = fake.wait_for_deliveries(3).await;
    let delivery = &deliveries[2];
    assert_eq!(delivery.kind, PostKind::Event);
    assert_eq!(delivery.outcome, DeliveryOutcome::Status(200));
    assert_eq!(delivery.retry_num, 0);
    let received = app.received.lock().unwrap().last().cloned().unwrap();
    assert!(
        verify(&secret, &received.headers, &received.body),
        "a valid v0 signature"
    );
    assert_eq!(received.headers["content-type"], "application/json");
    assert!(received.headers.get("x-slack-retry-num").is_none());
    let callback: Value = serde_json::from_str(&received.body).unwrap();
    assert_eq!(callback["type"], "event_callback");
    assert_eq!(callback["event"]["ts"], posted.ts);
    assert_eq!(callback["event"]["channel_type"], "im");
    assert_eq!(delivery.event_id.as_deref(), callback["event_id"].as_str());
    assert_eq!(fake.connections_opened(), 0);
    assert!(fake.envelopes().is_empty(), "nothing went over Socket Mode");
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_their_reason() {
    let fake = FakeSlack::with_config(quick()).await;
    let secret = fake.config().signing_secret.clone();
    let (url, app) = endpoint(
        &secret,
        vec![Answer::Status(500), Answer::Slow(Duration::from_secs(2))],
    )
    .await;
    fake.set_request_url(Some(&url));
    fake.user("alice").dm("retry me");

    let deliveries = fake.wait_for_deliveries(3).await;
    assert_eq!(deliveries[0].outcome, DeliveryOutcome::Status(500));
    assert_eq!(deliveries[1].outcome, DeliveryOutcome::TimedOut);
    assert_eq!(deliveries[1].retry_num, 1);
    assert_eq!(deliveries[1].retry_reason.as_deref(), Some("http_error"));
    assert_eq!(deliveries[2].outcome, DeliveryOutcome::Status(200));
    assert_eq!(deliveries[2].retry_num, 2);
    assert_eq!(deliveries[2].retry_reason.as_deref(), Some("http_timeout"));
    let received = app.received.lock().unwrap().clone();
    let last = &received[2];
    assert_eq!(last.headers["x-slack-retry-num"], "2");
    assert_eq!(last.headers["x-slack-retry-reason"], "http_timeout");
    assert!(
        verify(&secret, &last.headers, &last.body),
        "retries are signed afresh"
    );
    assert_eq!(received[0].body, last.body, "the same event each time");

    // `X-Slack-No-Retry: 1` stops the retries.
    app.answers
        .lock()
        .unwrap()
        .push_back(Answer::StatusNoRetry(503));
    fake.user("alice").dm("do not retry");
    fake.wait_for_deliveries(4).await;
    fake.user("alice").dm("next");
    let deliveries = fake.wait_for_deliveries(5).await;
    assert!(deliveries[3].no_retry);
    assert_eq!(deliveries[4].retry_num, 0, "the next event, not a retry");
    assert_eq!(deliveries[4].outcome, DeliveryOutcome::Status(200));
}

#[tokio::test]
async fn mis_signed_requests_fail_an_honest_check() {
    let fake = FakeSlack::start().await;
    let secret = fake.config().signing_secret.clone();
    let (url, _app) = endpoint(&secret, Vec::new()).await;
    let body = json!({"type": "event_callback", "event": {"type": "message"}}).to_string();
    assert_eq!(
        fake.post_to(&url, &body, Signing::Valid).await,
        DeliveryOutcome::Status(200)
    );
    for signing in [
        Signing::WrongSecret,
        Signing::Stale,
        Signing::Missing,
        Signing::Tampered,
    ] {
        assert_eq!(
            fake.post_to(&url, &body, signing).await,
            DeliveryOutcome::Status(401),
            "{signing:?}"
        );
    }
    assert_eq!(fake.http_deliveries().len(), 5);
}

#[tokio::test]
async fn slash_commands_come_as_signed_forms_and_are_not_retried() {
    let fake = FakeSlack::with_config(quick()).await;
    let secret = fake.config().signing_secret.clone();
    let (url, app) = endpoint(&secret, vec![Answer::Status(500)]).await;
    fake.set_request_url(Some(&url));
    let general = fake.public_channel("general");
    fake.user("alice")
        .slash_command(&general, "/ask", "status?");
    let deliveries = fake.wait_for_deliveries(1).await;
    assert_eq!(deliveries[0].kind, PostKind::SlashCommand);
    let received = app.received.lock().unwrap()[0].clone();
    assert_eq!(
        received.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert!(verify(&secret, &received.headers, &received.body));
    let form: Vec<(String, String)> = form_urlencoded::parse(received.body.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(field("command"), Some("/ask"));
    assert_eq!(field("text"), Some("status?"));
    assert_eq!(field("channel_id"), Some(general.as_str()));

    // The 500 is not retried: the next delivery is the button click.
    let posted = fake.user("alice").say_in(&general, "pick one");
    fake.user("alice")
        .click_button(&general, &posted.ts, "approve", "yes");
    let deliveries = fake.wait_for_deliveries(3).await;
    assert_eq!(deliveries[1].kind, PostKind::Event);
    assert_eq!(deliveries[2].kind, PostKind::Interactive);
    let received = app.received.lock().unwrap()[2].clone();
    let payload = form_urlencoded::parse(received.body.as_bytes())
        .find(|(n, _)| n == "payload")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let payload: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload["type"], "block_actions");
    assert_eq!(payload["actions"][0]["action_id"], "approve");
    assert_eq!(payload["container"]["message_ts"], posted.ts);
}
