//! `concord-bench lookup`: authorised person lookups under load.
//!
//! Starts a real broker (mTLS, the repository's policies, a fresh SQLite
//! file or PostgreSQL database) and pushes N synthetic records over mTLS:
//! N/4 people, each known to four agencies (police, health, children's
//! services, community safety: one snapshot extract per source), each
//! record carrying the person's match-key tokens (an NHS number for half
//! of them; forename, surname, date of birth and postcode pair keys for
//! all). It waits until the broker has linked every extract and reloaded
//! its insight facts (the work that follows new data), and has written
//! the load out to disk (PostgreSQL's `CHECKPOINT`, then `sync`), then
//! `concurrency` callers, each on its own mTLS connection as
//! `mash-officer-1`, ask `Lookup.FindPerson` for random known people
//! (`safeguarding_children`, a MASH case) for `seconds` seconds after a
//! warm-up. Every answer is checked (matched, four sources, a receipt).
//! Each lookup is the whole path: the policy decision, re-keying, the
//! linkage probe, the records query and the audit append (group commit).
//!
//! Closed loop by default: each caller asks again as soon as it has its
//! answer, so the figures are the throughput and the latency at saturation
//! (by Little's law, mean latency = callers / throughput). With `--rate R`
//! the callers share a fixed schedule of R lookups per second (open loop)
//! and each latency is measured from the lookup's scheduled time, so a
//! broker falling behind shows as latency (no coordinated omission).
//! Several rates are measured in turn on the one loaded broker.
//! The callers run in the same process, on a tokio runtime of their own
//! (threads named `bench-caller`), and share the machine's cores with the
//! broker (and PostgreSQL). CPU time is split by thread: the callers' (TLS,
//! HTTP/2 and prost on the client side) and the rest of the process, which
//! is the broker's (its runtime, SQLite's threads, the blocking pool). The
//! broker's CPU per lookup approximates what it would need with the
//! callers elsewhere; part of it is waking threads, which depends on how
//! the cores are shared.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use concord_client::{Extract, push_extract};
use concord_core::KeyName;
use concord_e2e::{Db, StartOptions, TestBroker};
use concord_proto::v1::{self, lookup_client::LookupClient};

/// splitmix64 of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn bytes32(seed: u64) -> Vec<u8> {
    (0..4u64)
        .flat_map(|k| mix(seed ^ (k << 58)).to_le_bytes())
        .collect()
}

/// The sources each person is known to, with the pushing agent and kind.
pub(crate) const SOURCES: [(v1::Source, &str, v1::RecordKind); 4] = [
    (v1::Source::Police, "mps-cw-push", v1::RecordKind::Crime),
    (
        v1::Source::Health,
        "chelwest-nhs-push",
        v1::RecordKind::SafeguardingConcern,
    ),
    (
        v1::Source::ChildrensServices,
        "rbkc-childrens-push",
        v1::RecordKind::Referral,
    ),
    (
        v1::Source::CommunitySafety,
        "rbkc-community-safety-push",
        v1::RecordKind::MaracCase,
    ),
];

/// The pair keys every person carries, and the strong key half carry.
const PAIR_KEYS: [KeyName; 7] = [
    KeyName::SnDob,
    KeyName::FnDob,
    KeyName::FnSn,
    KeyName::SnPc,
    KeyName::FnPc,
    KeyName::DobPc,
    KeyName::PhSnDob,
];

/// Person `p`'s match-key tokens, as their agencies compute them.
fn tokens(p: u64, lk: &str) -> Vec<v1::MatchKeyToken> {
    let key = |name: KeyName| v1::MatchKeyToken {
        key_name: name.as_str().into(),
        key_id: lk.into(),
        token: bytes32((p << 5) ^ name.code() as u64 ^ 0x70CE_0000_0000),
    };
    let mut t: Vec<v1::MatchKeyToken> = PAIR_KEYS.iter().map(|k| key(*k)).collect();
    if p.is_multiple_of(2) {
        t.push(key(KeyName::Nhs));
    }
    t
}

