//! Streaming and display settings: the top-level `streaming:` and
//! `display:` sections of `config.yaml`, with per-platform overrides keyed
//! by platform name.

use hermod_model::{Capabilities, PlatformId};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// How a reply in progress is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Edit one message as text arrives where the platform can edit; else
    /// send the whole reply at the end.
    #[default]
    Auto,
    /// Edit one message as text arrives.
    Edit,
    /// Platform draft previews; platforms without drafts use `edit`.
    Draft,
    /// Send the whole reply at the end.
    Off,
}

/// The `streaming:` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamingConfig {
    pub enabled: bool,
    pub transport: Transport,
    /// Seconds between edits of a message in progress.
    pub edit_interval: f64,
    /// Edit sooner when this many new characters have arrived.
    pub buffer_threshold: usize,
    /// Shown at the end of a message while it is still being written.
    pub cursor: String,
    pub platforms: BTreeMap<String, StreamingOverride>,
}

/// Per-platform streaming settings; unset fields follow the global ones.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamingOverride {
    pub enabled: Option<bool>,
    pub transport: Option<Transport>,
    pub edit_interval: Option<f64>,
    pub buffer_threshold: Option<usize>,
    pub cursor: Option<String>,
}

impl Default for StreamingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            transport: Transport::Auto,
            edit_interval: 0.8,
            buffer_threshold: 24,
            cursor: " ▉".to_owned(),
            platforms: BTreeMap::new(),
        }
    }
}

/// Tool progress lines in chats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolProgress {
    /// None.
    #[default]
    Off,
    /// A line when a different tool starts than the one before.
    New,
    /// A line for every tool call.
    All,
    /// A line for every tool call with a preview of its arguments (at most
    /// [`ToolProgress::ARGUMENTS_PREVIEW`] characters, never the whole of a
    /// long value), and a line when a call fails.
    Verbose,
}

impl ToolProgress {
    /// The most characters of a call's arguments a `verbose` line shows.
    pub const ARGUMENTS_PREVIEW: usize = 200;
}

/// The `display:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisplayConfig {
    pub tool_progress: ToolProgress,
    pub platforms: BTreeMap<String, DisplayOverride>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisplayOverride {
    pub tool_progress: Option<ToolProgress>,
}

/// The streaming rules for one reply, resolved for its platform.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StreamPlan {
    /// Edit a message in progress (false: one delivery at the end).
    pub(crate) progressive: bool,
    pub(crate) edit_interval: Duration,
    pub(crate) buffer_threshold: usize,
    pub(crate) cursor: String,
    pub(crate) tool_progress: ToolProgress,
}

impl StreamingConfig {
    pub fn validate(&self) -> Result<(), String> {
        let check = |at: &str, interval: f64| {
            if interval.is_finite() && (0.05..=60.0).contains(&interval) {
                Ok(())
            } else {
                Err(format!(
                    "{at}.edit_interval must be between 0.05 and 60 seconds"
                ))
            }
        };
        check("streaming", self.edit_interval)?;
        for (name, o) in &self.platforms {
            if let Some(interval) = o.edit_interval {
                check(&format!("streaming.platforms.{name}"), interval)?;
            }
        }
        Ok(())
    }
}

pub(crate) fn plan(
    streaming: &StreamingConfig,
    display: &DisplayConfig,
    platform: &PlatformId,
    caps: &Capabilities,
) -> StreamPlan {
    let o = streaming
        .platforms
        .get(platform.as_str())
        .cloned()
        .unwrap_or_default();
    let enabled = o.enabled.unwrap_or(streaming.enabled);
    let transport = o.transport.unwrap_or(streaming.transport);
    let progressive = enabled && transport != Transport::Off && caps.can_edit;
    let interval = Duration::from_secs_f64(
        o.edit_interval
            .unwrap_or(streaming.edit_interval)
            .clamp(0.05, 60.0),
    );
    let tool_progress = display
        .platforms
        .get(platform.as_str())
        .and_then(|d| d.tool_progress)
        .unwrap_or(display.tool_progress);
    StreamPlan {
        progressive,
        // The platform's own floor wins over a faster configured interval.
        edit_interval: interval.max(caps.min_edit_interval),
        buffer_threshold: o
            .buffer_threshold
            .unwrap_or(streaming.buffer_threshold)
            .max(1),
        cursor: o.cursor.unwrap_or_else(|| streaming.cursor.clone()),
        tool_progress,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_capabilities() {
        let mut streaming = StreamingConfig::default();
        streaming.platforms.insert(
            "slow".into(),
            StreamingOverride {
                edit_interval: Some(3.0),
                ..Default::default()
            },
        );
        streaming.platforms.insert(
            "quiet".into(),
            StreamingOverride {
                enabled: Some(false),
                ..Default::default()
            },
        );
        let display = DisplayConfig {
            tool_progress: ToolProgress::All,
            platforms: [(
                "slow".to_owned(),
                DisplayOverride {
                    tool_progress: Some(ToolProgress::Off),
                },
            )]
            .into(),
        };
        let editable = Capabilities {
            can_edit: true,
            min_edit_interval: Duration::from_secs(1),
            ..Default::default()
        };
        let p = plan(
            &streaming,
            &display,
            &PlatformId::from_static("fast"),
            &editable,
        );
        assert!(p.progressive);
        assert_eq!(
            p.edit_interval,
            Duration::from_secs(1),
            "the platform's floor"
        );
        assert_eq!(p.tool_progress, ToolProgress::All);
        let p = plan(
            &streaming,
            &display,
            &PlatformId::from_static("slow"),
            &editable,
        );
        assert_eq!(p.edit_interval, Duration::from_secs(3));
        assert_eq!(p.tool_progress, ToolProgress::Off);
        assert!(
            !plan(
                &streaming,
                &display,
                &PlatformId::from_static("quiet"),
                &editable
            )
            .progressive
        );
        let fixed = Capabilities {
            can_edit: false,
            ..Default::default()
        };
        assert!(
            !plan(
                &streaming,
                &display,
                &PlatformId::from_static("fast"),
                &fixed
            )
            .progressive
        );
        streaming.edit_interval = 0.0;
        assert!(streaming.validate().is_err());
    }
}
