//! The `mcp_servers:` section of `config.yaml`, as Hermes writes it, and
//! its checked form.
//!
//! Each named server is a local command spoken to over stdio (`command`,
//! `args`, `env`, `cwd`) or a streamable HTTP endpoint (`url`, `headers`),
//! with Hermes' per-server options: `enabled`, `timeout` (a tool call, 300 s),
//! `connect_timeout` (connecting and listing tools, 60 s) and `tools.include`
//! / `tools.exclude` (exact names or `*`/`?` globs of the server's own tool
//! names; `include` wins). Hermes' other per-server keys (TLS, OAuth,
//! sampling, trust, ...) load without error and are reported by
//! [`McpServerConfig::ignored_keys`], so a Hermes file works as it is.
//!
//! String values may name variables as Hermes allows: `${VAR}` or
//! `${env:VAR}`, looked up in the environment hermod was given (`.env`
//! included); an unset variable stays as written, as in Hermes. Header and
//! `env` values are [`Secret`]s: they never appear in `Debug` or a log.

use crate::error::McpError;
use hermod_model::{EnvVars, Secret};
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Hermes' default bound on one tool call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Hermes' default bound on connecting to a server and listing its tools.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// `mcp_servers:`: each server by its name.
pub type McpServersConfig = BTreeMap<String, McpServerConfig>;

/// One entry of `mcp_servers:` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerConfig {
    /// The program of a stdio server.
    pub command: Option<String>,
    /// Its arguments: a list (YAML numbers and booleans taken as written),
    /// or, as Hermes also accepts, one line split as a shell would.
    #[serde(default)]
    pub args: Args,
    /// Variables set for it, on top of the few hermod passes on (`PATH`,
    /// `HOME`, `LANG`, ...; never the gateway's own keys).
    #[serde(default, deserialize_with = "scalar_secrets")]
    pub env: BTreeMap<String, Secret>,
    /// Its working directory; hermod's own when unset.
    pub cwd: Option<PathBuf>,
    /// The endpoint of a streamable HTTP server.
    pub url: Option<String>,
    /// Headers sent with every request to it (`Authorization`, ...).
    #[serde(default, deserialize_with = "scalar_secrets")]
    pub headers: BTreeMap<String, Secret>,
    /// `false` keeps the entry without connecting to it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How long one tool call may take, in seconds.
    pub timeout: Option<f64>,
    /// How long connecting and listing the tools may take, in seconds.
    pub connect_timeout: Option<f64>,
    /// Which of the server's tools are offered.
    #[serde(default)]
    pub tools: ToolsConfig,

    // Hermes keys hermod does not implement: accepted, listed by
    // `ignored_keys`.
    ssl_verify: Option<IgnoredAny>,
    client_cert: Option<IgnoredAny>,
    client_key: Option<IgnoredAny>,
    protocol: Option<IgnoredAny>,
    supports_parallel_tool_calls: Option<IgnoredAny>,
    skip_preflight: Option<IgnoredAny>,
    transport: Option<IgnoredAny>,
    keepalive_interval: Option<IgnoredAny>,
    idle_timeout_seconds: Option<IgnoredAny>,
    max_lifetime_seconds: Option<IgnoredAny>,
    lifecycle: Option<IgnoredAny>,
    auth: Option<IgnoredAny>,
    oauth: Option<IgnoredAny>,
    sampling: Option<IgnoredAny>,
    elicitation: Option<IgnoredAny>,
    trust: Option<IgnoredAny>,
    lazy: Option<IgnoredAny>,
    identity_header: Option<IgnoredAny>,
}

fn yes() -> bool {
    true
}

/// A mapping of secrets whose values YAML may give as numbers or booleans
/// (`PORT: 8080`), taken as written.
fn scalar_secrets<'de, D>(deserializer: D) -> Result<BTreeMap<String, Secret>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = BTreeMap::<String, Arg>::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .map(|(key, value)| (key, Secret::new(value.into_text())))
        .collect())
}

/// `args:` as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Args {
    List(Vec<Arg>),
    /// `-y 'pkg with spaces'`, or a list written as a JSON string
    /// (`'["-y", "pkg"]'`), both of which Hermes accepts.
    Line(String),
}

impl Default for Args {
    fn default() -> Self {
        Args::List(Vec::new())
    }
}

impl Args {
    fn is_empty(&self) -> bool {
        match self {
            Args::List(list) => list.is_empty(),
            Args::Line(line) => line.trim().is_empty(),
        }
    }

