//! A Hermes `config.yaml` loads as it is.
//!
//! Before hermod reads the file strictly, the Hermes keys it implements are
//! moved to hermod's own (`session_reset` to `gateway.session_reset`,
//! `platforms.<name>.extra.*` into `platforms.<name>`, ...); hermod's own
//! spelling wins when a file has both. While reading, a key hermod does not
//! know is looked up in the Hermes schema
//! ([`hermod_platforms::hermes_schema`]): a Hermes key becomes a notice
//! naming it and saying what hermod does instead. Anything else is an error
//! with a suggestion in a file of hermod's own style, so typos in hermod's
//! own keys are caught; in a file recognised as Hermes' ([`shape`]) it is a
//! notice too, since Hermes itself ignores keys it does not know and the
//! file must keep starting the gateway.

mod instead;
mod shape;

use hermod_platforms::hermes_schema::{PLATFORM_KEYS, SECTION_KEYS, TOP_KEYS};
use instead::INSTEAD;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// A recognised setting hermod does not use, and what it does instead.
pub type Notice = (String, String);

/// What the translation did.
#[derive(Debug, Default)]
pub struct Translation {
    /// Hermes settings taken out, each with what hermod does instead.
    pub notices: Vec<Notice>,
    /// Keys (dotted, as now placed) that came from Hermes' free-form
    /// per-platform settings; a platform that does not know one gets a
    /// notice instead of an error.
    pub from_hermes: BTreeSet<String>,
    /// Why the file was taken for Hermes' own `config.yaml` (its first
    /// Hermes-only shape), or `None` for a file in hermod's own style.
    pub hermes_file: Option<String>,
}

impl Translation {
    /// The notice for a key hermod's types rejected, when it is a
    /// recognised Hermes setting, or any key of a file that is Hermes'
    /// (see [`shape`]); `None` for a mistake.
    pub fn tolerate(&self, key: &str) -> Option<String> {
        self.recognised(key).or_else(|| {
            self.hermes_file
                .as_deref()
                .map(|why| shape::unknown_in_hermes_file(key, why))
        })
    }

    /// The notice for a key Hermes' schema knows.
    fn recognised(&self, key: &str) -> Option<String> {
        let segments: Vec<&str> = key.split('.').collect();
        if let ["platforms", _, setting, ..] = segments.as_slice() {
            let hermes = self.from_hermes.contains(&segments[..3].join("."))
                || PLATFORM_KEYS.contains(setting);
            return hermes.then(|| {
                let pattern = format!("platforms.*.{setting}");
                specific(&pattern).map_or_else(
                    || {
                        format!(
                            "a Hermes setting for {} that hermod does not implement; ignored",
                            segments[1]
                        )
                    },
                    str::to_owned,
                )
            });
        }
        // Hermes accepts its top-level gateway keys under `gateway:` too.
        let bare = key.strip_prefix("gateway.").filter(|rest| {
            let first = rest.split('.').next().unwrap_or(rest);
            TOP_KEYS.contains(&first)
                || SECTION_KEYS
                    .iter()
                    .any(|k| k.starts_with(&format!("{first}.")))
        });
        for candidate in [Some(key), bare].into_iter().flatten() {
            if let Some(message) = specific(candidate) {
                return Some(message.to_owned());
            }
            let first = candidate.split('.').next().unwrap_or(candidate);
            let known = if candidate.contains('.') {
                SECTION_KEYS.contains(&candidate)
                    // Inside a Hermes section hermod has no use for, any
                    // key; inside one it maps to its own (session_reset),
                    // only the keys Hermes knows.
                    || (TOP_KEYS.contains(&first)
                        && !OWN_SECTIONS.contains(&first)
                        && !MOVES.iter().any(|(from, _)| *from == first))
            } else {
                TOP_KEYS.contains(&candidate)
            };
            if known {
                return Some("a Hermes setting hermod does not use; ignored".to_owned());
            }
        }
        None
    }
}

/// What hermod does instead, for the Hermes settings where that is worth
/// saying.
fn specific(key: &str) -> Option<&'static str> {
    INSTEAD
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, instead)| *instead)
}

