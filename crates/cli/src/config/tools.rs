//! The agent's tools and what they may do: `toolsets:` (Hermes' key: which
//! tool groups the model gets), `terminal:`, `web_fetch:`, `files:`,
//! `memory:`, `approvals:` and `mcp_servers:` (Hermes' layout).
//!
//! Safe toolsets are on by default (`web`, `memory`, `session_search`,
//! `messaging`, `cronjob`); `terminal` and `file` act on the machine and
//! must be named. Hermes' presets (`hermes-cli`, `hermes-gateway`, ...)
//! stand for the defaults; names hermod has no tools for are noted, not
//! refused.

use super::Notice;
use hermod_core::MemoryLimits;
use hermod_model::EnvVars;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A group of tools enabled together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Toolset {
    /// `web_fetch`.
    Web,
    /// `terminal`: shell commands in the workspace.
    Terminal,
    /// `read_file` and `write_file` in the workspace.
    File,
    /// `memory`: notes per user.
    Memory,
    /// `session_search`: the user's own past sessions.
    SessionSearch,
    /// `send_message`: to this chat or a home channel.
    Messaging,
    /// `cronjob`: scheduled jobs.
    Cronjob,
}

impl Toolset {
    pub const ALL: [Toolset; 7] = [
        Toolset::Web,
        Toolset::Terminal,
        Toolset::File,
        Toolset::Memory,
        Toolset::SessionSearch,
        Toolset::Messaging,
        Toolset::Cronjob,
    ];

    /// On unless the configuration says otherwise.
    pub const SAFE: [Toolset; 5] = [
        Toolset::Web,
        Toolset::Memory,
        Toolset::SessionSearch,
        Toolset::Messaging,
        Toolset::Cronjob,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Toolset::Web => "web",
            Toolset::Terminal => "terminal",
            Toolset::File => "file",
            Toolset::Memory => "memory",
            Toolset::SessionSearch => "session_search",
            Toolset::Messaging => "messaging",
            Toolset::Cronjob => "cronjob",
        }
    }

    /// The tools the set gives the model.
    pub fn tools(self) -> &'static [&'static str] {
        match self {
            Toolset::Web => &["web_fetch"],
            Toolset::Terminal => &["terminal"],
            Toolset::File => &["read_file", "write_file"],
            Toolset::Memory => &["memory"],
            Toolset::SessionSearch => &["session_search"],
            Toolset::Messaging => &["send_message"],
            Toolset::Cronjob => &["cronjob"],
        }
    }

    fn parse(name: &str) -> Option<Toolset> {
        let name = name.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .or(match name.as_str() {
                "files" => Some(Toolset::File),
                "send_message" => Some(Toolset::Messaging),
                "web_fetch" => Some(Toolset::Web),
                _ => None,
            })
    }
}

/// `memory:` as written: hermod's limits, and Hermes' names for them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemorySection {
    /// Hermes' switch for its memory tool; false takes `memory` out of the
    /// toolsets.
    pub memory_enabled: bool,
    /// Characters of all of a user's notes together (Hermes' key).
    #[serde(alias = "char_limit")]
    pub memory_char_limit: usize,
    /// Characters of one note.
    pub entry_char_limit: usize,
    /// Notes per user.
    pub max_entries: usize,
}

impl Default for MemorySection {
    fn default() -> Self {
        let limits = MemoryLimits::default();
        Self {
            memory_enabled: true,
            memory_char_limit: limits.char_limit,
            entry_char_limit: limits.entry_char_limit,
            max_entries: limits.max_entries,
        }
    }
}

/// `approvals:` as written (Hermes' section, with hermod's `require`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsSection {
    /// Seconds a request waits for `/approve` or `/deny` before it is
    /// denied (Hermes' key).
    pub timeout: u64,
    /// Tools that ask before every call, whatever they do (for example
    /// `write_file`, or an MCP tool `mcp__<server>__<tool>`).
    pub require: Vec<String>,
}

impl Default for ApprovalsSection {
    fn default() -> Self {
        Self {
            timeout: 60,
            require: Vec::new(),
        }
    }
}

