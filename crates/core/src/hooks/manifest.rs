//! Loading hooks: `HERMOD_HOME/hooks/<name>/HOOK.yaml`, one directory per
//! hook, read in sorted directory order (Hermes' layout).
//!
//! A hook names the events it wants and either an executable to run
//! (`run:`, relative to its directory, in any language) or a URL to POST
//! the event to (`url:`, signed with `secret:` or `secret_env:`). A
//! directory whose `HOOK.yaml` is malformed, or whose handler is missing,
//! is reported as a [`Problem`] and skipped; it never stops the gateway.

use hermod_model::{EnvVars, Secret};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a hook may run (or a URL hook's request take) unless its
/// `HOOK.yaml` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `timeout_secs` accepted: a decision hook holds its session
/// up for this long.
const MAX_TIMEOUT_SECS: u64 = 300;

/// One loaded hook.
#[derive(Debug, Clone)]
pub struct Hook {
    /// Its `name:` (the directory's name when it has none).
    pub name: String,
    pub description: String,
    /// The hook's directory (a `run:` handler runs in it).
    pub dir: PathBuf,
    /// The event patterns it listens to: `session:start`, `agent:*`, ...
    pub events: Vec<String>,
    pub handler: Handler,
    /// How long one run (or one URL request) may take.
    pub timeout: Duration,
}

/// What a hook does with an event.
#[derive(Debug, Clone)]
pub enum Handler {
    /// An executable: the event as JSON on stdin, a decision on stdout.
    Run(PathBuf),
    /// An outbound webhook: the event POSTed, signed Standard Webhooks
    /// style. Never asked for decisions.
    Url { url: String, secret: Secret },
}

impl std::fmt::Display for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handler::Run(path) => write!(f, "run {}", path.display()),
            // Only the origin: a URL's path or query may carry a token.
            Handler::Url { url, .. } => write!(f, "POST {}", origin(url)),
        }
    }
}

/// `scheme://host[:port]` of a URL, without its path and query.
pub(crate) fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    // Credentials in the authority (`user:pass@host`) stay hidden too.
    match url[after_scheme..end].rfind('@') {
        Some(_) => &url[..after_scheme],
        None => &url[..end],
    }
}

/// Something wrong with a hook directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The `HOOK.yaml` (or directory) at fault.
    pub path: PathBuf,
    pub message: String,
    /// The hook was not loaded (otherwise it was, and this is a caveat).
    pub skipped: bool,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.skipped { "skipped" } else { "note" };
        write!(f, "{}: {} ({what})", self.path.display(), self.message)
    }
}

/// `HOOK.yaml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    name: Option<String>,
    #[serde(default)]
    description: String,
    events: Vec<String>,
    run: Option<String>,
    url: Option<String>,
    secret: Option<Secret>,
    secret_env: Option<String>,
    timeout_secs: Option<u64>,
}

/// The hooks under `dir` (`HERMOD_HOME/hooks`) and what is wrong with the
/// others. A missing directory holds no hooks.
pub(crate) fn load_dir(dir: &Path, env: &EnvVars) -> (Vec<Hook>, Vec<Problem>) {
    let mut hooks = Vec::new();
    let mut problems = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (hooks, problems),
        Err(e) => {
            problems.push(Problem {
                path: dir.to_owned(),
                message: format!("cannot read the hooks directory: {e}"),
                skipped: true,
            });
            return (hooks, problems);
        }
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for hook_dir in dirs {
        let path = hook_dir.join("HOOK.yaml");
        match load_one(&hook_dir, &path, env) {
            Ok((hook, notes)) => {
                problems.extend(notes.into_iter().map(|message| Problem {
                    path: path.clone(),
                    message,
                    skipped: false,
                }));
                hooks.push(hook);
            }
            Err(message) => problems.push(Problem {
                path,
                message,
                skipped: true,
            }),
        }
    }
    (hooks, problems)
}