/// Keys moved from where Hermes keeps them to where hermod does.
const MOVES: &[(&str, &str)] = &[
    ("session_reset", "gateway.session_reset"),
    (
        "unauthorized_dm_behavior",
        "gateway.unauthorized_dm_behavior",
    ),
    ("group_sessions_per_user", "gateway.group_sessions_per_user"),
    (
        "thread_sessions_per_user",
        "gateway.thread_sessions_per_user",
    ),
    ("timezone", "gateway.timezone"),
    ("agent.restart_drain_timeout", "gateway.drain_timeout_secs"),
    (
        "agent.gateway_auto_continue_freshness",
        "gateway.auto_continue_freshness_secs",
    ),
    ("display.busy_input_mode", "gateway.busy_input_mode"),
    ("model.model", "model.default"),
    ("model.api_key_env", "model.key_env"),
    ("stt_echo_transcripts", "stt.echo_transcripts"),
    ("gateway.stt_echo_transcripts", "stt.echo_transcripts"),
];

/// Whether hermod translates a top-level key of this name (a [`MOVES`]
/// source or `personalities`); such a key says nothing about who wrote the
/// file.
fn translated_top(key: &str) -> bool {
    key == "personalities" || MOVES.iter().any(|(from, _)| *from == key)
}

/// Per-platform keys Hermes keeps in the platform's block (or its
/// `extra`) that hermod keeps under `gateway.platforms.<name>`.
const POLICY_KEYS: &[&str] = &[
    "allowed_users",
    "allow_all_users",
    "unauthorized_dm_behavior",
    "allow_admin_from",
    "user_allowed_commands",
    "group_allow_admin_from",
    "group_user_allowed_commands",
    "session_reset",
    "session_reset_by_type",
    "busy_input_mode",
    "home_channel",
    "home_channel_thread_id",
];

/// The sections of hermod's own schema.
const OWN_SECTIONS: &[&str] = &[
    "model",
    "agent",
    "terminal",
    "approvals",
    "memory",
    "mcp_servers",
    "compression",
    "gateway",
    "streaming",
    "display",
    "platforms",
    "stt",
    "tts",
    "media",
    "auxiliary",
];

