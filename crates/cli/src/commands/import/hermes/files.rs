//! Reading Hermes' files beside `state.db`: the legacy routing mirror
//! (`sessions/sessions.json`), approved pairings
//! (`pairing/<platform>-approved.json`, or `platforms/pairing/`), scheduled
//! jobs (`cron/jobs.json`) and home channels (those `/sethome` wrote to
//! `.env`, then those of `config.yaml`).

use super::{HermesHome, HermesPairing, HermesRoute, Skipped};
use crate::dotenv;
use serde_json::Value;
use std::path::Path;

/// Hermes' legacy routing mirror; keys starting with `_` are its notes.
pub fn routes_from_sessions_json(home: &Path, out: &mut HermesHome) {
    let path = home.join("sessions").join("sessions.json");
    let Some(Value::Object(entries)) = read_json(&path, out) else {
        return;
    };
    for (key, entry) in entries {
        if key.starts_with('_') || out.routes.iter().any(|r| r.key == key) {
            continue;
        }
        match HermesRoute::from_entry(&key, &entry.to_string()) {
            Some(route) => out.routes.push(route),
            None => out.skipped.push(Skipped::new(
                "route",
                &key,
                "its entry in sessions.json names no session",
            )),
        }
    }
}

/// Approved users, from both places Hermes 0.19 may keep them.
pub fn pairings(home: &Path, out: &mut HermesHome) {
    for dir in [home.join("pairing"), home.join("platforms").join("pairing")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        for path in files {
            let Some(platform) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix("-approved.json"))
                .map(str::to_owned)
            else {
                continue;
            };
            let Some(Value::Object(users)) = read_json(&path, out) else {
                continue;
            };
            for (user_id, info) in users {
                if out
                    .pairings
                    .iter()
                    .any(|p| p.platform == platform && p.user_id == user_id)
                {
                    continue;
                }
                out.pairings.push(HermesPairing {
                    platform: platform.clone(),
                    user_id,
                    user_name: info
                        .get("user_name")
                        .and_then(Value::as_str)
                        .filter(|n| !n.trim().is_empty())
                        .map(str::to_owned),
                    approved_at_ms: info
                        .get("approved_at")
                        .and_then(Value::as_f64)
                        .map(super::state_db::seconds_to_ms),
                });
            }
        }
    }
}

/// `cron/jobs.json`'s jobs, as Hermes wrote them.
pub fn jobs(home: &Path, out: &mut HermesHome) {
    let path = home.join("cron").join("jobs.json");
    let jobs = match read_json(&path, out) {
        // `{"jobs": [...]}`; very old files were the bare list.
        Some(Value::Object(mut file)) => file.remove("jobs"),
        other => other,
    };
    if let Some(Value::Array(jobs)) = jobs {
        out.jobs = jobs;
    }
}

/// Home channels from Hermes' `.env` (where its `/sethome` writes them):
/// `<PLATFORM>_HOME_CHANNEL` (and `_THREAD_ID`), and the platforms' own
/// variables (`variables`: platform and variable, from the registry).
pub fn home_channels(home: &Path, variables: &[(&str, &str)], out: &mut HermesHome) {
    let path = home.join(".env");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            out.skipped.push(Skipped::new(
                "file",
                &path.display().to_string(),
                &format!("cannot be read: {e}"),
            ));
            return;
        }
    };
    let vars = match dotenv::parse(&text) {
        Ok(vars) => vars,
        Err(e) => {
            out.skipped
                .push(Skipped::new("file", &path.display().to_string(), &e));
            return;
        }
    };
    let get = |name: &str| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut found: Vec<(String, String, Option<String>)> = Vec::new();
    for (platform, variable) in variables {
        if let Some(chat) = get(variable) {
            found.push(((*platform).to_owned(), chat, None));
        }
    }
    for (name, _) in &vars {
        let Some(prefix) = name.strip_suffix("_HOME_CHANNEL") else {
            continue;
        };
        let platform = prefix.to_ascii_lowercase();
        if found.iter().any(|(p, _, _)| *p == platform) {
            continue;
        }
        if let Some(chat) = get(name) {
            let thread = get(&format!("{name}_THREAD_ID"));
            found.push((platform, chat, thread));
        }
    }
    out.home_channels = found;
}

/// Home channels set in Hermes' `config.yaml` (`platforms.<name>.home_channel`,
/// its `extra`, or a top-level `<name>:` block), for the platforms `.env`
/// gave none: in Hermes the environment wins over the file.
pub fn config_home_channels(home: &Path, platforms: &[&str], out: &mut HermesHome) {
    let path = home.join("config.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let tree = match serde_saphyr::from_str::<Value>(&text) {
        Ok(tree) => tree,
        Err(e) => {
            out.skipped.push(Skipped::new(
                "file",
                &path.display().to_string(),
                &format!("is not valid YAML, so its home channels are not read: {e}"),
            ));
            return;
        }
    };
    for platform in platforms {
        if out.home_channels.iter().any(|(p, _, _)| p == platform) {
            continue;
        }
        let blocks = [
            tree.pointer(&format!("/platforms/{platform}")),
            tree.pointer(&format!("/platforms/{platform}/extra")),
            tree.get(*platform),
        ];
        let Some(home) = blocks
            .into_iter()
            .flatten()
            .find_map(|block| block.get("home_channel"))
        else {
            continue;
        };
        let id = |v: Option<&Value>| match v? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let (chat, thread) = match home {
            Value::Object(_) => (
                id(home.get("chat_id")).or_else(|| id(home.get("id"))),
                id(home.get("thread_id")),
            ),
            other => (id(Some(other)), None),
        };
        if let Some(chat) = chat {
            out.home_channels
                .push(((*platform).to_owned(), chat, thread));
        }
    }
}

/// A JSON file, or `None` when it is absent; an unreadable one is
/// reported as skipped.
fn read_json(path: &Path, out: &mut HermesHome) -> Option<Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            out.skipped.push(Skipped::new(
                "file",
                &path.display().to_string(),
                &format!("cannot be read: {e}"),
            ));
            return None;
        }
    };
    match serde_json::from_str(&text) {
        Ok(value) => Some(value),
        Err(e) => {
            out.skipped.push(Skipped::new(
                "file",
                &path.display().to_string(),
                &format!("is not valid JSON: {e}"),
            ));
            None
        }
    }
}
