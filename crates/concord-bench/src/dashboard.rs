//! `concord-bench dashboard`: a year's board dashboard over N records.
//!
//! Starts a real broker (mTLS, the repository's policies, a fresh SQLite
//! file or PostgreSQL database), pushes N synthetic records for 2026 across
//! the eight sources (one snapshot extract each, over mTLS: police crimes,
//! emergency department attendances without person tokens, and the other
//! agencies' records of people, each person known by an NHS-number token
//! so some are known to several agencies), waits for linkage, then asks
//! `Insights.Dashboard` for `2026` as `analyst-1` over mTLS: once right
//! after linkage (the broker's refresher may still be loading its counting
//! facts, so this may wait for the load) and `runs` times warm; then times
//! reading and building the facts, and the counting alone, in process. Each request includes the policy decision, the counting and
//! protection of every panel, and the audit append.

use std::time::Instant;

use anyhow::{Context, Result};
use concord_client::{Extract, push_extract};
use concord_disclosure::{DashboardPeriod, Rule, build_dashboard};
use concord_e2e::{Db, TestBroker};
use concord_proto::v1;

/// splitmix64 of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn sha(i: u64, salt: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    for k in 0..4 {
        out.extend_from_slice(&mix(i ^ (salt << 40) ^ (k << 56)).to_le_bytes());
    }
    out
}

/// (source, pushing user, kind, role, share of the records in per mille).
const SOURCES: [(v1::Source, &str, v1::RecordKind, v1::PersonRole, u64); 8] = [
    (
        v1::Source::Police,
        "mps-cw-push",
        v1::RecordKind::Crime,
        v1::PersonRole::Victim,
        400,
    ),
    (
        v1::Source::Health,
        "chelwest-nhs-push",
        v1::RecordKind::EdAttendance,
        v1::PersonRole::Patient,
        150,
    ),
    (
        v1::Source::ChildrensServices,
        "rbkc-childrens-push",
        v1::RecordKind::Referral,
        v1::PersonRole::Subject,
        100,
    ),
    (
        v1::Source::YouthJustice,
        "rbkc-yjs-push",
        v1::RecordKind::YouthOffence,
        v1::PersonRole::Offender,
        50,
    ),
    (
        v1::Source::AdultSocialCare,
        "rbkc-adults-push",
        v1::RecordKind::SafeguardingConcern,
        v1::PersonRole::Victim,
        50,
    ),
    (
        v1::Source::Housing,
        "rbkc-housing-push",
        v1::RecordKind::HousingIncident,
        v1::PersonRole::Victim,
        100,
    ),
    (
        v1::Source::Probation,
        "hmpps-probation-push",
        v1::RecordKind::Supervision,
        v1::PersonRole::Offender,
        50,
    ),
    (
        v1::Source::CommunitySafety,
        "rbkc-community-safety-push",
        v1::RecordKind::MaracCase,
        v1::PersonRole::Victim,
        100,
    ),
];

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

fn record(lk: &str, s: usize, i: u64, people: u64) -> v1::Record {
    let (source, _, kind, role, _) = SOURCES[s];
    let r = mix(i ^ ((s as u64) << 48));
    let pick = |shift: u32, n: u64| (r >> shift) % n;
    let police = source == v1::Source::Police;
    let health = source == v1::Source::Health;
    let mut rec = v1::Record {
        source_ref: sha(i, s as u64 + 1),
        kind: kind as i32,
        role: if police && pick(60, 3) == 0 {
            v1::PersonRole::Suspect as i32
        } else {
            role as i32
        },
        event_date: date(pick(0, 365)),
        event_date_precision: v1::DatePrecision::Day as i32,
        ward_code: super::WARDS[pick(9, 18) as usize].into(),
        age_band: 1 + pick(14, 6) as i32,
        sex: 1 + pick(17, 2) as i32,
        ..Default::default()
    };
    if police || health {
        rec.category = if health { 0 } else { 1 + pick(20, 12) as i32 };
        rec.weapon = 1 + pick(25, 7) as i32;
        rec.location_type = 1 + pick(29, 9) as i32;
        rec.event_hour = Some(pick(33, 24) as u32);
    }
    rec.flags = Some(v1::Flags {
        domestic_abuse: pick(38, 5) == 0,
        under_25: rec.age_band <= 3,
        ..Default::default()
    });
    if !health {
        // Emergency department attendances carry no person tokens.
        let person = mix(r ^ 0xFEED) % people;
        rec.tokens = vec![v1::MatchKeyToken {
            key_name: "nhs".into(),
            key_id: lk.to_owned(),
            token: sha(person, 99),
        }];
    }
    rec
}

