//! `concord-bench audit`: appends per second through the broker's
//! `AuditLog` (one writer, group commit, one transaction per batch, each
//! batch's tree head signed and written with it) on a real store, with
//! `--concurrency` callers appending at once as request handlers would; the
//! CPU this process spent per appended event (the broker's side: the
//! database server's CPU is not counted); and how many events each signed
//! head covered on average.

use std::{collections::BTreeSet, time::Instant};

use anyhow::{Context, Result};
use concord_audit::{Action, AuditEvent, Decision, FieldName, SubjectId};
use concord_core::Source;
use concord_e2e::{Db, TestBroker};
use concord_pki::Identity;

/// What one run measured.
pub struct Figures {
    pub store: &'static str,
    pub events: u64,
    pub seconds: f64,
    /// User plus system CPU of this process while appending, per event.
    pub cpu_us_per_event: f64,
    /// Signed heads stored by the run (one per batch).
    pub checkpoints: usize,
}

/// A lookup-like event: purpose, case, three sources with fields, a person.
fn event(i: u64) -> AuditEvent {
    let who = Identity {
        org: "rbkc-childrens".into(),
        role: "mash_officer".into(),
        user: format!("mash-officer-{}", i % 17),
    };
    let mut e = concord_server::audit::refusal(&who, Action::Lookup, "", Some("0".repeat(64)));
    e.decision = Decision::Allow;
    e.purpose = Some("safeguarding_children".into());
    e.case_ref = Some(format!("MASH-2026-{:04}", i % 10_000));
    e.agreement = Some("skc-isa-2026-mash".into());
    e.lawful_basis = Some("Children Act 2004 s.11".into());
    let fields: BTreeSet<FieldName> = ["kind", "role", "event_date", "category", "ward_code"]
        .iter()
        .map(|f| FieldName::parse(f).expect("a field name"))
        .collect();
    for s in [Source::Police, Source::ChildrensServices, Source::Health] {
        e.disclosed.insert(s, fields.clone());
    }
    e.subjects.insert(SubjectId::Person(i % 50_000));
    e
}

/// User plus system CPU seconds of this process so far.
fn process_cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // utime and stime are fields 14 and 15; the command name (field 2) is
    // in parentheses and may hold spaces.
    let (_, rest) = stat
        .rsplit_once(')')
        .context("a stat line without a command name")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .context("a stat line without utime or stime")
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

pub async fn run(db: Db, events: u64, concurrency: usize) -> Result<Figures> {
    let tb = TestBroker::start(db).await;
    let log = tb.broker.audit.clone();
    let heads_before = tb.store.audit_checkpoints().await?.len();
    let per_task = events.div_ceil(concurrency as u64);
    let total = per_task * concurrency as u64;
    let cpu0 = process_cpu_seconds()?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency as u64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..per_task {
                let r = log.append(event(t * per_task + j)).await?;
                // Every receipt is against a head signed in its commit.
                anyhow::ensure!(r.tree_size > r.seq, "a receipt outside its tree");
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await.context("append task")??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds()? - cpu0;
    let checkpoints = tb.store.audit_checkpoints().await?.len() - heads_before;
    let store = match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    };
    tb.stop().await;
    Ok(Figures {
        store,
        events: total,
        seconds,
        cpu_us_per_event: cpu * 1e6 / total as f64,
        checkpoints,
    })
}
