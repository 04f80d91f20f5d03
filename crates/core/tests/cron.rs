//! Scheduled jobs through a running gateway, on tokio's paused clock:
//! every schedule form runs and delivers, cron times follow the wall clock
//! across DST changes, one catch-up run after downtime, paused jobs do not
//! run, silence is kept but not delivered, a run cut short by a crash is
//! not run again after a restart, and two gateways on one database never
//! both run a time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::{Clock, CronJobs, Gateway, GatewayConfig, JobSpec};
use hermod_model::{PlatformId, Source};
use hermod_store::{CronCreator, CronRunStatus, SqliteStore, Store};
use hermod_testkit::{ScriptedAgent, Step, TestPlatform};
use jiff::Zoned;
use jiff::tz::TimeZone;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

fn ms(zoned: &str) -> i64 {
    zoned.parse::<Zoned>().unwrap().timestamp().as_millisecond()
}

struct World {
    store: Arc<SqliteStore>,
    jobs: CronJobs,
    stop: CancellationToken,
    done: tokio::task::JoinHandle<()>,
}

/// A gateway on `db` whose wall clock reads `now_ms` now and follows tokio's.
async fn start(
    db: &Path,
    platform: &TestPlatform,
    agent: ScriptedAgent,
    now_ms: i64,
    tz: &str,
) -> World {
    let store = Arc::new(SqliteStore::open(db).unwrap());
    let config = GatewayConfig {
        allow_all_users: true,
        timezone: Some(tz.to_owned()),
        ..GatewayConfig::default()
    };
    let clock = Clock::following_tokio(now_ms);
    let gateway = Gateway::builder(store.clone(), Arc::new(agent), config)
        .adapter(platform.adapter())
        .clock(clock.clone())
        .output_dir(db.with_file_name("output"))
        .build()
        .unwrap();
    let jobs = CronJobs::new(store.clone(), TimeZone::get(tz).unwrap(), clock);
    let stop = CancellationToken::new();
    let done = tokio::spawn(gateway.run(stop.clone()));
    platform.wait_running().await;
    World {
        store,
        jobs,
        stop,
        done,
    }
}

impl World {
    async fn stop(self) {
        self.stop.cancel();
        self.done.await.unwrap();
    }

    async fn add(&self, schedule: &str, deliver: &str) -> String {
        self.jobs
            .add(JobSpec {
                name: None,
                prompt: format!("report ({schedule})"),
                schedule: schedule.to_owned(),
                deliver: Some(deliver.to_owned()),
                model: None,
                created_by: CronCreator::cli(),
                origin: None,
                paused: false,
            })
            .await
            .unwrap()
            .id
    }

    async fn runs(&self, id: &str) -> Vec<hermod_store::CronRun> {
        let mut runs = self.store.cron_runs(id, 100).await.unwrap();
        runs.reverse();
        runs
    }
}

fn answering() -> ScriptedAgent {
    ScriptedAgent::scripted(|r| vec![Step::Text(format!("done: {}", r.input.text()))])
}

fn texts(platform: &TestPlatform, chat: &str) -> Vec<String> {
    platform
        .sent(chat)
        .iter()
        .map(|m| m.current_text().to_owned())
        .collect()
}