pub struct Figures {
    pub store: &'static str,
    pub records: u64,
    pub load_seconds: f64,
    pub link_seconds: f64,
    pub cold_ms: f64,
    pub warm_ms: Vec<f64>,
    pub compute_ms: f64,
    pub read_s: f64,
    pub build_s: f64,
    pub loads: u64,
}

pub async fn run(db: Db, records: u64, people: u64, runs: usize) -> Result<Figures> {
    let tb = TestBroker::start(db).await;
    let started = Instant::now();
    for (s, (source, user, ..)) in SOURCES.iter().enumerate() {
        let n = records * SOURCES[s].4 / 1000;
        eprintln!("[{db:?}] pushing {n} {} records…", source.as_str_name());
        let batch: Vec<v1::Record> = (0..n)
            .map(|i| record(&tb.linkage_key_id, s, i, people))
            .collect();
        let header = v1::ExtractHeader {
            extract_id: format!("bench-{}", source.as_str_name()),
            source: *source as i32,
            period_start: "2026-01-01".into(),
            period_end: "2026-12-31".into(),
            mode: v1::ExtractMode::Snapshot as i32,
            schema_version: 1,
            linkage_key_id: tb.linkage_key_id.clone(),
            // Community safety sends two data sets; these are MARAC cases.
            data_set: if *source == v1::Source::CommunitySafety {
                "marac".into()
            } else {
                String::new()
            },
            ..Default::default()
        };
        push_extract(
            tb.channel(user).await,
            Extract::new(header, batch, vec![], 5_000),
        )
        .await
        .with_context(|| format!("push {}", source.as_str_name()))?;
    }
    let load_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    eprintln!("[{db:?}] waiting for linkage…");
    tb.wait_linked(SOURCES.len() as u64).await;
    let link_seconds = started.elapsed().as_secs_f64();
    let stored = tb.store.count_records(None).await?;
    eprintln!("[{db:?}] {stored} records stored and linked");

    let mut client = v1::insights_client::InsightsClient::new(tb.channel("analyst-1").await);
    let ask = || v1::DashboardRequest {
        period: "2026".into(),
    };
    let t = Instant::now();
    let first = client
        .dashboard(ask())
        .await
        .context("dashboard")?
        .into_inner();
    let cold_ms = t.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(
        first.panels.len() == concord_disclosure::PANELS.len(),
        "every panel"
    );
    let mut warm_ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let d = client
            .dashboard(ask())
            .await
            .context("dashboard")?
            .into_inner();
        warm_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let figures = |r: &v1::DashboardResponse| -> Vec<_> {
            r.panels
                .iter()
                .map(|p| p.table.as_ref().map(|t| (t.rows.clone(), t.totals.clone())))
                .collect()
        };
        anyhow::ensure!(
            figures(&d) == figures(&first),
            "the same figures every time"
        );
    }
    warm_ms.sort_by(f64::total_cmp);

    // The counting and protection alone, in process.
    let t = Instant::now();
    let inputs = tb.store.insight_facts().await?;
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let facts = concord_disclosure::FactSet::new(inputs);
    let build_s = t.elapsed().as_secs_f64();
    let period = DashboardPeriod::parse("2026")?;
    let t = Instant::now();
    let d = build_dashboard(&facts, &period, Rule::DEFAULT);
    let compute_ms = t.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(d.panels.len() == first.panels.len());

    let loads = tb.broker.insights.loads();
    let store = if db == Db::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    tb.stop().await;
    Ok(Figures {
        store,
        records: stored,
        load_seconds,
        link_seconds,
        cold_ms,
        warm_ms,
        compute_ms,
        read_s,
        build_s,
        loads,
    })
}

