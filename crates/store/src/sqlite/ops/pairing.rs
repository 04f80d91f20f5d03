//! DM pairing: pending requests and approved users.
//!
//! Only the data lives here. How many requests a user may have, how long a
//! code lasts and when someone is locked out are decided by the caller, which
//! passes "now" in for every expiry question.

use super::changed_rows;
use crate::sqlite::error::DbResult;
use crate::sqlite::rows::{APPROVED_COLUMNS, PENDING_COLUMNS, approved_from_row, pending_from_row};
use crate::{ApprovedUser, PendingPairing};
use hermod_model::PlatformId;
use rusqlite::{Connection, TransactionBehavior, params};

pub(crate) fn add_pending_pairing(conn: &Connection, p: &PendingPairing) -> DbResult<i64> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO pairing_pending (platform, user_id, user_name, code_hash, salt, \
         created_at_ms, expires_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    stmt.execute(params![
        p.platform.as_str(),
        p.user_id,
        p.user_name,
        p.code_hash,
        p.salt,
        p.created_at_ms,
        p.expires_at_ms,
    ])?;
    Ok(conn.last_insert_rowid())
}

pub(crate) fn pending_pairings(
    conn: &Connection,
    platform: Option<&PlatformId>,
    now_ms: i64,
) -> DbResult<Vec<PendingPairing>> {
    // Two statements, as for session listings, so the filtered one can use
    // pairing_pending_by_platform.
    let rows = match platform {
        Some(platform) => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {PENDING_COLUMNS} FROM pairing_pending \
                 WHERE platform = ?1 AND expires_at_ms > ?2 ORDER BY created_at_ms, id"
            ))?;
            stmt.query_map(params![platform.as_str(), now_ms], pending_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        }
        None => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {PENDING_COLUMNS} FROM pairing_pending \
                 WHERE expires_at_ms > ?1 ORDER BY created_at_ms, id"
            ))?;
            stmt.query_map([now_ms], pending_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        }
    };
    Ok(rows)
}

pub(crate) fn remove_pending_pairing(conn: &Connection, id: i64) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached("DELETE FROM pairing_pending WHERE id = ?1")?;
    Ok(stmt.execute([id])? > 0)
}

pub(crate) fn purge_expired_pairings(conn: &Connection, now_ms: i64) -> DbResult<u64> {
    let mut stmt = conn.prepare_cached("DELETE FROM pairing_pending WHERE expires_at_ms <= ?1")?;
    Ok(changed_rows(stmt.execute([now_ms])?))
}

pub(crate) fn approve_user(conn: &mut Connection, user: &ApprovedUser) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO pairing_approved (platform, user_id, user_name, approved_at_ms) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (platform, user_id) DO UPDATE \
         SET user_name = excluded.user_name, approved_at_ms = excluded.approved_at_ms",
    )?;
    upsert.execute(params![
        user.platform.as_str(),
        user.user_id,
        user.user_name,
        user.approved_at_ms,
    ])?;
    drop(upsert);
    let mut clear =
        tx.prepare_cached("DELETE FROM pairing_pending WHERE platform = ?1 AND user_id = ?2")?;
    clear.execute(params![user.platform.as_str(), user.user_id])?;
    drop(clear);
    tx.commit()?;
    Ok(())
}

pub(crate) fn revoke_user(
    conn: &Connection,
    platform: &PlatformId,
    user_id: &str,
) -> DbResult<bool> {
    let mut stmt =
        conn.prepare_cached("DELETE FROM pairing_approved WHERE platform = ?1 AND user_id = ?2")?;
    Ok(stmt.execute(params![platform.as_str(), user_id])? > 0)
}

pub(crate) fn is_approved(
    conn: &Connection,
    platform: &PlatformId,
    user_id: &str,
) -> DbResult<bool> {
    let mut stmt =
        conn.prepare_cached("SELECT 1 FROM pairing_approved WHERE platform = ?1 AND user_id = ?2")?;
    Ok(stmt.exists(params![platform.as_str(), user_id])?)
}

pub(crate) fn approved_users(
    conn: &Connection,
    platform: Option<&PlatformId>,
) -> DbResult<Vec<ApprovedUser>> {
    let rows = match platform {
        Some(platform) => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {APPROVED_COLUMNS} FROM pairing_approved WHERE platform = ?1 \
                 ORDER BY approved_at_ms, user_id"
            ))?;
            stmt.query_map([platform.as_str()], approved_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        }
        None => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {APPROVED_COLUMNS} FROM pairing_approved \
                 ORDER BY platform, approved_at_ms, user_id"
            ))?;
            stmt.query_map([], approved_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        }
    };
    Ok(rows)
}
