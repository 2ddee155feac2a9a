//! `concord-bench`: measures what the issues set targets for, and prints
//! figures for BENCHMARKS.md. Never part of the test run.
//!
//! `concord-bench ingest --records 1000000 --store both` starts a real
//! broker (mTLS, the repository's policies, a fresh SQLite file or
//! PostgreSQL database), pushes N synthetic records with 8 match-key tokens
//! each as one snapshot extract over mTLS, and prints records per second.
//! The client runs in the same process, so it shares the machine's cores
//! with the broker. On PostgreSQL it then measures a bare binary `COPY` of
//! exactly the rows the broker stored into a table with no index or
//! constraint, and prints the ratio.

#![forbid(unsafe_code)]

mod all;
mod audit;
mod dashboard;
mod floor;
mod linkage;
mod linkage_eval;
mod lookup;
mod overload;
mod policy;

use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use concord_core::KeyName;
use concord_e2e::{Db, TestBroker};
use concord_proto::{
    checksum::ExtractChecksum,
    v1::{self, push_extract_request::Message},
};
use sqlx::{Connection, Executor};

#[derive(Parser)]
#[command(about = "Concord benchmarks: print figures for BENCHMARKS.md")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole suite (ingest, link, quality, lookup, dashboard, audit,
    /// policy, overload), each as a child process, and their figures
    /// written into BENCHMARKS.md with the machine, the date and the
    /// commit (between its generated-section markers; the rest is kept).
    All {
        /// Records for the ingest, link, lookup and dashboard benchmarks.
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        /// Seconds measured by the lookup and overload benchmarks.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// The file whose generated section is rewritten.
        #[arg(long, default_value = "BENCHMARKS.md")]
        out: std::path::PathBuf,
    },
    /// Push N synthetic records over mTLS and print records per second.
    Ingest {
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        #[arg(long, value_enum, default_value_t = StoreChoice::Both)]
        store: StoreChoice,
        /// Records per batch message.
        #[arg(long, default_value_t = 5_000)]
        batch: u64,
    },
    /// Tokenise rate, and link speed from empty and for a nightly delta.
    Link {
        /// Synthetic residents whose records are tokenised (and repeated as new people up to --records).
        #[arg(long, default_value_t = 200_000)]
        people: usize,
        #[arg(long, default_value_t = 1_000_000)]
        records: usize,
        #[arg(long, default_value_t = 50_000)]
        delta: usize,
    },
    /// Linkage quality on the synthetic population: pairwise and cluster
    /// precision and recall, overall, by NHS number, and per pair of agencies.
    Quality {
        #[arg(long, default_value_t = 20_000)]
        people: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Concord's linkage against plaintext Splink on data Concord was not
    /// tuned on (FEBRL 1-4, bench/linkage/ukgen.py, the synthetic
    /// population): pairwise, cluster and cross-agency precision and
    /// recall, review share and speed. Needs python3; makes a virtual
    /// environment under target/linkage-eval/venv on first use.
    LinkageEval(linkage_eval::Args),
    /// Audit appends per second through the broker's AuditLog (group
    /// commit, a signed head per batch), CPU per appended event, and events
    /// per signed head.
    Audit {
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Callers appending at once.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        #[arg(long, value_enum, default_value_t = StoreChoice::Both)]
        store: StoreChoice,
    },
    /// A year's board dashboard over N records: cold and warm request
    /// times over mTLS, and the counting alone.
    Dashboard {
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        /// Distinct people behind the records that carry tokens.
        #[arg(long, default_value_t = 250_000)]
        people: u64,
        #[arg(long, value_enum, default_value_t = StoreChoice::Both)]
        store: StoreChoice,
        /// Warm requests timed after the first.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Time only the counting and protection over facts built in
        /// memory (no broker, no database).
        #[arg(long)]
        counting_only: bool,
    },
    /// Person lookups under load: N records of N/4 people pushed and
    /// linked, then concurrent FindPerson callers over mTLS; p50/p99 and
    /// lookups per second.
    Lookup {
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        #[arg(long, value_enum, default_value_t = StoreChoice::Both)]
        store: StoreChoice,
        /// Callers asking at once, each on its own mTLS connection.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Seconds measured.
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// Seconds of warm-up before measuring.
        #[arg(long, default_value_t = 3.0)]
        warmup: f64,
        /// Offered lookups per second, shared by the callers (open loop);
        /// 0 = each caller asks again as soon as it is answered. Several
        /// (`--rate 0,1000,2000`) are measured in turn on one loaded broker.
        #[arg(long, value_delimiter = ',', default_value = "0")]
        rate: Vec<f64>,
        /// The broker's store connections (the pool's maximum; default
        /// the store's own: 4 on SQLite, 8 on PostgreSQL).
        #[arg(long)]
        pool: Option<u32>,
        /// Appends every measured lookup to this file: when it was due (ms
        /// after the callers started; in a closed loop, when it was asked)
        /// and its latency (µs), one per line,
        /// under a `#` line per window giving the rate and the system's
        /// uptime at the callers' start (to line it up with `perf record
        /// -k mono`). Shows whether slow lookups come in bursts (a stall)
        /// or spread out (a busy machine).
        #[arg(long)]
        trace: Option<std::path::PathBuf>,
    },
    /// FindPerson against the floor: the least any broker must do per
    /// lookup (a unary call over the same mTLS, one primary-key read of the
    /// same rows, one durable group-committed insert), closed loop,
    /// interleaved rounds, with throughput and CPU per lookup as ratios.
    Floor {
        #[arg(long, default_value_t = 200_000)]
        records: u64,
        #[arg(long, value_enum, default_value_t = StoreChoice::Both)]
        store: StoreChoice,
        /// Callers asking at once, each on its own mTLS connection.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Seconds measured per window.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Seconds of warm-up before each window.
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        /// Rounds, each one window of the floor and one of Concord.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// One organisation floods the broker past its per-organisation limits
    /// while another calls at a steady pace: the flooder's refusals and the
    /// other organisation's p50/p99, alone and during the flood.
    Overload {
        /// Flooding callers, each on its own mTLS connection.
        #[arg(long, default_value_t = 32)]
        flooders: usize,
        /// Seconds measured (alone, then again during the flood).
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Milliseconds between the other organisation's calls.
        #[arg(long, default_value_t = 10)]
        pace_ms: u64,
        /// The broker's limits.org_requests_per_second.
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        /// The broker's limits.org_burst.
        #[arg(long, default_value_t = 400)]
        burst: u32,
        /// The broker's limits.org_max_concurrent.
        #[arg(long, default_value_t = 64)]
        concurrent: u32,
    },
    /// Policy decision latency (p50/p99) on the repository's bundle,
    /// building the input inside the timing.
    Policy {
        /// Decisions timed per case.
        #[arg(long, default_value_t = 100_000)]
        decisions: usize,
        /// The policy bundle directory.
        #[arg(long, default_value = "policies")]
        dir: std::path::PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum StoreChoice {
    Sqlite,
    Postgres,
    Both,
}

impl StoreChoice {
    /// The stores a benchmark runs on, in order.
    fn dbs(self) -> &'static [Db] {
        match self {
            StoreChoice::Sqlite => &[Db::Sqlite],
            StoreChoice::Postgres => &[Db::Postgres],
            StoreChoice::Both => &[Db::Sqlite, Db::Postgres],
        }
    }
}

/// The 8 match keys every synthetic record carries.
const KEYS: [KeyName; 8] = [
    KeyName::Nhs,
    KeyName::SnDob,
    KeyName::FnDob,
    KeyName::FnSn,
    KeyName::SnPc,
    KeyName::FnPc,
    KeyName::DobPc,
    KeyName::PhSnDob,
];

/// splitmix64: cheap deterministic bytes, so generation costs little.
fn fill(seed: u64, out: &mut [u8]) {
    let mut x = seed;
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
    }
}

fn bytes32(seed: u64) -> Vec<u8> {
    let mut b = vec![0u8; 32];
    fill(seed, &mut b);
    b
}

const WARDS: [&str; 18] = [
    "E05009388",
    "E05009389",
    "E05009390",
    "E05009391",
    "E05009392",
    "E05009393",
    "E05009394",
    "E05009395",
    "E05009396",
    "E05009397",
    "E05009398",
    "E05009399",
    "E05009400",
    "E05009401",
    "E05009402",
    "E05009403",
    "E05009404",
    "E05009405",
];

fn record(i: u64, lk: &str) -> v1::Record {
    v1::Record {
        source_ref: bytes32(i.wrapping_mul(31) ^ 0x5EED),
        kind: v1::RecordKind::Crime as i32,
        role: 1 + (i % 3) as i32,
        event_date: date(i),
        event_date_precision: v1::DatePrecision::Day as i32,
        ward_code: WARDS[(i % 18) as usize].into(),
        category: 1 + (i % 12) as i32,
        weapon: 1 + (i % 7) as i32,
        location_type: 1 + (i % 9) as i32,
        age_band: 1 + (i % 6) as i32,
        sex: 1 + (i % 2) as i32,
        tokens: KEYS
            .iter()
            .enumerate()
            .map(|(k, name)| v1::MatchKeyToken {
                key_name: name.as_str().into(),
                key_id: lk.into(),
                token: bytes32(i * 16 + k as u64),
            })
            .collect(),
        ..Default::default()
    }
}

/// The ISO date `day` days after 2026-01-01 (2026 is not a leap year).
fn date(day: u64) -> String {
    const DAYS: [u64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let (mut d, mut m) = (day % 365, 0);
    while d >= DAYS[m] {
        d -= DAYS[m];
        m += 1;
    }
    format!("2026-{:02}-{:02}", m + 1, d + 1)
}

struct Figures {
    store: &'static str,
    records: u64,
    seconds: f64,
    bare_copy_seconds: Option<f64>,
}

async fn ingest(db: Db, n: u64, batch: u64) -> Result<Figures> {
    let tb = TestBroker::start(db).await;
    let lk = tb.linkage_key_id.clone();
    eprintln!("[{db:?}] computing the extract checksum over {n} records…");
    let mut sum = ExtractChecksum::new();
    for i in 0..n {
        sum.add_record(&record(i, &lk));
    }
    let header = v1::ExtractHeader {
        extract_id: format!("bench-{n}"),
        source: v1::Source::Police as i32,
        period_start: "2026-01-01".into(),
        period_end: "2026-12-31".into(),
        mode: v1::ExtractMode::Snapshot as i32,
        schema_version: 1,
        record_count: n,
        checksum: sum.finish().to_vec(),
        linkage_key_id: lk.clone(),
        ..Default::default()
    };
    let channel = tb.channel("mps-cw-push").await;
    let batches = n.div_ceil(batch);
    let lk2 = lk.clone();
    let messages = futures::stream::iter(
        std::iter::once(v1::PushExtractRequest {
            message: Some(Message::Header(header)),
        })
        .chain((0..batches).map(move |b| {
            let records = (b * batch..((b + 1) * batch).min(n))
                .map(|i| record(i, &lk2))
                .collect();
            v1::PushExtractRequest {
                message: Some(Message::Batch(v1::RecordBatch {
                    records,
                    delete_source_refs: vec![],
                })),
            }
        })),
    );
    eprintln!("[{db:?}] pushing {n} records in {batches} batches over mTLS…");
    let started = Instant::now();
    let receipt = v1::ingest_client::IngestClient::new(channel)
        .max_encoding_message_size(64 * 1024 * 1024)
        .push_extract(messages)
        .await
        .context("push")?
        .into_inner();
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        receipt.records_stored == n,
        "stored {} of {n}",
        receipt.records_stored
    );
    anyhow::ensure!(
        tb.store.count_records(None).await? == n,
        "count after commit"
    );
    // The broker links the extract after its receipt: let it finish, so
    // that neither the bare COPY nor the next store's run shares the cores
    // with it (it did, and PostgreSQL's figure read 18 s instead of 14).
    tb.wait_linked(1).await;

    let bare_copy_seconds = if db == Db::Postgres {
        Some(bare_copy(&tb).await?)
    } else {
        None
    };
    let store = if db == Db::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    tb.stop().await;
    Ok(Figures {
        store,
        records: n,
        seconds,
        bare_copy_seconds,
    })
}

/// Times a bare binary COPY of exactly the stored rows into a table with no
/// index, constraint or identity column.
async fn bare_copy(tb: &TestBroker) -> Result<f64> {
    let url = tb.postgres_url().context("a PostgreSQL broker")?;
    let mut conn = sqlx::PgConnection::connect(&url).await?;
    let cols = "source, source_ref, extract_id, kind, role, event_date, date_precision, event_hour, ward_code, \
                lsoa_code, category, weapon, location_type, age_band, sex, rosh, dash_score, marac, \
                flag_domestic_abuse, flag_under_25, flag_exploitation, site_code, broker_key_id, linkage_key_id, tokens";
    conn.execute(format!("CREATE TABLE bare AS SELECT {cols} FROM records WITH NO DATA").as_str())
        .await?;
    let mut out = conn
        .copy_out_raw(
            format!("COPY (SELECT {cols} FROM records) TO STDOUT (FORMAT binary)").as_str(),
        )
        .await?;
    let mut payload = Vec::new();
    use futures::StreamExt;
    while let Some(chunk) = out.next().await {
        payload.extend_from_slice(&chunk?);
    }
    drop(out);
    eprintln!(
        "[Postgres] bare COPY of the same {} MB of rows…",
        payload.len() / 1_000_000
    );
    let started = Instant::now();
    let mut tx = conn.begin().await?;
    let mut copy = tx
        .copy_in_raw(format!("COPY bare ({cols}) FROM STDIN (FORMAT binary)").as_str())
        .await?;
    for chunk in payload.chunks(4 * 1024 * 1024) {
        copy.send(chunk).await?;
    }
    copy.finish().await?;
    tx.commit().await?;
    Ok(started.elapsed().as_secs_f64())
}

/// mimalloc: under load glibc's malloc and free (with its consolidation
/// passes) took about a fifth of a lookup's CPU; see BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::All {
            records,
            seconds,
            out,
        } => all::run(&out, records, seconds)?,
        Command::Link {
            people,
            records,
            delta,
        } => linkage::speed(people, records, delta),
        Command::Quality { people, seed } => linkage::quality(people, seed),
        Command::LinkageEval(args) => linkage_eval::run(&args)?,
        Command::Audit {
            events,
            concurrency,
            store,
        } => {
            let dbs = store.dbs();
            let mut rows = Vec::new();
            for db in dbs {
                rows.push(audit::run(*db, events, concurrency).await?);
            }
            println!(
                "\naudit: {events} lookup-like events through AuditLog::append, {concurrency} concurrent callers"
            );
            println!(
                "| store | events | seconds | appends/s | CPU µs/event | signed heads | events/head |"
            );
            println!("|---|---|---|---|---|---|---|");
            for f in rows {
                println!(
                    "| {} | {} | {:.2} | {:.0} | {:.1} | {} | {:.1} |",
                    f.store,
                    f.events,
                    f.seconds,
                    f.events as f64 / f.seconds,
                    f.cpu_us_per_event,
                    f.checkpoints,
                    f.events as f64 / f.checkpoints.max(1) as f64
                );
            }
        }
        Command::Policy { decisions, dir } => policy::run(&dir, decisions)?,
        Command::Overload {
            flooders,
            seconds,
            pace_ms,
            rate,
            burst,
            concurrent,
        } => {
            let limits = concord_server::Limits {
                org_requests_per_second: rate,
                org_burst: burst,
                org_max_concurrent: concurrent,
                ..concord_server::Limits::default()
            };
            let mut f = overload::run(
                limits.clone(),
                flooders,
                seconds,
                std::time::Duration::from_millis(pace_ms.max(1)),
            )
            .await?;
            overload::print(&mut f, &limits, flooders, seconds);
        }
        Command::Lookup {
            records,
            store,
            concurrency,
            seconds,
            warmup,
            rate,
            pool,
            trace,
        } => {
            let dbs = store.dbs();
            let mut rows = Vec::new();
            let setup = lookup::Setup {
                concurrency,
                seconds,
                warmup,
                pool,
                trace,
            };
            for db in dbs {
                rows.extend(lookup::run(*db, records, &setup, &rate).await?);
            }
            lookup::print(&rows, seconds);
        }
        Command::Floor {
            records,
            store,
            concurrency,
            seconds,
            warmup,
            rounds,
        } => {
            let setup = lookup::Setup {
                concurrency,
                seconds,
                warmup,
                pool: None,
                trace: None,
            };
            let mut rows = Vec::new();
            for db in store.dbs() {
                rows.extend(floor::run(*db, records, &setup, rounds).await?);
            }
            floor::print(&rows, seconds);
        }
        Command::Dashboard {
            records,
            people,
            counting_only: true,
            runs,
            ..
        } => dashboard::counting_only(records, people, runs),
        Command::Dashboard {
            records,
            people,
            store,
            runs,
            counting_only: false,
        } => {
            let dbs = store.dbs();
            let mut rows = Vec::new();
            for db in dbs {
                rows.push(dashboard::run(*db, records, people, runs).await?);
            }
            dashboard::print(&rows, runs);
        }
        Command::Ingest {
            records,
            store,
            batch,
        } => {
            let dbs = store.dbs();
            let mut rows = Vec::new();
            for db in dbs {
                rows.push(ingest(*db, records, batch).await?);
            }
            println!(
                "\ningest: {records} records x 8 match-key tokens, one snapshot extract, batches of {batch}, over mTLS"
            );
            println!(
                "| store | records | seconds | records/s | bare COPY s | bare COPY records/s | ratio to bare COPY |"
            );
            println!("|---|---|---|---|---|---|---|");
            for f in rows {
                let rate = f.records as f64 / f.seconds;
                match f.bare_copy_seconds {
                    Some(b) => println!(
                        "| {} | {} | {:.2} | {:.0} | {:.2} | {:.0} | {:.0}% |",
                        f.store,
                        f.records,
                        f.seconds,
                        rate,
                        b,
                        f.records as f64 / b,
                        100.0 * b / f.seconds
                    ),
                    None => println!(
                        "| {} | {} | {:.2} | {:.0} | n/a | n/a | n/a |",
                        f.store, f.records, f.seconds, rate
                    ),
                }
            }
        }
    }
    Ok(())
}
