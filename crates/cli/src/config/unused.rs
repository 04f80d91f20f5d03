//! Which recognised Hermes variables are set but not used, and why: a
//! Hermes `.env` works as it is, and what hermod leaves aside is said once
//! instead of being ignored silently.

use super::Notice;
use super::provider::{self, PROVIDERS, Resolved};
use hermod_model::EnvVars;
use hermod_platforms::{hermes_schema, platform_names, platform_of_variable};
use std::collections::BTreeMap;

/// Variables whose reason is worth its own words.
const SPECIFIC: &[(&str, &str)] = &[
    (
        "HERMES_HOME",
        "hermod keeps its data in HERMOD_HOME (default ~/.hermod) and does not read the Hermes home",
    ),
    ("HERMES_MAX_ITERATIONS", "use agent.max_turns"),
    (
        "TIRITH_ENABLED",
        "hermod runs no command scanner: its terminal tool asks before dangerous commands (approvals)",
    ),
    (
        "HERMES_AGENT_TIMEOUT",
        "hermod has no whole-turn time limit (model.timeout_secs limits each model request)",
    ),
    ("HERMES_MODEL", "use HERMOD_MODEL or model.default"),
    (
        "HERMES_INFERENCE_MODEL",
        "use HERMOD_MODEL or model.default",
    ),
    (
        "GROQ_API_KEY",
        "Hermes uses it to transcribe voice messages, which hermod does not do yet",
    ),
    (
        "MISTRAL_API_KEY",
        "Hermes uses it to transcribe voice messages, which hermod does not do yet",
    ),
];

/// Prefixes of variables for Hermes' tools, which hermod does not have.
const TOOL_PREFIXES: &[&str] = &[
    "FIRECRAWL_",
    "EXA_",
    "PARALLEL_",
    "TAVILY_",
    "BRAVE_SEARCH_",
    "SEARXNG_",
    "TOOL_GATEWAY_",
    "BROWSERBASE_",
    "BROWSER_",
    "CAMOFOX_",
    "AGENT_BROWSER_",
    "FAL_",
    "KREA_",
    "ELEVENLABS_",
    "STT_",
    "AUXILIARY_",
    "GITHUB_APP_",
    "HONCHO_",
    "HINDSIGHT_",
    "SUPERMEMORY_",
    "MEM0_",
    "RETAINDB_",
    "BRV_",
    "OPENVIKING_",
    "NOTION_",
    "LINEAR_",
    "AIRTABLE_",
    "TENOR_",
    "TIRITH_",
    "SUDO_",
    "TERMINAL_",
    "MODAL_",
    "DAYTONA_",
];

/// Notices for the recognised variables in `env` that nothing read, and
/// for provider keys other than the one in use. Variables with the same
/// reason share one notice.
pub fn variables(env: &EnvVars, resolved: &Resolved) -> Vec<Notice> {
    let mut by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let provider_vars: Vec<&str> = PROVIDERS
        .iter()
        .flat_map(|p| p.key_vars.iter().chain([&p.base_url_var]).copied())
        .filter(|v| !v.is_empty())
        .collect();
    let unused_provider = provider::unused_keys(resolved, env);
    let in_use = match provider::find(&resolved.id) {
        Some(p) => format!(
            "the model is reached through {} ({})",
            p.name, resolved.base_url
        ),
        None => format!("the model is reached at {}", resolved.base_url),
    };
    for name in env.names() {
        let reason = if provider_vars.contains(&name) {
            let base_url_unused = name.ends_with("_BASE_URL") && !env.was_read(name);
            (unused_provider.contains(&name) || base_url_unused).then(|| in_use.clone())
        } else if env.was_read(name) {
            None
        } else {
            reason(name)
        };
        if let Some(reason) = reason {
            by_reason.entry(reason).or_default().push(name.to_owned());
        }
    }
    by_reason
        .into_iter()
        .map(|(message, names)| Notice {
            subject: names.join(", "),
            message,
        })
        .collect()
}

/// Why hermod does not use a variable it did not read, when it is one
/// Hermes knows; `None` for variables that are none of hermod's business.
fn reason(name: &str) -> Option<String> {
    if let Some((_, why)) = SPECIFIC.iter().find(|(n, _)| *n == name) {
        return Some((*why).to_owned());
    }
    if let Some(platform) = platform_of_variable(name) {
        return Some(if platform_names().contains(&platform.name) {
            format!("a {} setting hermod does not implement", platform.display)
        } else {
            format!(
                "this build of hermod has no {} adapter yet",
                platform.display
            )
        });
    }
    if TOOL_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Some("a Hermes tool setting; hermod has no built-in tools yet".to_owned());
    }
    let hermes = hermes_schema::ENV_VARS.contains(&name)
        || name.starts_with("HERMES_")
        || name.starts_with("GATEWAY_");
    hermes.then(|| "a Hermes setting hermod does not implement".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::provider::Request;

    fn notices(vars: &[(&str, &str)], read: &[&str]) -> Vec<String> {
        let env: EnvVars = vars.iter().copied().collect();
        let resolved = provider::resolve(&Request::default(), &env).unwrap();
        for name in read {
            let _ = env.get(name);
        }
        variables(&env, &resolved)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// A platform Hermes has and this build does not (platforms are
    /// added over time, so it is looked up rather than named).
    fn missing_platform() -> &'static hermod_platforms::KnownPlatform {
        hermod_platforms::KNOWN_PLATFORMS
            .iter()
            .find(|p| !platform_names().contains(&p.name))
            .expect("hermod does not have every Hermes platform yet")
    }

    #[test]
    fn unused_hermes_variables_are_named_with_why() {
        let missing = missing_platform();
        let token = format!("{}BOT_TOKEN", missing.env_prefixes[0]);
        let users = format!("{}ALLOWED_USERS", missing.env_prefixes[0]);
        let said = notices(
            &[
                ("OPENROUTER_API_KEY", "sk-or"),
                ("DEEPSEEK_API_KEY", "dk"),
                (&token, "t"),
                (&users, "1"),
                ("FIRECRAWL_API_KEY", "f"),
                ("HERMES_HUMAN_DELAY_MODE", "off"),
                ("PATH", "/bin"),
                ("HERMES_RESTART_DRAIN_TIMEOUT", "5"),
            ],
            &["HERMES_RESTART_DRAIN_TIMEOUT"],
        );
        let mut both = [token, users];
        both.sort();
        assert_eq!(
            said,
            [
                "HERMES_HUMAN_DELAY_MODE: a Hermes setting hermod does not implement".to_owned(),
                "FIRECRAWL_API_KEY: a Hermes tool setting; hermod has no built-in tools yet"
                    .to_owned(),
                "DEEPSEEK_API_KEY: the model is reached through OpenRouter (https://openrouter.ai/api/v1)"
                    .to_owned(),
                format!(
                    "{}: this build of hermod has no {} adapter yet",
                    both.join(", "),
                    missing.display
                ),
            ]
        );
    }

    #[test]
    fn variables_hermod_read_are_not_mentioned() {
        assert!(
            notices(
                &[
                    ("OPENAI_API_KEY", "k"),
                    ("HERMES_GATEWAY_BUSY_INPUT_MODE", "queue")
                ],
                &["HERMES_GATEWAY_BUSY_INPUT_MODE"]
            )
            .is_empty()
        );
    }
}