/// The ISO date of day `d` (0..365) of 2026.
fn date(d: u64) -> String {
    const DAYS: [u64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let (mut d, mut m) = (d % 365, 0);
    while d >= DAYS[m] {
        d -= DAYS[m];
        m += 1;
    }
    format!("2026-{:02}-{:02}", m + 1, d + 1)
}

/// Person `p`'s record at source `s`.
fn record(s: usize, p: u64, lk: &str) -> v1::Record {
    let (source, _, kind) = SOURCES[s];
    let r = mix(p ^ ((s as u64) << 50));
    v1::Record {
        source: source as i32,
        source_ref: bytes32(p ^ ((s as u64 + 1) << 48) ^ 0x5EED),
        kind: kind as i32,
        role: v1::PersonRole::Victim as i32,
        event_date: date(r % 365),
        event_date_precision: v1::DatePrecision::Day as i32,
        event_hour: Some((r >> 20) as u32 % 24),
        ward_code: format!("E0500{}", 9388 + (r >> 30) % 18),
        category: 1 + ((r >> 40) % 12) as i32,
        weapon: 1 + ((r >> 44) % 7) as i32,
        location_type: 1 + ((r >> 48) % 9) as i32,
        age_band: 1 + ((r >> 52) % 6) as i32,
        sex: 1 + ((r >> 56) % 2) as i32,
        flags: Some(v1::Flags {
            domestic_abuse: r & 1 == 1,
            under_25: r & 2 == 2,
            exploitation: r & 4 == 4,
        }),
        tokens: tokens(p, lk),
        ..Default::default()
    }
}

/// Pushes source `s`'s snapshot: one record for each of `people` people.
async fn push(tb: &TestBroker, s: usize, people: u64) -> Result<()> {
    let (source, agent, _) = SOURCES[s];
    let lk = tb.linkage_key_id.clone();
    let header = v1::ExtractHeader {
        extract_id: format!("bench-lookup-{s}"),
        source: source as i32,
        period_start: "2026-01-01".into(),
        period_end: "2026-12-31".into(),
        mode: v1::ExtractMode::Snapshot as i32,
        schema_version: 1,
        linkage_key_id: lk.clone(),
        // Community safety sends two data sets; these are MARAC cases.
        data_set: if source == v1::Source::CommunitySafety {
            "marac".into()
        } else {
            String::new()
        },
        ..Default::default()
    };
    // Extract::new computes the counts and checksum; batches of 5,000.
    let records: Vec<v1::Record> = (0..people).map(|p| record(s, p, &lk)).collect();
    let extract = Extract::new(header, records, vec![], 5_000);
    let receipt = push_extract(tb.channel(agent).await, extract)
        .await
        .with_context(|| format!("{agent} pushes"))?
        .into_inner();
    ensure!(
        receipt.records_stored == people,
        "stored {}",
        receipt.records_stored
    );
    Ok(())
}

pub struct Figures {
    pub store: &'static str,
    pub records: u64,
    pub people: u64,
    pub concurrency: usize,
    pub lookups: usize,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// The broker's CPU time (user and system, every thread of the process
    /// but the callers') over the measured seconds, per lookup answered.
    pub broker_cpu_us_per_lookup: f64,
    /// The callers' CPU time per lookup (their runtime's threads).
    pub caller_cpu_us_per_lookup: f64,
    /// Lookups' records reads per database query over the measured
    /// seconds (the store batches reads that wait for a connection).
    pub reads_per_query: f64,
    pub load_seconds: f64,
    /// Offered lookups per second (0: closed loop).
    pub rate: f64,
    /// The system's uptime (s, `/proc/uptime`) when the callers started.
    pub uptime: String,
    /// Each measured lookup: (due ms after the callers started, or when
    /// it was asked in a closed loop; latency µs), in due order.
    pub traced: Vec<(u32, u32)>,
}

/// Appends one window's lookups to the `--trace` file.
fn write_trace(path: &std::path::Path, f: &Figures) -> Result<()> {
    use std::io::Write;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(
        out,
        "# {} rate {} uptime {} (due ms, latency us)",
        f.store, f.rate, f.uptime
    )?;
    for (due, latency) in &f.traced {
        writeln!(out, "{due} {latency}")?;
    }
    out.flush()?;
    Ok(())
}

/// How the broker is set up and measured.
pub struct Setup {
    pub concurrency: usize,
    pub seconds: f64,
    pub warmup: f64,
    /// The store's pool size (`None`: the store's default).
    pub pool: Option<u32>,
    /// Where to append each measured lookup's due time and latency.
    pub trace: Option<std::path::PathBuf>,
}

/// Loads one broker, then measures each of `rates` in turn on it (0: a
/// closed loop), each after its own warm-up.
pub async fn run(db: Db, records: u64, setup: &Setup, rates: &[f64]) -> Result<Vec<Figures>> {
    let (tb, loaded) = load(db, records, setup).await?;
    let target = Target::concord(&tb);
    let mut rows = Vec::with_capacity(rates.len());
    for &rate in rates {
        let figures = measure(&target, &loaded, setup, rate).await?;
        if let Some(path) = &setup.trace {
            write_trace(path, &figures).with_context(|| format!("writing {}", path.display()))?;
        }
        rows.push(figures);
    }
    tb.stop().await;
    Ok(rows)
}

/// Starts a broker and pushes `records` records over mTLS, waits until it
/// has linked them and loaded its insight facts, and writes the load out.
pub async fn load(db: Db, records: u64, setup: &Setup) -> Result<(TestBroker, Loaded)> {
    let Setup { pool, .. } = *setup;
    let people = (records / SOURCES.len() as u64).max(1);
    // The per-organisation limits (200/s by default) would cap one MASH
    // team's 64 callers long before the lookup path: this measures the
    // path, so they are lifted (`concord-bench overload` measures them).
    let limits = concord_server::Limits {
        org_requests_per_second: 1e9,
        org_burst: u32::MAX,
        org_max_concurrent: u32::MAX,
        ..concord_server::Limits::default()
    };
    let options = StartOptions {
        limits,
        store: concord_store::StoreOptions {
            max_connections: pool,
            ..concord_store::StoreOptions::default()
        },
        ..StartOptions::default()
    };
    let tb = TestBroker::start_with_options(db, options).await;
    let started = Instant::now();
    for (s, (source, ..)) in SOURCES.iter().enumerate() {
        eprintln!(
            "[{db:?}] pushing {people} {} records over mTLS…",
            source.as_str_name()
        );
        push(&tb, s, people).await?;
    }
    eprintln!("[{db:?}] waiting for linkage…");
    tb.wait_linked(SOURCES.len() as u64).await;
    let load_seconds = started.elapsed().as_secs_f64();
    let linked = tb.store.assignments().await?.len() as u64;
    ensure!(
        linked == people * SOURCES.len() as u64,
        "linked {linked} records of {}",
        people * SOURCES.len() as u64
    );
    // Settled before measuring: the insight facts reload after every
    // linkage run (seconds of work over all the records); a lookup
    // benchmark that overlapped it would measure that reload instead.
    tb.broker
        .insights
        .facts(&tb.broker.store, &tb.broker.broker_key)
        .await
        .map_err(|e| anyhow::anyhow!("loading the insight facts: {e}"))?;
    settle(&tb, db).await?;
    Ok((
        tb,
        Loaded {
            db,
            people,
            load_seconds,
        },
    ))
}

/// Writes the load out to disk before measuring: PostgreSQL's
/// `CHECKPOINT`, then `sync`. Without it the first window measured the
/// kernel writing back the load (about 620 MB dirty at its start on
/// PostgreSQL, written in one burst of 634 MB/s during which every commit,
/// the audit log's included, waited: p99 120-195 ms in that window, 13-17
/// ms in the next). Lookups are a daytime load; the extracts land at
/// night.
async fn settle(tb: &TestBroker, db: Db) -> Result<()> {
    let started = Instant::now();
    if let Some(url) = tb.postgres_url() {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        sqlx::query("CHECKPOINT").execute(&mut conn).await?;
        conn.close().await?;
    }
    let status = tokio::task::spawn_blocking(|| std::process::Command::new("sync").status())
        .await?
        .context("running sync")?;
    ensure!(status.success(), "sync failed: {status}");
    eprintln!(
        "[{db:?}] settled (CHECKPOINT on PostgreSQL, then sync) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What a measurement needs to know of the loaded broker.
#[derive(Clone, Copy)]
pub struct Loaded {
    pub db: Db,
    pub people: u64,
    pub load_seconds: f64,
}

/// The server the callers ask: the broker, or another on the same mTLS.
pub struct Target {
    pub url: String,
    pub tls: Arc<concord_client::ClientTls>,
    /// The linkage key id the callers' tokens carry.
    pub lk: String,
    /// The broker's store, whose records-read counts are reported (`None`:
    /// not a broker).
    pub store: Option<concord_store::Store>,
}

impl Target {
    pub fn concord(tb: &TestBroker) -> Target {
        Target {
            url: tb.url(),
            tls: Arc::new(tb.tls_for("mash-officer-1")),
            lk: tb.linkage_key_id.clone(),
            store: Some(tb.store.clone()),
        }
    }
}

/// `concurrency` callers for `warmup` seconds, then `seconds` measured, at
/// `rate` lookups per second offered (0: closed loop).
pub async fn measure(
    target: &Target,
    loaded: &Loaded,
    setup: &Setup,
    rate: f64,
) -> Result<Figures> {
    let Setup {
        concurrency,
        seconds,
        warmup,
        ..
    } = *setup;
    let Loaded {
        db,
        people,
        load_seconds,
    } = *loaded;
    let offered = if rate > 0.0 {
        format!("{rate}/s offered")
    } else {
        "a closed loop".to_owned()
    };
    eprintln!(
        "[{db:?}] {concurrency} callers asking FindPerson ({offered}) for {warmup} s of warm-up, then {seconds} s…"
    );
    let lk = target.lk.clone();
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    // The callers' own runtime: their connections' tasks run there too
    // (a channel's tasks run where it was connected).
    let callers_rt = CallerRuntime(Some(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(CALLER_THREAD)
            // Its threads live through the measurement (their CPU is counted
            // by thread).
            .thread_keep_alive(Duration::from_secs(24 * 3600))
            .enable_all()
            .build()
            .context("the callers' runtime")?,
    ));
    let (url, tls) = (target.url.clone(), target.tls.clone());
    let mut channels = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (url, tls) = (url.clone(), tls.clone());
        let channel = callers_rt
            .handle()
            .spawn(async move { concord_client::connect(&url, &tls).await })
            .await
            .context("connecting a caller")??;
        channels.push(channel);
    }
    // Open loop: caller c asks at start + (k + c / callers) · interval.
    let interval = (rate > 0.0).then(|| Duration::from_secs_f64(concurrency as f64 / rate));
    let uptime = std::fs::read_to_string("/proc/uptime")
        .context("reading /proc/uptime")?
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    let start = Instant::now();
    let mut callers = Vec::with_capacity(concurrency);
    for (c, channel) in channels.into_iter().enumerate() {
        let (lk, measuring, stop) = (lk.clone(), measuring.clone(), stop.clone());
        callers.push(callers_rt.handle().spawn(async move {
            let mut client = LookupClient::new(channel);
            // (due ms after `start`, latency µs) of each measured lookup.
            let mut trace: Vec<(u32, u32)> = Vec::new();
            let mut x = mix(c as u64 + 1);
            let mut next = interval.map(|i| start + i.mul_f64(c as f64 / concurrency as f64));
            while !stop.load(Ordering::Relaxed) {
                x = mix(x);
                let p = x % people;
                let req = v1::FindPersonRequest {
                    tokens: tokens(p, &lk),
                    purpose: "safeguarding_children".into(),
                    case_ref: "MASH-2026-0042".into(),
                    reason: String::new(),
                };
                let t0 = match (next, interval) {
                    (Some(at), Some(i)) => {
                        tokio::time::sleep_until(at.into()).await;
                        next = Some(at + i);
                        at
                    }
                    _ => Instant::now(),
                };
                let answer = client.find_person(req).await?.into_inner();
                let micros = t0.elapsed().as_micros() as u32;
                if !answer.matched
                    || answer.sources.len() != SOURCES.len()
                    || answer.receipt.is_none()
                {
                    bail!(
                        "person {p}: matched {}, {} sources",
                        answer.matched,
                        answer.sources.len()
                    );
                }
                if measuring.load(Ordering::Relaxed) {
                    trace.push((t0.duration_since(start).as_millis() as u32, micros));
                }
            }
            Ok::<_, anyhow::Error>(trace)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    let cpu0 = Cpu::now()?;
    let read_counts = || target.store.as_ref().map(|s| s.record_read_counts());
    let reads0 = read_counts();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let cpu = Cpu::now()?.since(&cpu0);
    let reads = read_counts();
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut traced: Vec<(u32, u32)> = Vec::new();
    for c in callers {
        traced.extend(c.await.context("caller task")??);
    }
    traced.sort_unstable();
    let mut all: Vec<u32> = traced.iter().map(|&(_, latency)| latency).collect();
    drop(callers_rt);
    ensure!(!all.is_empty(), "no lookup finished while measuring");
    all.sort_unstable();
    let pct = |q: f64| {
        let i = ((all.len() as f64 * q).ceil() as usize).clamp(1, all.len()) - 1;
        f64::from(all[i]) / 1000.0
    };
    let figures = Figures {
        store: if db == Db::Sqlite {
            "sqlite"
        } else {
            "postgres"
        },
        records: people * SOURCES.len() as u64,
        people,
        concurrency,
        lookups: all.len(),
        seconds: elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        p999_ms: pct(0.999),
        max_ms: f64::from(all[all.len() - 1]) / 1000.0,
        broker_cpu_us_per_lookup: (cpu.process - cpu.callers) * 1e6 / all.len() as f64,
        caller_cpu_us_per_lookup: cpu.callers * 1e6 / all.len() as f64,
        reads_per_query: match (reads, reads0) {
            (Some(r), Some(r0)) => {
                (r.reads - r0.reads) as f64 / (r.queries - r0.queries).max(1) as f64
            }
            _ => 0.0,
        },
        load_seconds,
        rate,
        uptime,
        traced,
    };
    Ok(figures)
}

pub fn print(rows: &[Figures], seconds: f64) {
    println!(
        "\nlookup: FindPerson over mTLS as mash-officer-1 (safeguarding_children), random known people, {seconds} s measured"
    );
    println!(
        "| store | records | people | callers | offered/s | lookups | lookups/s | p50 ms | p99 ms | p99.9 ms | max ms | broker CPU µs/lookup | callers' CPU µs/lookup | reads/query | load + link s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for f in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {:.2} | {:.1} |",
            f.store,
            f.records,
            f.people,
            f.concurrency,
            if f.rate > 0.0 {
                format!("{:.0}", f.rate)
            } else {
                "closed loop".to_owned()
            },
            f.lookups,
            f.lookups as f64 / f.seconds,
            f.p50_ms,
            f.p99_ms,
            f.p999_ms,
            f.max_ms,
            f.broker_cpu_us_per_lookup,
            f.caller_cpu_us_per_lookup,
            f.reads_per_query,
            f.load_seconds
        );
    }
}

/// The callers' runtime, shut down without blocking when dropped (a tokio
/// runtime dropped inside async code, as on an early error return, would
/// panic).
struct CallerRuntime(Option<tokio::runtime::Runtime>);

impl CallerRuntime {
    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("the runtime until drop").handle()
    }
}

impl Drop for CallerRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The callers' runtime's thread name (Linux keeps 15 bytes of it).
const CALLER_THREAD: &str = "bench-caller";

/// CPU seconds used so far, user plus system (`/proc`, in clock ticks of
/// 1/100 s, as Linux reports them to user space).
struct Cpu {
    /// The whole process, threads that have ended included.
    process: f64,
    /// The callers' runtime's threads (alive for the whole measurement).
    callers: f64,
}

impl Cpu {
    fn now() -> Result<Cpu> {
        let process = stat_cpu_seconds(
            &std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?,
        )?
        .1;
        let mut callers = 0.0;
        for task in std::fs::read_dir("/proc/self/task").context("listing /proc/self/task")? {
            let path = task.context("listing /proc/self/task")?.path().join("stat");
            // A thread that ended since the listing has no stat to read.
            let Ok(stat) = std::fs::read_to_string(&path) else {
                continue;
            };
            let (name, seconds) = stat_cpu_seconds(&stat)?;
            if name.starts_with(CALLER_THREAD) {
                callers += seconds;
            }
        }
        Ok(Cpu { process, callers })
    }

    fn since(&self, earlier: &Cpu) -> Cpu {
        Cpu {
            process: self.process - earlier.process,
            callers: self.callers - earlier.callers,
        }
    }
}

/// The command name and user plus system CPU seconds of a `/proc` stat line.
fn stat_cpu_seconds(stat: &str) -> Result<(&str, f64)> {
    // The command name is in parentheses; the fields after it start at
    // field 3 (the state).
    let (head, rest) = stat
        .rsplit_once(')')
        .context("a stat line without a command name")?;
    let name = head.split_once('(').map_or("", |(_, n)| n);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line.
    let ticks = |i: usize| -> Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .context("a stat line without utime or stime")
    };
    Ok((name, (ticks(11)? + ticks(12)?) / 100.0))
}