    /// The argument list, or why the line cannot be one.
    fn to_list(&self) -> Result<Vec<String>, String> {
        match self {
            Args::List(list) => Ok(list.iter().cloned().map(Arg::into_text).collect()),
            Args::Line(line) if line.trim_start().starts_with('[') => serde_json::from_str::<
                Vec<Arg>,
            >(line)
            .map(|list| list.into_iter().map(Arg::into_text).collect())
            .map_err(|e| {
                format!("args looks like a list but is not one ({e}); write it as a YAML list")
            }),
            Args::Line(line) => shell_words(line),
        }
    }
}

/// `line` split into words as a POSIX shell would, for quotes and
/// backslashes only (no variables, globs or operators).
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\\' => {
                let next = chars.next().ok_or("args ends with a lone backslash")?;
                word.get_or_insert_default().push(next);
            }
            '\'' => {
                let word = word.get_or_insert_default();
                loop {
                    match chars.next().ok_or("args has an unclosed ' quote")? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                let word = word.get_or_insert_default();
                loop {
                    match chars.next().ok_or("args has an unclosed \" quote")? {
                        '"' => break,
                        '\\' => match chars.next().ok_or("args has an unclosed \" quote")? {
                            escaped @ ('"' | '\\' | '$' | '`') => word.push(escaped),
                            other => {
                                word.push('\\');
                                word.push(other);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            c => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// A command-line argument: YAML may give `8080` or `true` unquoted.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Arg {
    Text(String),
    Number(serde_json::Number),
    Bool(bool),
}

impl Arg {
    fn into_text(self) -> String {
        match self {
            Arg::Text(text) => text,
            Arg::Number(n) => n.to_string(),
            Arg::Bool(b) => b.to_string(),
        }
    }
}

/// The `tools:` mapping of a server.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsConfig {
    /// Only these tools (exact names or globs); an empty list offers none.
    pub include: Option<Names>,
    /// Every tool but these; ignored when `include` is set.
    pub exclude: Option<Names>,
    // Hermes' resource and prompt utility tools, which hermod does not offer.
    resources: Option<IgnoredAny>,
    prompts: Option<IgnoredAny>,
}

/// One name or a list of them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Names {
    One(String),
    Many(Vec<String>),
}

impl Names {
    fn into_vec(self) -> Vec<String> {
        match self {
            Names::One(name) => vec![name],
            Names::Many(names) => names,
        }
    }
}

impl McpServerConfig {
    /// The Hermes keys set in this entry that hermod does not use, each
    /// with why (for the configuration's notices).
    pub fn ignored_keys(&self) -> Vec<(&'static str, &'static str)> {
        let unsupported = "a Hermes MCP setting hermod does not implement; ignored";
        let present = [
            ("ssl_verify", self.ssl_verify.is_some()),
            ("client_cert", self.client_cert.is_some()),
            ("client_key", self.client_key.is_some()),
            ("protocol", self.protocol.is_some()),
            (
                "supports_parallel_tool_calls",
                self.supports_parallel_tool_calls.is_some(),
            ),
            ("skip_preflight", self.skip_preflight.is_some()),
            ("keepalive_interval", self.keepalive_interval.is_some()),
            ("idle_timeout_seconds", self.idle_timeout_seconds.is_some()),
            ("max_lifetime_seconds", self.max_lifetime_seconds.is_some()),
            ("lifecycle", self.lifecycle.is_some()),
            ("sampling", self.sampling.is_some()),
            ("elicitation", self.elicitation.is_some()),
            ("trust", self.trust.is_some()),
            ("lazy", self.lazy.is_some()),
            ("identity_header", self.identity_header.is_some()),
        ];
        let mut keys: Vec<_> = present
            .into_iter()
            .filter(|(_, set)| *set)
            .map(|(key, _)| (key, unsupported))
            .collect();
        if self.transport.is_some() {
            keys.push((
                "transport",
                "hermod speaks streamable HTTP to every url (no SSE transport); ignored",
            ));
        }
        if self.auth.is_some() || self.oauth.is_some() {
            keys.push((
                if self.auth.is_some() { "auth" } else { "oauth" },
                "hermod does not do MCP OAuth; put a token in headers instead",
            ));
        }
        if self.tools.resources.is_some() || self.tools.prompts.is_some() {
            keys.push((
                "tools.resources/tools.prompts",
                "hermod offers a server's tools only, not resource or prompt helpers; ignored",
            ));
        }
        let url = self.url.is_some();
        if url && (!self.args.is_empty() || !self.env.is_empty() || self.cwd.is_some()) {
            keys.push(("args/env/cwd", "only for a command (stdio) server; ignored"));
        }
        if !url && !self.headers.is_empty() {
            keys.push(("headers", "only for a url (HTTP) server; ignored"));
        }
        keys
    }

    /// Checks the entry named `name` and resolves its `${VAR}` references
    /// in `env`.
    pub fn resolve(&self, name: &str, env: &EnvVars) -> Result<ServerSpec, McpError> {
        let invalid = |message: String| McpError::Config {
            server: name.to_owned(),
            message,
        };
        if name.is_empty() || crate::naming::sanitize(name).is_empty() {
            return Err(invalid(
                "a server needs a name with a letter or digit in it".into(),
            ));
        }
        let transport = match (&self.command, &self.url) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "has both command and url: a server is either a local command (stdio) or a \
                     URL (streamable HTTP); remove one"
                        .into(),
                ));
            }
            (None, None) => {
                return Err(invalid(
                    "has neither command nor url: set command (and args) for a local server, or \
                     url for a remote one"
                        .into(),
                ));
            }
            (Some(command), None) => {
                let command = interpolate(command, env);
                if command.trim().is_empty() {
                    return Err(invalid("command is empty".into()));
                }
                let args = self.args.to_list().map_err(invalid)?;
                Transport::Stdio {
                    command,
                    args: args.iter().map(|a| interpolate(a, env)).collect(),
                    env: self
                        .env
                        .iter()
                        .map(|(k, v)| (k.clone(), Secret::new(interpolate(v.expose(), env))))
                        .collect(),
                    cwd: self
                        .cwd
                        .as_ref()
                        .map(|p| PathBuf::from(interpolate(&p.to_string_lossy(), env))),
                }
            }
            (None, Some(url)) => {
                let url = interpolate(url, env);
                check_url(&url).map_err(invalid)?;
                let mut headers = Vec::new();
                for (key, value) in &self.headers {
                    let value = Secret::new(interpolate(value.expose(), env));
                    crate::transport::check_header(key, &value).map_err(invalid)?;
                    headers.push((key.clone(), value));
                }
                Transport::Http { url, headers }
            }
        };
        let seconds = |key: &str, value: Option<f64>, default: Duration| match value {
            None => Ok(default),
            Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
            Some(s) => Err(invalid(format!(
                "{key} is {s}: give a number of seconds above 0 (at most a day)"
            ))),
        };
        Ok(ServerSpec {
            name: name.to_owned(),
            transport,
            enabled: self.enabled,
            call_timeout: seconds("timeout", self.timeout, DEFAULT_CALL_TIMEOUT)?,
            connect_timeout: seconds(
                "connect_timeout",
                self.connect_timeout,
                DEFAULT_CONNECT_TIMEOUT,
            )?,
            filter: ToolFilter {
                include: self.tools.include.clone().map(Names::into_vec),
                exclude: self
                    .tools
                    .exclude
                    .clone()
                    .map(Names::into_vec)
                    .unwrap_or_default(),
            },
        })
    }
}

