//! Scheduled jobs: round trip, updates, claims (once per revision, never
//! over a live claim, taken over when it runs out), run history bounded,
//! and the change counter.

use super::source;
use crate::{
    CRON_OUTPUT_MAX_CHARS, CRON_RUNS_KEPT, CronClaim, CronCreator, CronFinish, CronJobUpdate,
    CronRunStatus, NewCronJob, ScheduleKind, Store, StoreError,
};
use hermod_model::PlatformId;
use std::sync::Arc;

fn new_job(id: &str, next_run_at_ms: Option<i64>) -> NewCronJob {
    NewCronJob {
        id: id.to_owned(),
        name: format!("job {id}"),
        prompt: "Summarise the news ✈".to_owned(),
        schedule: "every 30m".to_owned(),
        schedule_kind: ScheduleKind::Interval,
        deliver: "origin,test:42:7".to_owned(),
        model: Some("gpt-test".to_owned()),
        enabled: true,
        created_by: CronCreator {
            platform: PlatformId::new("test"),
            user_id: Some("u-1".to_owned()),
        },
        origin: Some(source("test", "chat-1")),
        next_run_at_ms,
        created_at_ms: 1_000,
    }
}

fn claim(job: &str, revision: i64, owner: &str, now_ms: i64, next: Option<i64>) -> CronClaim {
    CronClaim {
        job_id: job.to_owned(),
        revision,
        owner: owner.to_owned(),
        scheduled_at_ms: now_ms,
        next_run_at_ms: next,
        now_ms,
        ttl_ms: 1_000,
        status: CronRunStatus::Running,
    }
}

pub async fn cron_jobs_round_trip_and_update(store: Arc<dyn Store>) {
    let added = store
        .cron_add(new_job("a1", Some(5_000)))
        .await
        .expect("add");
    assert_eq!(added.id, "a1");
    assert_eq!(added.revision, 1);
    assert!(added.enabled && !added.run_requested && added.claim.is_none());
    assert_eq!(added.origin, Some(source("test", "chat-1")));
    assert_eq!(added.created_by.user_id.as_deref(), Some("u-1"));
    assert_eq!(added.schedule_kind, ScheduleKind::Interval);
    assert_eq!(added.next_run_at_ms, Some(5_000));
    assert_eq!(
        store.cron_job("a1").await.expect("get"),
        Some(added.clone())
    );
    assert!(matches!(
        store.cron_add(new_job("a1", None)).await,
        Err(StoreError::Conflict(_))
    ));
    let mut cli = new_job("b2", None);
    cli.created_by = CronCreator::cli();
    cli.origin = None;
    cli.model = None;
    store.cron_add(cli).await.expect("add cli job");

    let ids: Vec<_> = store
        .cron_jobs()
        .await
        .expect("list")
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids, ["a1", "b2"]);

    let update = CronJobUpdate {
        enabled: Some(false),
        schedule: Some(("0 8 * * 1-5".to_owned(), ScheduleKind::Cron)),
        model: Some(None),
        next_run_at_ms: Some(None),
        run_requested: Some(true),
        ..CronJobUpdate::default()
    };
    let updated = store
        .cron_update("a1", update, 2_000)
        .await
        .expect("update");
    assert!(!updated.enabled && updated.run_requested);
    assert_eq!(updated.schedule, "0 8 * * 1-5");
    assert_eq!(updated.schedule_kind, ScheduleKind::Cron);
    assert_eq!(updated.model, None);
    assert_eq!(updated.next_run_at_ms, None);
    assert_eq!(updated.updated_at_ms, 2_000);
    assert_eq!(updated.prompt, added.prompt, "fields not set stay");
    assert!(updated.revision > added.revision);
    assert!(matches!(
        store.cron_update("nope", CronJobUpdate::default(), 1).await,
        Err(StoreError::NotFound(_))
    ));

    assert!(store.cron_remove("a1").await.expect("remove"));
    assert!(!store.cron_remove("a1").await.expect("remove again"));
    assert_eq!(store.cron_job("a1").await.expect("get"), None);
}

