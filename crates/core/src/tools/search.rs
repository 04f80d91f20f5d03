//! The `session_search` tool: full-text search over the asking user's own
//! past conversations ("what did we decide about the trip?").
//!
//! Only sessions whose source has the same platform and user id as the
//! asking conversation are searched, and the store applies that filter in
//! the query itself ([`Store::search_owned`]), so another user's messages
//! can neither appear nor crowd the user's own out of the results. The
//! HTTP API's sessions all belong to its one key holder.

use super::{asking_user, text_arg};
use async_trait::async_trait;
use hermod_agent::{Tool, ToolContext};
use hermod_store::{SearchHit, Store};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Hits returned when the model does not say.
const DEFAULT_LIMIT: usize = 10;
/// The most hits one call returns.
const MAX_LIMIT: usize = 30;

/// The `session_search` tool over the store.
#[derive(Clone)]
pub struct SessionSearchTool {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for SessionSearchTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSearchTool").finish_non_exhaustive()
    }
}

impl SessionSearchTool {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

/// `at_ms` as a UTC date and time (`2026-05-01 08:00 UTC`).
fn date(at_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(at_ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

#[async_trait]
impl Tool for SessionSearchTool {
    fn name(&self) -> &str {
        "session_search"
    }

    fn description(&self) -> &str {
        "Search the user's own earlier conversations with you (all of this user's sessions, \
         this one included) for words, to recall what was said or decided. Every word must \
         occur; results are grouped by conversation with its title, date and excerpts, best \
         match first, matches marked >>>like this<<<."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "words to find (all must occur)"},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "description": "most excerpts to return (default 10)"}
            },
            "required": ["query"]
        })
    }

    async fn call(&self, args: Value, ctx: ToolContext) -> Result<String, String> {
        let query = text_arg(&args, "query").ok_or("session_search needs a query")?;
        let limit = args
            .get("limit")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_LIMIT, |n| usize::try_from(n).unwrap_or(MAX_LIMIT))
            .clamp(1, MAX_LIMIT);
        let (_, owner) = asking_user(self.store.as_ref(), &ctx).await?;
        let hits = self
            .store
            .search_owned(&owner, &query, limit)
            .await
            .map_err(|e| format!("the search failed: {e}"))?;
        if hits.is_empty() {
            return Ok(
                json!({"query": query, "sessions": [], "note": "nothing found"}).to_string(),
            );
        }
        // Grouped by session, in the order of each session's best hit.
        let mut order: Vec<&SearchHit> = Vec::new();
        let mut by_session: HashMap<&str, Vec<&SearchHit>> = HashMap::new();
        for hit in &hits {
            let group = by_session.entry(hit.session.as_str()).or_default();
            if group.is_empty() {
                order.push(hit);
            }
            group.push(hit);
        }
        let mut sessions = Vec::with_capacity(order.len());
        for first in order {
            let record = self.store.session(&first.session).await.ok().flatten();
            let excerpts: Vec<Value> = by_session[first.session.as_str()]
                .iter()
                .map(|h| {
                    json!({
                        "role": h.role.as_str(),
                        "date": date(h.at_ms),
                        "text": h.snippet,
                    })
                })
                .collect();
            sessions.push(json!({
                "session_id": first.session.as_str(),
                "title": record.as_ref().and_then(|r| r.title.clone()),
                "date": record.as_ref().map(|r| date(r.created_at_ms)),
                "current": first.session == ctx.session_id,
                "excerpts": excerpts,
            }));
        }
        Ok(json!({"query": query, "sessions": sessions}).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_utc() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_777_622_400_000), "2026-05-01 08:00 UTC");
    }
}