/// Checks every entry of `servers`; all problems at once, one per line.
pub fn resolve_all(servers: &McpServersConfig, env: &EnvVars) -> Result<Vec<ServerSpec>, McpError> {
    let mut specs = Vec::new();
    let mut problems = Vec::new();
    for (name, config) in servers {
        match config.resolve(name, env) {
            Ok(spec) => specs.push(spec),
            Err(e) => problems.push(e.to_string()),
        }
    }
    match problems.len() {
        0 => Ok(specs),
        1 => Err(McpError::Invalid(problems.remove(0))),
        _ => Err(McpError::Invalid(problems.join("\n"))),
    }
}

fn check_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
        Ok(parsed) => Err(format!(
            "url {url:?} is {}: give an http:// or https:// address",
            parsed.scheme()
        )),
        Err(e) => Err(format!(
            "url {url:?} is not a URL ({e}): give an http:// or https:// address"
        )),
    }
}

/// `${VAR}` and `${env:VAR}` replaced by the variable's value; an unset
/// variable is left as written (Hermes does the same).
fn interpolate(text: &str, env: &EnvVars) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let reference = &after[..end];
        let name = reference
            .trim()
            .strip_prefix("env:")
            .unwrap_or(reference.trim())
            .trim();
        match env.get(name) {
            Some(value) => out.push_str(value),
            None => {
                tracing::warn!(target: "hermod::mcp", variable = name, "an MCP server setting names an unset variable; it is left as written");
                out.push_str(&rest[start..start + 2 + end + 1]);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A checked server entry.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// The name in `mcp_servers:`.
    pub name: String,
    pub transport: Transport,
    /// Off: listed, never connected.
    pub enabled: bool,
    pub call_timeout: Duration,
    pub connect_timeout: Duration,
    pub filter: ToolFilter,
}

/// How hermod reaches a server.
#[derive(Clone)]
pub enum Transport {
    /// A child process spoken to over its stdin and stdout.
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, Secret>,
        cwd: Option<PathBuf>,
    },
    /// A streamable HTTP endpoint.
    Http {
        url: String,
        headers: Vec<(String, Secret)>,
    },
}

