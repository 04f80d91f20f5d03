//! `terminal`: a shell command run in the workspace, bounded in time and
//! output, in a clean environment, asking the user first when the command
//! looks dangerous ([`danger`]).

pub(crate) mod danger;
mod glob;
#[cfg(unix)]
mod process;

use crate::config::{TerminalConfig, positive};
use crate::{ToolsError, Workspace};
use danger::Dangers;
use hermod_agent::{Tool, ToolContext};
#[cfg(unix)]
use process::{Ended, Spec};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// Characters of the command shown in an approval request.
const APPROVAL_PREVIEW_CHARS: usize = 1000;

impl TerminalConfig {
    /// The `terminal` tool, running commands in `workspace`. The clean
    /// environment is taken from the gateway's now: `PATH`, `HOME` and
    /// `LANG`, the `env_passthrough` names, then `env`.
    pub fn build(&self, workspace: &Workspace) -> Result<Terminal, ToolsError> {
        // A maximum below the default lowers the default.
        let max_timeout = positive("terminal.max_timeout", self.max_timeout)?;
        let timeout = positive("terminal.timeout", self.timeout)?.min(max_timeout);
        let max_output_chars = positive("terminal.max_output_chars", self.max_output_chars as u64)?;
        let mut roots = vec![workspace.canonical()];
        if workspace.dir().is_absolute() {
            roots.push(workspace.dir());
        }
        let dangers = Dangers::new(
            &self.dangerous_patterns,
            self.replace_default_patterns,
            &roots,
        )?;
        let description = format!(
            "Run a shell command (sh -c) in the workspace directory ({}) and get its output \
             (stdout and stderr together; the start and end of long output) and exit code. \
             Commands stop after {timeout} s unless you ask for another `timeout` (at most \
             {max_timeout} s); every process a command starts is stopped when it ends, so start \
             no servers in the background. There is no input (stdin is empty) and no terminal: \
             use non-interactive flags. The environment is minimal (PATH, HOME, LANG). Commands \
             that look dangerous (recursive deletes, sudo, force pushes, writes outside the \
             workspace, curl | sh, …) wait for the user's approval.",
            workspace.dir().display()
        );
        Ok(Terminal {
            workspace: workspace.clone(),
            timeout: Duration::from_secs(timeout),
            max_timeout: Duration::from_secs(max_timeout),
            max_output_chars: usize::try_from(max_output_chars).unwrap_or(usize::MAX),
            env: clean_env(self, |name| std::env::var(name).ok()),
            dangers,
            description,
        })
    }
}

/// The environment every command gets: nothing of the gateway's but
/// `PATH`, `HOME`, `LANG` and the names the config passes through.
fn clean_env(
    config: &TerminalConfig,
    gateway: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let mut env = std::collections::BTreeMap::new();
    env.insert(
        "PATH".to_owned(),
        gateway("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_owned()),
    );
    if let Some(home) = gateway("HOME") {
        env.insert("HOME".to_owned(), home);
    }
    env.insert(
        "LANG".to_owned(),
        gateway("LANG").unwrap_or_else(|| "C.UTF-8".to_owned()),
    );
    env.insert("TERM".to_owned(), "dumb".to_owned());
    for name in &config.env_passthrough {
        if let Some(value) = gateway(name) {
            env.insert(name.clone(), value);
        }
    }
    for (name, value) in &config.env {
        env.insert(name.clone(), value.clone());
    }
    env.into_iter().collect()
}

/// The `terminal` tool.
#[derive(Debug, Clone)]
pub struct Terminal {
    workspace: Workspace,
    timeout: Duration,
    max_timeout: Duration,
    max_output_chars: usize,
    /// Values may be secrets the operator passed on purpose; never logged.
    env: Vec<(String, String)>,
    dangers: Dangers,
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    command: String,
    #[serde(default)]
    timeout: Option<u64>,
    #[serde(default)]
    workdir: Option<String>,
}

impl Terminal {
    /// What is dangerous about `command` run in the workspace, by the
    /// descriptions of the patterns it matches; empty when nothing is.
    pub fn dangers(&self, command: &str) -> Vec<String> {
        self.dangers.check(command, self.workspace.canonical())
    }

    fn cwd(&self, workdir: Option<&str>) -> Result<PathBuf, String> {
        let Some(workdir) = workdir.filter(|w| !w.trim().is_empty()) else {
            return Ok(self.workspace.canonical().to_owned());
        };
        let dir = self.workspace.existing(workdir)?;
        if !dir.is_dir() {
            return Err(format!("{workdir} is not a directory"));
        }
        Ok(dir)
    }
}

#[async_trait::async_trait]
impl Tool for Terminal {
    fn name(&self) -> &str {
        "terminal"
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The shell command, run with sh -c."},
                "timeout": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_timeout.as_secs(),
                    "description": format!("Seconds before the command is stopped. Default {}.", self.timeout.as_secs()),
                },
                "workdir": {"type": "string", "description": "A directory inside the workspace to run in, relative to it. Default: the workspace."},
            },
            "required": ["command"],
            "additionalProperties": false,
        })
    }

    async fn call(&self, arguments: Value, ctx: ToolContext) -> Result<String, String> {
        let args: Args =
            serde_json::from_value(arguments).map_err(|err| format!("invalid arguments: {err}"))?;
        if args.command.trim().is_empty() {
            return Err("the command is empty".to_owned());
        }
        let cwd = self.cwd(args.workdir.as_deref())?;
        let dangers = self.dangers.check(&args.command, &cwd);
        if !dangers.is_empty() {
            let reasons = dangers.join("; ");
            let command = crate::text::first_chars(&args.command, APPROVAL_PREVIEW_CHARS);
            tracing::debug!(%reasons, "terminal command needs approval");
            ctx.request_approval(format!("run a dangerous command ({reasons}):\n{command}"))
                .await
                .into_result()
                .map_err(|denied| format!("{denied}; the command was not run ({reasons})"))?;
        }
        let mut notes = Vec::new();
        let timeout = match args.timeout {
            None | Some(0) => self.timeout,
            Some(asked) if Duration::from_secs(asked) > self.max_timeout => {
                notes.push(format!(
                    "[the timeout was limited to {} s, the most allowed]",
                    self.max_timeout.as_secs()
                ));
                self.max_timeout
            }
            Some(asked) => Duration::from_secs(asked),
        };
        self.execute(&args.command, &cwd, timeout, notes, &ctx.cancel)
            .await
    }
}

