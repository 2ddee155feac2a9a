//! Match-key and linkage figures: tokenise rate, link speed, and linkage
//! quality on the synthetic partnership population, all through the same
//! code the agent and the broker run (`concord-matchkey`,
//! `concord-linkage`).

use std::{collections::HashMap, time::Instant};

use chrono::NaiveDate;
use concord_core::Source;
use concord_keys::LinkageKey;
use concord_linkage::{LinkConfig, LinkRecord, Linker, RecordOutcome, pairwise_metrics};
use concord_matchkey::{RejectionCounts, tokenise_on};
use concord_synth::{SynthConfig, generate};

/// One agency row's identifiers, its source and its true person.
pub type Row = concord_synth::IdentifyingRow;

/// Every identifying row of a synthetic population, with its truth.
pub fn rows(people: usize, seed: u64) -> Vec<Row> {
    generate(&SynthConfig {
        people,
        seed,
        ..SynthConfig::default()
    })
    .identifying_rows()
}

fn key() -> LinkageKey {
    LinkageKey::new("lk-bench", &[7u8; 32]).expect("a 32-byte key")
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
}

/// Tokenises every row on one thread; returns the records and records/s.
pub fn tokenise(rows: &[Row]) -> (Vec<LinkRecord>, f64) {
    let key = key();
    let mut counts = RejectionCounts::new();
    let started = Instant::now();
    let records: Vec<LinkRecord> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| LinkRecord {
            id: i as u64 + 1,
            source: r.source(),
            tokens: tokenise_on(&r.identifiers(), &key, &mut counts, today()),
        })
        .collect();
    let rate = rows.len() as f64 / started.elapsed().as_secs_f64();
    (records, rate)
}

/// Pairwise precision and recall of the pairs between two sources.
fn cross_pairs(
    records: &[LinkRecord],
    rows: &[Row],
    cluster: &HashMap<u64, u64>,
    a: Source,
    b: Source,
) -> (f64, f64, u64) {
    let mut by_cluster: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut by_person: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut by_both: HashMap<(u64, u64), (u64, u64)> = HashMap::new();
    for (r, row) in records.iter().zip(rows) {
        let side = if r.source == a {
            (1, 0)
        } else if r.source == b {
            (0, 1)
        } else {
            continue;
        };
        let c = cluster[&r.id];
        for e in [
            by_cluster.entry(c).or_default(),
            by_person.entry(row.person).or_default(),
            by_both.entry((c, row.person)).or_default(),
        ] {
            e.0 += side.0;
            e.1 += side.1;
        }
    }
    fn pairs<K>(m: &HashMap<K, (u64, u64)>) -> u64 {
        m.values().map(|(x, y)| x * y).sum()
    }
    let (predicted, truth, tp) = (pairs(&by_cluster), pairs(&by_person), pairs(&by_both));
    let ratio = |n: u64, d: u64| if d == 0 { 1.0 } else { n as f64 / d as f64 };
    (ratio(tp, predicted), ratio(tp, truth), truth)
}

/// Links the records and prints quality against the truth.
pub fn quality(people: usize, seed: u64) {
    let rows = rows(people, seed);
    let (records, _) = tokenise(&rows);
    let mut linker = Linker::new(LinkConfig::default());
    let outcome = linker.add(records.clone());
    let cluster: HashMap<u64, u64> = outcome
        .records
        .iter()
        .filter_map(|(id, o)| o.person().map(|p| (*id, p)))
        .collect();
    let possible = outcome
        .records
        .iter()
        .filter(|(_, o)| matches!(o, RecordOutcome::Possible { .. }))
        .count();
    let predicted: Vec<(u64, u64)> = linker.assignments();
    let truth: Vec<(u64, u64)> = records
        .iter()
        .zip(&rows)
        .map(|(r, row)| (r.id, row.person))
        .collect();
    let m = pairwise_metrics(&predicted, &truth);
    println!(
        "\nlinkage quality: {people} synthetic residents (seed {seed}), {} agency records, {possible} held for review",
        records.len()
    );
    println!("| scope | precision | recall | F1 | true pairs |");
    println!("|---|---|---|---|---|");
    println!(
        "| all pairs | {:.4} | {:.4} | {:.4} | {} |",
        m.precision, m.recall, m.f1, m.true_pairs
    );
    println!(
        "| clusters (exactly one true person) | {:.4} | {:.4} | n/a | {} persons |",
        m.cluster_precision, m.cluster_recall, m.persons
    );
    // With and without NHS numbers: pairs whose both records carry one.
    let has_nhs: Vec<bool> = records
        .iter()
        .map(|r| {
            r.tokens
                .iter()
                .any(|(k, _)| *k == concord_core::KeyName::Nhs)
        })
        .collect();
    for (label, want) in [
        ("both records carry an NHS number", true),
        ("at least one record lacks an NHS number", false),
    ] {
        let (p, r) = subset_pairs(&records, &rows, &cluster, |i, j| {
            (has_nhs[i] && has_nhs[j]) == want
        });
        println!("| {label} | {p:.4} | {r:.4} | n/a | |");
    }
    let sources: Vec<Source> = {
        let mut s: Vec<Source> = records.iter().map(|r| r.source).collect();
        s.sort();
        s.dedup();
        s
    };
    println!("\nper pair of agencies (cross-agency pairs only):");
    println!("| agencies | precision | recall | true pairs |");
    println!("|---|---|---|---|");
    for (i, a) in sources.iter().enumerate() {
        for b in &sources[i + 1..] {
            let (p, r, t) = cross_pairs(&records, &rows, &cluster, *a, *b);
            if t > 0 {
                println!("| {a} × {b} | {p:.4} | {r:.4} | {t} |");
            }
        }
    }
}

