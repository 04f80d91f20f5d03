//! Log output: human-readable lines on stderr, filtered by `RUST_LOG` or `-v`.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub fn init(verbose: u8) {
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
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directives));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