#[test]
fn every_schedule_form_runs_and_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let platform = TestPlatform::new("test");
    let start_ms = ms("2026-06-01T07:00:00+02:00[Europe/Berlin]");
    paused_runtime().block_on(async {
        let w = start(
            &dir.path().join("hermod.db"),
            &platform,
            answering(),
            start_ms,
            "Europe/Berlin",
        )
        .await;
        let every = w.add("every 30m", "test:c-every").await;
        let cron = w.add("0 8 * * *", "test:c-cron").await;
        let once = w.add("2026-06-01T07:45", "test:c-once").await;
        let bare = w.add("10m", "test:c-bare").await;
        tokio::time::sleep(HOUR + 5 * MIN).await;

        assert_eq!(texts(&platform, "c-every").len(), 2, "at 07:30 and 08:00");
        assert_eq!(texts(&platform, "c-cron"), ["done: report (0 8 * * *)"]);
        assert_eq!(
            texts(&platform, "c-once"),
            ["done: report (2026-06-01T07:45)"]
        );
        assert_eq!(texts(&platform, "c-bare"), ["done: report (10m)"]);
        let cron_runs = w.runs(&cron).await;
        assert_eq!(
            cron_runs[0].scheduled_at_ms,
            ms("2026-06-01T08:00:00+02:00[Europe/Berlin]")
        );
        assert_eq!(cron_runs[0].status, CronRunStatus::Ok);
        assert_eq!(
            cron_runs[0].output.as_deref(),
            Some("done: report (0 8 * * *)")
        );
        for id in [&once, &bare] {
            let job = w.jobs.get(id).await.unwrap();
            assert_eq!(job.next_run_at_ms, None, "a one-shot runs once");
        }
        let every_runs = w.runs(&every).await;
        assert_eq!(
            every_runs[1].scheduled_at_ms - every_runs[0].scheduled_at_ms,
            30 * 60_000
        );
        // Another hour: the one-shots stay done, the others go on.
        tokio::time::sleep(HOUR).await;
        assert_eq!(texts(&platform, "c-once").len(), 1);
        assert_eq!(texts(&platform, "c-bare").len(), 1);
        assert_eq!(texts(&platform, "c-every").len(), 4);
        w.stop().await;
    });
}

#[test]
fn cron_follows_the_wall_clock_across_dst_changes() {
    let dir = tempfile::tempdir().unwrap();
    let platform = TestPlatform::new("test");
    // Spring forward: Berlin skips 02:00-03:00 on 2026-03-29.
    let start_ms = ms("2026-03-28T07:00:00+01:00[Europe/Berlin]");
    paused_runtime().block_on(async {
        let w = start(
            &dir.path().join("spring.db"),
            &platform,
            answering(),
            start_ms,
            "Europe/Berlin",
        )
        .await;
        let daily = w.add("0 8 * * *", "test:spring").await;
        let skipped = w.add("30 2 * * *", "test:spring-night").await;
        tokio::time::sleep(Duration::from_secs(2 * 24 * 3600)).await;
        let times: Vec<i64> = w
            .runs(&daily)
            .await
            .iter()
            .map(|r| r.scheduled_at_ms)
            .collect();
        assert_eq!(
            times,
            [
                ms("2026-03-28T08:00:00+01:00[Europe/Berlin]"),
                ms("2026-03-29T08:00:00+02:00[Europe/Berlin]"),
            ]
        );
        let night: Vec<i64> = w
            .runs(&skipped)
            .await
            .iter()
            .map(|r| r.scheduled_at_ms)
            .collect();
        assert_eq!(
            night,
            [
                // 02:30 does not exist on the 29th: right after the gap.
                ms("2026-03-29T03:00:00+02:00[Europe/Berlin]"),
                ms("2026-03-30T02:30:00+02:00[Europe/Berlin]"),
            ]
        );
        w.stop().await;
    });

    // Fall back: 02:00-03:00 happens twice on 2026-10-25; the job runs once.
    let platform = TestPlatform::new("test");
    let start_ms = ms("2026-10-24T23:00:00+02:00[Europe/Berlin]");
    paused_runtime().block_on(async {
        let w = start(
            &dir.path().join("fall.db"),
            &platform,
            answering(),
            start_ms,
            "Europe/Berlin",
        )
        .await;
        let night = w.add("30 2 * * *", "test:fall").await;
        tokio::time::sleep(Duration::from_secs(30 * 3600)).await;
        let times: Vec<i64> = w
            .runs(&night)
            .await
            .iter()
            .map(|r| r.scheduled_at_ms)
            .collect();
        assert_eq!(
            times,
            [
                ms("2026-10-25T02:30:00+02:00[Europe/Berlin]"),
                ms("2026-10-26T02:30:00+01:00[Europe/Berlin]"),
            ]
        );
        assert_eq!(texts(&platform, "fall").len(), 2);
        w.stop().await;
    });
}

