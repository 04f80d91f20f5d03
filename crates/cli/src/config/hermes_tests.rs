//! The Hermes translation's tests: keys moved, noted and tolerated.

use super::*;
use hermod_model::EnvVars;
use serde_json::json;

fn known(name: &str) -> Option<&'static str> {
    match name {
        "chat" => Some("Chat"),
        "forum" => Some("Forum"),
        "web" => Some("the web API"),
        _ => None,
    }
}

fn run(mut tree: Value) -> (Value, Translation) {
    let t = translate(&mut tree, &["web", "chat"], &known);
    (tree, t)
}

#[test]
fn hermes_keys_move_to_hermods() {
    let (tree, t) = run(json!({
        "_config_version": 33,
        "model": {"default": "m", "context_length": 131072, "provider": "custom", "base_url": ""},
        "agent": {"max_turns": 60, "restart_drain_timeout": 2.5, "gateway_timeout": 1800,
                  "gateway_auto_continue_freshness": 1800.5},
        "session_reset": {"mode": "idle", "idle_minutes": 30},
        "group_sessions_per_user": false,
        "unauthorized_dm_behavior": "ignore",
        "timezone": "",
        "display": {"busy_input_mode": "queue", "show_reasoning": false,
                    "platforms": {"chat": {"streaming": false, "tool_progress": "all", "skin": "x"}}},
        "platforms": {"web": {"enabled": true, "extra": {"host": "127.0.0.1", "port": 8642}}},
        "terminal": {"backend": "local"},
    }));
    assert_eq!(
        tree,
        json!({
            "model": {"default": "m", "context_length": 131072, "provider": "custom"},
            "agent": {"max_turns": 60, "gateway_timeout": 1800},
            "gateway": {
                "session_reset": {"mode": "idle", "idle_minutes": 30},
                "group_sessions_per_user": false,
                "unauthorized_dm_behavior": "ignore",
                "drain_timeout_secs": 3,
                "auto_continue_freshness_secs": 1801,
                "busy_input_mode": "queue",
            },
            "display": {"show_reasoning": false, "platforms": {"chat": {"tool_progress": "all"}}},
            "streaming": {"platforms": {"chat": {"enabled": false}}},
            "platforms": {"web": {"enabled": true, "host": "127.0.0.1", "port": 8642}},
            "terminal": {"backend": "local"},
        })
    );
    let keys: Vec<&str> = t.notices.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["display.platforms.chat.skin"]);
}

#[test]
fn hermes_keys_are_tolerated_with_what_hermod_does_instead() {
    let t = Translation::default();
    let said = |key: &str| t.tolerate(key);
    assert!(said("terminal.backend").unwrap().contains("workspace"));
    assert!(said("terminal.docker_image").is_some());
    assert!(said("approvals.mode").unwrap().contains("asks"));
    assert!(said("memory.provider").is_some());
    assert!(said("terminal.nonsense").is_none());
    assert!(
        said("compression.protect_first_n")
            .unwrap()
            .contains("protect_last_n")
    );
    assert!(said("agent.gateway_timeout").unwrap().contains("max_turns"));
    assert!(
        said("agent.verify_on_stop")
            .unwrap()
            .contains("Hermes setting")
    );
    assert!(said("gateway.max_concurrent_sessions").is_some());
    assert!(said("gateway.session_reset.notify").is_some());
    assert!(
        said("gateway.session_reset.idle_minuts").is_none(),
        "a typo in a mapped section"
    );
    assert!(said("kanban").is_some());
    assert!(said("platforms.chat.token").unwrap().contains(".env"));
    assert!(said("platforms.chat.reactions").is_some());
    // Mistakes in hermod's own keys are not Hermes settings.
    for typo in [
        "modle",
        "model.base_ulr",
        "agent.max_turn",
        "gateway.sesion_queue",
        "platforms.chat.requre_mention",
    ] {
        assert_eq!(said(typo), None, "{typo}");
    }
}

#[test]
fn hermods_own_key_wins() {
    let (tree, _) = run(json!({
        "session_reset": {"mode": "idle"},
        "gateway": {"session_reset": {"mode": "daily"}},
        "platforms": {"web": {"port": 1, "extra": {"port": 2}}},
    }));
    assert_eq!(tree["gateway"]["session_reset"]["mode"], "daily");
    assert_eq!(tree["platforms"]["web"]["port"], 1);
}

