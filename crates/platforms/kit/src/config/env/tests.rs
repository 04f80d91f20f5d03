use super::*;
use crate::config::ReplyToMode;

/// A configuration with a field of every kind.
#[derive(Debug, Clone, PartialEq)]
struct Example {
    token: Option<Secret>,
    base_url: String,
    hook_url: Option<String>,
    chats: Vec<String>,
    allow_bots: bool,
    reply_to_mode: ReplyToMode,
    max_bytes: u64,
    port: Option<u16>,
    webhooks: WebhookConfig,
    poll_secs: u64,
    timeout_secs: u64,
}

impl Default for Example {
    fn default() -> Self {
        Self {
            token: None,
            base_url: "https://example.com".into(),
            hook_url: None,
            chats: Vec::new(),
            allow_bots: false,
            reply_to_mode: ReplyToMode::First,
            max_bytes: 100,
            port: None,
            webhooks: WebhookConfig::default(),
            poll_secs: 25,
            timeout_secs: 30,
        }
    }
}

impl EnvSettings for Example {
    fn env(&mut self, env: &mut Env<'_>) {
        env.secret("EX_TOKEN", &mut self.token);
        env.text("EX_BASE_URL", &mut self.base_url);
        env.text("EX_HOOK_URL", &mut self.hook_url);
        env.list("EX_CHATS", &mut self.chats);
        env.flag("EX_ALLOW_BOTS", &mut self.allow_bots);
        env.choice("EX_REPLY_TO_MODE", &mut self.reply_to_mode);
        env.number("EX_MAX_BYTES", &mut self.max_bytes).at_least(1);
        env.number("EX_PORT", &mut self.port).at_least(1024);
        env.nested(&mut self.webhooks);
        env.seconds("EX_POLL", &mut self.poll_secs).at_most(300);
        env.seconds("EX_TIMEOUT", &mut self.timeout_secs)
            .at_least(1)
            .at_most(600);
    }
}

fn vars(pairs: &[(&str, &str)]) -> EnvVars {
    pairs.iter().copied().collect()
}

#[test]
fn every_kind_is_applied_trimmed_and_blank_is_unset() {
    let mut c = Example::default();
    apply_env(
        &mut c,
        &vars(&[
            ("EX_TOKEN", " secret-value "),
            ("EX_BASE_URL", " http://127.0.0.1:9/ "),
            ("EX_HOOK_URL", "https://hook.example.com/x"),
            ("EX_CHATS", "1, 2 ,"),
            ("EX_ALLOW_BOTS", "yes"),
            ("EX_REPLY_TO_MODE", " ALL "),
            ("EX_MAX_BYTES", "1000"),
            ("EX_PORT", "8443"),
            ("WEBHOOK_HOST", "0.0.0.0"),
            ("WEBHOOK_PORT", "9000"),
            ("EX_POLL", "5"),
            ("EX_TIMEOUT", "  "),
        ]),
    )
    .unwrap();
    assert_eq!(
        c,
        Example {
            token: Some(Secret::new("secret-value")),
            base_url: "http://127.0.0.1:9/".into(),
            hook_url: Some("https://hook.example.com/x".into()),
            chats: vec!["1".into(), "2".into()],
            allow_bots: true,
            reply_to_mode: ReplyToMode::All,
            max_bytes: 1000,
            port: Some(8443),
            webhooks: WebhookConfig {
                host: Some("0.0.0.0".into()),
                port: Some(9000),
                ..WebhookConfig::default()
            },
            poll_secs: 5,
            // Blank: unset, the default stays.
            timeout_secs: 30,
        }
    );
    let mut untouched = Example::default();
    apply_env(&mut untouched, &EnvVars::new()).unwrap();
    assert_eq!(untouched, Example::default());
}

#[test]
fn the_names_are_the_declared_ones_in_order_nested_included() {
    assert_eq!(
        env_vars::<Example>(),
        [
            "EX_TOKEN",
            "EX_BASE_URL",
            "EX_HOOK_URL",
            "EX_CHATS",
            "EX_ALLOW_BOTS",
            "EX_REPLY_TO_MODE",
            "EX_MAX_BYTES",
            "EX_PORT",
            "WEBHOOK_HOST",
            "WEBHOOK_PORT",
            "EX_POLL",
            "EX_TIMEOUT",
        ]
    );
}

#[test]
fn applying_reads_every_declared_variable() {
    let env = EnvVars::new();
    apply_env(&mut Example::default(), &env).unwrap();
    for name in env_vars::<Example>() {
        assert!(env.was_read(name), "{name}");
    }
}

#[test]
fn the_first_bad_value_is_the_error_and_nothing_after_it_is_read() {
    let env = vars(&[
        ("EX_TOKEN", "secret-value"),
        ("EX_ALLOW_BOTS", "maybe"),
        ("EX_REPLY_TO_MODE", "sometimes"),
        ("EX_POLL", "5"),
    ]);
    let mut c = Example::default();
    let err = apply_env(&mut c, &env).unwrap_err();
    assert_eq!(
        err,
        r#"EX_ALLOW_BOTS="maybe" is not a boolean (use true or false)"#
    );
    assert!(!err.contains("secret-value"), "{err}");
    // What came before was applied; what comes after was not read.
    assert_eq!(c.token, Some(Secret::new("secret-value")));
    assert_eq!(c.poll_secs, 25);
    assert!(!env.was_read("EX_REPLY_TO_MODE") && !env.was_read("EX_POLL"));
}

#[test]
fn errors_name_the_variable_and_what_it_takes() {
    let err =
        |pairs: &[(&str, &str)]| apply_env(&mut Example::default(), &vars(pairs)).unwrap_err();
    assert_eq!(
        err(&[("EX_REPLY_TO_MODE", "sometimes")]),
        r#"EX_REPLY_TO_MODE="sometimes" must be off, first or all"#
    );
    assert_eq!(
        err(&[("EX_PORT", "http")]),
        r#"EX_PORT="http": expected a whole number from 0 to 65535"#
    );
    assert!(err(&[("WEBHOOK_PORT", "-1")]).starts_with("WEBHOOK_PORT="));
    assert!(err(&[("EX_TIMEOUT", "1.5")]).starts_with("EX_TIMEOUT="));
}

#[test]
fn limits_check_the_values_wherever_they_came_from() {
    check_limits(&Example::default()).unwrap();
    // Applying does not check: a value from the environment and one from
    // the file are checked alike, later.
    let mut c = Example::default();
    apply_env(&mut c, &vars(&[("EX_TIMEOUT", "0")])).unwrap();
    assert_eq!(
        check_limits(&c).unwrap_err(),
        "EX_TIMEOUT must be at least 1 second"
    );
    let cases = [
        (
            Example {
                max_bytes: 0,
                ..Example::default()
            },
            "EX_MAX_BYTES must be at least 1",
        ),
        (
            Example {
                port: Some(80),
                ..Example::default()
            },
            "EX_PORT must be at least 1024",
        ),
        (
            Example {
                poll_secs: 301,
                ..Example::default()
            },
            "EX_POLL must be at most 300 seconds",
        ),
        (
            Example {
                timeout_secs: 601,
                ..Example::default()
            },
            "EX_TIMEOUT must be at most 600 seconds",
        ),
        // The first problem in the declared order is the one reported.
        (
            Example {
                max_bytes: 0,
                timeout_secs: 0,
                ..Example::default()
            },
            "EX_MAX_BYTES must be at least 1",
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(check_limits(&config).unwrap_err(), expected);
    }
    // An unset optional number has nothing to check.
    check_limits(&Example {
        port: None,
        ..Example::default()
    })
    .unwrap();
}
