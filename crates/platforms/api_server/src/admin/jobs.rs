//! `/api/jobs`: the gateway's scheduled jobs, as Hermes serves them —
//! list, create, read, change, delete, pause, resume, run now — and each
//! job's run history (`/api/jobs/{id}/runs`, hermod's).
//!
//! Every change goes through core's `CronJobs`, the one API behind
//! `hermod cron`, `/cron` and the agent's `cronjob` tool, so schedules and
//! targets are checked the same way (an invalid one is a 400 with core's
//! message, which lists the accepted forms). Jobs created here are the
//! API's (`created_by` `api_server`); they have no chat of origin.

use super::{Params, job_view, json_object, number, params};
use crate::error::ApiError;
use crate::server::AppState;
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use hermod_core::{CoreError, CronJobs, JobEdit, JobSpec};
use hermod_store::{CRON_RUNS_KEPT, CronCreator, CronJob};
use serde_json::{Map, Value, json};

/// Hermes' limits on what a client may write.
const MAX_NAME_CHARS: usize = 200;
const MAX_PROMPT_CHARS: usize = 5000;
/// Runs shown unless `limit` says otherwise.
const DEFAULT_RUNS: usize = 20;
/// Hermes job fields hermod has no such thing for: refused when given a
/// value, so a client does not believe they took effect.
const UNSUPPORTED: &[&str] = &[
    "skills",
    "skill",
    "repeat",
    "script",
    "provider",
    "base_url",
    "no_agent",
    "context_from",
    "enabled_toolsets",
    "workdir",
];

type Answer = Result<Json<Value>, ApiError>;

/// `{"jobs": [...]}`, oldest first. Paused jobs only with
/// `include_disabled=true`, as Hermes lists them.
pub(super) async fn list(State(state): State<AppState>, query: Params) -> Answer {
    let jobs = cron(&state)?;
    let params = params(query)?;
    let include_disabled = params
        .get("include_disabled")
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"));
    let now = hermod_core::now_ms();
    let listed: Vec<Value> = jobs
        .list()
        .await?
        .iter()
        .filter(|j| include_disabled || j.enabled)
        .map(|j| job_view::job(jobs, j, now))
        .collect();
    Ok(Json(json!({"jobs": listed})))
}

/// Creates a job: `prompt` and `schedule` required; `name`, `deliver`
/// (default `local`), `model`, `paused` (or `enabled: false`) optional.
pub(super) async fn create(State(state): State<AppState>, request: Request) -> Answer {
    let jobs = cron(&state)?;
    let body = json_object(&state, request).await?;
    refuse_unsupported(&body)?;
    let name = optional_text(&body, "name", MAX_NAME_CHARS)?;
    let prompt = optional_text(&body, "prompt", MAX_PROMPT_CHARS)?.unwrap_or_default();
    let schedule = optional_text(&body, "schedule", usize::MAX)?.unwrap_or_default();
    let deliver = deliver(&body)?;
    let model = optional_text(&body, "model", usize::MAX)?;
    let paused = flag(&body, "paused")?.unwrap_or(false) || flag(&body, "enabled")? == Some(false);
    let spec = JobSpec {
        name,
        prompt,
        schedule,
        deliver: Some(deliver.unwrap_or_else(|| "local".to_owned())),
        model,
        created_by: CronCreator {
            platform: crate::PLATFORM,
            user_id: Some(crate::inbound::API_USER.to_owned()),
        },
        origin: None,
        paused,
    };
    let job = jobs.add(spec).await?;
    Ok(job_answer(jobs, &job))
}

pub(super) async fn get_one(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let jobs = cron(&state)?;
    let job = find(jobs, &id).await?;
    Ok(job_answer(jobs, &job))
}

