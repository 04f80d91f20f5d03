//! The tables a copy moves, their columns and how each backend names and
//! types them, and the SQL that reads and counts them (shared by both
//! backends up to placeholders and column names).
//!
//! Both schemas use the same table and column names (see the PostgreSQL
//! migration), with three differences handled here: the inbox's order
//! column is SQLite's `rowid` and PostgreSQL's `seq`; flags are INTEGER 0/1
//! in SQLite and BOOLEAN in PostgreSQL ([`Kind::Bool`]); and PostgreSQL's
//! messages carry `search_text` and its generated `search`, which are
//! computed on the way in rather than copied.
//!
//! Not copied: `cron_changes` (one counter, carried over separately),
//! `schema_migrations` (each side records its own), SQLite's FTS tables
//! (kept by triggers), and `leases` and `nodes`, which describe the
//! gateways running on the source right now, not its data: gateways
//! started on the copy record themselves afresh.

/// What a column holds, as hermod reads and binds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A 64-bit integer (SQLite INTEGER, PostgreSQL BIGINT).
    Int,
    /// Text.
    Text,
    /// A flag: SQLite INTEGER 0 or 1, PostgreSQL BOOLEAN.
    Bool,
}

impl Kind {
    /// The PostgreSQL array type a batch of this column is bound as.
    #[cfg(feature = "postgres")]
    pub(crate) fn pg_array(self) -> &'static str {
        match self {
            Kind::Int => "bigint[]",
            Kind::Text => "text[]",
            Kind::Bool => "boolean[]",
        }
    }
}

/// One column of a copied table.
#[derive(Debug)]
pub(crate) struct Column {
    /// Its name in PostgreSQL (and in reports).
    pub(crate) name: &'static str,
    /// Its name in SQLite: the same except the inbox's `rowid`.
    pub(crate) sqlite: &'static str,
    pub(crate) kind: Kind,
}

const fn int(name: &'static str) -> Column {
    Column {
        name,
        sqlite: name,
        kind: Kind::Int,
    }
}

const fn text(name: &'static str) -> Column {
    Column {
        name,
        sqlite: name,
        kind: Kind::Text,
    }
}

const fn flag(name: &'static str) -> Column {
    Column {
        name,
        sqlite: name,
        kind: Kind::Bool,
    }
}

/// One copied table.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static [Column],
    /// The columns (indexes into `columns`) of its primary key: rows are
    /// read in this order, a batch at a time, each batch starting after
    /// the last key of the one before.
    pub(crate) key: &'static [usize],
    /// The column (index) new rows take their ids from: SQLite's
    /// AUTOINCREMENT or rowid, PostgreSQL's identity. After a copy, new ids
    /// continue after the copied ones.
    pub(crate) identity: Option<usize>,
    /// Rows per batch; fewer for tables with large rows.
    pub(crate) batch: usize,
}

impl Table {
    /// The index of the column called `name`.
    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Whether SQLite keeps this table's ids in `sqlite_sequence`
    /// (AUTOINCREMENT) rather than taking the next rowid.
    pub(crate) fn sqlite_autoincrement(&self) -> bool {
        self.identity
            .is_some_and(|i| self.columns[i].sqlite != "rowid")
    }
}

/// Rows per batch for most tables.
const BATCH: usize = 500;

