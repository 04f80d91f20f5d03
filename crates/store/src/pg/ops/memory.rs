//! Per-user notes and "always" approval grants on PostgreSQL, each row
//! keyed by its owner's platform and user id.
//!
//! Each operation is one statement. A change to a note names its owner in
//! the `WHERE`, so another user's id changes nothing; a grant is an
//! `INSERT ... ON CONFLICT DO NOTHING`, so of two gateways granting the
//! same key at once exactly one reports the grant as new and the first
//! grant's time is kept.

use super::{Columns, sql_limit};
use crate::pg::error::DbResult;
use crate::pg::pool::Db;
use crate::rows::{DEFAULT_LIST_LIMIT, GRANT_COLUMNS, NOTE_COLUMNS};
use crate::{ApprovalGrant, MemoryNote, Owner};

/// What note and grant rows are called in messages about them.
const ROW: &str = "memory row";

pub(crate) async fn memory_notes(db: &mut Db, owner: &Owner) -> DbResult<Vec<MemoryNote>> {
    let rows = db
        .query(
            &format!(
                "SELECT {NOTE_COLUMNS} FROM memory_notes \
                 WHERE platform = $1 AND user_id = $2 ORDER BY id"
            ),
            &[&owner.platform.as_str(), &owner.user_id],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let c = Columns::new(row, ROW);
            Ok(MemoryNote {
                id: c.get(0)?,
                text: c.get(1)?,
                created_at_ms: c.get(2)?,
                updated_at_ms: c.get(3)?,
            })
        })
        .collect()
}

pub(crate) async fn memory_add(
    db: &mut Db,
    owner: &Owner,
    text: &str,
    at_ms: i64,
) -> DbResult<MemoryNote> {
    let row = db
        .query_one(
            "INSERT INTO memory_notes (platform, user_id, body, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
            &[&owner.platform.as_str(), &owner.user_id, &text, &at_ms],
        )
        .await?;
    Ok(MemoryNote {
        id: Columns::new(&row, ROW).get(0)?,
        text: text.to_owned(),
        created_at_ms: at_ms,
        updated_at_ms: at_ms,
    })
}

pub(crate) async fn memory_replace(
    db: &mut Db,
    owner: &Owner,
    id: i64,
    text: &str,
    at_ms: i64,
) -> DbResult<bool> {
    Ok(db
        .execute(
            "UPDATE memory_notes SET body = $4, updated_at_ms = $5 \
             WHERE id = $3 AND platform = $1 AND user_id = $2",
            &[&owner.platform.as_str(), &owner.user_id, &id, &text, &at_ms],
        )
        .await?
        > 0)
}

pub(crate) async fn memory_remove(db: &mut Db, owner: &Owner, id: i64) -> DbResult<bool> {
    Ok(db
        .execute(
            "DELETE FROM memory_notes WHERE id = $3 AND platform = $1 AND user_id = $2",
            &[&owner.platform.as_str(), &owner.user_id, &id],
        )
        .await?
        > 0)
}

pub(crate) async fn approval_grant(
    db: &mut Db,
    owner: &Owner,
    key: &str,
    at_ms: i64,
) -> DbResult<bool> {
    Ok(db
        .execute(
            "INSERT INTO approval_grants (platform, user_id, key, granted_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (platform, user_id, key) DO NOTHING",
            &[&owner.platform.as_str(), &owner.user_id, &key, &at_ms],
        )
        .await?
        > 0)
}

pub(crate) async fn approval_granted(db: &mut Db, owner: &Owner, key: &str) -> DbResult<bool> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM approval_grants WHERE platform = $1 AND user_id = $2 AND key = $3",
            &[&owner.platform.as_str(), &owner.user_id, &key],
        )
        .await?
        .is_some())
}

/// Oldest first, ties by key compared byte by byte (`COLLATE "C"`) as
/// SQLite does; at most `limit` (0: a default page).
pub(crate) async fn approval_grants(
    db: &mut Db,
    owner: &Owner,
    limit: usize,
) -> DbResult<Vec<ApprovalGrant>> {
    let rows = db
        .query(
            &format!(
                "SELECT {GRANT_COLUMNS} FROM approval_grants \
                 WHERE platform = $1 AND user_id = $2 \
                 ORDER BY granted_at_ms, key COLLATE \"C\" LIMIT $3"
            ),
            &[
                &owner.platform.as_str(),
                &owner.user_id,
                &sql_limit(limit, DEFAULT_LIST_LIMIT),
            ],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let c = Columns::new(row, ROW);
            Ok(ApprovalGrant {
                key: c.get(0)?,
                granted_at_ms: c.get(1)?,
            })
        })
        .collect()
}

pub(crate) async fn approval_revoke(db: &mut Db, owner: &Owner, key: &str) -> DbResult<bool> {
    Ok(db
        .execute(
            "DELETE FROM approval_grants WHERE platform = $1 AND user_id = $2 AND key = $3",
            &[&owner.platform.as_str(), &owner.user_id, &key],
        )
        .await?
        > 0)
}
