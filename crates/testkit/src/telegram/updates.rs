//! `getUpdates`: confirming by `offset`, `limit`, `allowed_updates`, and
//! long polling on the tokio clock, woken as soon as an update is queued.

use super::faults::ApiError;
use super::server::Params;
use super::state::{Pending, Shared, State};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

const WEBHOOK_ACTIVE: &str = "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
const TERMINATED: &str =
    "terminated by other getUpdates request; make sure that only one bot instance is running";

/// Not delivered unless asked for by name.
const NOT_BY_DEFAULT: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

/// Whether `update` may be delivered under `allowed` (`allowed_updates`).
fn is_allowed(allowed: Option<&[String]>, update: &Pending) -> bool {
    if update.raw {
        return true;
    }
    match allowed {
        Some(kinds) if !kinds.is_empty() => kinds.iter().any(|k| k == update.kind()),
        _ => !NOT_BY_DEFAULT.contains(&update.kind()),
    }
}

/// Confirms by `offset` (a negative one keeps only that many of the
/// newest updates and forgets the rest).
fn confirm(s: &mut State, offset: Option<i64>) {
    match offset {
        Some(offset) if offset < 0 => {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            while s.updates.len() > keep {
                s.updates.pop_front();
            }
            let first = s.updates.front().map_or(s.last_update_id + 1, |u| u.id);
            s.confirmed_offset = s.confirmed_offset.max(first);
        }
        Some(offset) if offset > 0 => {
            s.updates.retain(|u| u.id >= offset);
            s.confirmed_offset = s.confirmed_offset.max(offset);
        }
        _ => {}
    }
}

/// Up to `limit` deliverable updates, dropping the ones `allowed_updates`
/// excludes (Telegram never keeps those).
fn take_batch(s: &mut State, limit: usize) -> Vec<Value> {
    let allowed = s.allowed_updates.clone();
    s.updates.retain(|u| is_allowed(allowed.as_deref(), u));
    s.updates
        .iter()
        .take(limit)
        .map(|u| u.update.clone())
        .collect()
}

pub(crate) async fn get_updates(shared: &Shared, p: &Params) -> Result<Value, ApiError> {
    let offset = p.i64("offset")?;
    let limit = p.i64("limit")?.unwrap_or(100).clamp(1, 100);
    let limit = usize::try_from(limit).unwrap_or(100);
    let timeout = p.i64("timeout")?.unwrap_or(0).max(0).unsigned_abs();
    let allowed = p.json("allowed_updates")?;
    let generation = shared.update(|s| {
        if s.webhook.is_some() {
            return Err(ApiError::conflict(WEBHOOK_ACTIVE));
        }
        if let Some(Value::Array(kinds)) = allowed {
            s.allowed_updates = Some(
                kinds
                    .iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect(),
            );
        }
        confirm(s, offset);
        s.poll_generation += 1;
        Ok(s.poll_generation)
    })?;
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let batch = shared.wait_until_mut(|s| {
        if s.poll_generation != generation {
            return Some(Err(ApiError::conflict(TERMINATED)));
        }
        if s.webhook.is_some() {
            return Some(Err(ApiError::conflict(WEBHOOK_ACTIVE)));
        }
        let batch = take_batch(s, limit);
        (!batch.is_empty() || timeout == 0).then_some(Ok(Value::Array(batch)))
    });
    tokio::select! {
        // First, so a batch already there is served even when the
        // deadline is now (`timeout=0`).
        biased;
        result = batch => result,
        () = tokio::time::sleep_until(deadline) => Ok(json!([])),
        () = shared.shutdown.cancelled() => Ok(json!([])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(kind: &str, raw: bool) -> Pending {
        Pending {
            id: 1,
            update: json!({"update_id": 1, kind: {}}),
            raw,
        }
    }

    #[test]
    fn allowed_updates_filter_all_but_raw_updates() {
        let only_messages = vec!["message".to_owned()];
        assert!(is_allowed(Some(&only_messages), &pending("message", false)));
        assert!(!is_allowed(
            Some(&only_messages),
            &pending("edited_message", false)
        ));
        assert!(is_allowed(Some(&only_messages), &pending("poll", true)));
        assert!(is_allowed(None, &pending("edited_message", false)));
        assert!(!is_allowed(None, &pending("chat_member", false)));
        assert!(is_allowed(Some(&[]), &pending("poll", false)));
    }

    #[test]
    fn a_negative_offset_keeps_the_newest() {
        let mut s = State::new();
        for _ in 0..5 {
            s.push_update(json!({"message": {}}), false);
        }
        confirm(&mut s, Some(-2));
        let ids: Vec<i64> = s.updates.iter().map(|u| u.id).collect();
        assert_eq!(ids, [100_004, 100_005]);
        assert_eq!(s.confirmed_offset, 100_004);
        confirm(&mut s, Some(100_005));
        assert_eq!(s.updates.len(), 1);
        assert_eq!(s.confirmed_offset, 100_005);
    }
}
