//! Rate limits: headers on every answer, buckets per route and channel,
//! 429s in Discord's shape from budgets and from scripted faults, and
//! the would-be-429 count a pacing test reads.

use super::Rest;
use hermod_testkit::discord::{Budget, FakeDiscord, Fault, RateLimitMode, Route};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

async fn two_channels(fake: &FakeDiscord) -> (u64, u64) {
    let alice = fake.user("alice");
    let guild = fake.guild("Hermod HQ", &alice);
    (guild.text_channel("one"), guild.text_channel("two"))
}

#[tokio::test]
async fn every_answer_carries_its_bucket() {
    let fake = FakeDiscord::start().await;
    let (one, _) = two_channels(&fake).await;
    let rest = Rest::new(&fake);
    let first = rest
        .post(
            &format!("/channels/{one}/messages"),
            json!({"content": "a"}),
        )
        .await;
    assert_eq!(first.header("x-ratelimit-limit"), Some("5"));
    assert_eq!(first.header("x-ratelimit-remaining"), Some("4"));
    let reset_after: f64 = first
        .header("x-ratelimit-reset-after")
        .expect("a header")
        .parse()
        .expect("seconds");
    assert!(reset_after > 4.0 && reset_after <= 5.0, "{reset_after}");
    let reset: f64 = first
        .header("x-ratelimit-reset")
        .expect("a header")
        .parse()
        .expect("epoch seconds");
    assert!(reset > 1_700_000_000.0);
    let bucket = first
        .header("x-ratelimit-bucket")
        .expect("a bucket")
        .to_owned();
    assert_eq!(bucket.len(), 32);
    let failed = rest
        .post(&format!("/channels/{one}/messages"), json!({"content": ""}))
        .await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        failed.header("x-ratelimit-remaining"),
        Some("3"),
        "errors count too"
    );
    let typing = rest
        .post(&format!("/channels/{one}/typing"), serde_json::Value::Null)
        .await;
    assert_ne!(typing.header("x-ratelimit-bucket"), Some(bucket.as_str()));
    assert!(
        rest.get("/users/@me")
            .await
            .header("x-ratelimit-bucket")
            .is_some()
    );
}

#[tokio::test]
async fn an_exhausted_bucket_answers_429_for_its_channel_only() {
    let fake = FakeDiscord::start().await;
    let (one, two) = two_channels(&fake).await;
    fake.set_budget(
        Route::CreateMessage,
        Budget::new(2, Duration::from_secs(10)),
    );
    let rest = Rest::new(&fake);
    for _ in 0..2 {
        let ok = rest
            .post(
                &format!("/channels/{one}/messages"),
                json!({"content": "a"}),
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK);
    }
    let limited = rest
        .post(
            &format!("/channels/{one}/messages"),
            json!({"content": "a"}),
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["message"], "You are being rate limited.");
    assert_eq!(limited.body["global"], false);
    let retry_after = limited.body["retry_after"].as_f64().expect("float seconds");
    assert!(retry_after > 9.0 && retry_after <= 10.0, "{retry_after}");
    assert_eq!(limited.header("retry-after"), Some("10"));
    assert_eq!(limited.header("x-ratelimit-scope"), Some("user"));
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    let other = rest
        .post(
            &format!("/channels/{two}/messages"),
            json!({"content": "a"}),
        )
        .await;
    assert_eq!(
        other.status,
        StatusCode::OK,
        "another channel has its own bucket"
    );
    assert_eq!(fake.would_be_429s(), 1);
    assert_eq!(fake.served_429s(), 1);
    assert_eq!(fake.bot_messages(one).len(), 2);

    fake.set_rate_limit_mode(RateLimitMode::CountOnly);
    let counted = rest
        .post(
            &format!("/channels/{one}/messages"),
            json!({"content": "a"}),
        )
        .await;
    assert_eq!(counted.status, StatusCode::OK, "let through");
    assert_eq!(fake.would_be_429s(), 2, "but counted");
    assert_eq!(fake.served_429s(), 1);
}

#[tokio::test]
async fn the_global_limit_has_its_own_429() {
    let fake = FakeDiscord::start().await;
    fake.set_global_budget(Some(Budget::new(1, Duration::from_secs(1))));
    let rest = Rest::new(&fake);
    assert_eq!(rest.get("/users/@me").await.status, StatusCode::OK);
    let limited = rest.get("/users/@me").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["global"], true);
    assert_eq!(limited.header("x-ratelimit-global"), Some("true"));
    assert_eq!(limited.header("x-ratelimit-scope"), Some("global"));
    assert_eq!(limited.header("x-ratelimit-bucket"), None);
}

#[tokio::test]
async fn scripted_faults_answer_the_next_calls() {
    let fake = FakeDiscord::start().await;
    let (one, _) = two_channels(&fake).await;
    let rest = Rest::new(&fake);
    let path = format!("/channels/{one}/messages");
    fake.fail_next(Route::CreateMessage, Fault::rate_limited(1.25));
    let limited = rest.post(&path, json!({"content": "a"})).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        limited.body,
        json!({"message": "You are being rate limited.", "retry_after": 1.25, "global": false})
    );
    assert_eq!(limited.header("retry-after"), Some("2"));
    assert_eq!(limited.header("x-ratelimit-scope"), Some("user"));
    assert!(limited.header("x-ratelimit-bucket").is_some());

    fake.fail_next(Route::CreateMessage, Fault::global_rate_limit(0.5));
    let global = rest.post(&path, json!({"content": "a"})).await;
    assert_eq!(global.body["global"], true);
    assert_eq!(global.header("x-ratelimit-global"), Some("true"));

    fake.fail_times(Route::CreateMessage, 2, Fault::ServerError(502));
    for _ in 0..2 {
        let failed = rest.post(&path, json!({"content": "a"})).await;
        assert_eq!(failed.status, StatusCode::BAD_GATEWAY);
        assert_eq!(
            failed.body,
            json!({"message": "502: Bad Gateway", "code": 0})
        );
    }
    fake.fail_next(Route::EditMessage, Fault::Unauthorized);
    assert_eq!(
        rest.post(&path, json!({"content": "a"})).await.status,
        StatusCode::OK,
        "other routes unaffected"
    );
    fake.fail_next(Route::CreateMessage, Fault::DropConnection);
    let dropped = rest
        .request(reqwest::Method::POST, &path)
        .json(&json!({"content": "a"}))
        .send()
        .await;
    assert!(dropped.is_err(), "no answer at all");
    assert_eq!(fake.served_429s(), 2);
    assert_eq!(fake.would_be_429s(), 0);
    assert_eq!(fake.bot_messages(one).len(), 1);
    assert_eq!(fake.calls_of(Route::CreateMessage).len(), 6);
}
