//! The agent's own tools that need no gateway: `web_fetch`, `terminal`,
//! `read_file` and `write_file`, and [`RequireApproval`], which makes any
//! tool ask the user before each call.
//!
//! Each tool is built from its config section, which is its factory:
//! [`WebFetchConfig::build`], [`TerminalConfig::build`] and
//! [`FilesConfig::build`]. The terminal and the file tools share one
//! [`Workspace`], the directory they are confined to.
//!
//! The safety rules live beside the tool they protect: `web_fetch` refuses
//! private and other non-public addresses at connect time (`web/guard.rs`),
//! the terminal runs in a clean environment and asks before dangerous
//! commands (`terminal/danger.rs`), and the file tools never leave the
//! workspace, through `..` or through symlinks (`workspace.rs`).

mod approval;
mod config;
mod error;
mod files;
mod terminal;
mod text;
mod web;
mod workspace;

pub use approval::RequireApproval;
pub use config::{DangerousPattern, FilesConfig, TerminalConfig, WebFetchConfig};
pub use error::ToolsError;
pub use files::{ReadFile, WriteFile};
pub use terminal::Terminal;
pub use terminal::danger::{DefaultPattern, OUTSIDE_WORKSPACE_RULE, default_dangerous_patterns};
pub use web::WebFetch;
pub use web::guard::is_forbidden_ip;
pub use web::html::html_to_text;
pub use workspace::Workspace;