#[test]
fn one_catch_up_run_after_downtime_then_back_on_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermod.db");
    let t0 = ms("2026-06-01T00:00:00+00:00[UTC]");
    let (hourly, daily) = paused_runtime().block_on(async {
        let platform = TestPlatform::new("test");
        let w = start(&db, &platform, answering(), t0, "UTC").await;
        let hourly = w.add("every 1h", "test:hourly").await;
        // Daily at 01:00; the gateway is down until 04:00, beyond its 2 h grace.
        let daily = w.add("0 1 * * *", "test:daily").await;
        w.stop().await;
        (hourly, daily)
    });
    // Down from 00:00 until 05:20: the hourly job missed 01:00 ... 05:00.
    let platform = TestPlatform::new("test");
    paused_runtime().block_on(async {
        let w = start(
            &db,
            &platform,
            answering(),
            t0 + 5 * 3_600_000 + 20 * 60_000,
            "UTC",
        )
        .await;
        tokio::time::sleep(MIN).await;
        let runs = w.runs(&hourly).await;
        assert_eq!(runs.len(), 1, "one catch-up run for five missed times");
        assert_eq!(runs[0].scheduled_at_ms, t0 + 5 * 3_600_000);
        assert_eq!(texts(&platform, "hourly").len(), 1);
        let daily_runs = w.runs(&daily).await;
        assert_eq!(daily_runs.len(), 1);
        assert_eq!(
            daily_runs[0].status,
            CronRunStatus::Missed,
            "4 h late is beyond 2 h"
        );
        assert!(texts(&platform, "daily").is_empty());
        assert_eq!(
            w.jobs.get(&daily).await.unwrap().next_run_at_ms,
            Some(ms("2026-06-02T01:00:00+00:00[UTC]"))
        );
        // Back on schedule: 06:00 and 07:00.
        tokio::time::sleep(HOUR + 40 * MIN).await;
        let times: Vec<i64> = w
            .runs(&hourly)
            .await
            .iter()
            .map(|r| r.scheduled_at_ms)
            .collect();
        assert_eq!(
            times,
            [t0 + 5 * 3_600_000, t0 + 6 * 3_600_000, t0 + 7 * 3_600_000]
        );
        w.stop().await;
    });
}

#[test]
fn paused_jobs_do_not_run_and_resume_from_now() {
    let dir = tempfile::tempdir().unwrap();
    let platform = TestPlatform::new("test");
    let t0 = ms("2026-06-01T00:00:00+00:00[UTC]");
    paused_runtime().block_on(async {
        let w = start(
            &dir.path().join("hermod.db"),
            &platform,
            answering(),
            t0,
            "UTC",
        )
        .await;
        let id = w.add("every 10m", "test:paused").await;
        w.jobs.pause(&id).await.unwrap();
        tokio::time::sleep(HOUR).await;
        assert!(w.runs(&id).await.is_empty());
        assert!(texts(&platform, "paused").is_empty());
        let resumed = w.jobs.resume(&id).await.unwrap();
        assert_eq!(resumed.next_run_at_ms, Some(t0 + 70 * 60_000));
        tokio::time::sleep(11 * MIN).await;
        assert_eq!(texts(&platform, "paused").len(), 1);
        // Asked to run now: within seconds, on top of the schedule.
        w.jobs.run_now(&id).await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(texts(&platform, "paused").len(), 2);
        w.stop().await;
    });
}

#[test]
fn silence_is_kept_but_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let platform = TestPlatform::new("test");
    let agent = ScriptedAgent::scripted(|_| vec![Step::Text("Checked the feed.\n[SILENT]".into())]);
    paused_runtime().block_on(async {
        let w = start(&dir.path().join("hermod.db"), &platform, agent, 0, "UTC").await;
        let id = w.add("5m", "test:quiet").await;
        tokio::time::sleep(6 * MIN).await;
        let runs = w.runs(&id).await;
        assert_eq!(runs[0].status, CronRunStatus::Silent);
        assert_eq!(
            runs[0].output.as_deref(),
            Some("Checked the feed.\n[SILENT]")
        );
        assert!(platform.all_sent().is_empty());
        w.stop().await;
    });
}

