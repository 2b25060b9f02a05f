//! The connection to PostgreSQL: made (and the schema migrated, the statements prepared)
//! on demand, dropped on any connection-class failure or timeout, and the statements the
//! store runs. Every operation is bounded by `[subscriptions] timeout_ms`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls, Statement};

use super::queue::{WriteOp, Written};
use super::status::WriteOutcome;
use super::{KeptRoom, ListedRoom};

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL is not connected (or the store's thread is gone).
    #[error("the subscriptions store (PostgreSQL) is unavailable: {0}")]
    Unavailable(String),
    /// It did not answer within `timeout_ms`.
    #[error("PostgreSQL did not answer within {0} ms")]
    Timeout(u64),
    /// `max_pending_reads` reads are waiting already.
    #[error("{0} reads of the subscriptions store are waiting already; retry later")]
    Busy(usize),
    /// PostgreSQL answered with an error.
    #[error("PostgreSQL: {0}")]
    Database(#[from] tokio_postgres::Error),
}

impl StoreError {
    /// Whether the connection should be dropped and the operation tried again later: the
    /// connection failed, or PostgreSQL is shutting down, starting, out of resources, or
    /// lost its schema (recreated: the next connection migrates it again).
    pub fn is_retryable(&self) -> bool {
        let StoreError::Database(e) = self else {
            return true;
        };
        if e.is_closed() {
            return true;
        }
        let Some(code) = e.code() else {
            return true;
        };
        let code = code.code();
        ["08", "53", "55", "57", "58"]
            .iter()
            .any(|class| code.starts_with(class))
            || ["40001", "40P01", "42P01", "42883"].contains(&code)
    }
}

/// The statements, prepared once per connection.
struct Statements {
    keep: Statement,
    forget: Statement,
    rooms: Statement,
    list: Statement,
}

/// A live connection.
pub(super) struct Connected {
    client: Client,
    statements: Statements,
    _driver: AbortOnDrop,
}

/// The task driving a connection, stopped with the connection's last handle.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The connection, made again whenever it was lost.
pub(super) struct Link {
    config: tokio_postgres::Config,
    timeout: Duration,
    max_rooms: i32,
    current: Mutex<Option<Arc<Connected>>>,
}

impl Link {
    pub(super) fn new(config: tokio_postgres::Config, timeout: Duration, max_rooms: usize) -> Self {
        Link {
            config,
            timeout,
            max_rooms: i32::try_from(max_rooms).unwrap_or(i32::MAX),
            current: Mutex::new(None),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<Connected>>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live connection, if there is one.
    pub(super) fn current(&self) -> Option<Arc<Connected>> {
        let mut slot = self.slot();
        if slot.as_ref().is_some_and(|c| c.client.is_closed()) {
            *slot = None;
        }
        slot.clone()
    }

    /// Drops the connection (its requests in flight fail).
    pub(super) fn drop_connection(&self) {
        self.slot().take();
    }

    /// Connects, migrates and prepares; `closed` is woken when the connection ends.
    pub(super) async fn connect(
        &self,
        closed: Arc<tokio::sync::Notify>,
    ) -> Result<Arc<Connected>, StoreError> {
        let connecting = async {
            let (client, connection) = self.config.connect(NoTls).await?;
            // Held from here on, so that a failure below stops the connection too.
            let driver = AbortOnDrop(tokio::spawn(async move {
                if let Err(e) = connection.await {
                    log::debug!("subscriptions: PostgreSQL connection ended: {e}");
                }
                closed.notify_one();
            }));
            super::schema::migrate(&client).await?;
            let statements = prepare(&client).await?;
            Ok(Connected {
                client,
                statements,
                _driver: driver,
            })
        };
        let connected = Arc::new(self.bounded(connecting).await?);
        *self.slot() = Some(connected.clone());
        Ok(connected)
    }

    async fn bounded<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Timeout(self.timeout.as_millis() as u64)),
        }
    }

    /// Runs `ops` on `conn`, pipelined, in order; answers each, up to the first one that
    /// failed in a way worth a retry (that one and the rest stay queued): `Err` carries
    /// the answers before it and the failure.
    pub(super) async fn write(
        &self,
        conn: &Connected,
        ops: &[WriteOp],
    ) -> Result<Vec<Written>, (Vec<Written>, StoreError)> {
        let sent = futures::future::join_all(ops.iter().map(|op| self.write_one(conn, op)));
        let results = match tokio::time::timeout(self.timeout, sent).await {
            Ok(results) => results,
            Err(_) => {
                let timeout = StoreError::Timeout(self.timeout.as_millis() as u64);
                return Err((Vec::new(), timeout));
            }
        };
        let mut answers = Vec::with_capacity(results.len());
        for result in results {
            match result {
                Ok(written) => answers.push(written),
                Err(e) if e.is_retryable() => return Err((answers, e)),
                Err(e) => answers.push(Written::Failed(e.to_string())),
            }
        }
        Ok(answers)
    }

    async fn write_one(&self, conn: &Connected, op: &WriteOp) -> Result<Written, StoreError> {
        let s = &conn.statements;
        match op {
            WriteOp::Keep {
                nsp,
                user,
                room,
                options,
            } => {
                let row = conn
                    .client
                    .query_one(&s.keep, &[nsp, user, room, options, &self.max_rooms])
                    .await?;
                let verdict: String = row.get(0);
                let (outcome, inserted) = match verdict.as_str() {
                    "over_limit" => (WriteOutcome::OverLimit, false),
                    "inserted" => (WriteOutcome::Kept, true),
                    _ => (WriteOutcome::Kept, false),
                };
                Ok(Written::Done { outcome, inserted })
            }
            WriteOp::Forget { nsp, user, room } => {
                conn.client.execute(&s.forget, &[user, nsp, room]).await?;
                Ok(Written::Done {
                    outcome: WriteOutcome::Removed,
                    inserted: false,
                })
            }
        }
    }

    /// The rooms `user` keeps in `nsp`, oldest first (at most `max_rooms_per_user`).
    pub(super) async fn rooms(&self, user: &str, nsp: &str) -> Result<Vec<KeptRoom>, StoreError> {
        let conn = self.live()?;
        let limit = i64::from(self.max_rooms);
        let rows = self
            .bounded(async {
                let s = &conn.statements;
                Ok(conn.client.query(&s.rooms, &[&user, &nsp, &limit]).await?)
            })
            .await?;
        Ok(rows
            .iter()
            .map(|row| KeptRoom {
                room: row.get(0),
                options: row.get(1),
            })
            .collect())
    }

    /// The rooms `user` keeps, in `nsp` or in every namespace.
    pub(super) async fn list(
        &self,
        user: &str,
        nsp: Option<&str>,
    ) -> Result<Vec<ListedRoom>, StoreError> {
        let conn = self.live()?;
        let limit = i64::from(self.max_rooms);
        let rows = self
            .bounded(async {
                let s = &conn.statements;
                Ok(conn.client.query(&s.list, &[&user, &nsp, &limit]).await?)
            })
            .await?;
        Ok(rows
            .iter()
            .map(|row| ListedRoom {
                namespace: row.get(0),
                room: row.get(1),
                options: row.get::<_, Value>(2),
                since_ms: row.get(3),
            })
            .collect())
    }

    /// Whether the connection still answers.
    pub(super) async fn probe(&self, conn: &Connected) -> Result<(), StoreError> {
        self.bounded(async {
            conn.client.simple_query("SELECT 1").await?;
            Ok(())
        })
        .await
    }

    fn live(&self) -> Result<Arc<Connected>, StoreError> {
        self.current()
            .ok_or_else(|| StoreError::Unavailable("not connected".into()))
    }
}

async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
    Ok(Statements {
        keep: client
            .prepare("SELECT siohub_keep_subscription($1, $2, $3, $4, $5)")
            .await?,
        forget: client
            .prepare(
                "DELETE FROM siohub_subscriptions WHERE user_id = $1 AND namespace = $2 AND room = $3",
            )
            .await?,
        rooms: client
            .prepare(
                "SELECT room, options FROM siohub_subscriptions
                  WHERE user_id = $1 AND namespace = $2
                  ORDER BY created_at, room LIMIT $3",
            )
            .await?,
        list: client
            .prepare(
                "SELECT namespace, room, options,
                        (extract(epoch FROM created_at) * 1000)::int8
                   FROM siohub_subscriptions
                  WHERE user_id = $1 AND ($2::text IS NULL OR namespace = $2)
                  ORDER BY namespace, room LIMIT $3",
            )
            .await?,
    })
}
