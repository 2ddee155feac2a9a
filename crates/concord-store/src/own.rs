//! Connections of the store's own, outside sqlx's pool, for the two
//! queries every lookup makes: reading the person's records
//! ([`Readers`]) and appending the audit batch
//! ([`crate::AuditAppender`]). sqlx pings a pooled connection each time it
//! goes back to the pool (and, on PostgreSQL by default, before handing it
//! out): one more round trip to the server, or to SQLite's thread, per
//! query. These are opened with the pool's own options (on SQLite with the
//! audit file attached) and kept between queries, under the rules the
//! pool keeps for its own ([`Kept::ready`]): a PostgreSQL connection idle
//! for a second or more is pinged before use, any connection idle for
//! [`MAX_IDLE`] is closed, and opening or pinging one is bounded by the
//! pool's acquire timeout. A connection whose query failed, or was dropped
//! half-way (a cancelled request), is closed, never reused, and the next
//! query opens another. [`crate::Store::close`] closes the idle ones. On
//! PostgreSQL they plan each statement once (`plan_cache_mode`, below).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{Backend, StoreError, error};

/// A kept connection idle this long is closed rather than used (sqlx's
/// pool closes its idle connections after 10 minutes).
pub(crate) const MAX_IDLE: Duration = Duration::from_secs(600);

pub(crate) enum OwnConnection {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

/// A connection kept between queries, with when it was last used.
pub(crate) struct Kept {
    conn: OwnConnection,
    since: Instant,
}

impl Kept {
    pub(crate) fn new(conn: OwnConnection) -> Kept {
        Kept {
            conn,
            since: Instant::now(),
        }
    }

    /// The connection, if it may take a query: one idle past [`MAX_IDLE`]
    /// is closed; a PostgreSQL one idle a second or more, or kept while
    /// the database was lately found unavailable (a restart breaks them
    /// all), is pinged within `timeout` and closed if it does not answer.
    /// The pool's own rule ([`crate::postgres::ping_before_use`]).
    pub(crate) async fn ready(self, timeout: Duration) -> Option<OwnConnection> {
        let idle = self.since.elapsed();
        if idle >= MAX_IDLE {
            return None;
        }
        match self.conn {
            OwnConnection::Postgres(mut conn) if crate::postgres::ping_before_use(idle) => {
                use sqlx::Connection;
                match tokio::time::timeout(timeout, conn.ping()).await {
                    Ok(Ok(())) => Some(OwnConnection::Postgres(conn)),
                    _ => None,
                }
            }
            conn => Some(conn),
        }
    }
}

/// Opens a connection with the pool's options, within `timeout`.
pub(crate) async fn connect(
    backend: &Backend,
    timeout: Duration,
) -> Result<OwnConnection, StoreError> {
    use sqlx::ConnectOptions;
    let open = async {
        Ok(match backend {
            Backend::Sqlite { pool, .. } => {
                OwnConnection::Sqlite(crate::sqlite::own_connection(pool).await?)
            }
            Backend::Postgres(pool) => OwnConnection::Postgres(
                generic_plans(pool.connect_options().as_ref().clone())
                    .connect()
                    .await
                    .map_err(error::classify)?,
            ),
        })
    };
    tokio::time::timeout(timeout, open)
        .await
        .map_err(|_| error::classify(sqlx::Error::PoolTimedOut))?
}

/// Generic plans: own connections run a fixed few statements (records by
/// primary key, the audit append) whose best plan does not depend on the
/// values bound, so each is planned once per connection. Left to choose,
/// PostgreSQL re-plans `id = ANY($1)` at every execution (the generic
/// estimate of an array parameter's length is above the custom plan's): a
/// third of each lookup read's server CPU (BENCHMARKS.md). A startup
/// parameter, so no round trip.
fn generic_plans(options: sqlx::postgres::PgConnectOptions) -> sqlx::postgres::PgConnectOptions {
    options.options([("plan_cache_mode", "force_generic_plan")])
}

/// A few own connections shared by one kind of read, each opened when
/// first needed. How many are in use at once is bounded by their one user,
/// the batched records reads (`record_reads.rs`: one batch per reader).
pub(crate) struct Readers {
    idle: Mutex<Vec<Kept>>,
    acquire_timeout: Duration,
}

impl Readers {
    pub(crate) fn new(n: usize, acquire_timeout: Duration) -> Readers {
        Readers {
            idle: Mutex::new(Vec::with_capacity(n)),
            acquire_timeout,
        }
    }

    /// A connection for one query: an idle one that is [`Kept::ready`],
    /// or a new one. Pinging and opening one are each bounded by the
    /// pool's acquire timeout (then the database is unavailable, as when
    /// the pool times out).
    pub(crate) async fn lease(&self, backend: &Backend) -> Result<Lease<'_>, StoreError> {
        let conn = loop {
            let idle = self.idle.lock().expect("readers lock").pop();
            match idle {
                Some(kept) => {
                    if let Some(conn) = kept.ready(self.acquire_timeout).await {
                        break conn;
                    }
                }
                None => break connect(backend, self.acquire_timeout).await?,
            }
        };
        Ok(Lease {
            readers: self,
            conn: Some(conn),
        })
    }

    /// How long opening or pinging a connection may take.
    pub(crate) fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    /// Closes the idle connections (the store is closing).
    pub(crate) fn close(&self) {
        self.idle.lock().expect("readers lock").clear();
    }
}

/// One connection of [`Readers`], for one query.
pub(crate) struct Lease<'a> {
    readers: &'a Readers,
    conn: Option<OwnConnection>,
}

impl Lease<'_> {
    pub(crate) fn conn(&mut self) -> &mut OwnConnection {
        self.conn.as_mut().expect("held until the lease ends")
    }

    /// The query finished: the connection goes back for the next one. A
    /// lease dropped without this (its query failed, or the request was
    /// cancelled half-way) closes its connection.
    pub(crate) fn done(mut self) {
        if let Some(conn) = self.conn.take() {
            self.readers
                .idle
                .lock()
                .expect("readers lock")
                .push(Kept::new(conn));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::postgres::PgConnectOptions;

    #[test]
    fn own_postgres_connections_plan_once_and_keep_the_pools_options() {
        let pool = PgConnectOptions::from_str(
            "postgres://concord@127.0.0.1/concord?options=-c%20statement_timeout%3D5000",
        )
        .unwrap();
        let own = super::generic_plans(pool);
        assert_eq!(
            own.get_options(),
            Some("-c statement_timeout=5000 -c plan_cache_mode=force_generic_plan")
        );
    }
}
