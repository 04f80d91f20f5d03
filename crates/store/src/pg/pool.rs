//! A small pool of PostgreSQL connections, each with its prepared
//! statements.
//!
//! At most `size` connections exist at once (a semaphore); an idle one is
//! reused, a closed one dropped, and a new one opened when none is idle.
//! Each connection keeps the statements it prepared, so a query is parsed
//! once per connection rather than once per call.
//!
//! Transactions are plain `BEGIN` / `COMMIT` on the connection. A [`Db`]
//! dropped inside one (an operation failed halfway, or its future was
//! cancelled) is not returned to the pool: closing the connection makes
//! the server roll the transaction back, and nothing half-done can leak
//! into the next operation.

use super::error::{DbError, DbResult};
use super::tls::{self, MakeRustls};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::config::SslMode;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

/// One pooled connection and its prepared statements.
struct Pooled {
    client: Client,
    statements: HashMap<String, Statement>,
}

pub(crate) struct Pool {
    config: tokio_postgres::Config,
    /// TLS for every connection; the URL's `sslmode` decides whether it is used.
    tls: MakeRustls,
    idle: Mutex<Vec<Pooled>>,
    permits: Arc<Semaphore>,
}

impl Pool {
    pub(crate) fn new(config: tokio_postgres::Config, tls: MakeRustls, size: usize) -> Self {
        Self {
            config,
            tls,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1))),
        }
    }

    /// A connection for one operation: an idle one, or a new one.
    pub(crate) async fn get(self: &Arc<Self>) -> DbResult<Db> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| DbError::Closed)?;
        let reused = loop {
            let candidate = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            match candidate {
                Some(conn) if conn.client.is_closed() => continue,
                other => break other,
            }
        };
        let conn = match reused {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        Ok(Db {
            conn: Some(conn),
            pool: Arc::clone(self),
            in_transaction: false,
            _permit: permit,
        })
    }

    async fn connect(&self) -> DbResult<Pooled> {
        let (client, connection) = match self.config.connect(self.tls.clone()).await {
            Ok(opened) => opened,
            // Under `prefer` a certificate hermod cannot check does not
            // stop the connection (see `tls.rs`): encrypted, unchecked.
            Err(e) if self.config.get_ssl_mode() == SslMode::Prefer && tls::refused(&e) => {
                self.config.connect(self.tls.unchecked()).await?
            }
            Err(e) => return Err(e.into()),
        };
        // The connection's own task; it ends when the client is dropped or
        // the server goes away (the client then reports itself closed).
        tokio::spawn(async move {
            let _ended = connection.await;
        });
        Ok(Pooled {
            client,
            statements: HashMap::new(),
        })
    }

    /// Closes every idle connection (busy ones close as they come back).
    pub(crate) fn close_idle(&self) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// A connection lent to one operation; goes back to the pool when dropped
/// (unless it is closed or inside a transaction, see the module docs).
pub(crate) struct Db {
    conn: Option<Pooled>,
    pool: Arc<Pool>,
    in_transaction: bool,
    _permit: OwnedSemaphorePermit,
}

/// Query parameters.
pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

impl Db {
    fn pooled(&mut self) -> &mut Pooled {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("a Db holds its connection until dropped"))
    }

    async fn statement(&mut self, sql: &str) -> DbResult<Statement> {
        let pooled = self.pooled();
        if let Some(statement) = pooled.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = pooled.client.prepare(sql).await?;
        pooled.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub(crate) async fn query(&mut self, sql: &str, params: &Params<'_>) -> DbResult<Vec<Row>> {
        let statement = self.statement(sql).await?;
        Ok(self.pooled().client.query(&statement, params).await?)
    }

    pub(crate) async fn query_opt(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> DbResult<Option<Row>> {
        let statement = self.statement(sql).await?;
        Ok(self.pooled().client.query_opt(&statement, params).await?)
    }

    pub(crate) async fn query_one(&mut self, sql: &str, params: &Params<'_>) -> DbResult<Row> {
        let statement = self.statement(sql).await?;
        Ok(self.pooled().client.query_one(&statement, params).await?)
    }

    /// Runs a statement; returns the number of rows it changed.
    pub(crate) async fn execute(&mut self, sql: &str, params: &Params<'_>) -> DbResult<u64> {
        let statement = self.statement(sql).await?;
        Ok(self.pooled().client.execute(&statement, params).await?)
    }

    /// Runs SQL text (several statements, no parameters).
    pub(crate) async fn batch(&mut self, sql: &str) -> DbResult<()> {
        Ok(self.pooled().client.batch_execute(sql).await?)
    }

    pub(crate) async fn begin(&mut self) -> DbResult<()> {
        self.in_transaction = true;
        self.batch("BEGIN").await
    }

    pub(crate) async fn commit(&mut self) -> DbResult<()> {
        self.batch("COMMIT").await?;
        self.in_transaction = false;
        Ok(())
    }

    /// Ends the transaction without keeping anything.
    pub(crate) async fn rollback(&mut self) -> DbResult<()> {
        self.batch("ROLLBACK").await?;
        self.in_transaction = false;
        Ok(())
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if self.in_transaction || conn.client.is_closed() {
            return;
        }
        self.pool
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
    }
}