/// Every copied table, parents before the tables referring to them.
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "sessions",
        columns: &[
            text("id"),
            text("session_key"),
            text("platform"),
            text("source_json"),
            text("title"),
            int("created_at_ms"),
            int("updated_at_ms"),
            int("ended_at_ms"),
            text("end_reason"),
            int("message_count"),
            int("prompt_tokens"),
            int("completion_tokens"),
            text("model_override"),
        ],
        key: &[0],
        identity: None,
        batch: BATCH,
    },
    Table {
        name: "messages",
        columns: &[
            int("id"),
            text("session_id"),
            text("role"),
            text("content"),
            text("content_json"),
            text("tool_calls_json"),
            text("tool_calls_text"),
            text("tool_call_id"),
            text("tool_name"),
            int("at_ms"),
            text("platform_message_id"),
            flag("active"),
        ],
        key: &[0],
        identity: Some(0),
        batch: BATCH,
    },
    Table {
        name: "routing",
        columns: &[
            text("session_key"),
            text("session_id"),
            int("updated_at_ms"),
        ],
        key: &[0],
        identity: None,
        batch: BATCH,
    },
    Table {
        name: "handoffs",
        columns: &[
            text("session_id"),
            text("platform"),
            text("state"),
            text("error"),
            text("destination_json"),
            int("requested_at_ms"),
            int("updated_at_ms"),
        ],
        key: &[0],
        identity: None,
        batch: BATCH,
    },
    Table {
        name: "session_summaries",
        columns: &[
            text("session_id"),
            text("summary"),
            int("through_message_id"),
            text("focus"),
            int("created_at_ms"),
        ],
        key: &[0],
        identity: None,
        batch: 100,
    },
    Table {
        name: "settings",
        columns: &[text("key"), text("value"), int("updated_at_ms")],
        key: &[0],
        identity: None,
        batch: BATCH,
    },
    Table {
        name: "pairing_pending",
        columns: &[
            int("id"),
            text("platform"),
            text("user_id"),
            text("user_name"),
            text("code_hash"),
            text("salt"),
            int("created_at_ms"),
            int("expires_at_ms"),
        ],
        key: &[0],
        identity: Some(0),
        batch: BATCH,
    },
    Table {
        name: "pairing_approved",
        columns: &[
            text("platform"),
            text("user_id"),
            text("user_name"),
            int("approved_at_ms"),
        ],
        key: &[0, 1],
        identity: None,
        batch: BATCH,
    },
    Table {
        name: "outbox",
        columns: &[
            int("id"),
            text("key"),
            text("platform"),
            text("chat_id"),
            text("thread_id"),
            text("reply_to"),
            text("text"),
            text("session_id"),
            text("state"),
            int("attempts"),
            text("message_ids_json"),
            text("error"),
            int("created_at_ms"),
            int("updated_at_ms"),
            int("next_attempt_at_ms"),
            int("delivered_at_ms"),
            text("attachments_json"),
            text("attachment_progress_json"),
        ],
        key: &[0],
        identity: Some(0),
        batch: BATCH,
    },
    Table {
        name: "inbox",
        columns: &[
            Column {
                name: "seq",
                sqlite: "rowid",
                kind: Kind::Int,
            },
            text("platform"),
            text("key"),
            text("event_json"),
            text("state"),
            int("received_at_ms"),
            int("updated_at_ms"),
            text("session_id"),
            int("message_row"),
            text("preview_ids_json"),
        ],
        key: &[0],
        identity: Some(0),
        batch: BATCH,
    },
    Table {
        name: "cron_jobs",
        columns: &[
            text("id"),
            text("name"),
            text("prompt"),
            text("schedule"),
            text("schedule_kind"),
            text("deliver"),
            text("model"),
            flag("enabled"),
            text("creator_platform"),
            text("creator_user"),
            text("origin_json"),
            int("created_at_ms"),
            int("updated_at_ms"),
            int("next_run_at_ms"),
            flag("run_requested"),
            int("last_run_at_ms"),
            text("last_status"),
            text("last_error"),
            text("claim_owner"),
            int("claim_until_ms"),
            int("revision"),
        ],
        key: &[0],
        identity: None,
        batch: BATCH,
    },
    Table {
        name: "cron_runs",
        columns: &[
            int("id"),
            text("job_id"),
            text("owner"),
            int("scheduled_at_ms"),
            int("started_at_ms"),
            int("finished_at_ms"),
            text("status"),
            text("output"),
            text("error"),
        ],
        key: &[0],
        identity: Some(0),
        batch: 100,
    },
    Table {
        name: "memory_notes",
        columns: &[
            int("id"),
            text("platform"),
            text("user_id"),
            text("body"),
            int("created_at_ms"),
            int("updated_at_ms"),
        ],
        key: &[0],
        identity: Some(0),
        batch: BATCH,
    },
    Table {
        name: "approval_grants",
        columns: &[
            text("platform"),
            text("user_id"),
            text("key"),
            int("granted_at_ms"),
        ],
        key: &[0, 1, 2],
        identity: None,
        batch: BATCH,
    },
    Table {
        name: "stored_responses",
        columns: &[
            text("id"),
            text("conversation"),
            text("session_id"),
            text("data"),
            int("created_at_ms"),
            int("used_at_ms"),
        ],
        key: &[0],
        identity: None,
        batch: 50,
    },
];

/// The tables of either schema a copy leaves alone on purpose (see the
/// module documentation).
#[cfg(test)]
const NOT_COPIED: &[&str] = &[
    "cron_changes",
    "schema_migrations",
    "leases",
    "nodes",
    "sqlite_sequence",
];

/// How a backend writes SQL: its placeholders and column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres,
}