/// Moves and takes out the Hermes keys of `tree`. `platforms` names the
/// platforms this build has; `known` tells whether a name is a platform at
/// all (hermod's or Hermes').
pub fn translate(
    tree: &mut Value,
    platforms: &[&str],
    known: &dyn Fn(&str) -> Option<&'static str>,
) -> Translation {
    let mut out = Translation::default();
    let Value::Object(root) = tree else {
        return out;
    };
    out.hermes_file = shape::hermes_sign(root, known, &translated_top);
    root.remove("_config_version");

    // `model: name` is the short form of `model: {default: name}`; empty
    // values are Hermes' "not set".
    if let Some(Value::String(name)) = root.get("model") {
        let name = name.clone();
        root.insert("model".into(), section([("default", Value::String(name))]));
    }
    if let Some(Value::Object(model)) = root.get_mut("model") {
        model.retain(|_, v| !is_unset(v));
    }
    // `streaming: off` / `on`.
    if let Some(flag) = root.get("streaming").and_then(bare_switch) {
        root.insert(
            "streaming".into(),
            section([("enabled", Value::Bool(flag))]),
        );
    }

    // `stt: false`; Hermes' per-provider model (`stt.openai.model`) is
    // the model of hermod's one endpoint.
    if let Some(flag) = root.get("stt").and_then(bare_switch) {
        root.insert("stt".into(), section([("enabled", Value::Bool(flag))]));
    }
    for provider in ["openai", "groq", "local", "mistral"] {
        if let Some(block) = take(root, &["stt", provider]) {
            if let Some(model) = block.get("model").filter(|m| !is_unset(m)) {
                put_missing(root, &["stt", "model"], model.clone());
            }
            out.notices.push((
                format!("stt.{provider}"),
                "hermod transcribes through one OpenAI-compatible endpoint (stt.base_url); \
                 only its model is used"
                    .to_owned(),
            ));
        }
    }

    // `tts: false`; Hermes' provider and its per-provider blocks.
    if let Some(flag) = root.get("tts").and_then(bare_switch) {
        root.insert("tts".into(), section([("enabled", Value::Bool(flag))]));
    }
    translate_tts(root, &mut out);

    // Top-level `<platform>:` blocks and `gateway.platforms.<name>` blocks
    // are Hermes' other places for `platforms.<name>`.
    let top_platforms: Vec<String> = root
        .keys()
        .filter(|k| !OWN_SECTIONS.contains(&k.as_str()) && known(k).is_some())
        .cloned()
        .collect();
    for name in top_platforms {
        if let Some(block) = root.remove(&name) {
            mark(&mut out, &name, &block);
            merge_missing(entry(root, &["platforms", &name]), block);
        }
    }
    let nested: Vec<(String, Value)> = get_mut(root, &["gateway", "platforms"])
        .and_then(Value::as_object_mut)
        .map(|blocks| {
            let mut moved = Vec::new();
            for (name, block) in blocks.iter_mut() {
                if let Value::Object(block) = block {
                    let foreign: Vec<String> = block
                        .keys()
                        .filter(|k| !POLICY_KEYS.contains(&k.as_str()))
                        .cloned()
                        .collect();
                    let mut taken = Map::new();
                    for key in foreign {
                        if let Some(v) = block.remove(&key) {
                            taken.insert(key, v);
                        }
                    }
                    if !taken.is_empty() {
                        moved.push((name.clone(), Value::Object(taken)));
                    }
                }
            }
            moved
        })
        .unwrap_or_default();
    for (name, block) in nested {
        mark(&mut out, &name, &block);
        merge_missing(entry(root, &["platforms", &name]), block);
    }
    // Hermes reads a few platform settings from `gateway.<name>` (its API
    // server's `max_concurrent_runs`): they are the platform's own. Only in
    // Hermes' file: in hermod's own, `gateway.<name>` is a mistake to show.
    let gateway_blocks: &[&str] = if out.hermes_file.is_some() {
        platforms
    } else {
        &[]
    };
    for name in gateway_blocks {
        if let Some(Value::Object(_)) = get_mut(root, &["gateway", name])
            && let Some(block) = take(root, &["gateway", name])
        {
            mark(&mut out, name, &block);
            merge_missing(entry(root, &["platforms", name]), block);
        }
    }

    // Hermes' top-level personalities join hermod's (which win a name).
    if let Some(block) = take(root, &["personalities"]).filter(|v| !is_unset(v)) {
        let agent = entry(root, &["agent"]);
        match agent.get_mut("personalities") {
            Some(existing) => merge_missing(existing, block),
            None => {
                if let Value::Object(agent) = agent {
                    agent.insert("personalities".into(), block);
                }
            }
        }
    }
    for (from, to) in MOVES {
        let from: Vec<&str> = from.split('.').collect();
        if let Some(value) = take(root, &from).filter(|v| !is_unset(v)) {
            let to: Vec<&str> = to.split('.').collect();
            put_missing(root, &to, value);
        }
    }
    // Hermes counts the drain and the freshness window in (possibly
    // fractional) seconds.
    for key in ["drain_timeout_secs", "auto_continue_freshness_secs"] {
        if let Some(secs) = get_mut(root, &["gateway", key])
            && let Some(f) = secs.as_f64().filter(|f| f.fract() != 0.0 && *f > 0.0)
        {
            *secs = Value::from(f.ceil() as u64);
        }
    }
    if let Some(mode) = take(root, &["streaming", "mode"])
        && let Some(mode) = mode.as_str().map(str::to_ascii_lowercase)
    {
        put_missing(root, &["streaming", "enabled"], Value::Bool(mode != "off"));
        if mode != "on" {
            put_missing(root, &["streaming", "transport"], Value::String(mode));
        }
    }
    if let Some(Value::String(mode)) = get_mut(root, &["gateway", "unauthorized_dm_behavior"]) {
        // Hermes' "allow" is not a behaviour for strangers hermod has; its
        // other values match.
        if mode != "pair" && mode != "ignore" {
            out.notices.push((
                format!("unauthorized_dm_behavior: {mode}"),
                "hermod either pairs or ignores strangers; pair is used".to_owned(),
            ));
            *mode = "pair".to_owned();
        }
    }

    translate_platforms(root, platforms, known, &mut out);

    // `display.platforms.<name>.streaming` is hermod's
    // `streaming.platforms.<name>.enabled`; the other per-platform display
    // keys are Hermes settings hermod does not have.
    let mut streaming = Vec::new();
    if let Some(Value::Object(blocks)) = get_mut(root, &["display", "platforms"]) {
        for (name, block) in blocks.iter_mut() {
            if let Value::Object(block) = block {
                if let Some(flag) = block.remove("streaming") {
                    streaming.push((name.clone(), flag));
                }
                let others: Vec<String> = block
                    .keys()
                    .filter(|k| k.as_str() != "tool_progress")
                    .cloned()
                    .collect();
                for key in others {
                    block.remove(&key);
                    out.notices.push((
                        format!("display.platforms.{name}.{key}"),
                        "a Hermes display setting hermod does not use; hermod has display.platforms.<name>.tool_progress".to_owned(),
                    ));
                }
            }
        }
    }
    for (name, flag) in streaming {
        put_missing(root, &["streaming", "platforms", &name, "enabled"], flag);
    }
    out
}