/// Pairwise precision and recall over the pairs `keep` selects (by index),
/// counted within each cluster and true person (quadratic in group size,
/// which stays small).
fn subset_pairs(
    records: &[LinkRecord],
    rows: &[Row],
    cluster: &HashMap<u64, u64>,
    keep: impl Fn(usize, usize) -> bool,
) -> (f64, f64) {
    let mut groups: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut truth: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        groups.entry(cluster[&r.id]).or_default().push(i);
        truth.entry(rows[i].person).or_default().push(i);
    }
    let (mut predicted, mut tp, mut true_pairs) = (0u64, 0u64, 0u64);
    for g in groups.values() {
        for (x, &i) in g.iter().enumerate() {
            for &j in &g[x + 1..] {
                if keep(i, j) {
                    predicted += 1;
                    tp += u64::from(rows[i].person == rows[j].person);
                }
            }
        }
    }
    for g in truth.values() {
        for (x, &i) in g.iter().enumerate() {
            for &j in &g[x + 1..] {
                true_pairs += u64::from(keep(i, j));
            }
        }
    }
    let ratio = |n: u64, d: u64| if d == 0 { 1.0 } else { n as f64 / d as f64 };
    (ratio(tp, predicted), ratio(tp, true_pairs))
}

/// Tokenise rate, then linking `records` from empty and a delta of
/// `delta` records into the rest.
pub fn speed(people: usize, records_wanted: usize, delta: usize) {
    let rows = rows(people, 1);
    let (mut records, rate) = tokenise(&rows);
    println!(
        "\ntokenise: {} records (synthetic identifiers, mk2, {} keys), one thread: {rate:.0} records/s",
        rows.len(),
        concord_core::KeyName::ALL.len()
    );
    // Repeat the population with fresh ids (and so fresh people) to reach the size.
    let base = records.clone();
    let mut round = 1u64;
    while records.len() < records_wanted {
        for r in &base {
            if records.len() == records_wanted {
                break;
            }
            let mut r = r.clone();
            r.id += round * 10_000_000;
            // Different people: perturb every token.
            for (_, t) in &mut r.tokens {
                t.0[0] ^= round as u8;
                t.0[1] ^= (round >> 8) as u8;
            }
            records.push(r);
        }
        round += 1;
    }
    records.truncate(records_wanted);
    {
        let mut linker = Linker::new(LinkConfig::default());
        let started = Instant::now();
        let out = linker.add(records.clone());
        let full = started.elapsed().as_secs_f64();
        println!(
            "link from empty: {} records in {full:.2} s ({} people, {} held for review)",
            records.len(),
            linker.person_count(),
            out.possible.len()
        );
    }

    let (stored, new) = records.split_at(records.len() - delta);
    let mut linker = Linker::new(LinkConfig::default());
    linker.add(stored.to_vec());
    let started = Instant::now();
    linker.add(new.to_vec());
    let d = started.elapsed().as_secs_f64();
    println!(
        "link a delta: {delta} records into {} stored in {d:.2} s",
        stored.len()
    );
}