/// One hook directory: the hook and caveats about it, or why it is skipped.
fn load_one(dir: &Path, path: &Path, env: &EnvVars) -> Result<(Hook, Vec<String>), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("no HOOK.yaml in the hook's directory".to_owned());
        }
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    let manifest: Manifest =
        serde_saphyr::from_str(&text).map_err(|e| format!("not a valid HOOK.yaml: {e}"))?;
    let name = manifest
        .name
        .clone()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    if manifest.events.is_empty() {
        return Err(
            "`events` lists no event; name at least one (such as `command:new` or `agent:*`)"
                .to_owned(),
        );
    }
    let mut events = Vec::new();
    for event in &manifest.events {
        events.push(check_pattern(event)?);
    }
    let timeout = match manifest.timeout_secs {
        None => DEFAULT_TIMEOUT,
        Some(secs @ 1..=MAX_TIMEOUT_SECS) => Duration::from_secs(secs),
        Some(secs) => {
            return Err(format!(
                "`timeout_secs: {secs}` is out of range (1 to {MAX_TIMEOUT_SECS})"
            ));
        }
    };
    let mut notes = Vec::new();
    let handler = match (&manifest.run, &manifest.url) {
        (Some(_), Some(_)) => {
            return Err("give either `run` (an executable) or `url`, not both".to_owned());
        }
        (None, None) => {
            return Err(
                "no handler: add `run: ./handler` (an executable in the hook's directory) or `url: https://...`"
                    .to_owned(),
            );
        }
        (Some(run), None) => {
            if manifest.secret.is_some() || manifest.secret_env.is_some() {
                return Err("`secret` and `secret_env` are for `url` hooks".to_owned());
            }
            Handler::Run(executable(dir, run)?)
        }
        (None, Some(url)) => {
            if events.iter().any(|e| e.starts_with("command:")) {
                notes.push(
                    "a url hook cannot decide commands; it is not sent `command:*` events"
                        .to_owned(),
                );
            }
            url_handler(url, &manifest, env)?
        }
    };
    Ok((
        Hook {
            name,
            description: manifest.description.trim().to_owned(),
            dir: dir.to_owned(),
            events,
            handler,
            timeout,
        },
        notes,
    ))
}

/// An event pattern: `base:name` or `base:*`.
fn check_pattern(event: &str) -> Result<String, String> {
    let event = event.trim();
    let valid = event.split_once(':').is_some_and(|(base, rest)| {
        !base.is_empty()
            && !rest.is_empty()
            && !base.contains('*')
            && (rest == "*" || !rest.contains('*'))
            && !event.contains(char::is_whitespace)
    });
    if valid {
        Ok(event.to_owned())
    } else {
        Err(format!(
            "event {event:?} is not `<base>:<name>` or `<base>:*` (such as `agent:start`, `command:*`)"
        ))
    }
}

/// The `run:` path, resolved against the hook's directory, which must be an
/// executable file.
fn executable(dir: &Path, run: &str) -> Result<PathBuf, String> {
    let run = run.trim();
    if run.is_empty() {
        return Err("`run` is empty".to_owned());
    }
    // `./handler` is shown and run as `<dir>/handler`.
    let relative: PathBuf = Path::new(run)
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    let path = dir.join(relative);
    let meta = std::fs::metadata(&path)
        .map_err(|e| format!("the handler {} cannot be used: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("the handler {} is not a file", path.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(format!(
                "the handler {} is not executable (chmod +x it)",
                path.display()
            ));
        }
    }
    Ok(path)
}