/// Hermes' `tts.provider` and per-provider blocks (`tts.openai.voice`,
/// `tts.edge.voice`, ...). OpenAI's settings are hermod's own (`tts.model`,
/// `tts.voice`, ...); another provider is not one hermod speaks through,
/// so voice replies are off unless hermod's own `tts.enabled` is set.
fn translate_tts(root: &mut Map<String, Value>, out: &mut Translation) {
    const OWN: &[&str] = &[
        "enabled",
        "base_url",
        "api_key",
        "model",
        "voice",
        "speed",
        "instructions",
        "timeout_secs",
    ];
    let provider = take(root, &["tts", "provider"])
        .and_then(|v| v.as_str().map(|p| p.trim().to_ascii_lowercase()))
        .filter(|p| !p.is_empty());
    let Some(Value::Object(tts)) = root.get_mut("tts") else {
        return;
    };
    let blocks: Vec<String> = tts
        .iter()
        .filter(|(key, value)| value.is_object() && !OWN.contains(&key.as_str()))
        .map(|(key, _)| key.clone())
        .collect();
    for name in blocks {
        let Some(Value::Object(block)) = tts.remove(&name) else {
            continue;
        };
        if name != "openai" {
            out.notices.push((
                format!("tts.{name}"),
                "hermod speaks through an OpenAI-compatible endpoint (tts.base_url); \
                 this provider's settings are not used"
                    .to_owned(),
            ));
            continue;
        }
        for (key, value) in block {
            if is_unset(&value) {
                continue;
            }
            if OWN.contains(&key.as_str()) && key != "enabled" {
                tts.entry(key).or_insert(value);
            } else {
                out.notices.push((
                    format!("tts.openai.{key}"),
                    "not used; hermod has tts.model, tts.voice, tts.speed, tts.instructions, \
                     tts.base_url and tts.api_key"
                        .to_owned(),
                ));
            }
        }
    }
    if let Some(provider) = provider
        && !matches!(provider.as_str(), "openai" | "custom")
    {
        out.notices.push((
            format!("tts.provider: {provider}"),
            "hermod speaks replies through an OpenAI-compatible /audio/speech endpoint \
             (tts.base_url), not this provider; voice replies are off unless tts.enabled is true"
                .to_owned(),
        ));
        tts.entry("enabled").or_insert(Value::Bool(false));
    }
}

/// Records the keys of a Hermes platform block as Hermes settings.
fn mark(out: &mut Translation, platform: &str, block: &Value) {
    if let Value::Object(block) = block {
        for key in block.keys() {
            out.from_hermes
                .insert(format!("platforms.{platform}.{key}"));
        }
    }
}