impl Terminal {
    /// Runs an approved command and words the result.
    #[cfg(unix)]
    async fn execute(
        &self,
        command: &str,
        cwd: &std::path::Path,
        timeout: Duration,
        mut notes: Vec<String>,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<String, String> {
        let spec = Spec {
            command,
            cwd,
            env: &self.env,
            timeout,
            max_chars: self.max_output_chars,
        };
        let (ended, output) = process::run(&spec, cancel)
            .await
            .map_err(|err| format!("cannot start the command: {err}"))?;
        let output = if output.is_empty() {
            "(no output)".to_owned()
        } else {
            output.trim_end_matches('\n').to_owned()
        };
        tracing::debug!(
            ?ended,
            output_chars = output.chars().count(),
            "terminal command ended"
        );
        notes.push(match ended {
            Ended::Exited(status) => format!("[{}]", process::describe_exit(status)),
            Ended::TimedOut => format!(
                "[timed out after {} s: the command and everything it started were stopped; ask for a longer timeout or run less at once]",
                timeout.as_secs()
            ),
            Ended::Cancelled => {
                "[the turn was interrupted: the command and everything it started were stopped]"
                    .to_owned()
            }
        });
        let result = format!("{output}\n{}", notes.join("\n"));
        match ended {
            Ended::Exited(_) => Ok(result),
            Ended::TimedOut | Ended::Cancelled => Err(result),
        }
    }

    /// Process groups, which stopping a command and all it started
    /// needs, are a Unix notion.
    #[cfg(not(unix))]
    async fn execute(
        &self,
        _command: &str,
        _cwd: &std::path::Path,
        _timeout: Duration,
        _notes: Vec<String>,
        _cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<String, String> {
        Err("the terminal tool runs only on Unix systems".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_clean() {
        let config = TerminalConfig {
            env: [
                ("EXTRA".to_owned(), "1".to_owned()),
                ("LANG".to_owned(), "C".to_owned()),
            ]
            .into(),
            env_passthrough: vec!["GOPATH".to_owned(), "MISSING".to_owned()],
            ..TerminalConfig::default()
        };
        let gateway = |name: &str| match name {
            "PATH" => Some("/bin".to_owned()),
            "HOME" => Some("/home/h".to_owned()),
            "GOPATH" => Some("/go".to_owned()),
            "BOT_TOKEN" => Some("secret".to_owned()),
            _ => None,
        };
        let env = clean_env(&config, gateway);
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["EXTRA", "GOPATH", "HOME", "LANG", "PATH", "TERM"]);
        assert!(
            env.contains(&("LANG".to_owned(), "C".to_owned())),
            "env: overrides"
        );
        assert!(env.contains(&("TERM".to_owned(), "dumb".to_owned())));
    }
}
