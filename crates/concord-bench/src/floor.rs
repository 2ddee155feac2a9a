//! `concord-bench floor`: the least any broker must do per lookup on this
//! machine, measured in the same run as `FindPerson` (issue 22, item 4).
//!
//! The floor is a tonic server on the same mTLS (the broker's server
//! certificate, the partnership CA, the same acceptor,
//! `concord_server::tls::incoming`) that answers the same
//! `concord.v1.Lookup/FindPerson` with three things and nothing else:
//!
//! 1. the unary call itself (TLS, HTTP/2, prost both ways);
//! 2. one primary-key read of a person's records from the broker's own
//!    `records` table (the same rows and columns a lookup reads:
//!    `source` and every field of [`concord_store::LOOKUP_FIELDS`] as
//!    text), through an ordinary sqlx pool;
//! 3. one durable insert of about an audit event's size, group-committed
//!    by one writer task (as any broker that must record a lookup before
//!    answering would: one fsync per lookup would make the floor slower
//!    than Concord); on SQLite into a file of its own beside the store.
//!
//! No policy, no re-keying, no linkage probe, no Merkle tree, no signature.
//! The same callers (`lookup::measure`: 64 mTLS connections, closed loop,
//! every answer checked for four sources and a receipt) ask both servers,
//! in turn, for `--rounds` rounds; the table prints each round and the
//! ratio of Concord's throughput and CPU per lookup to the floor's.

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::{Context, Result, ensure};
use concord_e2e::{Db, TestBroker};
use concord_proto::v1::{self, lookup_server::Lookup, lookup_server::LookupServer};
use prost::Message as _;
use tokio::sync::{mpsc, oneshot};
use tonic::{Request, Response, Status};

use crate::lookup::{self, Figures, Setup, Target};

/// One row of the comparison: which server, which round, its figures.
pub struct Row {
    pub server: &'static str,
    pub round: usize,
    pub figures: Figures,
}

/// Loads one broker with `records` records, then measures Concord and the
/// floor in turn, `rounds` times each, with the same callers.
pub async fn run(db: Db, records: u64, setup: &Setup, rounds: usize) -> Result<Vec<Row>> {
    let (tb, loaded) = lookup::load(db, records, setup).await?;
    let floor = FloorServer::start(&tb, loaded.people, lookup::SOURCES.len()).await?;
    let concord_target = Target::concord(&tb);
    let floor_target = Target {
        url: floor.url(),
        ..Target::concord(&tb)
    };
    let mut rows = Vec::new();
    for round in 1..=rounds {
        // Interleaved, floor first in odd rounds and Concord first in even
        // ones, so a drift in the machine's speed falls on both.
        let order: [(&'static str, &Target); 2] = if round % 2 == 1 {
            [("floor", &floor_target), ("concord", &concord_target)]
        } else {
            [("concord", &concord_target), ("floor", &floor_target)]
        };
        for (server, target) in order {
            eprintln!("[{db:?}] round {round}: {server}");
            let figures = lookup::measure(target, &loaded, setup, 0.0).await?;
            rows.push(Row {
                server,
                round,
                figures,
            });
        }
    }
    floor.stop().await;
    tb.stop().await;
    Ok(rows)
}

pub fn print(rows: &[Row], seconds: f64) {
    println!(
        "\nfloor: FindPerson against the floor (unary call over the same mTLS + one primary-key read of the same rows + one durable group-committed insert), closed loop, {seconds} s per window, interleaved"
    );
    println!(
        "| store | round | server | lookups/s | p50 ms | p99 ms | broker CPU µs/lookup | callers' CPU µs/lookup |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        let f = &r.figures;
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.0} |",
            f.store,
            r.round,
            r.server,
            f.lookups as f64 / f.seconds,
            f.p50_ms,
            f.p99_ms,
            f.broker_cpu_us_per_lookup,
            f.caller_cpu_us_per_lookup
        );
    }
    println!(
        "\n| store | Concord lookups/s as a share of the floor's | Concord broker CPU per lookup ÷ the floor's |"
    );
    println!("|---|---|---|");
    let mut stores: Vec<&str> = rows.iter().map(|r| r.figures.store).collect();
    stores.dedup();
    for store in stores {
        let sum = |server: &str, f: &dyn Fn(&Figures) -> f64| -> f64 {
            rows.iter()
                .filter(|r| r.figures.store == store && r.server == server)
                .map(|r| f(&r.figures))
                .sum()
        };
        let throughput = |f: &Figures| f.lookups as f64 / f.seconds;
        let cpu = |f: &Figures| f.broker_cpu_us_per_lookup;
        let share = sum("concord", &throughput) / sum("floor", &throughput).max(f64::MIN_POSITIVE);
        let cost = sum("concord", &cpu) / sum("floor", &cpu).max(f64::MIN_POSITIVE);
        println!("| {store} | {:.0}% | {cost:.2}× |", share * 100.0);
    }
}

