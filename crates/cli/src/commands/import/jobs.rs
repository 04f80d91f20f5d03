//! A Hermes cron job (an entry of `cron/jobs.json`) as a hermod
//! [`JobSpec`], or the reason it cannot be one.
//!
//! Hermes stores the parsed schedule (`{kind: cron, expr}`, `{kind:
//! interval, minutes}`, `{kind: once, run_at}`); each is written back in
//! the form hermod's schedules read the same way (`"0 8 * * 1-5"`, `"every
//! 120m"`, an ISO time). A one-shot time already past, a job that runs a
//! script instead of a prompt, and a finished job are not imported.

use super::hermes::source_from_origin;
use hermod_core::JobSpec;
use hermod_model::PlatformId;
use hermod_store::CronCreator;
use serde_json::Value;

/// A Hermes job, ready to add, with notes on what hermod leaves out.
#[derive(Debug)]
pub struct Converted {
    /// Hermes' id, which the import keys the job by.
    pub hermes_id: String,
    pub spec: JobSpec,
    /// Parts of the job hermod does not have, for the summary.
    pub notes: Vec<String>,
}

/// The platform recorded as a job's creator: it came from Hermes.
pub const CREATOR_PLATFORM: &str = "hermes";

/// Converts `job`; `now_ms` tells a past one-shot time. `Err` holds the
/// job's id (or name) and why it is not imported.
pub fn convert(job: &Value, now_ms: i64) -> Result<Converted, (String, String)> {
    let text = |name: &str| {
        job.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let hermes_id = text("id").ok_or_else(|| {
        (
            text("name").unwrap_or_else(|| "a job".to_owned()),
            "it has no id".to_owned(),
        )
    })?;
    let label = match text("name") {
        Some(name) => format!("{hermes_id} ({name})"),
        None => hermes_id.clone(),
    };
    let refuse = |why: &str| Err((label.clone(), why.to_owned()));
    if job.get("no_agent").and_then(Value::as_bool) == Some(true) || text("script").is_some() {
        return refuse("it runs a script; hermod's jobs run prompts only");
    }
    if text("state").as_deref() == Some("completed") {
        return refuse("it has finished");
    }
    let Some(prompt) = text("prompt") else {
        return refuse("it has no prompt");
    };
    let schedule = match schedule(job.get("schedule"), now_ms) {
        Ok(schedule) => schedule,
        Err(why) => return refuse(&why),
    };
    let mut notes = Vec::new();
    let skills: Vec<&str> = job
        .get("skills")
        .and_then(Value::as_array)
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !skills.is_empty() {
        notes.push(format!(
            "its skills ({}) are not loaded: hermod has no skills",
            skills.join(", ")
        ));
    }
    if let Some(times) = job.pointer("/repeat/times").and_then(Value::as_u64)
        && times > 1
    {
        notes.push(format!(
            "it was to run {times} times; hermod runs it until it is removed"
        ));
    }
    for (key, what) in [
        ("provider", "provider"),
        ("base_url", "endpoint"),
        ("workdir", "working directory"),
    ] {
        if text(key).is_some() {
            notes.push(format!("its own {what} is not used"));
        }
    }
    let paused = job.get("enabled").and_then(Value::as_bool) == Some(false)
        || text("state").as_deref() == Some("paused");
    Ok(Converted {
        hermes_id,
        spec: JobSpec {
            name: text("name"),
            prompt,
            schedule,
            deliver: text("deliver"),
            model: text("model"),
            created_by: CronCreator {
                platform: PlatformId::from_static(CREATOR_PLATFORM),
                user_id: None,
            },
            origin: job.get("origin").and_then(source_from_origin),
            paused,
        },
        notes,
    })
}

/// Hermes' parsed schedule as text hermod parses the same way.
fn schedule(schedule: Option<&Value>, now_ms: i64) -> Result<String, String> {
    let schedule = match schedule {
        // Hand-written files may hold the schedule as Hermes takes it.
        Some(Value::String(text)) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Some(schedule @ Value::Object(_)) => schedule,
        _ => return Err("it has no schedule".to_owned()),
    };
    let field = |name: &str| schedule.get(name);
    match field("kind").and_then(Value::as_str) {
        Some("cron") => field("expr")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| "its cron schedule has no expression".to_owned()),
        Some("interval") => match field("minutes").and_then(Value::as_f64) {
            Some(minutes) if minutes >= 1.0 && minutes.fract() == 0.0 => {
                Ok(format!("every {minutes}m"))
            }
            _ => Err("its interval is not a whole number of minutes".to_owned()),
        },
        Some("once") => {
            let at = field("run_at")
                .and_then(Value::as_str)
                .ok_or_else(|| "its one-shot schedule has no time".to_owned())?;
            let ms = at
                .parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .map_err(|_| format!("its time {at:?} cannot be read"))?;
            if ms <= now_ms {
                return Err(format!("its one-shot time {at} has passed"));
            }
            Ok(at.to_owned())
        }
        Some(other) => Err(format!("its schedule kind {other:?} is not one hermod has")),
        None => Err("its schedule has no kind".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn each_schedule_form_reads_back() {
        let job = |schedule: Value| json!({"id": "a1", "prompt": "p", "schedule": schedule});
        let spec = |schedule| convert(&job(schedule), NOW).unwrap().spec.schedule;
        assert_eq!(
            spec(json!({"kind": "cron", "expr": "0 8 * * 1-5"})),
            "0 8 * * 1-5"
        );
        assert_eq!(
            spec(json!({"kind": "interval", "minutes": 120})),
            "every 120m"
        );
        assert_eq!(
            spec(json!({"kind": "once", "run_at": "2027-03-01T08:00:00+00:00"})),
            "2027-03-01T08:00:00+00:00"
        );
        assert_eq!(spec(json!("every 2h")), "every 2h");
        let past = convert(
            &job(json!({"kind": "once", "run_at": "2020-01-01T00:00:00+00:00"})),
            NOW,
        )
        .unwrap_err();
        assert!(past.1.contains("has passed"), "{past:?}");
    }

    #[test]
    fn scripts_are_refused_and_what_hermod_lacks_is_noted() {
        let script = json!({"id": "s", "name": "watch", "no_agent": true, "script": "w.sh",
                            "schedule": {"kind": "interval", "minutes": 5}});
        assert_eq!(
            convert(&script, NOW).unwrap_err(),
            (
                "s (watch)".to_owned(),
                "it runs a script; hermod's jobs run prompts only".to_owned()
            )
        );
        let job = json!({"id": "j", "prompt": "p", "skills": ["news"], "enabled": false,
                         "repeat": {"times": 3, "completed": 0}, "deliver": "origin",
                         "origin": {"platform": "chat", "chat_id": "9"},
                         "schedule": {"kind": "interval", "minutes": 60}});
        let converted = convert(&job, NOW).unwrap();
        assert!(converted.spec.paused);
        assert_eq!(converted.spec.origin.unwrap().chat_id.as_deref(), Some("9"));
        assert_eq!(converted.notes.len(), 2, "{:?}", converted.notes);
    }
}
