//! Putting a Hermes home into hermod's store, each kind of item counted as
//! new or already there, so running it twice imports nothing twice.
//!
//! What keeps it idempotent: an imported session keeps Hermes' session id
//! and is remembered with the last Hermes message taken ([`session`] says
//! how a later run continues it), a route is set only where the chat has
//! none, approvals and home channels are set only where missing, and each
//! imported job is remembered under its Hermes id in the store's settings
//! (`import.hermes.cron:<hermes id>` → hermod's job id). In a dry run the
//! same checks run and nothing is written.

use super::hermes::{HermesHome, Skipped};
use super::jobs::{self, CREATOR_PLATFORM};
use super::session;
use hermod_core::{CronJobs, JobSpec, Schedule};
use hermod_model::{ChatTarget, PlatformId, SessionId, SessionKey, SessionKeyPolicy};
use hermod_store::{ApprovedUser, Store};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Where the import goes and what it may do.
pub struct Target<'a> {
    pub store: Arc<dyn Store>,
    pub jobs: CronJobs,
    /// `false` for a dry run: everything is checked, nothing written.
    pub write: bool,
    /// Whether hermod has a platform of this name.
    pub known_platform: &'a dyn Fn(&str) -> bool,
    /// The home channel hermod's own configuration (`.env`, `config.yaml`)
    /// sets for a platform, if any.
    pub configured_home: &'a dyn Fn(&str) -> Option<String>,
    /// How hermod builds routing keys (its profile, `gateway.profile`).
    pub key_policy: SessionKeyPolicy,
    pub now_ms: i64,
}

impl Target<'_> {
    /// The namespace hermod's routing keys start with (`agent:main:`, or
    /// `agent:<profile>:`), as [`SessionKey::build`] writes it.
    fn key_prefix(&self) -> String {
        let profile = match self.key_policy.profile.as_deref() {
            None | Some("" | "default") => "main",
            Some(profile) => profile,
        };
        format!("agent:{profile}:")
    }
}

/// How many of one kind were new and how many were there already.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub new: usize,
    pub existing: usize,
}

/// What the import did (or, in a dry run, would do).
#[derive(Debug, Default)]
pub struct Summary {
    pub sessions: Counts,
    /// Sessions imported before that got Hermes' newer messages now.
    pub continued: usize,
    /// Messages imported (of new sessions and continued ones).
    pub messages: usize,
    pub routes: Counts,
    pub pairings: Counts,
    pub home_channels: Counts,
    pub jobs: Counts,
    pub skipped: Vec<Skipped>,
    /// Imported items with parts hermod leaves out.
    pub notes: Vec<String>,
}

impl Summary {
    pub fn new_total(&self) -> usize {
        self.sessions.new
            + self.continued
            + self.routes.new
            + self.pairings.new
            + self.home_channels.new
            + self.jobs.new
    }
}

/// The settings key remembering which hermod job a Hermes job became.
fn job_key(hermes_id: &str) -> String {
    format!("import.hermes.cron:{hermes_id}")
}

/// The settings key of a platform's home channel, as `/sethome` writes it
/// (core's `delivery::home_key`).
fn home_key(platform: &str) -> String {
    format!("home_channel:{platform}")
}

/// Imports `hermes` into `target`.
pub async fn run(hermes: HermesHome, target: &Target<'_>) -> anyhow::Result<Summary> {
    let mut summary = Summary {
        skipped: hermes.skipped,
        ..Summary::default()
    };
    let mut sessions_here: BTreeSet<String> = BTreeSet::new();
    for session in &hermes.sessions {
        if session::import(session, target, &mut summary).await? {
            sessions_here.insert(session.id.clone());
        }
    }
    for route in &hermes.routes {
        let (Ok(id), key) = (
            SessionId::parse(&route.session_id),
            SessionKey::from_raw(route.key.clone()),
        ) else {
            summary.skipped.push(Skipped::new(
                "route",
                &route.key,
                "its session id is not valid",
            ));
            continue;
        };
        let prefix = target.key_prefix();
        if !route.key.starts_with(&prefix) {
            summary.skipped.push(Skipped::new(
                "route",
                &route.key,
                &format!(
                    "it belongs to another Hermes profile; hermod's keys start with {prefix} \
                     (gateway.profile)"
                ),
            ));
            continue;
        }
        if !sessions_here.contains(&route.session_id) {
            summary.skipped.push(Skipped::new(
                "route",
                &route.key,
                &format!("its session {id} is not in state.db"),
            ));
            continue;
        }
        match target.store.route(&key).await? {
            Some(current) if current == id => summary.routes.existing += 1,
            Some(current) => summary.skipped.push(Skipped::new(
                "route",
                &route.key,
                &format!("hermod already continues this chat in its own session {current}"),
            )),
            None => {
                summary.routes.new += 1;
                if target.write {
                    target.store.set_route(&key, &id, target.now_ms).await?;
                }
            }
        }
    }
    for pairing in &hermes.pairings {
        if !(target.known_platform)(&pairing.platform) {
            summary.skipped.push(Skipped::new(
                "pairing",
                &format!("{}:{}", pairing.platform, pairing.user_id),
                &format!("hermod has no platform named {}", pairing.platform),
            ));
            continue;
        }
        let platform = PlatformId::new(pairing.platform.clone());
        if target
            .store
            .is_approved(&platform, &pairing.user_id)
            .await?
        {
            summary.pairings.existing += 1;
            continue;
        }
        summary.pairings.new += 1;
        if target.write {
            target
                .store
                .approve_user(ApprovedUser {
                    platform,
                    user_id: pairing.user_id.clone(),
                    user_name: pairing.user_name.clone(),
                    approved_at_ms: pairing.approved_at_ms.unwrap_or(target.now_ms),
                })
                .await?;
        }
    }
    for (platform, chat_id, thread_id) in &hermes.home_channels {
        import_home(
            platform,
            chat_id,
            thread_id.as_deref(),
            target,
            &mut summary,
        )
        .await?;
    }
    for job in &hermes.jobs {
        import_job(job, target, &mut summary).await?;
    }
    Ok(summary)
}

