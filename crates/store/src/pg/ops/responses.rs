//! Stored responses of the HTTP API on PostgreSQL: kept by recent use,
//! bounded by each put.
//!
//! Reading a response marks it used in the same statement
//! (`UPDATE ... RETURNING`). A put is two statements, each committed on
//! its own: the upsert, then the trim to the `keep` most recently used.
//! They need no transaction between them: if the trim fails, the table
//! holds one response too many until the next put trims it; and as no put
//! holds the row it wrote while its trim waits for other rows, two
//! gateways putting at once do not deadlock over the rows both trims
//! remove (as two such transactions could).
//!
//! SQLite breaks ties in time by rowid, the later insert first. This
//! schema records no insertion order for stored responses, so ties fall
//! back to the creation time, then the id (in byte order), newest first.

use super::{Columns, sql_count};
use crate::StoredResponse;
use crate::pg::error::DbResult;
use crate::pg::pool::Db;
use crate::rows::{RESPONSE_COLUMNS, RawResponse};
use tokio_postgres::Row;

/// A `stored_responses` row read with [`RESPONSE_COLUMNS`], decoded.
fn decode(row: &Row) -> DbResult<StoredResponse> {
    let c = Columns::new(row, "stored response");
    let raw = RawResponse {
        id: c.get(0)?,
        conversation: c.get(1)?,
        session_id: c.get(2)?,
        data: c.get(3)?,
        created_at_ms: c.get(4)?,
    };
    Ok(raw.decode()?)
}

pub(crate) async fn response_put(
    db: &mut Db,
    response: &StoredResponse,
    keep: usize,
    at_ms: i64,
) -> DbResult<()> {
    db.execute(
        "INSERT INTO stored_responses \
             (id, conversation, session_id, data, created_at_ms, used_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET conversation = excluded.conversation, \
             session_id = excluded.session_id, data = excluded.data, \
             created_at_ms = excluded.created_at_ms, used_at_ms = excluded.used_at_ms",
        &[
            &response.id,
            &response.conversation,
            &response.session_id.as_ref().map(|s| s.as_str()),
            &response.data,
            &response.created_at_ms,
            &at_ms,
        ],
    )
    .await?;
    // Everything after the first `keep` by use goes; the response just put
    // takes its place among them by its use time like any other.
    db.execute(
        "DELETE FROM stored_responses WHERE id IN ( \
             SELECT id FROM stored_responses \
             ORDER BY used_at_ms DESC, created_at_ms DESC, id COLLATE \"C\" DESC \
             OFFSET $1)",
        &[&sql_count(keep)],
    )
    .await?;
    Ok(())
}

pub(crate) async fn response(
    db: &mut Db,
    id: &str,
    at_ms: i64,
) -> DbResult<Option<StoredResponse>> {
    // Read and marked used in one statement; a use never moves back in time.
    let row = db
        .query_opt(
            &format!(
                "UPDATE stored_responses SET used_at_ms = GREATEST(used_at_ms, $2) \
                 WHERE id = $1 RETURNING {RESPONSE_COLUMNS}"
            ),
            &[&id, &at_ms],
        )
        .await?;
    row.as_ref().map(decode).transpose()
}

pub(crate) async fn latest_response(
    db: &mut Db,
    conversation: &str,
) -> DbResult<Option<StoredResponse>> {
    let row = db
        .query_opt(
            &format!(
                "SELECT {RESPONSE_COLUMNS} FROM stored_responses WHERE conversation = $1 \
                 ORDER BY created_at_ms DESC, id COLLATE \"C\" DESC LIMIT 1"
            ),
            &[&conversation],
        )
        .await?;
    row.as_ref().map(decode).transpose()
}

pub(crate) async fn response_delete(db: &mut Db, id: &str) -> DbResult<bool> {
    Ok(db
        .execute("DELETE FROM stored_responses WHERE id = $1", &[&id])
        .await?
        > 0)
}
