//! `/api/sessions`: list (newest activity first, paged, by platform, or
//! found by full-text search with `q`), read, rename, end, delete, and a
//! session's messages.
//!
//! Deleting a session whose turn is still running: the turn is not
//! stopped; its reply cannot be stored once the session is gone, so its
//! client gets an error and nothing is kept. The chat's next message
//! starts a new session (its route went with the old one).

use super::{Params, json_object, number, params, session_view};
use crate::error::ApiError;
use crate::server::AppState;
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use hermod_core::CoreError;
use hermod_model::{PlatformId, SessionId};
use hermod_store::{ListSessions, SearchHit, SessionRecord, Store};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Sessions per page unless `limit` says otherwise (Hermes' default).
const DEFAULT_PAGE: usize = 50;
/// The largest page (Hermes' cap).
const MAX_PAGE: usize = 200;
/// How many matching messages a search reads before grouping them by
/// session: the first pages of sessions come from the best matches.
const SEARCH_HITS: usize = 500;
/// Matching messages shown per session found.
const MATCHES_SHOWN: usize = 5;
/// The longest title, in characters (as `/title`).
const MAX_TITLE_CHARS: usize = 200;

type Answer = Result<Json<Value>, ApiError>;

pub(super) async fn list(State(state): State<AppState>, query: Params) -> Answer {
    let store = store(&state)?;
    let params = params(query)?;
    let limit = number(&params, "limit", DEFAULT_PAGE, MAX_PAGE).max(1);
    let offset = number(&params, "offset", 0, 1_000_000);
    // `source` is Hermes' name for the platform filter.
    let platform = params
        .get("source")
        .or_else(|| params.get("platform"))
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| PlatformId::new(p.to_owned()));
    let (data, has_more) = match params.get("q").map(|q| q.trim()).filter(|q| !q.is_empty()) {
        Some(q) => search(store.as_ref(), q, platform.as_ref(), offset, limit).await?,
        None => {
            let query = ListSessions {
                platform,
                limit: limit + 1,
                offset,
            };
            let mut records = store.list_sessions(query).await.map_err(CoreError::from)?;
            let has_more = records.len() > limit;
            records.truncate(limit);
            let mut data = Vec::with_capacity(records.len());
            for record in &records {
                let preview = preview(store.as_ref(), record).await?;
                data.push(session_view::session(record, &preview));
            }
            (data, has_more)
        }
    };
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "limit": limit,
        "offset": offset,
        "has_more": has_more,
    })))
}

/// The sessions whose messages match `q`, in the order of their best
/// match, each with its matching messages.
async fn search(
    store: &dyn Store,
    q: &str,
    platform: Option<&PlatformId>,
    offset: usize,
    limit: usize,
) -> Result<(Vec<Value>, bool), ApiError> {
    // The platform is part of the query: filtered afterwards, the top hits
    // of busier platforms would crowd this one's out.
    let hits = match platform {
        Some(platform) => store.search_platform(platform, q, SEARCH_HITS).await,
        None => store.search(q, SEARCH_HITS).await,
    }
    .map_err(CoreError::from)?;
    let mut groups: Vec<(SessionId, Vec<&SearchHit>)> = Vec::new();
    for hit in &hits {
        match groups.iter_mut().find(|(id, _)| *id == hit.session) {
            Some((_, matches)) => matches.push(hit),
            None => groups.push((hit.session.clone(), vec![hit])),
        }
    }
    let (mut data, mut skipped) = (Vec::new(), 0);
    for (id, matches) in &groups {
        let Some(record) = store.session(id).await.map_err(CoreError::from)? else {
            continue;
        };
        if platform.is_some_and(|p| *p != record.platform) {
            continue;
        }
        if skipped < offset {
            skipped += 1;
            continue;
        }
        if data.len() == limit {
            return Ok((data, true));
        }
        let shown = &matches[..matches.len().min(MATCHES_SHOWN)];
        let preview = preview(store, &record).await?;
        data.push(session_view::found(&record, &preview, shown));
    }
    Ok((data, false))
}

pub(super) async fn get_one(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let store = store(&state)?;
    let record = existing(store.as_ref(), &id).await?;
    session_answer(store.as_ref(), &record).await
}

/// `{"title": "..."}` renames (`null` or `""` clears the title);
/// `{"end_reason": "..."}` ends the session, as Hermes allows.
pub(super) async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    let store = store(&state)?;
    let record = existing(store.as_ref(), &id).await?;
    let body = json_object(&state, request).await?;
    let unknown: Vec<&str> = body
        .keys()
        .map(String::as_str)
        .filter(|k| !matches!(*k, "title" | "end_reason"))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(
            "unsupported_session_field",
            format!(
                "Unsupported session fields: {}; a session's `title` and `end_reason` can be changed.",
                unknown.join(", ")
            ),
        ));
    }
    let title = match body.get("title") {
        None => None,
        Some(Value::Null) => Some(String::new()),
        Some(Value::String(raw)) => Some(clean_title(raw)?),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_title",
                "`title` must be a string, or null to clear it.",
            )
            .param("title"));
        }
    };
    let end_reason = match body.get("end_reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(reason)) if !reason.trim().is_empty() => Some(reason.trim()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_end_reason",
                "`end_reason` must be a non-empty string, such as \"user_closed\".",
            )
            .param("end_reason"));
        }
    };
    if let Some(title) = title {
        store
            .set_title(&record.id, &title)
            .await
            .map_err(CoreError::from)?;
    }
    if let Some(reason) = end_reason {
        store
            .end_session(&record.id, reason, hermod_core::now_ms())
            .await
            .map_err(CoreError::from)?;
    }
    let record = existing(store.as_ref(), record.id.as_str()).await?;
    session_answer(store.as_ref(), &record).await
}

