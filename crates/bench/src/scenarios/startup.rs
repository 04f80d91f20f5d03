//! Start to ready: from spawning the gateway process to `/health`
//! answering, polled every 2 ms, over several runs with a fresh home each
//! time. The first run is reported on its own (a cold start: Python
//! compiles and caches its bytecode then); the median is over all runs.
//! For hermod, the size of the binary is reported too.

use crate::report::{Metric, Report, percentile};
use crate::scenarios::progress;
use crate::target::{Kind, Target};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;

/// `runs` starts of `target`.
pub async fn run(target: &Target, runs: usize) -> anyhow::Result<Report> {
    let runs = runs.max(1);
    progress(&format!("startup of {}: {runs} runs", target.kind.name()));
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::echo());
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let running = target.start(&llm.base_url(), &[]).await?;
        times.push(running.ready_after.as_secs_f64() * 1000.0);
        running.stop().await;
    }
    let first = times.first().copied().unwrap_or_default();
    let mut metrics = vec![
        Metric::new("ready_median", percentile(&mut times, 50.0), "ms").goal("<= 50 ms"),
        Metric::new("ready_min", percentile(&mut times, 0.0), "ms"),
        Metric::new("ready_max", percentile(&mut times, 100.0), "ms"),
        Metric::new("ready_first", first, "ms"),
    ];
    if target.kind == Kind::Hermod {
        let bytes = std::fs::metadata(&target.program)?.len();
        metrics.push(
            Metric::new("binary_size", bytes as f64 / (1024.0 * 1024.0), "MiB").goal("<= 15 MB"),
        );
    }
    Ok(Report {
        scenario: "startup".into(),
        target: target.kind.name().into(),
        parameters: json!({"runs": runs, "poll_interval_ms": 2}),
        metrics,
        failures: Vec::new(),
    })
}