/// The floor's database: the broker's own, read through a plain pool.
#[derive(Clone)]
enum FloorDb {
    Postgres(sqlx::PgPool),
    Sqlite {
        records: sqlx::SqlitePool,
        events: sqlx::SqlitePool,
    },
}

/// `source` and every lookup field, as text, by primary key.
fn read_sql(postgres: bool) -> String {
    let columns: Vec<String> = std::iter::once("source")
        .chain(concord_store::LOOKUP_FIELDS)
        .map(|f| format!("CAST({f} AS TEXT)"))
        .collect();
    let filter = if postgres {
        "id = ANY($1)"
    } else {
        "id IN (SELECT value FROM json_each(?1))"
    };
    format!("SELECT {} FROM records WHERE {filter}", columns.join(", "))
}

impl FloorDb {
    async fn open(tb: &TestBroker) -> Result<FloorDb> {
        let url = tb.database_url().to_owned();
        if let Some(path) = url.strip_prefix("sqlite:") {
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
            let records = SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(SqliteConnectOptions::new().filename(path).read_only(true))
                .await
                .context("opening the store for the floor's reads")?;
            let events = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(
                    SqliteConnectOptions::new()
                        .filename(format!("{path}-floor"))
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(sqlx::sqlite::SqliteSynchronous::Full),
                )
                .await
                .context("opening the floor's event file")?;
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS floor_events (id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
            )
            .execute(&events)
            .await?;
            Ok(FloorDb::Sqlite { records, events })
        } else {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(8)
                .connect(&url)
                .await
                .context("connecting the floor to PostgreSQL")?;
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS floor_events (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body BYTEA NOT NULL)",
            )
            .execute(&pool)
            .await?;
            Ok(FloorDb::Postgres(pool))
        }
    }

    /// Each person's record ids, from the linkage the broker stored.
    async fn people(&self) -> Result<Vec<Vec<i64>>> {
        let sql = "SELECT person_id, record_id FROM record_person WHERE outcome <> 'possible'";
        let rows: Vec<(i64, i64)> = match self {
            FloorDb::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await?,
            FloorDb::Sqlite { records, .. } => sqlx::query_as(sql).fetch_all(records).await?,
        };
        let mut people: HashMap<i64, Vec<i64>> = HashMap::new();
        for (person, record) in rows {
            people.entry(person).or_default().push(record);
        }
        let mut people: Vec<Vec<i64>> = people.into_values().collect();
        people.sort_unstable();
        Ok(people)
    }

    /// The sources of the rows read (one primary-key read).
    async fn read(&self, ids: &[i64]) -> Result<Vec<String>, sqlx::Error> {
        use sqlx::Row as _;
        let rows = match self {
            FloorDb::Postgres(pool) => sqlx::query(&read_sql(true))
                .bind(ids)
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<Vec<_>, _>>()?,
            FloorDb::Sqlite { records, .. } => {
                let json = format!(
                    "[{}]",
                    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
                );
                sqlx::query(&read_sql(false))
                    .bind(json)
                    .fetch_all(records)
                    .await?
                    .into_iter()
                    .map(|r| r.try_get::<String, _>(0))
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        Ok(rows)
    }

    /// One transaction holding every body of the batch.
    async fn insert(&self, bodies: &[Vec<u8>]) -> Result<(), sqlx::Error> {
        match self {
            FloorDb::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for b in bodies {
                    sqlx::query("INSERT INTO floor_events (body) VALUES ($1)")
                        .bind(b)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }
            FloorDb::Sqlite { events, .. } => {
                let mut tx = events.begin().await?;
                for b in bodies {
                    sqlx::query("INSERT INTO floor_events (body) VALUES (?1)")
                        .bind(b)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }
        }
    }
}

type Append = (Vec<u8>, oneshot::Sender<Result<(), String>>);

/// One writer: drains what is queued (at most 512) into one transaction.
async fn writer(db: FloorDb, mut rx: mpsc::Receiver<Append>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let bodies: Vec<Vec<u8>> = batch.iter().map(|(b, _)| b.clone()).collect();
        let result = db.insert(&bodies).await.map_err(|e| e.to_string());
        for (_, answer) in batch {
            let _ = answer.send(result.clone());
        }
    }
}

struct Floor {
    db: FloorDb,
    people: Arc<Vec<Vec<i64>>>,
    appends: mpsc::Sender<Append>,
}

#[tonic::async_trait]
impl Lookup for Floor {
    async fn find_person(
        &self,
        request: Request<v1::FindPersonRequest>,
    ) -> Result<Response<v1::FindPersonResponse>, Status> {
        let request = request.into_inner();
        // Which person: the first token's first eight bytes, as an index.
        let key = request
            .tokens
            .first()
            .and_then(|t| t.token.get(..8))
            .map_or(0, |b| {
                u64::from_le_bytes(b.try_into().expect("eight bytes"))
            });
        let ids = &self.people[(key % self.people.len() as u64) as usize];
        let mut sources = self
            .db
            .read(ids)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        sources.sort_unstable();
        sources.dedup();
        let (tx, rx) = oneshot::channel();
        self.appends
            .send((request.encode_to_vec(), tx))
            .await
            .map_err(|_| Status::unavailable("the floor's writer stopped"))?;
        rx.await
            .map_err(|_| Status::unavailable("the floor's writer stopped"))?
            .map_err(Status::unavailable)?;
        Ok(Response::new(v1::FindPersonResponse {
            matched: true,
            sources: sources
                .iter()
                .map(|s| v1::SourceView {
                    source: v1::Source::from_str_name(&format!("SOURCE_{}", s.to_uppercase()))
                        .map_or(0, |s| s as i32),
                    ..Default::default()
                })
                .collect(),
            receipt: Some(v1::AuditReceipt::default()),
            ..Default::default()
        }))
    }
}

/// The floor, serving on a port of its own until stopped.
struct FloorServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl FloorServer {
    async fn start(tb: &TestBroker, expected_people: u64, sources: usize) -> Result<FloorServer> {
        let db = FloorDb::open(tb).await?;
        // The people whose records are one per source, as the callers check
        // (a few of the synthetic people link across each other).
        let mut people = db.people().await?;
        people.retain(|ids| ids.len() == sources);
        ensure!(
            people.len() as u64 * 10 >= expected_people * 9,
            "the floor found {} people with one record per source, of {expected_people}",
            people.len()
        );
        let (appends, rx) = mpsc::channel(4096);
        tokio::spawn(writer(db.clone(), rx));
        let service = Floor {
            db,
            people: Arc::new(people),
            appends,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let incoming = concord_server::tls::incoming(
            listener,
            tb.server_tls_config(),
            Duration::from_secs(10),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(
            tonic::transport::Server::builder()
                .initial_stream_window_size(Some(8 * 1024 * 1024))
                .initial_connection_window_size(Some(16 * 1024 * 1024))
                .add_service(LookupServer::new(service))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                }),
        );
        Ok(FloorServer { addr, stop, served })
    }

    fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.served.await;
    }
}
