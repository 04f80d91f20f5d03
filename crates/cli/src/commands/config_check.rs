//! `hermod config check`: load and validate everything, start nothing.

use crate::commands::out;
use crate::config;
use crate::home::{self, Create};

pub fn run() -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::No)?;
    let config = config::load(&home, &process)?;
    out(format_args!("config OK ({})", home.display()));
    out(format_args!(
        "  model:      {} at {}",
        config.model.default, config.model.base_url
    ));
    out(format_args!(
        "  model key:  {}",
        if config.model.api_key.is_some() {
            "set"
        } else {
            "not set"
        }
    ));
    out(format_args!(
        "  database:   {}",
        config.database_path().display()
    ));
    let api = &config.platforms.api_server;
    if api.enabled {
        let key = if api.key.is_some() {
            "key set"
        } else {
            "key generated on first run"
        };
        out(format_args!(
            "  api_server: http://{}:{} ({key})",
            api.host, api.port
        ));
    } else {
        out("  api_server: disabled");
    }
    Ok(())
}