#[test]
fn a_failed_run_is_reported_to_its_target_once_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let platform = TestPlatform::new("test");
    let agent = ScriptedAgent::scripted(|_| {
        vec![Step::Fail(hermod_agent::AgentError::Transient(
            "connection refused".into(),
        ))]
    });
    paused_runtime().block_on(async {
        let w = start(&dir.path().join("hermod.db"), &platform, agent, 0, "UTC").await;
        let id = w.add("5m", "test:ops").await;
        tokio::time::sleep(6 * MIN).await;
        let runs = w.runs(&id).await;
        assert_eq!(runs[0].status, CronRunStatus::Failed);
        assert!(
            runs[0]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("connection refused")),
            "{:?}",
            runs[0].error
        );
        let shown = texts(&platform, "ops");
        assert_eq!(shown.len(), 1, "reported once: {shown:?}");
        assert!(
            shown[0].starts_with("⚠️ Scheduled job") && shown[0].contains("failed"),
            "{shown:?}"
        );
        w.stop().await;
    });
}

#[test]
fn origin_and_the_same_chat_named_deliver_once() {
    let dir = tempfile::tempdir().unwrap();
    let platform = TestPlatform::new("test");
    paused_runtime().block_on(async {
        let w = start(
            &dir.path().join("hermod.db"),
            &platform,
            answering(),
            0,
            "UTC",
        )
        .await;
        let origin = Source::dm(PlatformId::new("test"), "c-origin");
        let job = w
            .jobs
            .add(JobSpec {
                name: Some("twice named".into()),
                prompt: "hello".into(),
                schedule: "1m".into(),
                deliver: Some("origin, test:c-origin, test:c-other".into()),
                model: None,
                created_by: CronCreator::cli(),
                origin: Some(origin),
                paused: false,
            })
            .await
            .unwrap();
        tokio::time::sleep(2 * MIN).await;
        assert_eq!(texts(&platform, "c-origin"), ["done: hello"]);
        assert_eq!(texts(&platform, "c-other"), ["done: hello"]);
        assert_eq!(w.runs(&job.id).await[0].error, None);
        w.stop().await;
    });
}

#[test]
fn a_run_cut_short_by_a_crash_is_not_run_again_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermod.db");
    let t0 = ms("2026-06-01T00:00:00+00:00[UTC]");
    let slow = ScriptedAgent::scripted(|_| vec![Step::Sleep(10 * MIN), Step::Text("late".into())]);
    let first = paused_runtime();
    let id = first.block_on(async {
        let platform = TestPlatform::new("test");
        let w = start(&db, &platform, slow, t0, "UTC").await;
        let id = w.add("1m", "test:crash").await;
        tokio::time::sleep(3 * MIN).await;
        let runs = w.runs(&id).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, CronRunStatus::Running);
        id
    });
    // Killed mid-run: nothing after this point runs.
    first.shutdown_timeout(Duration::ZERO);

    let platform = TestPlatform::new("test");
    let agent = answering();
    let stats = agent.stats();
    paused_runtime().block_on(async {
        let w = start(&db, &platform, agent, t0 + 4 * 60_000, "UTC").await;
        tokio::time::sleep(HOUR).await;
        assert!(
            stats.inputs().is_empty(),
            "the claimed run is never run again"
        );
        assert!(texts(&platform, "crash").is_empty());
        let runs = w.runs(&id).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(
            runs[0].status,
            CronRunStatus::Interrupted,
            "recorded once its claim ran out"
        );
        let job = w.jobs.get(&id).await.unwrap();
        assert_eq!(job.claim, None);
        w.stop().await;
    });
}

#[test]
fn two_gateways_on_one_database_never_both_run_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermod.db");
    let (a, b) = (TestPlatform::new("test"), TestPlatform::new("test"));
    let t0 = ms("2026-06-01T00:00:00+00:00[UTC]");
    paused_runtime().block_on(async {
        let first = start(&db, &a, answering(), t0, "UTC").await;
        let second = start(&db, &b, answering(), t0, "UTC").await;
        let id = first.add("every 10m", "test:shared").await;
        tokio::time::sleep(HOUR + MIN).await;
        let runs = first.runs(&id).await;
        assert_eq!(runs.len(), 6);
        let mut times: Vec<i64> = runs.iter().map(|r| r.scheduled_at_ms).collect();
        times.dedup();
        assert_eq!(times.len(), 6, "each time ran once");
        assert_eq!(texts(&a, "shared").len() + texts(&b, "shared").len(), 6);
        first.stop().await;
        second.stop().await;
    });
}
