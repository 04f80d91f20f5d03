//! Which model endpoint to talk to, and with which key: `model.provider`
//! resolved the way the Hermes gateway resolves it, with its provider names,
//! default base URLs and key variables, so a Hermes `.env` just works.
//!
//! hermod speaks the OpenAI chat-completions API, so only providers that
//! offer it are known; the others are refused with what to use instead.

use hermod_model::{EnvVars, Secret};

/// A provider with an OpenAI-compatible API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provider {
    /// The name in `model.provider` (Hermes' id).
    pub id: &'static str,
    /// Other names accepted for it.
    pub aliases: &'static [&'static str],
    pub name: &'static str,
    pub base_url: &'static str,
    /// Key variables, first set wins.
    pub key_vars: &'static [&'static str],
    /// The variable that replaces `base_url` (a proxy, a mirror, a fake).
    pub base_url_var: &'static str,
}

const fn provider(
    id: &'static str,
    aliases: &'static [&'static str],
    name: &'static str,
    base_url: &'static str,
    key_vars: &'static [&'static str],
    base_url_var: &'static str,
) -> Provider {
    Provider {
        id,
        aliases,
        name,
        base_url,
        key_vars,
        base_url_var,
    }
}

/// Known providers. With `provider: auto` (the default) and no base URL
/// set, the first one whose key is set is used, in this order.
pub const PROVIDERS: &[Provider] = &[
    provider(
        "openrouter",
        &[],
        "OpenRouter",
        "https://openrouter.ai/api/v1",
        &["OPENROUTER_API_KEY"],
        "OPENROUTER_BASE_URL",
    ),
    provider(
        "openai",
        &["openai-api"],
        "OpenAI",
        "https://api.openai.com/v1",
        &["OPENAI_API_KEY"],
        "OPENAI_BASE_URL",
    ),
    provider(
        "anthropic",
        &["claude"],
        "Anthropic (OpenAI-compatible API)",
        "https://api.anthropic.com/v1",
        &["ANTHROPIC_API_KEY", "ANTHROPIC_TOKEN"],
        "ANTHROPIC_BASE_URL",
    ),
    provider(
        "gemini",
        &["google", "google-ai-studio"],
        "Google AI Studio (OpenAI-compatible API)",
        "https://generativelanguage.googleapis.com/v1beta/openai",
        &["GOOGLE_API_KEY", "GEMINI_API_KEY"],
        "GEMINI_BASE_URL",
    ),
    provider(
        "deepseek",
        &[],
        "DeepSeek",
        "https://api.deepseek.com/v1",
        &["DEEPSEEK_API_KEY"],
        "DEEPSEEK_BASE_URL",
    ),
    provider(
        "xai",
        &["grok"],
        "xAI",
        "https://api.x.ai/v1",
        &["XAI_API_KEY"],
        "XAI_BASE_URL",
    ),
    provider(
        "zai",
        &["glm", "z-ai", "zhipu"],
        "Z.AI / GLM",
        "https://api.z.ai/api/paas/v4",
        &["GLM_API_KEY", "ZAI_API_KEY", "Z_AI_API_KEY"],
        "GLM_BASE_URL",
    ),
    provider(
        "kimi-coding",
        &["kimi", "moonshot"],
        "Kimi / Moonshot",
        "https://api.moonshot.ai/v1",
        &["KIMI_API_KEY", "KIMI_CODING_API_KEY"],
        "KIMI_BASE_URL",
    ),
    provider(
        "kimi-coding-cn",
        &["moonshot-cn"],
        "Kimi / Moonshot (China)",
        "https://api.moonshot.cn/v1",
        &["KIMI_CN_API_KEY"],
        "",
    ),
    provider(
        "minimax",
        &[],
        "MiniMax",
        "https://api.minimax.io/v1",
        &["MINIMAX_API_KEY"],
        "MINIMAX_BASE_URL",
    ),
    provider(
        "minimax-cn",
        &[],
        "MiniMax (China)",
        "https://api.minimaxi.com/v1",
        &["MINIMAX_CN_API_KEY"],
        "MINIMAX_CN_BASE_URL",
    ),
    provider(
        "alibaba",
        &["dashscope", "qwen"],
        "Qwen Cloud (DashScope)",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        &["DASHSCOPE_API_KEY"],
        "DASHSCOPE_BASE_URL",
    ),
    provider(
        "nvidia",
        &["nim"],
        "NVIDIA NIM",
        "https://integrate.api.nvidia.com/v1",
        &["NVIDIA_API_KEY"],
        "NVIDIA_BASE_URL",
    ),
    provider(
        "ai-gateway",
        &["vercel"],
        "Vercel AI Gateway",
        "https://ai-gateway.vercel.sh/v1",
        &["AI_GATEWAY_API_KEY"],
        "AI_GATEWAY_BASE_URL",
    ),
    provider(
        "huggingface",
        &["hf"],
        "Hugging Face",
        "https://router.huggingface.co/v1",
        &["HF_TOKEN"],
        "HF_BASE_URL",
    ),
    provider(
        "arcee",
        &[],
        "Arcee AI",
        "https://api.arcee.ai/api/v1",
        &["ARCEEAI_API_KEY"],
        "ARCEE_BASE_URL",
    ),
    provider(
        "gmi",
        &[],
        "GMI Cloud",
        "https://api.gmi-serving.com/v1",
        &["GMI_API_KEY"],
        "GMI_BASE_URL",
    ),
    provider(
        "opencode-zen",
        &[],
        "OpenCode Zen",
        "https://opencode.ai/zen/v1",
        &["OPENCODE_ZEN_API_KEY"],
        "OPENCODE_ZEN_BASE_URL",
    ),
    provider(
        "opencode-go",
        &[],
        "OpenCode Go",
        "https://opencode.ai/zen/go/v1",
        &["OPENCODE_GO_API_KEY"],
        "OPENCODE_GO_BASE_URL",
    ),
    provider(
        "kilocode",
        &[],
        "Kilo Code",
        "https://api.kilo.ai/api/gateway",
        &["KILOCODE_API_KEY"],
        "KILOCODE_BASE_URL",
    ),
    provider(
        "xiaomi",
        &[],
        "Xiaomi MiMo",
        "https://api.xiaomimimo.com/v1",
        &["XIAOMI_API_KEY"],
        "XIAOMI_BASE_URL",
    ),
    provider(
        "tencent-tokenhub",
        &[],
        "Tencent TokenHub",
        "https://tokenhub.tencentmaas.com/v1",
        &["TOKENHUB_API_KEY"],
        "TOKENHUB_BASE_URL",
    ),
    provider(
        "ollama-cloud",
        &[],
        "Ollama Cloud",
        "https://ollama.com/v1",
        &["OLLAMA_API_KEY"],
        "OLLAMA_BASE_URL",
    ),
    provider(
        "lmstudio",
        &["lm-studio"],
        "LM Studio",
        "http://127.0.0.1:1234/v1",
        &["LM_API_KEY"],
        "LM_BASE_URL",
    ),
];