/// Prints the figures as a BENCHMARKS.md table.
pub fn print(rows: &[Figures], runs: usize) {
    println!(
        "\ndashboard: a year (2026) of the board's dashboard over mTLS as analyst-1; first = the \
         first request after linkage (may wait for the facts to load), warm = median and max of {runs} more"
    );
    println!(
        "| store | records | push s | link s | first ms | warm median ms | warm max ms | counting alone ms | facts read s | facts build s | loads |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for f in rows {
        let median = f
            .warm_ms
            .get(f.warm_ms.len() / 2)
            .copied()
            .unwrap_or(f64::NAN);
        let max = f.warm_ms.last().copied().unwrap_or(f64::NAN);
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {} |",
            f.store,
            f.records,
            f.load_seconds,
            f.link_seconds,
            f.cold_ms,
            median,
            max,
            f.compute_ms,
            f.read_s,
            f.build_s,
            f.loads
        );
    }
}

/// The same records as facts, with each token's person as its linked
/// person (perfect linkage), without a broker: for timing the counting.
pub fn facts(records: u64, people: u64) -> concord_disclosure::FactSet {
    use concord_core::{
        AgeBand, LocationType, PersonRole, RecordKind, Sex, Source, ViolenceCategory, Weapon,
    };
    let mut out = Vec::with_capacity(records as usize);
    for (s, share) in SOURCES.iter().map(|x| x.4).enumerate() {
        for i in 0..records * share / 1000 {
            let r = record("lk", s, i, people);
            let flags = r.flags.unwrap_or_default();
            out.push(concord_disclosure::FactInput {
                source: Source::from_code(r.source.max(SOURCES[s].0 as i32)).expect("source"),
                kind: RecordKind::from_code(r.kind).expect("kind"),
                role: PersonRole::from_code(r.role),
                event_date: chrono::NaiveDate::parse_from_str(&r.event_date, "%Y-%m-%d")
                    .expect("date"),
                day_precise: true,
                event_hour: r.event_hour.map(|h| h as u8),
                ward_code: Some(r.ward_code.clone()),
                category: ViolenceCategory::from_code(r.category),
                weapon: Weapon::from_code(r.weapon),
                location_type: LocationType::from_code(r.location_type),
                age_band: AgeBand::from_code(r.age_band),
                sex: Sex::from_code(r.sex),
                flag_domestic_abuse: flags.domestic_abuse,
                flag_under_25: flags.under_25,
                person: r
                    .tokens
                    .first()
                    .map(|t| i64::from_le_bytes(t.token[..8].try_into().expect("8 bytes")) >> 1),
            });
        }
    }
    concord_disclosure::FactSet::new(out)
}

/// Times the counting and protection of a year's dashboard over `records`
/// facts in memory (no broker, no database), `runs` times.
pub fn counting_only(records: u64, people: u64, runs: usize) {
    let t = Instant::now();
    let facts = facts(records, people);
    eprintln!(
        "{} facts, {} people, built in {:.2} s",
        facts.len(),
        facts.persons(),
        t.elapsed().as_secs_f64()
    );
    let period = DashboardPeriod::parse("2026").expect("a period");
    let mut ms: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            let d = build_dashboard(&facts, &period, Rule::DEFAULT);
            assert_eq!(d.panels.len(), concord_disclosure::PANELS.len());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    for def in concord_disclosure::PANELS {
        let t = Instant::now();
        def.build(&facts, &period, Rule::DEFAULT);
        eprintln!(
            "  {:<22} {:>6.1} ms (one thread)",
            def.id,
            t.elapsed().as_secs_f64() * 1000.0
        );
    }
    println!(
        "dashboard counting only: {} facts, {} runs: median {:.0} ms, min {:.0} ms, max {:.0} ms",
        facts.len(),
        ms.len(),
        ms[ms.len() / 2],
        ms[0],
        ms[ms.len() - 1]
    );
}
