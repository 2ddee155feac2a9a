//! Policy decision latency: one decision on the repository's bundle, timed
//! from building the `PolicyInput` (as the lookup service does, from the
//! caller's identity and request) to the checked `Decision`, on regorus's
//! interpreter as published.
//!
//! Single-threaded, the engine pool warm, each decision timed on its own
//! with `Instant`; prints percentiles and CPU per decision for lookup
//! (allowed and refused), aggregate and ingest decisions. Target: lookup
//! p99 at most 100 µs (OPA's own published benchmark gives 134 µs).
//!
//! For a figure the machine's load does not move, count instructions: the
//! bundle load costs the same in two runs, so under `valgrind
//! --tool=callgrind` the difference in instructions between
//! `--decisions 2000` and `--decisions 1000`, divided by the 1,100
//! decisions per case (the timed ones and a tenth as warm-up) times the
//! seven cases, is the instructions of one decision.

use std::{path::Path, time::Instant};

use anyhow::{Context, Result, ensure};
use chrono::Utc;
use concord_policy::{Action, Bundle, EngineConfig, PolicyEngine, PolicyInput, Resource, Subject};

const SOURCES: [&str; 8] = [
    "police",
    "health",
    "probation",
    "youth_justice",
    "childrens_services",
    "adult_social_care",
    "housing",
    "community_safety",
];

/// What the lookup service has in hand when it asks: the caller's identity
/// and the request's purpose and case.
struct Ask {
    action: Action,
    org: &'static str,
    role: &'static str,
    user: &'static str,
    purpose: Option<&'static str>,
    case_ref: Option<&'static str>,
    reason: Option<&'static str>,
    sources: &'static [&'static str],
}

impl Ask {
    fn input(&self) -> PolicyInput {
        PolicyInput {
            action: self.action,
            subject: Subject {
                org: self.org.to_owned(),
                role: self.role.to_owned(),
                user: self.user.to_owned(),
            },
            purpose: self.purpose.map(str::to_owned),
            case_ref: self.case_ref.map(str::to_owned),
            reason: self.reason.map(str::to_owned),
            resource: Resource {
                sources: self.sources.iter().map(|s| (*s).to_owned()).collect(),
                record_kinds: vec![],
                fields: vec![],
            },
            time: Utc::now(),
        }
    }
}

struct Stats {
    name: &'static str,
    n: usize,
    errors: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
    mean: f64,
    /// Mean CPU time of this thread per decision (Linux), which time spent
    /// waiting for a core on a busy machine does not inflate.
    cpu: Option<f64>,
}

/// CPU time this thread has run, in nanoseconds, from
/// `/proc/thread-self/schedstat` (Linux); `None` elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn measure(engine: &PolicyEngine, name: &'static str, ask: &Ask, n: usize) -> Result<Stats> {
    // Check the decision is what the case says, then warm the pool.
    let first = engine.decide(&ask.input()).context("decide")?;
    let expect_allow = !name.contains("refused");
    ensure!(
        first.allow == expect_allow,
        "{name}: expected allow={expect_allow}, got {first:?}"
    );
    for _ in 0..n / 10 {
        engine.decide(&ask.input())?;
    }
    let mut micros = Vec::with_capacity(n);
    let mut errors = 0;
    let cpu_before = thread_cpu_ns();
    for _ in 0..n {
        let started = Instant::now();
        let decision = engine.decide(&ask.input());
        micros.push(started.elapsed().as_secs_f64() * 1e6);
        // A time-limit overrun counts (its time is in the figures), so a
        // loaded machine shows in the table instead of ending the run.
        errors += usize::from(std::hint::black_box(decision).is_err());
    }
    let cpu = match (cpu_before, thread_cpu_ns()) {
        (Some(before), Some(after)) => Some((after - before) as f64 / 1e3 / n as f64),
        _ => None,
    };
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() as f64 * q) as usize).min(micros.len() - 1)];
    Ok(Stats {
        name,
        n,
        errors,
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        p999: at(0.999),
        max: micros[micros.len() - 1],
        mean: micros.iter().sum::<f64>() / micros.len() as f64,
        cpu,
    })
}

