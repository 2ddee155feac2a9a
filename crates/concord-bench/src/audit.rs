//! `concord-bench audit`: appends per second through the broker's
//! `AuditLog` (one writer, group commit, one transaction per batch) on a
//! real store, with `--concurrency` callers appending at once as request
//! handlers would; and the largest gap between an event's commit and the
//! first signed checkpoint that covers it (the checkpoint interval is 5 s).

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
    /// Largest time from an event's commit to a checkpoint covering it.
    pub max_gap_seconds: f64,
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

pub async fn run(db: Db, events: u64, concurrency: usize) -> Result<Figures> {
    let tb = TestBroker::start(db).await;
    let log = tb.broker.audit.clone();
    let mut watch = log.watch_checkpoints();
    let per_task = events.div_ceil(concurrency as u64);
    let total = per_task * concurrency as u64;
    // Records when each checkpoint lands, until one covers every event.
    let recorder = tokio::spawn(async move {
        let mut signed = Vec::new();
        while watch.changed().await.is_ok() {
            let size = *watch.borrow_and_update();
            signed.push((Instant::now(), size));
            if size >= total {
                break;
            }
        }
        signed
    });
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency as u64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut committed = Vec::with_capacity(per_task as usize);
            for j in 0..per_task {
                let r = log.append(event(t * per_task + j)).await?;
                committed.push((r.seq, Instant::now()));
            }
            Ok::<_, concord_server::ServerError>(committed)
        }));
    }
    let mut committed = Vec::new();
    for t in tasks {
        committed.extend(t.await.context("append task")??);
    }
    let seconds = started.elapsed().as_secs_f64();
    // The writer signs within its interval of the last append.
    let signed = tokio::time::timeout(std::time::Duration::from_secs(30), recorder)
        .await
        .context("no checkpoint covered the log within 30 s")?
        .context("checkpoint recorder")?;
    let mut max_gap = 0f64;
    for (seq, at) in &committed {
        let covered = signed
            .iter()
            .find(|(_, size)| *size > *seq)
            .map(|(t, _)| t.saturating_duration_since(*at).as_secs_f64())
            .context("an event no checkpoint covered")?;
        max_gap = max_gap.max(covered);
    }
    let store = match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    };
    tb.stop().await;
    Ok(Figures {
        store,
        events: total,
        seconds,
        max_gap_seconds: max_gap,
        checkpoints: signed.len(),
    })
}
