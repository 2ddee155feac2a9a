//! Readiness: does the database answer now? [`Probe::check`] runs
//! `SELECT 1` on a connection of the probe's own (outside the pool, so a
//! pool busy with requests never reads as a database that is down), within
//! a short timeout. The connection is kept between checks and replaced
//! every [`RECONNECT_EVERY`], so a database that drops or cuts connections
//! fails the next check, and one that refuses new connections
//! (`ALLOW_CONNECTIONS false`, too many clients) fails within that period.
//! On SQLite the check also fails when the database file is gone from its
//! path or is not writable (the broker could not take the next write).

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use crate::{Backend, Store, StoreError, error, own};

/// How long a probe keeps its connection before opening another.
pub const RECONNECT_EVERY: Duration = Duration::from_secs(5);

/// A readiness probe of one store (see the module doc).
pub struct Probe {
    backend: Backend,
    timeout: Duration,
    conn: Option<(own::OwnConnection, Instant)>,
}

impl Store {
    /// A readiness probe whose every step (opening its connection,
    /// `SELECT 1`) is bounded by `timeout`.
    pub fn probe(&self, timeout: Duration) -> Probe {
        Probe {
            backend: self.backend.clone(),
            timeout,
            conn: None,
        }
    }
}

impl Probe {
    /// `Ok` when the database answers now; the condition otherwise
    /// (`StoreError::Unavailable` when it does not answer in time or
    /// refuses the connection, `NotWritable` for a SQLite file that cannot
    /// take a write).
    pub async fn check(&mut self) -> Result<(), StoreError> {
        let closed = match &self.backend {
            Backend::Sqlite { pool, .. } => pool.is_closed(),
            Backend::Postgres(pool) => pool.is_closed(),
        };
        if closed {
            // The store is closing ([`Store::close`]): nothing more is served.
            self.conn = None;
            return Err(error::classify(sqlx::Error::PoolClosed));
        }
        if let Backend::Sqlite { pool, .. } = &self.backend {
            let file = pool.connect_options().get_filename().to_path_buf();
            if file.as_os_str() != ":memory:" {
                sqlite_file_usable(file)?;
            }
        }
        let (mut conn, since) = match self.conn.take() {
            Some((conn, since)) if since.elapsed() < RECONNECT_EVERY => (conn, since),
            _ => (
                own::connect(&self.backend, self.timeout).await?,
                Instant::now(),
            ),
        };
        let answered = tokio::time::timeout(self.timeout, select_one(&mut conn)).await;
        match answered {
            Ok(Ok(())) => {
                self.conn = Some((conn, since));
                Ok(())
            }
            // The connection is dropped (closed): the next check opens another.
            Ok(Err(e)) => Err(error::classify(e)),
            Err(_) => Err(error::classify(sqlx::Error::PoolTimedOut)),
        }
    }
}

async fn select_one(conn: &mut own::OwnConnection) -> Result<(), sqlx::Error> {
    match conn {
        own::OwnConnection::Sqlite(c) => sqlx::query("SELECT 1").execute(c).await.map(drop),
        own::OwnConnection::Postgres(c) => sqlx::query("SELECT 1").execute(c).await.map(drop),
    }
}

/// The SQLite file is still at its path and writable. An open connection
/// keeps answering on a file that was removed or renamed (it holds the
/// inode), so only the path tells that the next start, or a reader of the
/// path, would not find it.
fn sqlite_file_usable(path: PathBuf) -> Result<(), StoreError> {
    let gone = |e: std::io::Error| StoreError::Unavailable(sqlx::Error::Io(e));
    let meta = std::fs::metadata(&path).map_err(gone)?;
    if meta.permissions().readonly() {
        return Err(StoreError::NotWritable(sqlx::Error::Io(
            std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the SQLite database file is read-only",
            ),
        )));
    }
    Ok(())
}