/// Without the URL's query and credentials, which may hold a token.
impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", args)
                .field("env", env)
                .field("cwd", cwd)
                .finish(),
            Transport::Http { url, headers } => f
                .debug_struct("Http")
                .field("url", &shown_url(url))
                .field("headers", headers)
                .finish(),
        }
    }
}

/// `url` as logs and listings may show it: no user, password, query or
/// fragment.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let hidden = !parsed.username().is_empty()
                || parsed.password().is_some()
                || parsed.query().is_some();
            // Only fails for URLs that cannot have credentials.
            let _user = parsed.set_username("");
            let _password = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            let mut shown = parsed.to_string();
            if hidden {
                shown.push_str(" (credentials and query hidden)");
            }
            shown
        }
        Err(_) => "<not a URL>".to_owned(),
    }
}

impl Transport {
    /// `stdio` or `http`, as listings show it.
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Stdio { .. } => "stdio",
            Transport::Http { .. } => "http",
        }
    }
}

/// Which of a server's tools are offered, by their own names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolFilter {
    /// Set: only tools matching one of these.
    pub include: Option<Vec<String>>,
    /// Tools matching one of these are left out (without `include`).
    pub exclude: Vec<String>,
}

impl ToolFilter {
    /// Whether the server's tool `name` is offered.
    pub fn allows(&self, name: &str) -> bool {
        match &self.include {
            Some(include) => include.iter().any(|p| glob_match(p, name)),
            None => !self.exclude.iter().any(|p| glob_match(p, name)),
        }
    }
}