impl Dialect {
    /// The `n`th (1-based) parameter.
    pub(crate) fn param(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    pub(crate) fn column(self, column: &Column) -> &'static str {
        match self {
            Dialect::Sqlite => column.sqlite,
            Dialect::Postgres => column.name,
        }
    }
}

/// The query reading one batch of `table` in key order: the first batch,
/// or (`after`) the batch after a key given as parameters.
pub(crate) fn select_sql(table: &Table, dialect: Dialect, after: bool) -> String {
    let columns: Vec<&str> = table.columns.iter().map(|c| dialect.column(c)).collect();
    let key: Vec<&str> = table
        .key
        .iter()
        .map(|&i| dialect.column(&table.columns[i]))
        .collect();
    let key = key.join(", ");
    let filter = if after {
        let params: Vec<String> = (1..=table.key.len()).map(|n| dialect.param(n)).collect();
        format!(" WHERE ({key}) > ({})", params.join(", "))
    } else {
        String::new()
    };
    format!(
        "SELECT {} FROM {}{filter} ORDER BY {key} LIMIT {}",
        columns.join(", "),
        table.name,
        table.batch
    )
}

/// The query that finds whether `table` has any row.
pub(crate) fn any_row_sql(table: &Table) -> String {
    format!("SELECT 1 FROM {} LIMIT 1", table.name)
}

/// Refuses a destination holding rows in `tables`.
pub(crate) fn not_empty(db: &str, tables: &[&str]) -> crate::StoreError {
    crate::StoreError::Conflict(format!(
        "{db} is not empty (it holds {}); a copy goes into an empty database only: \
         name a SQLite file that does not exist yet, or a newly created PostgreSQL \
         database (createdb), or empty this one first",
        tables.join(", ")
    ))
}

/// Checks that a database records exactly the schema version this build
/// knows (`recorded` is its highest, 0 for none).
pub(crate) fn check_version(db: &str, recorded: i64, known: i64) -> crate::Result<()> {
    use std::cmp::Ordering;
    match recorded.cmp(&known) {
        Ordering::Equal => Ok(()),
        Ordering::Greater => Err(crate::StoreError::Corrupt(format!(
            "{db} has schema version {recorded}, newer than this hermod knows ({known}); \
             copy it with the newer hermod that wrote it"
        ))),
        Ordering::Less => Err(crate::StoreError::Conflict(format!(
            "{db} has schema version {recorded}, older than this hermod's {known}; bring it \
             up to date first (hermod store migrate)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_continue_after_the_last_key() {
        let grants = TABLES
            .iter()
            .find(|t| t.name == "approval_grants")
            .expect("table");
        assert_eq!(
            select_sql(grants, Dialect::Postgres, true),
            "SELECT platform, user_id, key, granted_at_ms FROM approval_grants \
             WHERE (platform, user_id, key) > ($1, $2, $3) \
             ORDER BY platform, user_id, key LIMIT 500"
        );
        let inbox = TABLES.iter().find(|t| t.name == "inbox").expect("table");
        assert!(select_sql(inbox, Dialect::Sqlite, false).starts_with("SELECT rowid, platform"));
        assert!(!inbox.sqlite_autoincrement());
    }

    #[tokio::test]
    async fn every_table_of_the_sqlite_schema_is_copied_or_left_on_purpose() {
        let store = crate::SqliteStore::open_in_memory().expect("open");
        let schema = store
            .read(|conn| {
                let mut tables = Vec::new();
                let mut statement = conn.prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'messages_fts%'",
                )?;
                let names: Vec<String> = statement
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                for name in names {
                    let columns: Vec<String> = conn
                        .prepare(&format!("SELECT name FROM pragma_table_info('{name}')"))?
                        .query_map([], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?;
                    tables.push((name, columns));
                }
                Ok(tables)
            })
            .await
            .expect("schema");
        for (name, _) in &schema {
            assert!(
                TABLES.iter().any(|t| t.name == name) || NOT_COPIED.contains(&name.as_str()),
                "table {name} is neither copied nor left out on purpose"
            );
        }
        for table in TABLES {
            let (_, columns) = schema
                .iter()
                .find(|(n, _)| n == table.name)
                .unwrap_or_else(|| panic!("no table {}", table.name));
            let copied: Vec<&str> = table
                .columns
                .iter()
                .map(|c| c.sqlite)
                .filter(|c| *c != "rowid")
                .collect();
            assert_eq!(&copied, columns, "{}", table.name);
        }
    }
}
