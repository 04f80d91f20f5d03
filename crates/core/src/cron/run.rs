//! One run of a scheduled job: a turn through the router, its reply
//! delivered to the job's targets through the outbox, the outcome kept in
//! the job's history.
//!
//! Each run is its own session (routing key `cron:<job>:<run>`): a job's
//! runs are independent prompts, so one run's answer never steers the next
//! and the context does not grow run after run; the sessions stay in the
//! store, so `hermod sessions` shows what each run did.

use crate::cron::jobs::{TargetSpec, parse_targets};
use crate::cron::scheduler::{CLAIM_TTL, RENEW_EVERY};
use crate::cron::silence::is_silent;
use crate::delivery::Deliveries;
use crate::error::CoreError;
use crate::reply::TurnEvent;
use crate::router::{Router, Shared};
use hermod_agent::AgentEvent;
use hermod_model::{ChatType, DeliveryTarget, InboundEvent, PlatformId, SessionKey, Source};
use hermod_store::{CronFinish, CronJob, CronRun, CronRunStatus};
use std::collections::HashSet;
use std::sync::Arc;
use tracing::{info, warn};

/// The platform name of turns started by the scheduler. No adapter has
/// it, so core trusts it like its own input.
pub const CRON_PLATFORM: &str = "cron";

/// Added to the system prompt of every run.
const RUN_HINT: &str = "You are running a scheduled job; nobody is waiting in a chat. Your \
     final reply is delivered as it is to the job's targets. If there is nothing worth \
     reporting, reply with exactly [SILENT] and nothing is delivered.";

/// Runs `job` for its claimed `run` and records how it ended.
pub(crate) async fn run_job(shared: Arc<Shared>, job: CronJob, run: CronRun, owner: String) {
    let deps = shared.deps();
    let renew = async {
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            let until = deps.clock.now_ms() + i64::try_from(CLAIM_TTL.as_millis()).unwrap_or(0);
            if let Err(e) = deps.store.cron_renew(&job.id, &owner, until).await {
                warn!(job = %job.id, error = %e, "cannot renew a running job's claim");
            }
        }
    };
    let result = tokio::select! {
        r = turn(&shared, &job, &run) => r,
        () = renew => unreachable!("renewing never ends"),
    };
    let (status, output, error) = match result {
        Ok(text) if is_silent(&text) => {
            info!(job = %job.id, run = run.id, "scheduled job answered silence: kept, not delivered");
            (CronRunStatus::Silent, Some(text), None)
        }
        Ok(text) => {
            let failures = deliver(&shared, &job, run.id, &text).await;
            let error = (!failures.is_empty()).then(|| failures.join("; "));
            (CronRunStatus::Ok, Some(text), error)
        }
        Err(e @ (CoreError::Cancelled | CoreError::ShuttingDown)) => {
            warn!(job = %job.id, run = run.id, "scheduled job stopped by the gateway's shutdown");
            (CronRunStatus::Interrupted, None, Some(e.to_string()))
        }
        Err(e) => {
            warn!(job = %job.id, run = run.id, error = %e, "scheduled job failed");
            let notice = format!(
                "⚠️ Scheduled job \"{}\" failed: {}",
                job.name,
                e.user_message()
            );
            let failures = deliver(&shared, &job, run.id, &notice).await;
            let mut error = e.to_string();
            if !failures.is_empty() {
                error = format!("{error} (and the report: {})", failures.join("; "));
            }
            (CronRunStatus::Failed, None, Some(error))
        }
    };
    let finish = CronFinish {
        run_id: run.id,
        owner,
        status,
        output,
        error,
        at_ms: deps.clock.now_ms(),
    };
    if let Err(e) = deps
        .persist("record a scheduled run", || {
            deps.store.cron_finish(finish.clone())
        })
        .await
    {
        warn!(job = %job.id, run = run.id, error = %e, "cannot record how a scheduled run ended");
    }
}

