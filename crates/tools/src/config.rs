//! The tools' config sections, as the binary's YAML spells them. Names
//! follow Hermes' `config.yaml` where Hermes has the setting
//! (`terminal.timeout`, `terminal.cwd`, `terminal.env_passthrough`); the
//! rest are hermod's own. Every field has a default, unknown keys are
//! errors, and each section is the factory of its tool (`build`).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

const MIB: u64 = 1024 * 1024;

/// `web_fetch:` — fetching a URL for the model.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebFetchConfig {
    /// Bound on a whole fetch, redirects and body included.
    pub timeout_secs: u64,
    /// Bytes read from a response at most; reading stops there and the
    /// model is told.
    pub max_bytes: u64,
    /// Characters of text given to the model at most.
    pub max_chars: usize,
    /// Redirects followed at most; each hop is checked like the first URL.
    pub max_redirects: usize,
    /// Lets the tool reach loopback, private, link-local and other
    /// non-public addresses. Off: a model could otherwise read the
    /// gateway's own admin endpoints, the LAN or the cloud metadata service.
    pub allow_private: bool,
    /// Host names (or IP literals) that may be reached whatever they
    /// resolve to, such as an intranet wiki; exact, case-insensitive.
    pub allow_hosts: Vec<String>,
}

impl Default for WebFetchConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 20,
            max_bytes: 2 * MIB,
            max_chars: 20_000,
            max_redirects: 5,
            allow_private: false,
            allow_hosts: Vec::new(),
        }
    }
}

/// `terminal:` — running shell commands in the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TerminalConfig {
    /// The workspace directory (Hermes' `terminal.cwd`); created if
    /// missing. `None`: the binary chooses (a directory in hermod's home).
    pub cwd: Option<PathBuf>,
    /// Seconds a command may run when the model does not ask for less.
    #[serde(alias = "timeout_secs")]
    pub timeout: u64,
    /// The longest timeout the model may ask for.
    #[serde(alias = "max_timeout_secs")]
    pub max_timeout: u64,
    /// Characters of output given to the model at most; the head and the
    /// tail are kept.
    pub max_output_chars: usize,
    /// Variables set for every command, on top of the clean environment.
    pub env: BTreeMap<String, String>,
    /// Names of the gateway's own variables passed to commands (Hermes'
    /// `terminal.env_passthrough`). Nothing else of the gateway's
    /// environment reaches a command: it holds bot tokens and API keys.
    pub env_passthrough: Vec<String>,
    /// Extra dangerous-command patterns (see
    /// [`crate::default_dangerous_patterns`] for the syntax).
    pub dangerous_patterns: Vec<DangerousPattern>,
    /// Use only `dangerous_patterns`, without the defaults.
    pub replace_default_patterns: bool,
}

impl Default for TerminalConfig {
    fn default() -> Self {
        Self {
            cwd: None,
            timeout: 60,
            max_timeout: 600,
            max_output_chars: 20_000,
            env: BTreeMap::new(),
            env_passthrough: Vec::new(),
            dangerous_patterns: Vec::new(),
            replace_default_patterns: false,
        }
    }
}

/// One configured dangerous-command pattern: the pattern alone, or with
/// the description the user is shown when it matches.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum DangerousPattern {
    Pattern(String),
    Described {
        pattern: String,
        description: String,
    },
}

impl DangerousPattern {
    pub fn pattern(&self) -> &str {
        match self {
            DangerousPattern::Pattern(pattern) | DangerousPattern::Described { pattern, .. } => {
                pattern
            }
        }
    }

    pub fn description(&self) -> &str {
        match self {
            DangerousPattern::Pattern(pattern) => pattern,
            DangerousPattern::Described { description, .. } => description,
        }
    }
}

/// `files:` — `read_file` and `write_file`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesConfig {
    /// Bytes of a file read for the model at most (per call; `offset`
    /// reads on).
    pub max_read_bytes: u64,
    /// Bytes one `write_file` call may write at most.
    pub max_write_bytes: u64,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_read_bytes: 256 * 1024,
            max_write_bytes: MIB,
        }
    }
}

/// Refuses a zero where zero would make a tool useless.
pub(crate) fn positive(key: &'static str, value: u64) -> Result<u64, crate::ToolsError> {
    if value == 0 {
        Err(crate::ToolsError::Config {
            key,
            reason: "must be greater than 0".to_owned(),
        })
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let web = WebFetchConfig::default();
        assert_eq!(
            (
                web.timeout_secs,
                web.max_bytes,
                web.max_chars,
                web.max_redirects
            ),
            (20, 2 * 1024 * 1024, 20_000, 5)
        );
        assert!(!web.allow_private && web.allow_hosts.is_empty());
        let terminal = TerminalConfig::default();
        assert_eq!((terminal.timeout, terminal.max_output_chars), (60, 20_000));
        let files = FilesConfig::default();
        assert_eq!(
            (files.max_read_bytes, files.max_write_bytes),
            (256 * 1024, 1024 * 1024)
        );
    }

    #[test]
    fn sections_parse_with_hermes_names_and_refuse_unknown_keys() {
        let terminal: TerminalConfig = serde_json::from_value(serde_json::json!({
            "cwd": "/srv/work",
            "timeout": 30,
            "env": {"LANG": "C"},
            "env_passthrough": ["GOPATH"],
            "dangerous_patterns": ["terraform destroy", {"pattern": "^kubectl ... delete", "description": "delete in the cluster"}],
        }))
        .unwrap();
        assert_eq!(terminal.cwd, Some(PathBuf::from("/srv/work")));
        assert_eq!(terminal.timeout, 30);
        assert_eq!(terminal.max_timeout, 600);
        assert_eq!(
            terminal.dangerous_patterns[0].description(),
            "terraform destroy"
        );
        assert_eq!(
            terminal.dangerous_patterns[1].pattern(),
            "^kubectl ... delete"
        );
        assert_eq!(
            terminal.dangerous_patterns[1].description(),
            "delete in the cluster"
        );
        let typo = serde_json::from_value::<TerminalConfig>(serde_json::json!({
            "dangerous_patterns": [{"pattern": "x", "description": "d", "extra": 1}],
        }));
        assert!(typo.is_err());
        let aliased: TerminalConfig =
            serde_json::from_value(serde_json::json!({"timeout_secs": 5})).unwrap();
        assert_eq!(aliased.timeout, 5);

        let err = serde_json::from_value::<WebFetchConfig>(serde_json::json!({"timeout": 5}))
            .unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let web: WebFetchConfig = serde_json::from_value(
            serde_json::json!({"allow_private": true, "allow_hosts": ["wiki.lan"]}),
        )
        .unwrap();
        assert!(web.allow_private);
        assert_eq!(web.allow_hosts, ["wiki.lan"]);
    }
}