pub async fn cron_claim_runs_a_time_once(store: Arc<dyn Store>) {
    let job = store
        .cron_add(new_job("c1", Some(5_000)))
        .await
        .expect("add");
    let first = store
        .cron_claim(claim("c1", job.revision, "gw-a", 5_000, Some(6_800_000)))
        .await
        .expect("claim")
        .expect("the first claim succeeds");
    assert_eq!(first.status, CronRunStatus::Running);
    // The same decision by another gateway: refused (revision moved on).
    let second = store
        .cron_claim(claim("c1", job.revision, "gw-b", 5_000, Some(6_800_000)))
        .await
        .expect("claim");
    assert_eq!(second, None);
    let held = store.cron_job("c1").await.expect("get").expect("job");
    assert_eq!(held.next_run_at_ms, Some(6_800_000));
    let claim_held = held.claim.clone().expect("claimed");
    assert_eq!(
        (claim_held.owner.as_str(), claim_held.until_ms),
        ("gw-a", 6_000)
    );
    // Even at the current revision, a live claim refuses another.
    let live = store
        .cron_claim(claim("c1", held.revision, "gw-b", 5_500, None))
        .await
        .expect("claim");
    assert_eq!(live, None);
    assert!(store.cron_renew("c1", "gw-a", 9_000).await.expect("renew"));
    assert!(!store.cron_renew("c1", "gw-b", 9_000).await.expect("renew"));

    store
        .cron_finish(CronFinish {
            run_id: first.id,
            owner: "gw-a".to_owned(),
            status: CronRunStatus::Ok,
            output: Some("all good".to_owned()),
            error: None,
            at_ms: 7_000,
        })
        .await
        .expect("finish");
    let done = store.cron_job("c1").await.expect("get").expect("job");
    assert_eq!(done.claim, None);
    assert_eq!(done.last_status, Some(CronRunStatus::Ok));
    assert_eq!(done.last_run_at_ms, Some(5_000));
    let runs = store.cron_runs("c1", 0).await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].output.as_deref(), Some("all good"));
    assert_eq!(runs[0].finished_at_ms, Some(7_000));
    // Finishing again changes nothing.
    store
        .cron_finish(CronFinish {
            run_id: first.id,
            owner: "gw-a".to_owned(),
            status: CronRunStatus::Failed,
            output: None,
            error: Some("late".to_owned()),
            at_ms: 8_000,
        })
        .await
        .expect("finish again");
    let runs = store.cron_runs("c1", 0).await.expect("runs");
    assert_eq!(runs[0].status, CronRunStatus::Ok);
    assert!(matches!(
        store
            .cron_finish(CronFinish {
                run_id: 999_999,
                owner: "gw-a".to_owned(),
                status: CronRunStatus::Ok,
                output: None,
                error: None,
                at_ms: 1,
            })
            .await,
        Err(StoreError::NotFound(_))
    ));

    // A paused job is never claimed.
    let paused = store
        .cron_update(
            "c1",
            CronJobUpdate {
                enabled: Some(false),
                ..CronJobUpdate::default()
            },
            9_000,
        )
        .await
        .expect("pause");
    let refused = store
        .cron_claim(claim("c1", paused.revision, "gw-a", 9_000, None))
        .await
        .expect("claim");
    assert_eq!(refused, None);
}

