use super::*;
use axum::http::{HeaderName, HeaderValue};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            )
        })
        .collect()
}

fn key(value: &str) -> Secret {
    Secret::new(value)
}

// GitHub's documented example ("Validating webhook deliveries").
const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const GITHUB_BODY: &[u8] = b"Hello, World!";
const GITHUB_SIGNATURE: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

#[test]
fn githubs_documented_example_is_accepted_and_a_tampered_one_is_not() {
    let signed = headers(&[("X-Hub-Signature-256", GITHUB_SIGNATURE)]);
    assert_eq!(
        check(&key(GITHUB_SECRET), &signed, GITHUB_BODY, 0),
        Ok(Scheme::GitHub)
    );
    assert!(check(&key(GITHUB_SECRET), &signed, b"Hello, World?", 0).is_err());
    assert!(check(&key("another secret"), &signed, GITHUB_BODY, 0).is_err());
    let malformed = headers(&[("X-Hub-Signature-256", "757107ea0eb2509fc2")]);
    assert_eq!(
        check(&key(GITHUB_SECRET), &malformed, GITHUB_BODY, 0),
        Err("a malformed X-Hub-Signature-256")
    );
}

// The Standard Webhooks specification's test vector (also Svix's).
const STD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const STD_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const STD_TIMESTAMP: i64 = 1_614_265_330;
const STD_BODY: &[u8] = br#"{"test": 2432232314}"#;
const STD_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn standard(prefix: &str, id: &str, timestamp: &str, signature: &str) -> HeaderMap {
    headers(&[
        (&format!("{prefix}-id"), id),
        (&format!("{prefix}-timestamp"), timestamp),
        (&format!("{prefix}-signature"), signature),
    ])
}

#[test]
fn the_standard_webhooks_test_vector_is_accepted_under_both_header_names() {
    for prefix in ["webhook", "svix"] {
        let signed = standard(prefix, STD_ID, "1614265330", STD_SIGNATURE);
        assert_eq!(
            check(&key(STD_SECRET), &signed, STD_BODY, STD_TIMESTAMP),
            Ok(Scheme::StandardWebhooks),
            "{prefix}"
        );
    }
}