fn url_handler(url: &str, manifest: &Manifest, env: &EnvVars) -> Result<Handler, String> {
    let url = url.trim();
    if !(url.starts_with("https://") || url.starts_with("http://")) || origin(url).ends_with("://")
    {
        return Err(
            "`url` must be an http:// or https:// URL with a host (and no `user:password@`)"
                .to_owned(),
        );
    }
    let secret = match (&manifest.secret, &manifest.secret_env) {
        (Some(_), Some(_)) => {
            return Err("give either `secret` or `secret_env`, not both".to_owned());
        }
        (Some(secret), None) => secret.clone(),
        (None, Some(name)) => match env.get(name.trim()) {
            Some(value) if !value.is_empty() => Secret::new(value),
            _ => {
                return Err(format!(
                    "`secret_env: {}` names a variable that is not set (in the environment or .env)",
                    name.trim()
                ));
            }
        },
        (None, None) => {
            return Err(
                "a url hook needs `secret` or `secret_env`: its POSTs are signed with it"
                    .to_owned(),
            );
        }
    };
    if secret.is_empty() {
        return Err("the secret is empty".to_owned());
    }
    Ok(Handler::Url {
        url: url.to_owned(),
        secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, yaml: &str) -> PathBuf {
        let hook = dir.join(name);
        std::fs::create_dir_all(&hook).unwrap();
        std::fs::write(hook.join("HOOK.yaml"), yaml).unwrap();
        hook
    }

    fn script(dir: &Path, name: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn good_hooks_load_in_directory_order_with_their_handlers() {
        let home = tempfile::tempdir().unwrap();
        let b = write(
            home.path(),
            "b-audit",
            "name: audit\ndescription: logs\nevents: [\"agent:*\", session:start]\nrun: ./handler\ntimeout_secs: 3\n",
        );
        script(&b, "handler");
        write(
            home.path(),
            "a-post",
            "events: [delivery:sent]\nurl: https://example.com/hook?token=t\nsecret: whsec_abc\n",
        );
        let (hooks, problems) = load_dir(home.path(), &EnvVars::new());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(hooks.len(), 2);
        assert_eq!(
            hooks[0].name, "a-post",
            "the directory's name when none is given"
        );
        assert_eq!(hooks[0].timeout, DEFAULT_TIMEOUT);
        assert_eq!(hooks[0].handler.to_string(), "POST https://example.com");
        assert_eq!(hooks[1].name, "audit");
        assert_eq!(hooks[1].description, "logs");
        assert_eq!(hooks[1].events, ["agent:*", "session:start"]);
        assert_eq!(hooks[1].timeout, Duration::from_secs(3));
        assert!(matches!(&hooks[1].handler, Handler::Run(p) if p == &b.join("handler")));
    }

    #[test]
    fn malformed_hooks_are_reported_with_their_path_and_skipped() {
        let home = tempfile::tempdir().unwrap();
        let cases = [
            (
                "bad-yaml",
                "events: [agent:start\nrun: ./x\n",
                "not a valid HOOK.yaml",
            ),
            ("no-events", "name: x\nrun: ./handler\n", "events"),
            (
                "empty-events",
                "events: []\nrun: ./handler\n",
                "lists no event",
            ),
            (
                "bad-event",
                "events: [agent]\nrun: ./handler\n",
                "\"agent\" is not",
            ),
            (
                "unknown-key",
                "events: [agent:start]\nrun: ./handler\nhandler: x\n",
                "handler",
            ),
            (
                "missing-handler",
                "events: [agent:start]\nrun: ./nope\n",
                "nope cannot be used",
            ),
            (
                "not-executable",
                "events: [agent:start]\nrun: ./plain\n",
                "not executable",
            ),
            (
                "both",
                "events: [a:b]\nrun: ./handler\nurl: https://x.test/\nsecret: s\n",
                "not both",
            ),
            ("neither", "events: [a:b]\n", "no handler"),
            (
                "unsigned",
                "events: [a:b]\nurl: https://x.test/\n",
                "needs `secret`",
            ),
            (
                "unset-env",
                "events: [a:b]\nurl: https://x.test/\nsecret_env: NOPE_UNSET\n",
                "NOPE_UNSET",
            ),
            (
                "ftp",
                "events: [a:b]\nurl: ftp://x.test/\nsecret: s\n",
                "http",
            ),
            (
                "slow",
                "events: [a:b]\nrun: ./handler\ntimeout_secs: 0\n",
                "out of range",
            ),
        ];
        for (name, yaml, _) in cases {
            let dir = write(home.path(), name, yaml);
            script(&dir, "handler");
            std::fs::write(dir.join("plain"), "#!/bin/sh\n").unwrap();
        }
        std::fs::create_dir(home.path().join("no-yaml")).unwrap();
        let (hooks, problems) = load_dir(home.path(), &EnvVars::new());
        assert!(hooks.is_empty(), "{hooks:?}");
        for (name, _, expected) in cases {
            let problem = problems
                .iter()
                .find(|p| p.path == home.path().join(name).join("HOOK.yaml"))
                .unwrap_or_else(|| panic!("{name}: no problem in {problems:?}"));
            assert!(problem.skipped);
            assert!(
                problem.message.contains(expected),
                "{name}: {}",
                problem.message
            );
        }
        assert!(problems.iter().any(|p| p.message.contains("no HOOK.yaml")));
        assert_eq!(problems.len(), cases.len() + 1);
    }

    #[test]
    fn a_secret_comes_from_the_environment_and_a_url_hook_never_decides() {
        let home = tempfile::tempdir().unwrap();
        write(
            home.path(),
            "post",
            "events: [\"command:*\", agent:end]\nurl: http://127.0.0.1:9/x\nsecret_env: HOOK_SECRET\n",
        );
        let mut env = EnvVars::new();
        env.set("HOOK_SECRET", "s3cret");
        let (hooks, problems) = load_dir(home.path(), &env);
        assert!(
            matches!(&hooks[0].handler, Handler::Url { secret, .. } if secret.expose() == "s3cret")
        );
        assert_eq!(problems.len(), 1);
        assert!(!problems[0].skipped);
        assert!(problems[0].message.contains("cannot decide commands"));
        assert!(!format!("{:?}", hooks[0]).contains("s3cret"));
    }

    #[test]
    fn a_missing_hooks_directory_holds_no_hooks() {
        let home = tempfile::tempdir().unwrap();
        let (hooks, problems) = load_dir(&home.path().join("hooks"), &EnvVars::new());
        assert!(hooks.is_empty() && problems.is_empty());
    }

    #[test]
    fn origins_hide_paths_queries_and_credentials() {
        assert_eq!(origin("https://h.test:8443/a/b?t=1"), "https://h.test:8443");
        assert_eq!(origin("http://h.test?x"), "http://h.test");
        assert_eq!(origin("https://user:pw@h.test/x"), "https://");
    }
}