#[test]
fn platform_blocks_from_every_hermes_place() {
    let (tree, t) = run(json!({
        "chat": {"extra": {"require_mention": true, "mystery": 1}},
        "gateway": {"platforms": {"chat": {"allowed_users": ["1"], "reply_to_mode": "all"}}},
        "platforms": {
            "chat": {"home_channel": {"platform": "chat", "chat_id": -100, "name": "Home"},
                     "token": "t", "unauthorized_dm_behavior": "pair"},
            "forum": {"enabled": true},
        },
    }));
    assert_eq!(
        tree["platforms"]["chat"],
        json!({"require_mention": true, "mystery": 1, "reply_to_mode": "all", "token": "t"})
    );
    assert_eq!(
        tree["gateway"]["platforms"]["chat"],
        json!({"allowed_users": ["1"], "home_channel": "-100", "unauthorized_dm_behavior": "pair"})
    );
    assert!(t.tolerate("platforms.chat.mystery").is_some());
    // hermod reads a top-level platform block in its own files too: it does
    // not make this a Hermes file, so a typo elsewhere stays an error.
    assert_eq!(t.hermes_file, None);
    assert_eq!(t.tolerate("platforms.forum.require_mentoin"), None);
    let keys: Vec<&str> = t.notices.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["platforms.forum"]);
}

#[test]
fn short_forms() {
    let (tree, _) = run(json!({"model": "gpt-x", "streaming": "off"}));
    assert_eq!(
        tree,
        json!({"model": {"default": "gpt-x"}, "streaming": {"enabled": false}})
    );
    let (tree, _) = run(json!({"streaming": {"mode": "edit"}}));
    assert_eq!(
        tree["streaming"],
        json!({"enabled": true, "transport": "edit"})
    );
}

#[test]
fn the_platforms_own_home_channel_variables_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let variables = hermod_platforms::home_channel_variables();
    assert!(
        !variables.is_empty(),
        "this build has platforms that name them"
    );
    let env: EnvVars = variables
        .iter()
        .map(|(platform, variable)| (*variable, format!("home-of-{platform}")))
        .collect();
    let config = crate::config::load(dir.path(), &env).unwrap();
    for (platform, _) in variables {
        assert_eq!(
            config.gateway.platforms[platform].home_channel.as_deref(),
            Some(format!("home-of-{platform}").as_str())
        );
    }
}

#[test]
fn a_platforms_settings_under_gateway_are_the_platforms() {
    let (tree, t) = run(json!({
        "_config_version": 33,
        "gateway": {"web": {"max_concurrent_runs": 3}, "chat": "not a block"},
        "platforms": {"web": {"port": 1}},
    }));
    assert_eq!(
        tree["platforms"]["web"],
        json!({"port": 1, "max_concurrent_runs": 3})
    );
    assert_eq!(tree["gateway"], json!({"chat": "not a block"}));
    assert!(t.from_hermes.contains("platforms.web.max_concurrent_runs"));
}

#[test]
fn a_hermes_files_unknown_keys_are_notices_and_a_hermod_files_are_not() {
    let (_, hermes) = run(json!({"_config_version": 33, "model": {"default": "m"}}));
    let said = hermes.tolerate("model.defualt").unwrap();
    assert!(said.contains("did you mean `model.default`?"), "{said}");
    assert!(said.contains("_config_version"), "{said}");
    assert!(hermes.tolerate("auxiliary.goal_judge").is_some());

    let (_, own) = run(json!({"model": {"default": "m", "provider": "custom"}}));
    assert_eq!(own.hermes_file, None);
    assert_eq!(own.tolerate("model.defualt"), None);
    assert_eq!(own.tolerate("auxiliary.goal_judge"), None);
}

/// A hermod-style file with a key hermod translates (`timezone:`) is still
/// hermod's: a typo elsewhere is an error, and `gateway.<name>` stays where
/// it is (to be reported), not moved into the platform.
#[test]
fn a_translated_key_does_not_make_a_hermes_file() {
    let (tree, t) = run(json!({
        "timezone": "Europe/Lisbon",
        "group_sessions_per_user": true,
        "model": {"defualt": "m"},
        "gateway": {"web": {"max_concurrent_runs": 3}},
    }));
    assert_eq!(t.hermes_file, None);
    assert_eq!(t.tolerate("model.defualt"), None);
    assert_eq!(tree["gateway"]["timezone"], "Europe/Lisbon");
    assert_eq!(tree["gateway"]["web"]["max_concurrent_runs"], 3);
    assert!(tree.pointer("/platforms/web").is_none());
}
