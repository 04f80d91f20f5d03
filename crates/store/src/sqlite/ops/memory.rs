//! Per-user notes and "always" approval grants, each row keyed by its
//! owner's platform and user id.

use super::sql_limit;
use crate::rows::{GRANT_COLUMNS, NOTE_COLUMNS};
use crate::sqlite::error::DbResult;
use crate::{ApprovalGrant, MemoryNote, Owner};
use rusqlite::{Connection, OptionalExtension, params};

pub(crate) fn memory_notes(conn: &Connection, owner: &Owner) -> DbResult<Vec<MemoryNote>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {NOTE_COLUMNS} FROM memory_notes \
         WHERE platform = ?1 AND user_id = ?2 ORDER BY id"
    ))?;
    let notes = stmt
        .query_map(params![owner.platform.as_str(), owner.user_id], |r| {
            Ok(MemoryNote {
                id: r.get(0)?,
                text: r.get(1)?,
                created_at_ms: r.get(2)?,
                updated_at_ms: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(notes)
}

pub(crate) fn memory_add(
    conn: &Connection,
    owner: &Owner,
    text: &str,
    at_ms: i64,
) -> DbResult<MemoryNote> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO memory_notes (platform, user_id, body, created_at_ms, updated_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id",
    )?;
    let id = stmt.query_row(
        params![owner.platform.as_str(), owner.user_id, text, at_ms],
        |r| r.get(0),
    )?;
    Ok(MemoryNote {
        id,
        text: text.to_owned(),
        created_at_ms: at_ms,
        updated_at_ms: at_ms,
    })
}

pub(crate) fn memory_replace(
    conn: &Connection,
    owner: &Owner,
    id: i64,
    text: &str,
    at_ms: i64,
) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached(
        "UPDATE memory_notes SET body = ?4, updated_at_ms = ?5 \
         WHERE id = ?3 AND platform = ?1 AND user_id = ?2",
    )?;
    Ok(stmt.execute(params![
        owner.platform.as_str(),
        owner.user_id,
        id,
        text,
        at_ms
    ])? > 0)
}

pub(crate) fn memory_remove(conn: &Connection, owner: &Owner, id: i64) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached(
        "DELETE FROM memory_notes WHERE id = ?3 AND platform = ?1 AND user_id = ?2",
    )?;
    Ok(stmt.execute(params![owner.platform.as_str(), owner.user_id, id])? > 0)
}

pub(crate) fn approval_grant(
    conn: &Connection,
    owner: &Owner,
    key: &str,
    at_ms: i64,
) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO approval_grants (platform, user_id, key, granted_at_ms) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    )?;
    Ok(stmt.execute(params![owner.platform.as_str(), owner.user_id, key, at_ms])? > 0)
}

pub(crate) fn approval_granted(conn: &Connection, owner: &Owner, key: &str) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM approval_grants WHERE platform = ?1 AND user_id = ?2 AND key = ?3",
    )?;
    Ok(stmt
        .query_row(params![owner.platform.as_str(), owner.user_id, key], |_| {
            Ok(())
        })
        .optional()?
        .is_some())
}

/// Oldest first (ties by key), at most `limit` (0: a default page).
pub(crate) fn approval_grants(
    conn: &Connection,
    owner: &Owner,
    limit: usize,
) -> DbResult<Vec<ApprovalGrant>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GRANT_COLUMNS} FROM approval_grants WHERE platform = ?1 AND user_id = ?2 \
         ORDER BY granted_at_ms, key LIMIT ?3"
    ))?;
    let limit = sql_limit(limit, super::DEFAULT_LIST_LIMIT);
    let grants = stmt
        .query_map(
            params![owner.platform.as_str(), owner.user_id, limit],
            |r| {
                Ok(ApprovalGrant {
                    key: r.get(0)?,
                    granted_at_ms: r.get(1)?,
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(grants)
}

pub(crate) fn approval_revoke(conn: &Connection, owner: &Owner, key: &str) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached(
        "DELETE FROM approval_grants WHERE platform = ?1 AND user_id = ?2 AND key = ?3",
    )?;
    Ok(stmt.execute(params![owner.platform.as_str(), owner.user_id, key])? > 0)
}
