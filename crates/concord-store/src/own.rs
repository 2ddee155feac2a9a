//! Connections of the store's own, outside sqlx's pool, for the two
//! queries every lookup makes: reading the person's records
//! ([`Readers`]) and appending the audit batch
//! ([`crate::AuditAppender`]). sqlx pings a pooled connection each time it
//! goes back to the pool (and, on PostgreSQL by default, before handing it
//! out): one more round trip to the server, or to SQLite's thread, per
//! query. These are opened with the pool's own options (on SQLite with the
//! audit file attached) and kept between queries; a connection whose query
//! failed, or was dropped half-way (a cancelled request), is closed, never
//! reused, and the next query opens another.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::{Backend, StoreError, error};

pub(crate) enum OwnConnection {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

/// Opens a connection with the pool's options.
pub(crate) async fn connect(backend: &Backend) -> Result<OwnConnection, StoreError> {
    use sqlx::ConnectOptions;
    Ok(match backend {
        Backend::Sqlite { pool, .. } => {
            OwnConnection::Sqlite(crate::sqlite::own_connection(pool).await?)
        }
        Backend::Postgres(pool) => OwnConnection::Postgres(
            pool.connect_options()
                .connect()
                .await
                .map_err(error::classify)?,
        ),
    })
}

/// A few own connections shared by one kind of read, at most `n` in use
/// at once; each is opened when first needed.
pub(crate) struct Readers {
    idle: Mutex<Vec<OwnConnection>>,
    permits: Semaphore,
    acquire_timeout: Duration,
}

impl Readers {
    pub(crate) fn new(n: usize, acquire_timeout: Duration) -> Readers {
        Readers {
            idle: Mutex::new(Vec::with_capacity(n)),
            permits: Semaphore::new(n.max(1)),
            acquire_timeout,
        }
    }

    /// A connection for one query: an idle one, or a new one. Waits for a
    /// free one at most the pool's acquire timeout (then the database is
    /// unavailable, as when the pool times out).
    pub(crate) async fn lease(&self, backend: &Backend) -> Result<Lease<'_>, StoreError> {
        let permit = tokio::time::timeout(self.acquire_timeout, self.permits.acquire())
            .await
            .map_err(|_| error::classify(sqlx::Error::PoolTimedOut))?
            .expect("the readers' semaphore is never closed");
        let conn = loop {
            let idle = self.idle.lock().expect("readers lock").pop();
            match idle {
                // Once a query has found PostgreSQL unavailable, the idle
                // ones may be broken too (a restart breaks them all):
                // each is pinged, and dropped if it does not answer.
                Some(OwnConnection::Postgres(mut conn))
                    if crate::postgres::unavailable_lately() =>
                {
                    use sqlx::Connection;
                    if conn.ping().await.is_ok() {
                        break OwnConnection::Postgres(conn);
                    }
                }
                Some(conn) => break conn,
                None => break connect(backend).await?,
            }
        };
        Ok(Lease {
            readers: self,
            conn: Some(conn),
            _permit: permit,
        })
    }
}

/// One connection of [`Readers`], for one query.
pub(crate) struct Lease<'a> {
    readers: &'a Readers,
    conn: Option<OwnConnection>,
    _permit: SemaphorePermit<'a>,
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
            self.readers.idle.lock().expect("readers lock").push(conn);
        }
    }
}