/// Changes `name`, `prompt`, `schedule` (its next run is computed from
/// now), `deliver`, `model` (`null` or `""` for the default), and pauses or
/// resumes with `enabled` (or `paused`).
pub(super) async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    let jobs = cron(&state)?;
    let job = find(jobs, &id).await?;
    let body = json_object(&state, request).await?;
    refuse_unsupported(&body)?;
    let edit = JobEdit {
        name: optional_text(&body, "name", MAX_NAME_CHARS)?,
        prompt: optional_text(&body, "prompt", MAX_PROMPT_CHARS)?,
        schedule: optional_text(&body, "schedule", usize::MAX)?,
        deliver: deliver(&body)?,
        model: match body.get("model") {
            Some(Value::Null) => Some(String::new()),
            _ => optional_text(&body, "model", usize::MAX)?,
        },
    };
    let enabled = match (flag(&body, "enabled")?, flag(&body, "paused")?) {
        (Some(enabled), _) => Some(enabled),
        (None, paused) => paused.map(|p| !p),
    };
    let edits = edit.name.is_some()
        || edit.prompt.is_some()
        || edit.schedule.is_some()
        || edit.deliver.is_some()
        || edit.model.is_some();
    if !edits && enabled.is_none() {
        return Err(ApiError::bad_request(
            "no_valid_fields",
            "No valid fields to update: send name, prompt, schedule, deliver, model or enabled.",
        ));
    }
    let mut job = if edits {
        jobs.edit(&job.id, edit).await?
    } else {
        job
    };
    match enabled {
        Some(true) if !job.enabled => job = jobs.resume(&job.id).await?,
        Some(false) if job.enabled => job = jobs.pause(&job.id).await?,
        _ => {}
    }
    Ok(job_answer(jobs, &job))
}

/// Removes the job and its run history: `{"ok": true}`, as Hermes.
pub(super) async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let jobs = cron(&state)?;
    let job = find(jobs, &id).await?;
    jobs.remove(&job.id).await?;
    Ok(Json(json!({"ok": true, "id": job.id})))
}

pub(super) async fn pause(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let jobs = cron(&state)?;
    let job = find(jobs, &id).await?;
    let job = jobs.pause(&job.id).await?;
    Ok(job_answer(jobs, &job))
}

/// Resumes a job: a repeating one runs next at its next time from now.
pub(super) async fn resume(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let jobs = cron(&state)?;
    let job = find(jobs, &id).await?;
    let job = jobs.resume(&job.id).await?;
    Ok(job_answer(jobs, &job))
}

/// Asks for a run now: the gateway's scheduler takes it up within seconds
/// (`run_requested` until it does), and its outcome appears in the job's
/// runs. A paused job is refused (`409`): resume it first.
pub(super) async fn run(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let jobs = cron(&state)?;
    let job = find(jobs, &id).await?;
    if !job.enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "invalid_request_error",
            "job_paused",
            format!(
                "Job {} is paused; resume it first (POST /api/jobs/{}/resume).",
                job.id, job.id
            ),
        ));
    }
    let job = jobs.run_now(&job.id).await?;
    Ok(job_answer(jobs, &job))
}

/// `{"job_id", "runs": [...]}`: the job's runs, newest first, at most
/// `limit` (default 20; hermod keeps the last 50).
pub(super) async fn runs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Params,
) -> Answer {
    let jobs = cron(&state)?;
    let params = params(query)?;
    let job = find(jobs, &id).await?;
    let limit = number(&params, "limit", DEFAULT_RUNS, CRON_RUNS_KEPT).max(1);
    let (job, runs) = jobs.history(&job.id, limit).await?;
    let tz = jobs.time_zone();
    Ok(Json(json!({
        "job_id": job.id,
        "runs": runs.iter().map(|r| job_view::run(tz, r)).collect::<Vec<_>>(),
    })))
}

fn job_answer(jobs: &CronJobs, job: &CronJob) -> Json<Value> {
    Json(json!({"job": job_view::job(jobs, job, hermod_core::now_ms())}))
}

/// The gateway's jobs, or 503 when the server was started without them.
fn cron(state: &AppState) -> Result<&CronJobs, ApiError> {
    state.cron.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "jobs_unavailable",
            "Scheduled jobs are not available on this server: it was started without the \
             gateway's scheduler (`hermod gateway run` serves them).",
        )
    })
}

