//! `hermod doctor`: what `config check` checks, then live checks, one line
//! each: ✔ what was found, or ✘ what is wrong and the fix. Exits non-zero
//! when any check fails. No line shows a secret: the checks report what a
//! service answered, never what was sent.

mod local;
mod model;

use crate::commands::out;
use crate::{config, database};
use hermod_core::ProbeContext;
use std::time::Duration;

/// How long one live call may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    Ok(String),
    /// What is wrong, and what to do.
    Failed(String),
}

/// The lines printed so far, and whether any failed.
#[derive(Debug, Default)]
struct Report {
    failed: usize,
}

impl Report {
    fn line(&mut self, subject: &str, check: Check) {
        match check {
            Check::Ok(found) => out(format_args!("✔ {subject}: {found}")),
            Check::Failed(problem) => {
                self.failed += 1;
                out(format_args!("✘ {subject}: {problem}"));
            }
        }
    }
}

pub async fn run() -> anyhow::Result<()> {
    let process = config::process_env();
    let home = config::home_dir(&process)?;
    let mut report = Report::default();
    // Before anything opens the home: other commands make its files
    // private, which would hide the problem from this check.
    for (subject, check) in local::permissions(&home) {
        report.line(&subject, check);
    }
    if !home.is_dir() {
        report.line(
            "home",
            Check::Failed(format!(
                "{} does not exist; run `hermod gateway run` once to create it, or set \
                 HERMOD_HOME to your home",
                home.display()
            )),
        );
        anyhow::bail!("1 check failed");
    }
    let config = match config::load(&home, &process) {
        Ok(config) => config,
        Err(e) => {
            report.line("config", Check::Failed(e.to_string()));
            anyhow::bail!("the configuration has problems; fix them and run `hermod doctor` again");
        }
    };
    let enabled = config.platforms.enabled();
    let names: Vec<&str> = enabled.iter().map(|p| p.name).collect();
    report.line(
        "config",
        if names.is_empty() {
            Check::Failed(
                "no platform is enabled: configure one (its token in .env, or its section in \
                 config.yaml)"
                    .into(),
            )
        } else {
            Check::Ok(format!(
                "valid ({}); platforms: {}",
                home.display(),
                names.join(", ")
            ))
        },
    );
    for notice in &config.notices {
        out(format_args!("  recognised but not used: {notice}"));
    }

    let http = hermod_http::HttpClient::new()
        .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))?;
    let model = model::check(&http, &config.model, PROBE_TIMEOUT).await;
    report.line(&format!("model {}", config.model.default), model);

    let ctx = ProbeContext {
        http,
        timeout: PROBE_TIMEOUT,
    };
    for probed in config.platforms.probe(&ctx).await {
        let check = match probed.result {
            Ok(found) => Check::Ok(found),
            Err(problem) => Check::Failed(problem),
        };
        report.line(&format!("platform {}", probed.name), check);
    }

    let db = match database::location(&home, &process) {
        Ok(location) => local::database(&location).await,
        Err(e) => Check::Failed(e.to_string()),
    };
    report.line("database", db);
    let gateway = local::running_gateway(&home);
    for (addr, users) in config.platforms.listen_addrs() {
        let check = local::port(&addr, gateway.as_ref()).await;
        report.line(&format!("listen {addr} ({})", users.join(", ")), check);
    }
    report.line("gateway", local::describe_gateway(&home, gateway.as_ref()));

    match report.failed {
        0 => Ok(()),
        1 => anyhow::bail!("1 check failed; its line says what to do"),
        n => anyhow::bail!("{n} checks failed; each line says what to do"),
    }
}