#[test]
fn standard_webhooks_refuses_tampering_and_replays() {
    let secret = key(STD_SECRET);
    let signed = standard("webhook", STD_ID, "1614265330", STD_SIGNATURE);
    // Another body, id or timestamp than the one signed.
    assert!(check(&secret, &signed, br#"{"test": 2432232315}"#, STD_TIMESTAMP).is_err());
    let other_id = standard("webhook", "msg_other", "1614265330", STD_SIGNATURE);
    assert!(check(&secret, &other_id, STD_BODY, STD_TIMESTAMP).is_err());
    let other_time = standard("webhook", STD_ID, "1614265331", STD_SIGNATURE);
    assert!(check(&secret, &other_time, STD_BODY, STD_TIMESTAMP).is_err());
    // The right signature, but too old or too far ahead: five minutes either way.
    assert!(check(&secret, &signed, STD_BODY, STD_TIMESTAMP + 300).is_ok());
    assert!(check(&secret, &signed, STD_BODY, STD_TIMESTAMP - 300).is_ok());
    assert_eq!(
        check(&secret, &signed, STD_BODY, STD_TIMESTAMP + 301),
        Err("a signature timestamp outside the five-minute window")
    );
    assert!(check(&secret, &signed, STD_BODY, STD_TIMESTAMP - 301).is_err());
    // Not all three headers.
    let partial = headers(&[("webhook-id", STD_ID), ("webhook-signature", STD_SIGNATURE)]);
    assert!(check(&secret, &partial, STD_BODY, STD_TIMESTAMP).is_err());
    // Another secret.
    let other = key("whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==");
    assert!(check(&other, &signed, STD_BODY, STD_TIMESTAMP).is_err());
}

#[test]
fn any_of_several_signatures_may_match_while_a_secret_is_rotated() {
    let rotating = format!("v1,bm90IHRoaXMgb25l v2,whatever {STD_SIGNATURE}");
    let signed = standard("svix", STD_ID, "1614265330", &rotating);
    assert!(check(&key(STD_SECRET), &signed, STD_BODY, STD_TIMESTAMP).is_ok());
    let none = standard("svix", STD_ID, "1614265330", "v1,bm90IHRoaXMgb25l v0,x");
    assert!(check(&key(STD_SECRET), &none, STD_BODY, STD_TIMESTAMP).is_err());
}

#[test]
fn a_plain_secret_is_its_own_key_for_standard_webhooks() {
    use base64::Engine;
    let mut mac = mac(b"plain");
    mac.update(b"msg_1.100.{}");
    let signature = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
    let signed = standard("webhook", "msg_1", "100", &signature);
    assert!(check(&key("plain"), &signed, b"{}", 100).is_ok());
    assert!(check(&key("whsec_!!"), &signed, b"{}", 100).is_err());
}

#[test]
fn gitlab_sends_the_secret_itself() {
    let token = headers(&[("X-Gitlab-Token", "s3cret")]);
    assert_eq!(check(&key("s3cret"), &token, b"{}", 0), Ok(Scheme::GitLab));
    assert!(check(&key("s3cre"), &token, b"{}", 0).is_err());
    assert!(check(&key("s3crett"), &token, b"{}", 0).is_err());
}

// Computed with `printf '%s' '1700000000.{"event_type":"deploy"}' |
// openssl dgst -sha256 -hmac topsecret` (and without the timestamp for V1).
const GENERIC_BODY: &[u8] = br#"{"event_type":"deploy"}"#;
const V2: &str = "e76a67aa791726db2cd473710c34e540a1a33d4fb8fa99fd1a079ec17e5963f7";
const V1: &str = "3072cb96fdcaeca6f84df2fd4ed13d06ca92bc294ef4c907950d24af4bc3fc87";

#[test]
fn hermes_generic_v2_is_timestamped_and_never_falls_back_to_v1() {
    let secret = key("topsecret");
    let signed = headers(&[
        ("X-Webhook-Signature-V2", V2),
        ("X-Webhook-Timestamp", "1700000000"),
    ]);
    assert_eq!(
        check(&secret, &signed, GENERIC_BODY, 1_700_000_100),
        Ok(Scheme::GenericV2)
    );
    assert!(check(&secret, &signed, GENERIC_BODY, 1_700_000_301).is_err());
    assert!(
        check(
            &secret,
            &signed,
            br#"{"event_type":"other"}"#,
            1_700_000_000
        )
        .is_err()
    );
    let moved = headers(&[
        ("X-Webhook-Signature-V2", V2),
        ("X-Webhook-Timestamp", "1700000001"),
    ]);
    assert!(check(&secret, &moved, GENERIC_BODY, 1_700_000_000).is_err());
    let untimed = headers(&[("X-Webhook-Signature-V2", V2)]);
    assert!(check(&secret, &untimed, GENERIC_BODY, 1_700_000_000).is_err());
    // A wrong V2 beside a right V1 is refused: V2 present decides.
    let both = headers(&[
        ("X-Webhook-Signature-V2", &V2.replace('e', "f")),
        ("X-Webhook-Timestamp", "1700000000"),
        ("X-Webhook-Signature", V1),
    ]);
    assert!(check(&secret, &both, GENERIC_BODY, 1_700_000_000).is_err());
}

#[test]
fn legacy_v1_signs_the_body_alone() {
    let secret = key("topsecret");
    let signed = headers(&[("X-Webhook-Signature", V1)]);
    assert_eq!(
        check(&secret, &signed, GENERIC_BODY, 0),
        Ok(Scheme::LegacyV1)
    );
    assert!(check(&secret, &signed, b"{}", 0).is_err());
    let upper = headers(&[("X-Webhook-Signature", &V1.to_ascii_uppercase())]);
    assert!(check(&secret, &upper, GENERIC_BODY, 0).is_ok());
}

#[test]
fn no_signature_is_refused() {
    assert_eq!(
        check(&key("s"), &HeaderMap::new(), b"{}", 0),
        Err("no signature header")
    );
}

#[test]
fn a_route_without_a_secret_refuses_everything_and_insecure_accepts_everything() {
    let clock = Clock::System;
    let missing = RouteSignature::new("r", RouteSecret::of(None, Some(&key("  "))), clock.clone());
    let signed = headers(&[("X-Hub-Signature-256", GITHUB_SIGNATURE)]);
    assert!(matches!(
        missing.check(&signed, GITHUB_BODY, 0),
        Verdict::Forbid(_)
    ));
    let insecure = RouteSignature::new(
        "r",
        RouteSecret::of(Some(&key(INSECURE_NO_AUTH)), Some(&key(GITHUB_SECRET))),
        clock.clone(),
    );
    assert_eq!(insecure.check(&HeaderMap::new(), b"x", 0), Verdict::Accept);
    // The route's secret wins over the platform's.
    let own = RouteSignature::new(
        "r",
        RouteSecret::of(Some(&key(GITHUB_SECRET)), Some(&key("global"))),
        clock.clone(),
    );
    assert_eq!(own.check(&signed, GITHUB_BODY, 0), Verdict::Accept);
    let global = RouteSignature::new("r", RouteSecret::of(None, Some(&key("global"))), clock);
    assert!(matches!(
        global.check(&signed, GITHUB_BODY, 0),
        Verdict::Reject(_)
    ));
    assert!(!format!("{own:?}").contains("Secret to"));
}

#[tokio::test(start_paused = true)]
async fn the_replay_window_follows_the_gateway_clock() {
    let verifier = RouteSignature::new(
        "r",
        RouteSecret::Key(key(STD_SECRET)),
        Clock::following_tokio(STD_TIMESTAMP * 1000),
    );
    let signed = standard("webhook", STD_ID, "1614265330", STD_SIGNATURE);
    assert_eq!(verifier.verify(&signed, STD_BODY), Verdict::Accept);
    tokio::time::sleep(std::time::Duration::from_secs(301)).await;
    assert!(matches!(
        verifier.verify(&signed, STD_BODY),
        Verdict::Reject(_)
    ));
}