/// The job with this full id (12 hex digits, as Hermes checks), or 404.
async fn find(jobs: &CronJobs, id: &str) -> Result<CronJob, ApiError> {
    let well_formed = id.len() == 12 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !well_formed {
        return Err(ApiError::bad_request(
            "invalid_job_id",
            "Invalid job ID format: a job id is 12 lowercase hex digits (GET /api/jobs lists them).",
        ));
    }
    match jobs.get(id).await {
        Ok(job) => Ok(job),
        Err(CoreError::Cron(_)) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "job_not_found",
            format!("Job not found: {id}. GET /api/jobs?include_disabled=true lists them all."),
        )),
        Err(e) => Err(e.into()),
    }
}

/// A string field, trimmed; `None` when absent or null. Over `max`
/// characters, or not a string, is a 400 naming the field.
fn optional_text(
    body: &Map<String, Value>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.chars().count() > max => Err(ApiError::bad_request(
            "invalid_field",
            format!("`{field}` must be at most {max} characters."),
        )
        .param(field)),
        Some(Value::String(text)) => Ok(Some(text.trim().to_owned())),
        Some(_) => Err(ApiError::bad_request(
            "invalid_field",
            format!("`{field}` must be a string."),
        )
        .param(field)),
    }
}

fn flag(body: &Map<String, Value>, field: &'static str) -> Result<Option<bool>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::bad_request(
            "invalid_field",
            format!("`{field}` must be true or false."),
        )
        .param(field)),
    }
}

/// `deliver` as a comma list or an array of targets. `origin` is refused:
/// a job made over the API has no chat it came from.
fn deliver(body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let deliver = match body.get("deliver") {
        Some(Value::Array(items)) => {
            let targets: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            let targets = targets.ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_field",
                    "`deliver` must be a string or a list of strings.",
                )
                .param("deliver")
            })?;
            Some(targets.join(","))
        }
        _ => optional_text(body, "deliver", usize::MAX)?,
    };
    if deliver.as_deref().is_some_and(|d| {
        d.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("origin"))
    }) {
        return Err(ApiError::bad_request(
            "invalid_scheduled_job",
            format!(
                "A job created over the API has no chat of origin to deliver to; {}",
                hermod_core::TARGET_FORMS
            ),
        )
        .param("deliver"));
    }
    Ok(deliver)
}

/// A Hermes field hermod has no such thing for, given a value: refused.
fn refuse_unsupported(body: &Map<String, Value>) -> Result<(), ApiError> {
    let given: Vec<&str> = UNSUPPORTED
        .iter()
        .copied()
        .filter(|field| match body.get(*field) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Array(items)) => !items.is_empty(),
            Some(Value::String(text)) => !text.trim().is_empty(),
            Some(_) => true,
        })
        .collect();
    if given.is_empty() {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "unsupported_job_field",
        format!(
            "hermod's scheduled jobs do not support {}: a job is a prompt, a schedule, targets and \
             a model.",
            given.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn unsupported_fields_are_refused_only_with_a_value() {
        assert!(refuse_unsupported(&body(json!({"skills": [], "repeat": null}))).is_ok());
        let err = refuse_unsupported(&body(json!({"skills": ["x"], "repeat": 3}))).unwrap_err();
        assert_eq!(err.code, "unsupported_job_field");
        assert!(err.message.contains("skills, repeat"), "{}", err.message);
    }

    #[test]
    fn targets_as_a_list_and_origin_refused() {
        let listed = deliver(&body(json!({"deliver": ["local", "test:1"]}))).unwrap();
        assert_eq!(listed.as_deref(), Some("local,test:1"));
        let err = deliver(&body(json!({"deliver": "local, origin"}))).unwrap_err();
        assert!(err.message.contains("accepted targets"), "{}", err.message);
        assert!(deliver(&body(json!({"deliver": [1]}))).is_err());
    }
}