/// The job's prompt as a turn of its own session; the final text.
async fn turn(shared: &Arc<Shared>, job: &CronJob, run: &CronRun) -> Result<String, CoreError> {
    let deps = shared.deps();
    let source = Source {
        platform: PlatformId::from_static(CRON_PLATFORM),
        chat_type: ChatType::Dm,
        chat_id: Some(job.id.clone()),
        chat_name: Some(job.name.clone()),
        user_id: job.created_by.user_id.clone(),
        user_id_alt: None,
        user_name: None,
        thread_id: None,
        is_bot: false,
    };
    let mut event = InboundEvent::text(source, job.prompt.clone());
    event.session_id = Some(deps.clock.new_session_id());
    event.route = Some(SessionKey::from_raw(format!(
        "agent:main:{CRON_PLATFORM}:{}:{}",
        job.id, run.id
    )));
    event.options.model.clone_from(&job.model);
    event.system_prompt = Some(RUN_HINT.to_owned());
    let mut stream = Router::from_shared(shared)
        .inbound()
        .submit_streaming(event)?;
    let mut text = None;
    while let Some(event) = stream.next().await {
        match event {
            TurnEvent::Agent(AgentEvent::Final(outcome)) => {
                text.get_or_insert(outcome.text);
            }
            // The final text without `MEDIA:` directives comes just before.
            TurnEvent::Files(media) => text = Some(media.text),
            TurnEvent::Agent(AgentEvent::Failed(e)) => return Err(e.into()),
            TurnEvent::Reply { text: reply } => text = Some(reply),
            TurnEvent::Failed(e) => return Err(e),
            _ => {}
        }
    }
    text.ok_or(CoreError::Cancelled)
}

/// Delivers `text` to every target of the job once (duplicates after
/// resolving, such as `origin` and the same chat named, go once); returns
/// what failed. Each delivery's outbox key names the run and the target,
/// so a retried delivery is never sent twice.
async fn deliver(shared: &Arc<Shared>, job: &CronJob, run_id: i64, text: &str) -> Vec<String> {
    let deps = shared.deps();
    let deliveries = Deliveries::new(Arc::clone(shared));
    let mut failures = Vec::new();
    let specs = match parse_targets(&job.deliver, |_| true) {
        Ok(specs) => specs,
        Err(e) => return vec![e.to_string()],
    };
    let mut targets = Vec::new();
    for spec in specs {
        match spec {
            TargetSpec::One(target) => targets.push(target),
            TargetSpec::All => {
                let mut platforms: Vec<_> = deps.adapters.keys().cloned().collect();
                platforms.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                let before = targets.len();
                for platform in platforms {
                    if deliveries.home_channel(&platform).await.is_ok() {
                        targets.push(DeliveryTarget::Home { platform });
                    }
                }
                if targets.len() == before {
                    failures.push(
                        "`all`: no platform has a home channel (send /sethome in a chat)"
                            .to_owned(),
                    );
                }
            }
        }
    }
    let mut seen = HashSet::new();
    for target in targets {
        let resolved = match resolve(&deliveries, job, &target).await {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{target}: {e}"));
                continue;
            }
        };
        if !seen.insert(resolved.clone()) {
            continue;
        }
        let key = format!("cron:{}:{run_id}:{resolved}", job.id);
        match deliveries
            .deliver(&resolved, job.origin.as_ref(), text, &key)
            .await
        {
            Ok(receipt) => {
                info!(job = %job.id, target = %receipt.target, "scheduled job delivered")
            }
            Err(e) => {
                warn!(job = %job.id, target = %resolved, error = %e, "scheduled job delivery failed");
                failures.push(format!("{resolved}: {e}"));
            }
        }
    }
    failures
}

/// A target as the chat it means, so duplicates can be told.
async fn resolve(
    deliveries: &Deliveries,
    job: &CronJob,
    target: &DeliveryTarget,
) -> Result<DeliveryTarget, CoreError> {
    Ok(match target {
        DeliveryTarget::Origin => match job
            .origin
            .as_ref()
            .and_then(|o| Some((o.platform.clone(), o.chat_id.clone()?, o.thread_id.clone())))
        {
            Some((platform, chat_id, thread_id)) => DeliveryTarget::Chat {
                platform,
                chat_id,
                thread_id,
            },
            None => DeliveryTarget::Local,
        },
        DeliveryTarget::Home { platform } => {
            let chat = deliveries.home_channel(platform).await?;
            DeliveryTarget::Chat {
                platform: platform.clone(),
                chat_id: chat.chat_id,
                thread_id: chat.thread_id,
            }
        }
        other => other.clone(),
    })
}