/// An empty value: Hermes' way of leaving a setting unset.
fn is_unset(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn translate_platforms(
    root: &mut Map<String, Value>,
    platforms: &[&str],
    known: &dyn Fn(&str) -> Option<&'static str>,
    out: &mut Translation,
) {
    let Some(Value::Object(blocks)) = root.get_mut("platforms") else {
        return;
    };
    let names: Vec<String> = blocks.keys().cloned().collect();
    let mut policies: Vec<(String, Map<String, Value>)> = Vec::new();
    for name in names {
        if !platforms.contains(&name.as_str()) {
            if let Some(display) = known(&name) {
                blocks.remove(&name);
                out.notices.push((
                    format!("platforms.{name}"),
                    format!("this build of hermod has no {display} adapter yet; its settings are ignored"),
                ));
            }
            continue;
        }
        let Some(Value::Object(block)) = blocks.get_mut(&name) else {
            continue;
        };
        if let Some(Value::Object(extra)) = block.remove("extra") {
            for (key, value) in extra {
                if !block.contains_key(&key) {
                    if !POLICY_KEYS.contains(&key.as_str()) {
                        out.from_hermes.insert(format!("platforms.{name}.{key}"));
                    }
                    block.insert(key, value);
                }
            }
        }
        let mut policy = Map::new();
        for key in POLICY_KEYS {
            if let Some(value) = block.remove(*key) {
                policy.insert((*key).to_owned(), value);
            }
        }
        if let Some(home) = policy.remove("home_channel") {
            match home {
                Value::Object(mut home) => {
                    if let Some(chat) = home.remove("chat_id").or_else(|| home.remove("id")) {
                        policy.insert("home_channel".into(), as_text(chat));
                    }
                    if let Some(thread) = home.remove("thread_id") {
                        policy
                            .entry("home_channel_thread_id")
                            .or_insert(as_text(thread));
                    }
                }
                other => {
                    policy.insert("home_channel".into(), as_text(other));
                }
            }
        }
        if !policy.is_empty() {
            policies.push((name, policy));
        }
    }
    for (name, policy) in policies {
        merge_missing(
            entry(root, &["gateway", "platforms", &name]),
            Value::Object(policy),
        );
    }
}

fn as_text(value: Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        other => other,
    }
}

fn bare_switch(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" => Some(true),
            "off" | "false" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn section<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn get_mut<'a>(root: &'a mut Map<String, Value>, path: &[&str]) -> Option<&'a mut Value> {
    let (first, rest) = path.split_first()?;
    let mut node = root.get_mut(*first)?;
    for key in rest {
        node = node.as_object_mut()?.get_mut(*key)?;
    }
    Some(node)
}

fn take(root: &mut Map<String, Value>, path: &[&str]) -> Option<Value> {
    let (last, parent) = path.split_last()?;
    if parent.is_empty() {
        return root.remove(*last);
    }
    get_mut(root, parent)?.as_object_mut()?.remove(*last)
}

/// The mapping at `path`, created (replacing anything that is not a
/// mapping only when absent) as needed.
fn entry<'a>(root: &'a mut Map<String, Value>, path: &[&str]) -> &'a mut Value {
    let mut map = root;
    let (last, parents) = path.split_last().expect("a non-empty path");
    for key in parents {
        let node = map
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        map = node.as_object_mut().expect("made a mapping above");
    }
    map.entry((*last).to_owned())
        .or_insert_with(|| Value::Object(Map::new()))
}

/// Sets `path` unless hermod's own key is already there.
fn put_missing(root: &mut Map<String, Value>, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let parent = if parents.is_empty() {
        root
    } else {
        match entry(root, parents) {
            Value::Object(map) => map,
            _ => return,
        }
    };
    parent.entry((*last).to_owned()).or_insert(value);
}

/// Copies the keys of `from` that `into` lacks.
fn merge_missing(into: &mut Value, from: Value) {
    let (Value::Object(into), Value::Object(from)) = (into, from) else {
        return;
    };
    for (key, value) in from {
        into.entry(key).or_insert(value);
    }
}

#[cfg(test)]
#[path = "hermes_tests.rs"]
mod tests;