/// `concord-bench policy`.
pub fn run(dir: &Path, n: usize) -> Result<()> {
    ensure!(n >= 100, "--decisions must be at least 100");
    let bundle = Bundle::load_dir(dir)
        .with_context(|| format!("load the policy bundle in {}", dir.display()))?;
    let started = Instant::now();
    let engine =
        PolicyEngine::new(bundle.clone(), EngineConfig::default()).context("policy engine")?;
    let load = started.elapsed();
    let cases = [
        (
            "lookup safeguarding_children (allowed)",
            Ask {
                action: Action::Lookup,
                org: "rbkc-childrens",
                role: "mash_officer",
                user: "mash-officer-1",
                purpose: Some("safeguarding_children"),
                case_ref: Some("MASH-2026-0042"),
                reason: None,
                sources: &SOURCES,
            },
        ),
        (
            "lookup emergency (allowed)",
            Ask {
                action: Action::Lookup,
                org: "rbkc-childrens",
                role: "mash_manager",
                user: "mash-manager-1",
                purpose: Some("emergency"),
                case_ref: Some("EMG-2026-0042"),
                reason: Some("child missing overnight, immediate risk of serious harm"),
                sources: &SOURCES,
            },
        ),
        (
            "lookup marac (allowed)",
            Ask {
                action: Action::Lookup,
                org: "rbkc-childrens",
                role: "mash_officer",
                user: "mash-officer-1",
                purpose: Some("marac"),
                case_ref: Some("MARAC-2026-0042"),
                reason: None,
                sources: &SOURCES,
            },
        ),
        (
            "lookup bad case reference (refused)",
            Ask {
                action: Action::Lookup,
                org: "rbkc-childrens",
                role: "mash_officer",
                user: "mash-officer-1",
                purpose: Some("safeguarding_children"),
                case_ref: Some("CASE-42"),
                reason: None,
                sources: &SOURCES,
            },
        ),
        (
            "lookup by an analyst (refused)",
            Ask {
                action: Action::Lookup,
                org: "rbkc-community-safety",
                role: "analyst",
                user: "analyst-1",
                purpose: Some("safeguarding_children"),
                case_ref: Some("MASH-2026-0042"),
                reason: None,
                sources: &SOURCES,
            },
        ),
        (
            "aggregate board_member (allowed)",
            Ask {
                action: Action::Aggregate,
                org: "skc-board",
                role: "board_member",
                user: "board-member-1",
                purpose: None,
                case_ref: None,
                reason: None,
                sources: &[],
            },
        ),
        (
            "ingest police (allowed)",
            Ask {
                action: Action::Ingest,
                org: "mps-cw",
                role: "push_agent",
                user: "mps-cw-push",
                purpose: None,
                case_ref: None,
                reason: None,
                sources: &["police"],
            },
        ),
    ];
    println!(
        "policy decisions: bundle revision {} (digest {}), {n} decisions per case, one thread, \
         input built inside the timing",
        bundle.revision(),
        bundle.digest()
    );
    println!(
        "bundle load (compile, invariants, the bundle's tests): {:.0} ms",
        load.as_secs_f64() * 1e3
    );
    println!(
        "| decision | n | errors | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | mean µs | CPU µs |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, ask) in &cases {
        let s = measure(&engine, name, ask, n)?;
        print_row(&s);
    }
    Ok(())
}

fn print_row(s: &Stats) {
    println!(
        "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {} |",
        s.name,
        s.n,
        s.errors,
        s.p50,
        s.p90,
        s.p99,
        s.p999,
        s.max,
        s.mean,
        s.cpu.map_or("n/a".to_owned(), |cpu| format!("{cpu:.1}"))
    );
}
