//! DM pairing on PostgreSQL: pending requests and approved users.
//!
//! Only the data lives here. How many requests a user may have, how long a
//! code lasts and when someone is locked out are decided by the caller,
//! which passes "now" in for every expiry question. Each operation is one
//! statement: approving a user upserts the approval and removes the user's
//! pending requests in one statement (a data-modifying `WITH`), so no
//! gateway ever sees one without the other.

use super::Columns;
use crate::pg::error::DbResult;
use crate::pg::pool::Db;
use crate::rows::{APPROVED_COLUMNS, PENDING_COLUMNS};
use crate::{ApprovedUser, PendingPairing};
use hermod_model::PlatformId;
use tokio_postgres::Row;

/// What pairing rows are called in messages about them.
const ROW: &str = "pairing row";

/// A `pairing_pending` row read with [`PENDING_COLUMNS`].
fn pending(row: &Row) -> DbResult<PendingPairing> {
    let c = Columns::new(row, ROW);
    Ok(PendingPairing {
        id: c.get(0)?,
        platform: PlatformId::new(c.get::<String>(1)?),
        user_id: c.get(2)?,
        user_name: c.get(3)?,
        code_hash: c.get(4)?,
        salt: c.get(5)?,
        created_at_ms: c.get(6)?,
        expires_at_ms: c.get(7)?,
    })
}

/// A `pairing_approved` row read with [`APPROVED_COLUMNS`].
fn approved(row: &Row) -> DbResult<ApprovedUser> {
    let c = Columns::new(row, ROW);
    Ok(ApprovedUser {
        platform: PlatformId::new(c.get::<String>(0)?),
        user_id: c.get(1)?,
        user_name: c.get(2)?,
        approved_at_ms: c.get(3)?,
    })
}

pub(crate) async fn add_pending_pairing(db: &mut Db, p: &PendingPairing) -> DbResult<i64> {
    let row = db
        .query_one(
            "INSERT INTO pairing_pending (platform, user_id, user_name, code_hash, salt, \
             created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &p.platform.as_str(),
                &p.user_id,
                &p.user_name,
                &p.code_hash,
                &p.salt,
                &p.created_at_ms,
                &p.expires_at_ms,
            ],
        )
        .await?;
    Columns::new(&row, ROW).get(0)
}

pub(crate) async fn pending_pairings(
    db: &mut Db,
    platform: Option<&PlatformId>,
    now_ms: i64,
) -> DbResult<Vec<PendingPairing>> {
    // Two statements, as for session listings, so the filtered one can use
    // pairing_pending_by_platform.
    let rows = match platform {
        Some(platform) => {
            db.query(
                &format!(
                    "SELECT {PENDING_COLUMNS} FROM pairing_pending \
                     WHERE platform = $1 AND expires_at_ms > $2 ORDER BY created_at_ms, id"
                ),
                &[&platform.as_str(), &now_ms],
            )
            .await?
        }
        None => {
            db.query(
                &format!(
                    "SELECT {PENDING_COLUMNS} FROM pairing_pending \
                     WHERE expires_at_ms > $1 ORDER BY created_at_ms, id"
                ),
                &[&now_ms],
            )
            .await?
        }
    };
    rows.iter().map(pending).collect()
}

pub(crate) async fn remove_pending_pairing(db: &mut Db, id: i64) -> DbResult<bool> {
    Ok(db
        .execute("DELETE FROM pairing_pending WHERE id = $1", &[&id])
        .await?
        > 0)
}

pub(crate) async fn purge_expired_pairings(db: &mut Db, now_ms: i64) -> DbResult<u64> {
    db.execute(
        "DELETE FROM pairing_pending WHERE expires_at_ms <= $1",
        &[&now_ms],
    )
    .await
}

pub(crate) async fn approve_user(db: &mut Db, user: &ApprovedUser) -> DbResult<()> {
    // One statement, so one transaction: the upsert in the WITH runs to
    // completion whether or not the DELETE reads it.
    db.execute(
        "WITH approval AS ( \
             INSERT INTO pairing_approved (platform, user_id, user_name, approved_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (platform, user_id) DO UPDATE \
             SET user_name = excluded.user_name, approved_at_ms = excluded.approved_at_ms \
         ) \
         DELETE FROM pairing_pending WHERE platform = $1 AND user_id = $2",
        &[
            &user.platform.as_str(),
            &user.user_id,
            &user.user_name,
            &user.approved_at_ms,
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn revoke_user(
    db: &mut Db,
    platform: &PlatformId,
    user_id: &str,
) -> DbResult<bool> {
    Ok(db
        .execute(
            "DELETE FROM pairing_approved WHERE platform = $1 AND user_id = $2",
            &[&platform.as_str(), &user_id],
        )
        .await?
        > 0)
}

pub(crate) async fn is_approved(
    db: &mut Db,
    platform: &PlatformId,
    user_id: &str,
) -> DbResult<bool> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM pairing_approved WHERE platform = $1 AND user_id = $2",
            &[&platform.as_str(), &user_id],
        )
        .await?
        .is_some())
}

pub(crate) async fn approved_users(
    db: &mut Db,
    platform: Option<&PlatformId>,
) -> DbResult<Vec<ApprovedUser>> {
    // Text is compared byte by byte (`COLLATE "C"`), as SQLite does,
    // whatever the database's locale.
    let rows = match platform {
        Some(platform) => {
            db.query(
                &format!(
                    "SELECT {APPROVED_COLUMNS} FROM pairing_approved WHERE platform = $1 \
                     ORDER BY approved_at_ms, user_id COLLATE \"C\""
                ),
                &[&platform.as_str()],
            )
            .await?
        }
        None => {
            db.query(
                &format!(
                    "SELECT {APPROVED_COLUMNS} FROM pairing_approved \
                     ORDER BY platform COLLATE \"C\", approved_at_ms, user_id COLLATE \"C\""
                ),
                &[],
            )
            .await?
        }
    };
    rows.iter().map(approved).collect()
}
