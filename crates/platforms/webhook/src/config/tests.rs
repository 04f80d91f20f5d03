use super::*;
use hermod_model::EnvVars;

fn read(yaml: serde_json::Value) -> WebhookPlatformConfig {
    serde_json::from_value(yaml).unwrap()
}

fn chat(platform: &'static str, chat: &str, thread: Option<&str>) -> DeliveryTarget {
    DeliveryTarget::Chat {
        platform: PlatformId::from_static(platform),
        chat_id: chat.into(),
        thread_id: thread.map(Into::into),
    }
}

#[test]
fn hermes_route_settings_read_as_they_are() {
    let config = read(serde_json::json!({
        "enabled": true,
        "secret": "global",
        "rate_limit": 5,
        "routes": {
            "gh": {
                "events": ["push", "pull_request"],
                "secret": "own",
                "prompt": "{pusher.name}",
                "deliver": "telegram, discord:42:7, log",
            },
            "alerts": {"deliver": ["slack"], "deliver_only": true},
        }
    }));
    config.validate().unwrap();
    let routes = config.routes().unwrap();
    let alerts = &routes[0];
    assert_eq!(alerts.name, "alerts");
    assert_eq!(alerts.secret, RouteSecret::Key(Secret::new("global")));
    assert!(alerts.deliver_only);
    let gh = &routes[1];
    assert_eq!(gh.events, ["push", "pull_request"]);
    assert_eq!(gh.secret, RouteSecret::Key(Secret::new("own")));
    assert_eq!(
        gh.targets,
        [
            DeliveryTarget::Home {
                platform: PlatformId::from_static("telegram")
            },
            chat("discord", "42", Some("7")),
            DeliveryTarget::Local,
        ]
    );
    assert_eq!(gh.deliver, "telegram,discord:42:7,local");
}

#[test]
fn the_environment_enables_and_sets_the_secret_and_the_address() {
    let mut config = WebhookPlatformConfig {
        port: Some(9001),
        host: Some("0.0.0.0".into()),
        ..WebhookPlatformConfig::default()
    };
    let env: EnvVars = [
        ("WEBHOOK_ENABLED", "true"),
        ("WEBHOOK_SECRET", "s"),
        ("WEBHOOK_PORT", "9100"),
    ]
    .into_iter()
    .collect();
    hermod_adapter_kit::config::apply_env(&mut config, &env).unwrap();
    assert!(config.enabled);
    assert_eq!(config.secret, Some(Secret::new("s")));
    // The variable wins over the file; the file's host stays.
    assert_eq!(config.listener().addr(), "0.0.0.0:9100");
    assert_eq!(
        hermod_adapter_kit::config::env_vars::<WebhookPlatformConfig>(),
        [
            "WEBHOOK_ENABLED",
            "WEBHOOK_SECRET",
            "WEBHOOK_HOST",
            "WEBHOOK_PORT"
        ]
    );
}

#[test]
fn a_route_without_any_secret_does_not_start() {
    let config = read(serde_json::json!({"routes": {"open": {"prompt": "x"}}}));
    let err = config.validate().unwrap_err();
    assert!(err.contains("webhook route open has no secret"), "{err}");
    assert!(err.contains("WEBHOOK_SECRET"), "{err}");
    // Its checked form refuses every request instead.
    assert_eq!(config.routes().unwrap()[0].secret, RouteSecret::Missing);
}

#[test]
fn insecure_routes_only_on_loopback() {
    let mut config = read(serde_json::json!({
        "routes": {"test": {"secret": "INSECURE_NO_AUTH"}}
    }));
    config.validate().unwrap();
    assert!(
        config.describe().contains("NOT authenticated"),
        "{}",
        config.describe()
    );
    config.listener.host = Some("0.0.0.0".into());
    let err = config.validate().unwrap_err();
    assert!(err.contains("not loopback"), "{err}");
    assert!(is_loopback("::1") && is_loopback("[::1]") && is_loopback("localhost"));
    assert!(!is_loopback("10.0.0.1"));
}

#[test]
fn targets_that_make_no_sense_are_errors() {
    for (deliver, expected) in [
        ("origin", "no meaning for a webhook"),
        ("webhook", "the webhook platform itself"),
        ("Tele gram", "not a known platform"),
        ("telegram:", "empty chat id"),
    ] {
        let config = read(serde_json::json!({
            "secret": "s", "routes": {"r": {"deliver": deliver}}
        }));
        let err = config.validate().unwrap_err();
        assert!(err.contains(expected), "{deliver}: {err}");
    }
    let bad_name = read(serde_json::json!({"secret": "s", "routes": {"a/b": {}}}));
    assert!(bad_name.validate().unwrap_err().contains("route name"));
}

#[test]
fn deliver_only_needs_somewhere_to_deliver() {
    for route in [
        serde_json::json!({"deliver_only": true}),
        serde_json::json!({"deliver_only": true, "deliver": "log"}),
    ] {
        let config = read(serde_json::json!({"secret": "s", "routes": {"r": route}}));
        let err = config.validate().unwrap_err();
        assert!(err.contains("deliver_only but no target"), "{err}");
    }
    let local = read(serde_json::json!({
        "secret": "s", "routes": {"r": {"deliver_only": true, "deliver": "local"}}
    }));
    local.validate().unwrap();
}

#[test]
fn without_deliver_the_answer_is_kept_locally() {
    let config = read(serde_json::json!({"secret": "s", "routes": {"r": {}}}));
    assert_eq!(config.routes().unwrap()[0].targets, [DeliveryTarget::Local]);
}

#[test]
fn fixed_deliver_extra_names_the_chat_and_a_template_is_refused() {
    let config = read(serde_json::json!({
        "secret": "s",
        "routes": {"r": {
            "deliver": "telegram",
            "deliver_extra": {"chat_id": -100123, "message_thread_id": "7", "repo": "o/r"},
        }}
    }));
    let route = &config.routes().unwrap()[0];
    assert_eq!(route.targets, [chat("telegram", "-100123", Some("7"))]);
    assert_eq!(route.unsupported, ["deliver_extra.repo"]);
    let templated = read(serde_json::json!({
        "secret": "s",
        "routes": {"r": {"deliver": "telegram", "deliver_extra": {"chat_id": "{chat.id}"}}}
    }));
    assert!(templated.validate().unwrap_err().contains("is a template"));
}

#[test]
fn github_comment_delivery_is_a_notice() {
    let config = read(serde_json::json!({
        "secret": "s",
        "routes": {"pr": {"deliver": "github_comment"}}
    }));
    config.validate().unwrap();
    let route = &config.routes().unwrap()[0];
    assert_eq!(route.targets, [DeliveryTarget::Local]);
    assert!(
        config.describe().contains("github_comment"),
        "{}",
        config.describe()
    );
}

#[test]
fn unknown_keys_are_refused_so_the_loader_can_report_them() {
    let err = serde_json::from_value::<WebhookPlatformConfig>(serde_json::json!({
        "routes": {"r": {"skills": ["x"]}}
    }))
    .unwrap_err();
    assert!(err.to_string().contains("skills"), "{err}");
}

#[test]
fn secrets_stay_out_of_debug_and_describe() {
    let config = read(serde_json::json!({
        "secret": "hunter2-global",
        "routes": {"r": {"secret": "hunter2-route"}}
    }));
    let shown = format!("{config:?} {:?} {}", config.routes(), config.describe());
    assert!(!shown.contains("hunter2"), "{shown}");
}