/// What the tool sections resolve to.
#[derive(Debug)]
pub struct Tools {
    /// The enabled toolsets, in [`Toolset::ALL`] order.
    pub toolsets: Vec<Toolset>,
    pub terminal: hermod_tools::TerminalConfig,
    pub web_fetch: hermod_tools::WebFetchConfig,
    pub files: hermod_tools::FilesConfig,
    /// The directory `terminal` and the file tools work in.
    pub workspace: PathBuf,
    pub memory: MemoryLimits,
    pub approval_timeout: Duration,
    pub require_approval: Vec<String>,
    /// The MCP servers, checked and with `${VAR}`s resolved.
    pub mcp: Vec<hermod_mcp::ServerSpec>,
}

/// The sections [`Tools::resolve`] reads.
#[derive(Debug)]
pub struct Sections {
    pub toolsets: Option<Vec<String>>,
    pub disabled_toolsets: Vec<String>,
    pub terminal: hermod_tools::TerminalConfig,
    pub web_fetch: hermod_tools::WebFetchConfig,
    pub files: hermod_tools::FilesConfig,
    pub memory: MemorySection,
    pub approvals: ApprovalsSection,
    pub mcp_servers: hermod_mcp::McpServersConfig,
}

impl Tools {
    /// Resolves the sections under `home`, with `${VAR}`s in the MCP
    /// servers' settings from `env`; toolset names hermod does not have and
    /// Hermes-only MCP settings become notices, invalid servers problems.
    pub fn resolve(
        sections: Sections,
        home: &Path,
        env: &EnvVars,
        notices: &mut Vec<Notice>,
        problems: &mut Vec<String>,
    ) -> Self {
        let mut toolsets: Vec<Toolset> = match &sections.toolsets {
            None => Toolset::SAFE.to_vec(),
            Some(names) => {
                let mut chosen = Vec::new();
                for name in names {
                    if name.trim().to_ascii_lowercase().starts_with("hermes-") {
                        // Hermes' presets: everything it offers a chat,
                        // which here is the safe defaults.
                        chosen.extend(Toolset::SAFE);
                    } else if let Some(toolset) = Toolset::parse(name) {
                        chosen.push(toolset);
                    } else {
                        notices.push(unknown_toolset("toolsets", name));
                    }
                }
                chosen
            }
        };
        for name in &sections.disabled_toolsets {
            match Toolset::parse(name) {
                Some(off) => toolsets.retain(|t| *t != off),
                None => notices.push(unknown_toolset("agent.disabled_toolsets", name)),
            }
        }
        if !sections.memory.memory_enabled {
            toolsets.retain(|t| *t != Toolset::Memory);
        }
        toolsets.sort();
        toolsets.dedup();
        // Relative directories (Hermes' default is `.`) are inside the
        // workspace directory of the home, never the home itself, which
        // holds the database and the keys.
        let default_workspace = home.join("workspace");
        let workspace = match &sections.terminal.cwd {
            Some(dir) if dir.is_absolute() => dir.clone(),
            Some(dir) => default_workspace.join(dir),
            None => default_workspace,
        };
        for (name, server) in &sections.mcp_servers {
            for (key, message) in server.ignored_keys() {
                notices.push(Notice {
                    subject: format!("mcp_servers.{name}.{key}"),
                    message: message.to_owned(),
                });
            }
        }
        let mcp = hermod_mcp::resolve_all(&sections.mcp_servers, env).unwrap_or_else(|e| {
            problems.push(format!("mcp_servers: {e}"));
            Vec::new()
        });
        Self {
            toolsets,
            terminal: sections.terminal,
            web_fetch: sections.web_fetch,
            files: sections.files,
            workspace,
            memory: MemoryLimits {
                char_limit: sections.memory.memory_char_limit,
                entry_char_limit: sections.memory.entry_char_limit,
                max_entries: sections.memory.max_entries,
            },
            approval_timeout: Duration::from_secs(sections.approvals.timeout.max(1)),
            require_approval: sections.approvals.require,
            mcp,
        }
    }

    pub fn has(&self, toolset: Toolset) -> bool {
        self.toolsets.contains(&toolset)
    }