/// Deletes the session, its messages, summary and routes (see the module
/// docs for a turn still running in it).
pub(super) async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let store = store(&state)?;
    let record = existing(store.as_ref(), &id).await?;
    let deleted = store
        .delete_session(&record.id)
        .await
        .map_err(CoreError::from)?;
    Ok(Json(json!({
        "object": "hermes.session.deleted",
        "id": record.id.as_str(),
        "deleted": deleted,
    })))
}

/// The session's messages in order; all of them unless `limit` (and
/// `offset`) page through them. `total` counts them all.
pub(super) async fn messages(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Params,
) -> Answer {
    let store = store(&state)?;
    let params: HashMap<String, String> = params(query)?;
    let record = existing(store.as_ref(), &id).await?;
    let stored = match store.messages(&record.id).await {
        Ok(stored) => stored,
        // Deleted since it was read.
        Err(hermod_store::StoreError::NotFound(_)) => return Err(not_found(&id)),
        Err(e) => return Err(CoreError::from(e).into()),
    };
    let total = stored.len();
    let offset = number(&params, "offset", 0, total);
    let limit = number(&params, "limit", total, total.max(1)).max(1);
    let page = stored.iter().skip(offset).take(limit);
    Ok(Json(json!({
        "object": "list",
        "session_id": record.id.as_str(),
        "data": page.map(session_view::message).collect::<Vec<_>>(),
        "total": total,
        "offset": offset,
        "has_more": offset + limit < total,
    })))
}

/// `{"object": "hermes.session", "session": {...}}`.
async fn session_answer(store: &dyn Store, record: &SessionRecord) -> Answer {
    let preview = preview(store, record).await?;
    Ok(Json(
        json!({"object": "hermes.session", "session": session_view::session(record, &preview)}),
    ))
}

/// The session's preview (see [`session_view::preview`]). Reads its
/// messages: the store has no narrower query, and a page holds at most
/// [`MAX_PAGE`] sessions.
async fn preview(store: &dyn Store, record: &SessionRecord) -> Result<String, ApiError> {
    match store.messages(&record.id).await {
        Ok(messages) => Ok(session_view::preview(&messages)),
        // Deleted since it was listed.
        Err(hermod_store::StoreError::NotFound(_)) => Ok(String::new()),
        Err(e) => Err(CoreError::from(e).into()),
    }
}

/// The store, or 503 when the server was built without one.
fn store(state: &AppState) -> Result<Arc<dyn Store>, ApiError> {
    state.sessions.store.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "session_db_unavailable",
            "Sessions are not available: this server was started without the gateway's store.",
        )
    })
}

/// The session with this id; an id that cannot be one is not found either.
async fn existing(store: &dyn Store, id: &str) -> Result<SessionRecord, ApiError> {
    let Ok(parsed) = SessionId::parse(id) else {
        return Err(not_found(id));
    };
    store
        .session(&parsed)
        .await
        .map_err(CoreError::from)?
        .ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> ApiError {
    let shown: String = id.chars().take(SessionId::MAX_LEN).collect();
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "session_not_found",
        format!("Session not found: {shown}. GET /api/sessions lists the sessions."),
    )
}

/// A title as Hermes cleans it: control and invisible formatting
/// characters removed, runs of whitespace made one space, trimmed; empty
/// clears the title. Longer than [`MAX_TITLE_CHARS`] is refused.
fn clean_title(raw: &str) -> Result<String, ApiError> {
    let kept: String = raw
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control() && !is_invisible(*c))
        .collect();
    let title = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    let chars = title.chars().count();
    if chars > MAX_TITLE_CHARS {
        return Err(ApiError::bad_request(
            "invalid_title",
            format!("Title too long ({chars} characters, at most {MAX_TITLE_CHARS})."),
        )
        .param("title"));
    }
    Ok(title)
}

/// Zero-width and direction-override characters: invisible in a list, and
/// able to make a title read as another.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffc}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_cleaned_as_hermes_cleans_them() {
        assert_eq!(
            clean_title("  Trip\tplans\n 2026 ").unwrap(),
            "Trip plans 2026"
        );
        assert_eq!(clean_title("a\u{202e}b\u{200b}c\u{7}").unwrap(), "abc");
        assert_eq!(clean_title(" \n ").unwrap(), "");
        let long = "x".repeat(MAX_TITLE_CHARS + 1);
        let err = clean_title(&long).unwrap_err();
        assert_eq!(err.code, "invalid_title");
        assert!(clean_title(&"é".repeat(MAX_TITLE_CHARS)).is_ok());
    }
}