/// `*` (any run) and `?` (one character) globs, case-sensitive, as Hermes'
/// `fnmatchcase`; `[...]` classes are taken literally.
fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn parse(yaml_as_json: serde_json::Value) -> McpServersConfig {
        serde_json::from_value(yaml_as_json).unwrap()
    }

    fn env() -> EnvVars {
        [("TOKEN", "s3cret"), ("HOME", "/home/u")]
            .into_iter()
            .collect()
    }

    #[test]
    fn hermes_entries_load_with_their_defaults() {
        let servers = parse(serde_json::json!({
            "files": {"command": "npx", "args": ["-y", "server-files", 8080, true],
                      "env": {"API_KEY": "${TOKEN}", "PORT": 8080}, "cwd": "${HOME}/work"},
            "remote": {"url": "https://mcp.example.com/mcp",
                       "headers": {"Authorization": "Bearer ${env:TOKEN}"},
                       "timeout": 120, "connect_timeout": 5.5, "enabled": false,
                       "tools": {"include": "get_*", "resources": false},
                       "ssl_verify": false, "auth": "oauth"},
        }));
        let specs = resolve_all(&servers, &env()).unwrap();
        let files = &specs[0];
        assert_eq!(files.name, "files");
        assert!(files.enabled);
        assert_eq!(files.call_timeout, DEFAULT_CALL_TIMEOUT);
        assert_eq!(files.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        let Transport::Stdio {
            command,
            args,
            env,
            cwd,
        } = &files.transport
        else {
            panic!("stdio expected");
        };
        assert_eq!(command, "npx");
        assert_eq!(args, &["-y", "server-files", "8080", "true"]);
        assert_eq!(env["API_KEY"].expose(), "s3cret");
        assert_eq!(env["PORT"].expose(), "8080");
        assert_eq!(cwd.as_deref(), Some(std::path::Path::new("/home/u/work")));

        let remote = &specs[1];
        assert!(!remote.enabled);
        assert_eq!(remote.call_timeout, Duration::from_secs(120));
        assert_eq!(remote.connect_timeout, Duration::from_millis(5500));
        assert_eq!(remote.filter.include, Some(vec!["get_*".to_owned()]));
        let Transport::Http { url, headers } = &remote.transport else {
            panic!("http expected");
        };
        assert_eq!(url, "https://mcp.example.com/mcp");
        assert_eq!(headers[0].1.expose(), "Bearer s3cret");
        let ignored: Vec<&str> = servers["remote"]
            .ignored_keys()
            .iter()
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(
            ignored,
            ["ssl_verify", "auth", "tools.resources/tools.prompts"]
        );
        assert!(servers["files"].ignored_keys().is_empty());
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let servers = parse(serde_json::json!({
            "remote": {"url": "https://x.example/mcp?key=${TOKEN}", "headers": {"Authorization": "Bearer ${TOKEN}"}},
            "local": {"command": "srv", "env": {"API_KEY": "${TOKEN}"}},
        }));
        let specs = resolve_all(&servers, &env()).unwrap();
        assert_eq!(
            shown_url("https://u:p@x.example/mcp?key=s3cret#f"),
            "https://x.example/mcp (credentials and query hidden)"
        );
        assert_eq!(shown_url("http://x.example/mcp"), "http://x.example/mcp");
        for shown in [format!("{servers:?}"), format!("{specs:?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(
                shown.contains("Authorization") && shown.contains("API_KEY"),
                "{shown}"
            );
        }
    }

    #[test]
    fn mistakes_are_named_all_at_once() {
        let servers = parse(serde_json::json!({
            "both": {"command": "a", "url": "http://x"},
            "neither": {"args": ["x"]},
            "ftp": {"url": "ftp://x"},
            "slow": {"command": "a", "timeout": 0},
            "badheader": {"url": "http://x", "headers": {"Accept": "x"}},
        }));
        let err = resolve_all(&servers, &env()).unwrap_err().to_string();
        for needle in [
            "both command and url",
            "neither command nor url",
            "http:// or https://",
            "timeout is 0",
            "Accept",
        ] {
            assert!(err.contains(needle), "{needle} missing from {err}");
        }
        let unknown = serde_json::from_value::<McpServersConfig>(
            serde_json::json!({"x": {"command": "a", "comand": "b"}}),
        );
        assert!(unknown.unwrap_err().to_string().contains("comand"));
    }

    #[test]
    fn args_may_be_one_line_as_hermes_allows() {
        let line = |text: &str| Args::Line(text.into()).to_list();
        assert_eq!(
            line(r#"-y 'pkg with spaces' "a \"b\"" c\ d  e"#).unwrap(),
            ["-y", "pkg with spaces", "a \"b\"", "c d", "e"]
        );
        assert_eq!(line(r#"["-y", "pkg", 3]"#).unwrap(), ["-y", "pkg", "3"]);
        assert_eq!(line("''").unwrap(), [""]);
        assert!(line("'open").unwrap_err().contains("unclosed"));
        assert!(line("[not json").unwrap_err().contains("YAML list"));
        let servers = parse(serde_json::json!({"s": {"command": "npx", "args": "-y server"}}));
        let Transport::Stdio { args, .. } = &resolve_all(&servers, &env()).unwrap()[0].transport
        else {
            panic!("stdio expected");
        };
        assert_eq!(args, &["-y", "server"]);
    }

    #[test]
    fn unset_variables_stay_as_written() {
        assert_eq!(
            interpolate("a ${NOPE} b ${TOKEN}", &env()),
            "a ${NOPE} b s3cret"
        );
        assert_eq!(interpolate("open ${", &env()), "open ${");
        assert_eq!(interpolate("${ env:TOKEN }", &env()), "s3cret");
    }

    #[test]
    fn include_wins_and_globs_match_whole_names() {
        let filter = ToolFilter {
            include: Some(vec!["create_issue".into(), "get_*".into()]),
            exclude: vec!["create_issue".into()],
        };
        assert!(filter.allows("create_issue") && filter.allows("get_zone"));
        assert!(!filter.allows("delete_issue") && !filter.allows("xget_zone"));
        let none = ToolFilter {
            include: Some(vec![]),
            exclude: vec![],
        };
        assert!(!none.allows("anything"));
        let exclude = ToolFilter {
            include: None,
            exclude: vec!["del?te_*".into()],
        };
        assert!(!exclude.allows("delete_all") && exclude.allows("create"));
        assert!(glob_match("*", "") && glob_match("a*b*c", "aXbYbc") && !glob_match("a*b", "ab_"));
    }
}
