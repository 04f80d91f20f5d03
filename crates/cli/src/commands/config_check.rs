//! `hermod config check`: load and validate everything, start nothing.
//! Every problem is reported at once; recognised settings hermod does not
//! use are listed with what it does instead.

use crate::commands::out;
use crate::config;
use crate::home::{self, Create};

pub fn run() -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::No)?;
    let config = config::load(&home, &process)?;
    out(format_args!("config OK ({})", home.display()));
    let model = &config.model;
    out(format_args!(
        "  model:      {} at {} ({})",
        model.default,
        model.base_url,
        model.provider.describe()
    ));
    let key = match (&model.api_key, &model.provider.key_source) {
        (Some(_), source) => format!("set ({source})"),
        (None, _) => format!("not set ({})", model.provider.key_hint()),
    };
    out(format_args!("  model key:  {key}"));
    let stt = &config.stt;
    if stt.enabled {
        let stt_key = if stt.api_key.is_some() {
            "set"
        } else {
            "not set"
        };
        out(format_args!(
            "  voice:      transcribed by {} at {} (key {stt_key}, language {}, up to {} bytes, {} s)",
            stt.model,
            stt.base_url,
            stt.language.as_deref().unwrap_or("detected"),
            stt.max_bytes,
            stt.timeout_secs
        ));
    } else {
        out(format_args!(
            "  voice:      not transcribed (stt.enabled: false)"
        ));
    }
    let media = &config.media;
    let images = match (media.images, &media.describer) {
        (hermod_media::ImageInput::Native, _) => {
            format!("shown to the model, scaled to {} px", media.max_image_edge)
        }
        (hermod_media::ImageInput::Text, Some(vision)) => {
            format!("described by {} at {}", vision.model, vision.base_url)
        }
        (hermod_media::ImageInput::Text, None) => {
            "named only (the model cannot see and auxiliary.vision.model is not set)".to_owned()
        }
    };
    out(format_args!("  images:     {images}"));
    out(format_args!(
        "  documents:  text up to {} characters each",
        media.document_max_chars
    ));
    let tts = &config.tts;
    if tts.enabled {
        out(format_args!(
            "  replies:    spoken on /voice by {} ({}) at {} (key: {})",
            tts.model, tts.voice, tts.base_url, tts.key_source
        ));
    } else {
        out(format_args!(
            "  replies:    text only (no speech endpoint: set tts.base_url or VOICE_TOOLS_OPENAI_KEY)"
        ));
    }
    match config.agent.kind {
        config::AgentKind::Acp => {
            if let Some(acp) = &config.agent.acp {
                out(format_args!(
                    "  agent:      external, over ACP: {} {}",
                    acp.command,
                    acp.args.join(" ")
                ));
            }
        }
        config::AgentKind::Llm => {
            let tools: Vec<String> = config
                .tools
                .toolsets
                .iter()
                .map(|t| format!("{} ({})", t.name(), t.tools().join(", ")))
                .collect();
            out(format_args!("  tools:      {}", tools.join("; ")));
            let context = &config.context;
            let window = context
                .context_length
                .unwrap_or(hermod_core::DEFAULT_CONTEXT_LENGTH);
            let compression = &context.compression;
            if compression.enabled {
                out(format_args!(
                    "  context:    {window} tokens; older turns summarized past {:.0}% (the last {} messages kept)",
                    compression.threshold * 100.0,
                    compression.protect_last_n
                ));
            } else {
                out(format_args!(
                    "  context:    {window} tokens; compression off: every turn sends the whole conversation"
                ));
            }
            if !config.tools.mcp.is_empty() {
                let names: Vec<&str> = config.tools.mcp.iter().map(|s| s.name.as_str()).collect();
                out(format_args!(
                    "  MCP:        {} (hermod mcp list connects and shows their tools)",
                    names.join(", ")
                ));
            }
        }
    }
    out(format_args!(
        "  database:   {}",
        config.database_path().display()
    ));
    let enabled = config.platforms.enabled();
    if enabled.is_empty() {
        out("  platforms:  none enabled (the gateway will refuse to start)");
    } else {
        out("  platforms:");
        let width = enabled.iter().map(|p| p.name.len()).max().unwrap_or(0);
        for platform in &enabled {
            let access = if platform.authenticates_callers {
                "callers need the API key".to_owned()
            } else {
                config.gateway.access_mode(platform.name).to_string()
            };
            out(format_args!(
                "    {:width$}  {}; access: {access}",
                platform.name, platform.summary
            ));
        }
    }
    if !config.notices.is_empty() {
        out(format_args!(
            "  recognised but not used ({}):",
            config.notices.len()
        ));
        for notice in &config.notices {
            out(format_args!("    {notice}"));
        }
    }
    Ok(())
}
