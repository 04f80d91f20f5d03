//! Whether a `config.yaml` is Hermes' own, and what its unknown keys get.
//!
//! hermod shares most section names with Hermes (`model.default`,
//! `model.provider`, `display`, `agent`, ...), so those say nothing about
//! who wrote a file. A file is taken for Hermes' when it has a shape hermod
//! itself never writes:
//!
//! * `_config_version` at the top, which Hermes' `save_config` (and so
//!   `hermes setup` and `hermes config set`) always writes;
//! * a `platforms.<name>.extra` block, Hermes' bag of per-platform
//!   settings (hermod's platform settings sit in `platforms.<name>`);
//! * a top-level key Hermes has that hermod neither has nor translates
//!   (e.g. `fallback_model`, `delegation`).
//!
//! The top-level keys hermod translates (`timezone`, `session_reset`,
//! `personalities`, a `<platform>:` block, ...) are no sign: hermod reads
//! them in its own files too, and one such line must not turn a file's
//! typos into notices.
//!
//! In such a file a key neither hermod nor the Hermes schema data knows is
//! a notice, not an error: Hermes ignores what it does not know, newer
//! Hermes releases add keys, and a Hermes user's file must start the
//! gateway. In a file of hermod's own style it stays an error, so a typo in
//! hermod's configuration is caught.

use super::super::yaml::nearest;
use hermod_platforms::hermes_schema::{PLATFORM_KEYS, SECTION_KEYS, TOP_KEYS};
use serde_json::{Map, Value};

/// The top-level sections of hermod's `config.yaml` (the fields of
/// `FileConfig`).
pub(super) const HERMOD_TOP: &[&str] = &[
    "model",
    "agent",
    "gateway",
    "streaming",
    "display",
    "platforms",
    "stt",
    "tts",
    "media",
    "auxiliary",
    "toolsets",
    "terminal",
    "web_fetch",
    "files",
    "memory",
    "approvals",
    "mcp_servers",
    "compression",
];

/// The first Hermes-only shape of `root`, in words, or `None` for a file
/// in hermod's own style. `known` tells whether a name is a platform;
/// `translated` whether hermod translates a top-level key of that name.
pub(super) fn hermes_sign(
    root: &Map<String, Value>,
    known: &dyn Fn(&str) -> Option<&'static str>,
    translated: &dyn Fn(&str) -> bool,
) -> Option<String> {
    if root.contains_key("_config_version") {
        return Some("it has `_config_version`, which Hermes writes".to_owned());
    }
    if let Some(Value::Object(platforms)) = root.get("platforms")
        && let Some(name) = platforms
            .iter()
            .find(|(_, block)| block.get("extra").is_some())
            .map(|(name, _)| name)
    {
        return Some(format!("it has Hermes' `platforms.{name}.extra`"));
    }
    root.keys()
        .find(|key| {
            !HERMOD_TOP.contains(&key.as_str())
                && TOP_KEYS.contains(&key.as_str())
                && known(key).is_none()
                && !translated(key)
        })
        .map(|key| format!("it has Hermes' top-level `{key}`"))
}

/// The notice for `key`, which neither hermod nor the Hermes schema data
/// knows, in a file taken for Hermes' (`why` says why).
pub(super) fn unknown_in_hermes_file(key: &str, why: &str) -> String {
    let (parent, last) = key.rsplit_once('.').unwrap_or(("", key));
    let platform_block = parent.starts_with("platforms.") && !parent[10..].contains('.');
    let siblings: Vec<String> = if parent.is_empty() {
        TOP_KEYS
            .iter()
            .chain(HERMOD_TOP)
            .map(|k| (*k).to_owned())
            .collect()
    } else if platform_block {
        PLATFORM_KEYS.iter().map(|k| (*k).to_owned()).collect()
    } else {
        let prefix = format!("{parent}.");
        SECTION_KEYS
            .iter()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('.'))
            .map(str::to_owned)
            .collect()
    };
    let hint = nearest(last, &siblings)
        .filter(|near| *near != last)
        .map(|near| {
            let full = if parent.is_empty() {
                near.to_owned()
            } else {
                format!("{parent}.{near}")
            };
            format!(" (did you mean `{full}`?)")
        })
        .unwrap_or_default();
    format!(
        "not a setting hermod has{hint}; ignored, as this file is read as Hermes' \
         config.yaml ({why})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sign(tree: Value) -> Option<String> {
        let Value::Object(root) = tree else {
            unreachable!()
        };
        hermes_sign(&root, &|name| (name == "chat").then_some("Chat"), &|key| {
            ["timezone", "session_reset", "personalities"].contains(&key)
        })
    }

    #[test]
    fn hermes_only_shapes_make_a_hermes_file() {
        assert!(
            sign(json!({"_config_version": 33}))
                .unwrap()
                .contains("_config_version")
        );
        assert!(
            sign(json!({"platforms": {"web": {"enabled": true, "extra": {"port": 1}}}}))
                .unwrap()
                .contains("platforms.web.extra")
        );
        assert!(
            sign(json!({"fallback_model": {}}))
                .unwrap()
                .contains("fallback_model")
        );
    }

    /// Keys hermod translates are read in its own files too.
    #[test]
    fn keys_hermod_translates_are_no_sign() {
        assert_eq!(sign(json!({"chat": {"enabled": true}})), None);
        assert_eq!(
            sign(
                json!({"timezone": "Europe/Lisbon", "session_reset": {"mode": "idle"},
                        "personalities": {}})
            ),
            None
        );
    }

    #[test]
    fn hermods_own_shapes_and_typos_do_not() {
        assert_eq!(
            sign(json!({
                "model": {"default": "m", "provider": "custom", "base_url": "http://x/v1"},
                "platforms": {"web": {"port": 1}},
                "toolsets": ["web"],
                "gateway": {"session_reset": {"mode": "idle"}},
            })),
            None
        );
        assert_eq!(sign(json!({"gatway": {}, "modle": {}})), None);
    }

    #[test]
    fn unknown_keys_of_a_hermes_file_are_noticed_with_the_nearest_key() {
        let said = unknown_in_hermes_file("model.defualt", "it has `_config_version`");
        assert!(said.contains("did you mean `model.default`?"), "{said}");
        assert!(said.contains("it has `_config_version`"), "{said}");
        let said = unknown_in_hermes_file("auxiliary.goal_judge", "why");
        assert!(!said.contains("did you mean"), "{said}");
    }
}