async fn import_home(
    platform: &str,
    chat_id: &str,
    thread_id: Option<&str>,
    target: &Target<'_>,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let what = format!("{platform}: {chat_id}");
    if !(target.known_platform)(platform) {
        summary.skipped.push(Skipped::new(
            "home channel",
            &what,
            &format!("hermod has no platform named {platform}"),
        ));
        return Ok(());
    }
    let wanted = ChatTarget {
        chat_id: chat_id.to_owned(),
        thread_id: thread_id.map(str::to_owned),
    };
    if let Some(stored) = target.store.setting(&home_key(platform)).await? {
        if serde_json::from_str::<ChatTarget>(&stored).is_ok_and(|t| t == wanted) {
            summary.home_channels.existing += 1;
        } else {
            summary.skipped.push(Skipped::new(
                "home channel",
                &what,
                "hermod has its own (set with /sethome)",
            ));
        }
        return Ok(());
    }
    match (target.configured_home)(platform) {
        Some(configured) if configured == chat_id => summary.home_channels.existing += 1,
        Some(configured) => summary.skipped.push(Skipped::new(
            "home channel",
            &what,
            &format!("hermod's configuration sets another ({configured})"),
        )),
        None => {
            summary.home_channels.new += 1;
            if target.write {
                target
                    .store
                    .set_setting(
                        &home_key(platform),
                        &serde_json::to_string(&wanted)?,
                        target.now_ms,
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

/// What a job's settings key holds while its job is being added: a run
/// that stops between the two finds it, and looks for the job before
/// adding it again (a job added twice would run twice).
const ADDING: &str = "(adding)";

async fn import_job(
    job: &serde_json::Value,
    target: &Target<'_>,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let converted = match jobs::convert(job, target.now_ms) {
        Ok(converted) => converted,
        Err((what, why)) => {
            summary.skipped.push(Skipped::new("cron job", &what, &why));
            return Ok(());
        }
    };
    let key = job_key(&converted.hermes_id);
    match target.store.setting(&key).await?.as_deref() {
        None => {}
        Some(ADDING) => {
            if let Some(added) = find_added(&converted.spec, target).await? {
                if target.write {
                    target
                        .store
                        .set_setting(&key, &added, target.now_ms)
                        .await?;
                }
                summary.jobs.existing += 1;
                return Ok(());
            }
        }
        Some(_) => {
            summary.jobs.existing += 1;
            return Ok(());
        }
    }
    let label = converted.hermes_id.clone();
    if !target.write {
        // The checks `add` makes, without adding.
        let checked = Schedule::parse(
            &converted.spec.schedule,
            target.now_ms,
            target.jobs.time_zone(),
        )
        .map_err(|e| e.to_string())
        .and_then(|_| match converted.spec.deliver.as_deref() {
            Some(deliver) => target
                .jobs
                .check_targets(deliver)
                .map_err(|e| e.to_string()),
            None => Ok(()),
        });
        match checked {
            Ok(()) => {
                summary.jobs.new += 1;
                note(summary, &label, &converted.notes);
            }
            Err(why) => summary.skipped.push(Skipped::new("cron job", &label, &why)),
        }
        return Ok(());
    }
    target
        .store
        .set_setting(&key, ADDING, target.now_ms)
        .await?;
    match target.jobs.add(converted.spec).await {
        Ok(added) => {
            target
                .store
                .set_setting(&key, &added.id, target.now_ms)
                .await?;
            summary.jobs.new += 1;
            note(
                summary,
                &format!("{label} (now {})", added.id),
                &converted.notes,
            );
        }
        Err(e) => {
            target.store.delete_setting(&key).await?;
            summary
                .skipped
                .push(Skipped::new("cron job", &label, &e.to_string()));
        }
    }
    Ok(())
}

/// The id of the job an earlier run added for `spec` before it stopped,
/// if there is one: imported from Hermes, with its prompt and name.
async fn find_added(spec: &JobSpec, target: &Target<'_>) -> anyhow::Result<Option<String>> {
    let prompt = spec.prompt.trim();
    Ok(target
        .store
        .cron_jobs()
        .await?
        .into_iter()
        .find(|job| {
            job.created_by.platform.as_str() == CREATOR_PLATFORM
                && job.prompt == prompt
                && spec.name.as_ref().is_none_or(|name| *name == job.name)
        })
        .map(|job| job.id))
}

fn note(summary: &mut Summary, job: &str, notes: &[String]) {
    for n in notes {
        summary.notes.push(format!("cron job {job}: {n}"));
    }
}