pub async fn cron_claim_takes_over_an_expired_claim(store: Arc<dyn Store>) {
    let job = store
        .cron_add(new_job("d1", Some(1_000)))
        .await
        .expect("add");
    let lost = store
        .cron_claim(claim("d1", job.revision, "gw-dead", 1_000, Some(2_000)))
        .await
        .expect("claim")
        .expect("claimed");
    let held = store.cron_job("d1").await.expect("get").expect("job");
    // The claim held until 2 000; at 2 500 it has run out.
    let taken = store
        .cron_claim(claim("d1", held.revision, "gw-new", 2_500, Some(3_000)))
        .await
        .expect("claim")
        .expect("an expired claim is taken over");
    let runs = store.cron_runs("d1", 0).await.expect("runs");
    assert_eq!(runs[0].id, taken.id);
    assert_eq!(runs[1].id, lost.id);
    assert_eq!(runs[0].status, CronRunStatus::Running);
    assert_eq!(runs[1].status, CronRunStatus::Interrupted);
    assert!(runs[1].error.is_some());
    // A live claim is not expired; one that ran out is.
    assert!(!store.cron_expire("d1", 2_600).await.expect("expire"));
    assert!(store.cron_expire("d1", 3_600).await.expect("expire"));
    assert!(!store.cron_expire("d1", 3_600).await.expect("expire again"));
    let job = store.cron_job("d1").await.expect("get").expect("job");
    assert_eq!(job.claim, None);
    assert_eq!(job.last_status, Some(CronRunStatus::Interrupted));
    assert_eq!(
        store.cron_runs("d1", 1).await.expect("runs")[0].status,
        CronRunStatus::Interrupted
    );
    let again = store
        .cron_claim(claim("d1", job.revision, "gw-new", 3_600, Some(9_000)))
        .await
        .expect("claim")
        .expect("claimed again");
    assert_eq!(again.status, CronRunStatus::Running);
    // The interrupted owner finishing late changes nothing.
    store
        .cron_finish(CronFinish {
            run_id: lost.id,
            owner: "gw-dead".to_owned(),
            status: CronRunStatus::Ok,
            output: None,
            error: None,
            at_ms: 2_600,
        })
        .await
        .expect("finish");
    let job = store.cron_job("d1").await.expect("get").expect("job");
    assert_eq!(job.claim.map(|c| c.owner).as_deref(), Some("gw-new"));
}

pub async fn cron_missed_times_and_bounded_history(store: Arc<dyn Store>) {
    store.cron_add(new_job("e1", Some(0))).await.expect("add");
    for i in 0..(CRON_RUNS_KEPT as i64 + 5) {
        let job = store.cron_job("e1").await.expect("get").expect("job");
        let mut c = claim("e1", job.revision, "gw", i * 10, Some(i * 10 + 10));
        c.status = if i % 2 == 0 {
            CronRunStatus::Missed
        } else {
            CronRunStatus::Running
        };
        let run = store.cron_claim(c).await.expect("claim").expect("claimed");
        if run.status == CronRunStatus::Running {
            let long = "x".repeat(CRON_OUTPUT_MAX_CHARS + 10);
            store
                .cron_finish(CronFinish {
                    run_id: run.id,
                    owner: "gw".to_owned(),
                    status: CronRunStatus::Silent,
                    output: Some(long),
                    error: None,
                    at_ms: i * 10 + 1,
                })
                .await
                .expect("finish");
        } else {
            assert_eq!(run.finished_at_ms, Some(i * 10));
            let job = store.cron_job("e1").await.expect("get").expect("job");
            assert_eq!(job.last_status, Some(CronRunStatus::Missed));
            assert_eq!(job.claim, None, "a missed time takes no claim");
        }
    }
    let runs = store.cron_runs("e1", 1_000).await.expect("runs");
    assert_eq!(runs.len(), CRON_RUNS_KEPT);
    assert!(runs.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let kept = runs
        .iter()
        .find(|r| r.status == CronRunStatus::Silent)
        .and_then(|r| r.output.clone())
        .expect("output kept");
    assert!(kept.chars().count() < CRON_OUTPUT_MAX_CHARS + 100);
    assert!(kept.starts_with("xxx") && kept.contains("cut"));
    assert_eq!(store.cron_runs("e1", 3).await.expect("runs").len(), 3);
    store.cron_remove("e1").await.expect("remove");
    assert!(store.cron_runs("e1", 0).await.expect("runs").is_empty());
}

pub async fn cron_changes_count_every_change(store: Arc<dyn Store>) {
    let mut last = store.cron_changes().await.expect("changes");
    let mut changed = async |what: &str| {
        let now = store.cron_changes().await.expect("changes");
        assert!(now > last, "{what} must raise the change counter");
        last = now;
    };
    store.cron_add(new_job("f1", Some(1))).await.expect("add");
    changed("add").await;
    let job = store
        .cron_update("f1", CronJobUpdate::default(), 2)
        .await
        .expect("update");
    changed("update").await;
    store
        .cron_claim(claim("f1", job.revision, "gw", 3, None))
        .await
        .expect("claim")
        .expect("claimed");
    changed("claim").await;
    store.cron_remove("f1").await.expect("remove");
    changed("remove").await;
}
