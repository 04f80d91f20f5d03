//! Log output on stderr, filtered by `RUST_LOG` or `-v`: human-readable
//! lines, or one JSON object per line (`--log-format json`) for a log
//! collector.
//!
//! Both formats are the same subscriber with the same filter and writer;
//! only the line's layout differs. A field's value is written through its
//! `Display` or `Debug` in either, so what keeps a secret out of one keeps
//! it out of the other: a [`hermod_model::Secret`] prints `<redacted>`, and
//! each platform masks its token in the error texts it logs. Nothing
//! scrubs the finished line: a secret has to be kept out of the fields.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The layout of a log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event, coloured on a terminal.
    #[default]
    Human,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`
    /// (the message among them), the current `span` and the `spans` it is
    /// in, with their fields.
    Json,
}

pub fn init(verbose: u8, format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(verbose))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .with_ansi(false)
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

/// `RUST_LOG` when set; otherwise hermod's crates at the level `-v` asks
/// for and dependencies at warn.
fn filter(verbose: u8) -> EnvFilter {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // Dependencies stay at warn unless asked for; hermod's own crates,
    // platforms included, follow -v.
    let mut directives = format!(
        "warn,hermod={default},hermod_core={default},hermod_agent={default},hermod_store={default},hermod_http={default},hermod_adapter_kit={default}"
    );
    for target in hermod_platforms::log_targets() {
        directives.push_str(&format!(",{target}={default}"));
    }
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directives))
}