    /// Problems serde cannot see.
    pub fn validate(&self, home: &Path) -> Vec<String> {
        let mut problems = Vec::new();
        if self.has(Toolset::File) && home.starts_with(&self.workspace) {
            problems.push(format!(
                "terminal.cwd ({}) contains hermod's home ({}), so the file tools could read its \
                 database and keys: choose a directory of its own",
                self.workspace.display(),
                home.display()
            ));
        }
        if let Err(e) = self.memory.validate() {
            problems.push(e);
        }
        problems
    }
}

fn unknown_toolset(key: &str, name: &str) -> Notice {
    let known: Vec<&str> = Toolset::ALL.iter().map(|t| t.name()).collect();
    Notice {
        subject: format!("{key}: {name}"),
        message: format!(
            "hermod has no such toolset; ignored (it has: {})",
            known.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(toolsets: Option<&[&str]>, disabled: &[&str]) -> Sections {
        Sections {
            toolsets: toolsets.map(|t| t.iter().map(|s| (*s).to_owned()).collect()),
            disabled_toolsets: disabled.iter().map(|s| (*s).to_owned()).collect(),
            terminal: Default::default(),
            web_fetch: Default::default(),
            files: Default::default(),
            memory: MemorySection::default(),
            approvals: ApprovalsSection::default(),
            mcp_servers: Default::default(),
        }
    }

    fn names(tools: &Tools) -> Vec<&'static str> {
        tools.toolsets.iter().map(|t| t.name()).collect()
    }

    #[test]
    fn safe_toolsets_by_default_and_the_machine_only_when_named() {
        let mut notices = Vec::new();
        let home = Path::new("/h");
        let tools = Tools::resolve(
            sections(None, &[]),
            home,
            &EnvVars::new(),
            &mut notices,
            &mut Vec::new(),
        );
        assert_eq!(
            names(&tools),
            ["web", "memory", "session_search", "messaging", "cronjob"]
        );
        assert!(!tools.has(Toolset::Terminal) && !tools.has(Toolset::File));
        assert_eq!(tools.workspace, Path::new("/h/workspace"));
        assert!(tools.validate(home).is_empty());
        assert_eq!(tools.approval_timeout, Duration::from_secs(60));

        let tools = Tools::resolve(
            sections(Some(&["terminal", "files", "Web", "browser"]), &["web"]),
            home,
            &EnvVars::new(),
            &mut notices,
            &mut Vec::new(),
        );
        assert_eq!(names(&tools), ["terminal", "file"]);
        assert!(tools.validate(home).is_empty());
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].to_string().contains("browser"), "{notices:?}");
    }

    #[test]
    fn hermes_presets_mean_the_defaults_and_memory_can_be_switched_off() {
        let mut notices = Vec::new();
        let mut s = sections(Some(&["hermes-gateway", "terminal"]), &[]);
        s.memory.memory_enabled = false;
        let tools = Tools::resolve(
            s,
            Path::new("/h"),
            &EnvVars::new(),
            &mut notices,
            &mut Vec::new(),
        );
        assert_eq!(
            names(&tools),
            ["web", "terminal", "session_search", "messaging", "cronjob"]
        );
        assert!(notices.is_empty(), "{notices:?}");
    }

    #[test]
    fn the_workspace_is_never_the_home() {
        let mut notices = Vec::new();
        let mut s = sections(Some(&["file"]), &[]);
        s.terminal.cwd = Some(PathBuf::from("."));
        let tools = Tools::resolve(
            s,
            Path::new("/h"),
            &EnvVars::new(),
            &mut notices,
            &mut Vec::new(),
        );
        assert_eq!(tools.workspace, Path::new("/h/workspace/."));
        assert!(tools.validate(Path::new("/h")).is_empty());

        let mut s = sections(Some(&["file"]), &[]);
        s.terminal.cwd = Some(PathBuf::from("/"));
        let tools = Tools::resolve(
            s,
            Path::new("/h"),
            &EnvVars::new(),
            &mut notices,
            &mut Vec::new(),
        );
        let problems = tools.validate(Path::new("/h"));
        assert!(
            problems[0].contains("contains hermod's home"),
            "{problems:?}"
        );
    }
}