/// Names for "any OpenAI-compatible endpoint at `model.base_url`".
const CUSTOM: &[&str] = &[
    "custom",
    "ollama",
    "vllm",
    "llamacpp",
    "llama.cpp",
    "llama-cpp",
    "local",
    "sglang",
    "litellm",
];

/// Hermes providers hermod cannot talk to, with why.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("nous", "signs in through the Nous Portal (OAuth)"),
    ("openai-codex", "signs in with a ChatGPT account (OAuth)"),
    ("xai-oauth", "signs in with an xAI account (OAuth)"),
    ("qwen-oauth", "signs in with a Qwen account (OAuth)"),
    ("minimax-oauth", "signs in with a MiniMax account (OAuth)"),
    ("copilot", "signs in with GitHub Copilot"),
    ("copilot-acp", "runs the Copilot agent as a process"),
    ("bedrock", "speaks the AWS Bedrock API"),
    ("vertex", "speaks the Google Vertex AI API"),
    ("azure-foundry", "needs Azure deployment settings"),
    ("alibaba-coding-plan", "speaks a coding-plan API"),
    ("tencent-tokenplan", "speaks the Anthropic Messages API"),
    ("stepfun", "has no base URL hermod knows"),
];

/// Where the model key came from, for `config check` and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Config,
    Env(&'static str),
    /// `model.key_env` named this variable.
    NamedEnv(String),
    None,
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Config => f.write_str("model.api_key"),
            KeySource::Env(var) => f.write_str(var),
            KeySource::NamedEnv(var) => f.write_str(var),
            KeySource::None => f.write_str("no key"),
        }
    }
}

/// The endpoint in use.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The provider's id, or `custom`.
    pub id: String,
    pub name: String,
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub key_source: KeySource,
    /// Where the choice came from, in words (`model.provider`, "the key
    /// that is set", ...).
    pub chosen_by: String,
}

/// What the user asked for, before resolution.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// `model.provider`.
    pub provider: Option<&'a str>,
    /// `model.base_url` from config.yaml.
    pub base_url: Option<&'a str>,
    /// `model.api_key` from config.yaml.
    pub api_key: Option<&'a Secret>,
    /// `model.key_env`: the variable holding the key.
    pub key_env: Option<&'a str>,
}

impl Resolved {
    /// Where a key for this endpoint would be set, for "no key" advice.
    pub fn key_hint(&self) -> String {
        match find(&self.id) {
            Some(p) => format!("{} or model.api_key", p.key_vars.join(" or ")),
            None => "model.api_key or model.key_env".to_owned(),
        }
    }

    /// "OpenRouter (chosen by model.provider)".
    pub fn describe(&self) -> String {
        if self.chosen_by.is_empty() || self.chosen_by == "default" {
            self.name.clone()
        } else {
            format!("{}, chosen by {}", self.name, self.chosen_by)
        }
    }
}

pub fn find(name: &str) -> Option<&'static Provider> {
    let name = name.trim().to_ascii_lowercase();
    PROVIDERS
        .iter()
        .find(|p| p.id == name || p.aliases.contains(&name.as_str()))
}

/// Resolves the endpoint. The provider is `model.provider`, else
/// `HERMES_INFERENCE_PROVIDER`, else `auto` (Hermes' order: the file wins
/// here, unlike elsewhere):
/// - a named provider uses its base-URL variable, else `model.base_url`,
///   else its default; its key is `model.api_key`, else its key variables;
/// - `custom` (and local-server names such as `ollama`, `vllm`) needs a
///   base URL (`model.base_url` or `CUSTOM_BASE_URL`); its key is
///   `model.api_key`, else the key variable of the host's vendor
///   (`OPENAI_API_KEY` only for api.openai.com, `DEEPSEEK_API_KEY` for
///   api.deepseek.com, ...), else none;
/// - `auto` uses `model.base_url` or `OPENAI_BASE_URL` when set (with
///   `model.api_key`, else `OPENAI_API_KEY`), else the first provider whose
///   key is set, else OpenAI without a key.
pub fn resolve(request: &Request<'_>, env: &EnvVars) -> Result<Resolved, String> {
    let from_file = request.provider.map(str::trim).filter(|p| !p.is_empty());
    let (asked, chosen_by) = match from_file {
        Some(p) => (p.to_ascii_lowercase(), "model.provider"),
        None => match env.get("HERMES_INFERENCE_PROVIDER") {
            Some(p) => (p.trim().to_ascii_lowercase(), "HERMES_INFERENCE_PROVIDER"),
            None => ("auto".to_owned(), ""),
        },
    };
    let explicit_key = request
        .api_key
        .filter(|k| !k.expose().trim().is_empty())
        .cloned();
    let named_key = match request.key_env.map(str::trim).filter(|v| !v.is_empty()) {
        Some(var) => match env.get(var) {
            Some(value) => Some((Secret::new(value.trim()), var.to_owned())),
            None => {
                return Err(format!(
                    "model.key_env names {var}, which is not set in the environment or .env"
                ));
            }
        },
        None => None,
    };
    let given_key = || -> Option<(Secret, KeySource)> {
        if let Some(key) = &explicit_key {
            return Some((key.clone(), KeySource::Config));
        }
        named_key
            .as_ref()
            .map(|(k, var)| (k.clone(), KeySource::NamedEnv(var.clone())))
    };
    let config_url = request.base_url.map(str::trim).filter(|u| !u.is_empty());

    if asked == "auto" {
        let explicit_url = config_url
            .map(|u| (u.to_owned(), "model.base_url"))
            .or_else(|| {
                env.get("OPENAI_BASE_URL")
                    .map(|u| (u.trim().to_owned(), "OPENAI_BASE_URL"))
            });
        if let Some((url, from)) = explicit_url {
            let (api_key, key_source) = given_key()
                .or_else(|| env_key(env, &["OPENAI_API_KEY"]))
                .map_or((None, KeySource::None), |(k, s)| (Some(k), s));
            return Ok(Resolved {
                id: "custom".into(),
                name: "a custom endpoint".into(),
                base_url: url,
                api_key,
                key_source,
                chosen_by: from.to_owned(),
            });
        }
        let (provider, chosen_by) = match PROVIDERS
            .iter()
            .find(|p| p.key_vars.iter().any(|v| env.get(v).is_some()))
        {
            Some(p) => (p, "its key being set"),
            None => (&PROVIDERS[1], "default"),
        };
        return Ok(named(provider, None, given_key(), env, chosen_by));
    }

    if CUSTOM.contains(&asked.as_str()) {
        let url = config_url
            .map(str::to_owned)
            .or_else(|| env.get("CUSTOM_BASE_URL").map(|u| u.trim().to_owned()))
            .ok_or_else(|| {
                format!(
                    "{chosen_by} is {asked:?}, which needs the endpoint's address: set model.base_url (or CUSTOM_BASE_URL), for example http://127.0.0.1:11434/v1"
                )
            })?;
        let (api_key, key_source) = given_key()
            .or_else(|| vendor_key(&url, env))
            .map_or((None, KeySource::None), |(k, s)| (Some(k), s));
        return Ok(Resolved {
            id: "custom".into(),
            name: "a custom endpoint".into(),
            base_url: url,
            api_key,
            key_source,
            chosen_by: chosen_by.to_owned(),
        });
    }

    if let Some(provider) = find(&asked) {
        return Ok(named(provider, config_url, given_key(), env, chosen_by));
    }
    if let Some((id, why)) = UNSUPPORTED.iter().find(|(id, _)| *id == asked) {
        return Err(format!(
            "{chosen_by} is {id:?}, which {why}; hermod speaks the OpenAI chat-completions API. Use openrouter, another provider with an API key, or custom with model.base_url"
        ));
    }
    let near = PROVIDERS
        .iter()
        .map(|p| p.id)
        .chain(CUSTOM.iter().copied())
        .chain(["auto"])
        .min_by_key(|id| super::yaml::edit_distance(&asked, id))
        .unwrap_or("auto");
    Err(format!(
        "{chosen_by} is {asked:?}, which hermod does not know; did you mean {near:?}? Known: auto, custom, {}",
        PROVIDERS
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

fn named(
    provider: &'static Provider,
    config_url: Option<&str>,
    given_key: Option<(Secret, KeySource)>,
    env: &EnvVars,
    chosen_by: &str,
) -> Resolved {
    let base_url = (!provider.base_url_var.is_empty())
        .then(|| env.get(provider.base_url_var))
        .flatten()
        .or(config_url)
        .unwrap_or(provider.base_url)
        .trim()
        .to_owned();
    let (api_key, key_source) = given_key
        .or_else(|| env_key(env, provider.key_vars))
        .map_or((None, KeySource::None), |(k, s)| (Some(k), s));
    Resolved {
        id: provider.id.to_owned(),
        name: provider.name.to_owned(),
        base_url,
        api_key,
        key_source,
        chosen_by: chosen_by.to_owned(),
    }
}

fn env_key(env: &EnvVars, vars: &[&'static str]) -> Option<(Secret, KeySource)> {
    vars.iter().find_map(|var| {
        env.get(var)
            .map(|v| (Secret::new(v.trim()), KeySource::Env(var)))
    })
}

/// The key of the vendor whose host `url` names: `OPENAI_API_KEY` for
/// api.openai.com, `OPENROUTER_API_KEY` for openrouter.ai, a known
/// provider's key for its host, else `<VENDOR>_API_KEY` from the host's
/// registrable name. A key is never sent to a host that is not its vendor's.
fn vendor_key(url: &str, env: &EnvVars) -> Option<(Secret, KeySource)> {
    let host = host_of(url)?;
    for provider in PROVIDERS {
        let Some(default_host) = host_of(provider.base_url) else {
            continue;
        };
        if is_loopback(&default_host) {
            continue;
        }
        if host == default_host || host.ends_with(&format!(".{default_host}")) {
            return env_key(env, provider.key_vars);
        }
    }
    if is_loopback(&host) || host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let labels: Vec<&str> = host
        .split('.')
        .filter(|l| !l.is_empty())
        .skip_while(|l| *l == "api" || *l == "www")
        .collect();
    let vendor = labels.len().checked_sub(2).map(|i| labels[i])?;
    let var: String = vendor
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if !var.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let var = format!("{var}_API_KEY");
    env.get(&var)
        .map(|v| (Secret::new(v.trim()), KeySource::NamedEnv(var.clone())))
}

fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| h.trim_start_matches('['))?
    } else {
        host.split(':').next()?
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.starts_with("127.") || host == "::1" || host == "0.0.0.0"
}

/// The provider key variables set in `env` that `resolved` does not use.
pub fn unused_keys(resolved: &Resolved, env: &EnvVars) -> Vec<&'static str> {
    let used = match &resolved.key_source {
        KeySource::Env(var) => Some(*var),
        _ => None,
    };
    PROVIDERS
        .iter()
        .flat_map(|p| p.key_vars.iter().copied())
        .filter(|var| Some(*var) != used && env.names().any(|n| n == *var))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> EnvVars {
        vars.iter().copied().collect()
    }

    fn resolve_with(request: &Request<'_>, vars: &[(&str, &str)]) -> Resolved {
        resolve(request, &env(vars)).unwrap()
    }

    #[test]
    fn an_openrouter_key_alone_selects_openrouter() {
        let r = resolve_with(
            &Request::default(),
            &[("OPENROUTER_API_KEY", "sk-or-v1-abc")],
        );
        assert_eq!(r.id, "openrouter");
        assert_eq!(r.base_url, "https://openrouter.ai/api/v1");
        assert_eq!(r.api_key.unwrap().expose(), "sk-or-v1-abc");
        assert_eq!(r.key_source, KeySource::Env("OPENROUTER_API_KEY"));
        let r = resolve_with(
            &Request::default(),
            &[
                ("OPENROUTER_API_KEY", "sk-or"),
                ("OPENROUTER_BASE_URL", "http://127.0.0.1:9/v1"),
            ],
        );
        assert_eq!(r.base_url, "http://127.0.0.1:9/v1");
    }

    #[test]
    fn hermods_own_variables_still_work() {
        let r = resolve_with(
            &Request::default(),
            &[
                ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"),
                ("OPENAI_API_KEY", "sk-local"),
                ("OPENROUTER_API_KEY", "sk-or"),
            ],
        );
        assert_eq!(r.base_url, "http://127.0.0.1:11434/v1");
        assert_eq!(r.api_key.unwrap().expose(), "sk-local");
        let r = resolve_with(&Request::default(), &[]);
        assert_eq!((r.id.as_str(), r.key_source), ("openai", KeySource::None));
    }

    #[test]
    fn a_named_provider_uses_its_defaults_and_keys() {
        let request = Request {
            provider: Some("DeepSeek"),
            ..Request::default()
        };
        let r = resolve_with(
            &request,
            &[("DEEPSEEK_API_KEY", "dk"), ("OPENAI_API_KEY", "ok")],
        );
        assert_eq!(r.base_url, "https://api.deepseek.com/v1");
        assert_eq!(r.api_key.unwrap().expose(), "dk");
        let key = Secret::new("from-config");
        let request = Request {
            api_key: Some(&key),
            ..Request::default()
        };
        let vars = [("HERMES_INFERENCE_PROVIDER", "zai"), ("GLM_API_KEY", "g")];
        let r = resolve_with(&request, &vars);
        assert_eq!(r.id, "zai");
        assert_eq!(r.key_source, KeySource::Config);
        let request = Request {
            provider: Some("openrouter"),
            ..request
        };
        assert_eq!(resolve_with(&request, &vars).id, "openrouter");
    }

    #[test]
    fn custom_endpoints_get_only_their_vendors_key() {
        let request = Request {
            provider: Some("custom"),
            base_url: Some("http://127.0.0.1:18080/v1"),
            ..Request::default()
        };
        let r = resolve_with(&request, &[("OPENAI_API_KEY", "ok")]);
        assert_eq!(
            r.key_source,
            KeySource::None,
            "no key leaks to a local server"
        );
        let request = Request {
            base_url: Some("https://api.groq.com/openai/v1"),
            ..request
        };
        let r = resolve_with(
            &request.clone(),
            &[("GROQ_API_KEY", "gk"), ("OPENAI_API_KEY", "ok")],
        );
        assert_eq!(r.api_key.unwrap().expose(), "gk");
        let request = Request {
            base_url: Some("https://api.deepseek.com.attacker.test/v1"),
            ..request
        };
        let r = resolve_with(&request, &[("DEEPSEEK_API_KEY", "dk")]);
        assert_eq!(r.key_source, KeySource::None);
        let err = resolve(
            &Request {
                provider: Some("ollama"),
                ..Request::default()
            },
            &env(&[]),
        )
        .unwrap_err();
        assert!(err.contains("model.base_url"), "{err}");
    }

    #[test]
    fn unknown_and_unsupported_providers_are_clear_errors() {
        let ask = |p: &str| {
            resolve(
                &Request {
                    provider: Some(p),
                    ..Request::default()
                },
                &env(&[]),
            )
            .unwrap_err()
        };
        assert!(ask("nous").contains("OAuth"), "{}", ask("nous"));
        assert!(ask("opnrouter").contains("did you mean \"openrouter\""));
        let err = resolve(
            &Request {
                key_env: Some("MY_KEY"),
                ..Request::default()
            },
            &env(&[]),
        )
        .unwrap_err();
        assert!(err.contains("MY_KEY"), "{err}");
    }

    #[test]
    fn unused_provider_keys_are_listed() {
        let vars = env(&[("OPENROUTER_API_KEY", "a"), ("DEEPSEEK_API_KEY", "b")]);
        let r = resolve(&Request::default(), &vars).unwrap();
        assert_eq!(unused_keys(&r, &vars), ["DEEPSEEK_API_KEY"]);
    }
}
