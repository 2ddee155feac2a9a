// THROWAWAY measurement program: delete after use.
use std::{collections::HashMap, time::Instant};

use chrono::NaiveDate;
use concord_core::{KeyName, Source};
use concord_keys::LinkageKey;
use concord_linkage::{LinkConfig, LinkRecord, Linker, pairwise_metrics};
use concord_matchkey::{Identifiers, RejectionCounts, tokenise_on};
use concord_synth::{DataSet, Meaning, Population, SynthConfig, generate};

fn tokenise(pop: &Population) -> (Vec<LinkRecord>, Vec<(u64, u64)>) {
    let key = LinkageKey::new("lk-test", &[7u8; 32]).unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let truth: HashMap<(DataSet, &str), u64> = pop
        .truth
        .iter()
        .map(|t| ((t.data_set, t.record_ref.as_str()), t.person))
        .collect();
    let mut counts = RejectionCounts::new();
    let (mut records, mut truth_rows) = (Vec::new(), Vec::new());
    for t in &pop.tables {
        if t.data_set == DataSet::EdAssaults {
            continue;
        }
        let get = |row: &Vec<String>, m: Meaning| -> Option<String> {
            t.column(m)
                .map(|c| row[c].clone())
                .filter(|s| !s.is_empty())
        };
        for row in &t.rows {
            let (f, s, d, n, p, pc) = (
                get(row, Meaning::Forename),
                get(row, Meaning::Surname),
                get(row, Meaning::DateOfBirth),
                get(row, Meaning::NhsNumber),
                get(row, Meaning::PncId),
                get(row, Meaning::Postcode),
            );
            let ids = Identifiers {
                forename: f.as_deref(),
                surname: s.as_deref(),
                date_of_birth: d.as_deref(),
                nhs_number: n.as_deref(),
                pnc_id: p.as_deref(),
                postcode: pc.as_deref(),
            };
            let id = records.len() as u64 + 1;
            let person = truth[&(
                t.data_set,
                row[t.column(Meaning::SourceRef).unwrap()].as_str(),
            )];
            records.push(LinkRecord {
                id,
                source: t.data_set.source(),
                tokens: tokenise_on(&ids, &key, &mut counts, today),
            });
            truth_rows.push((id, person));
        }
    }
    (records, truth_rows)
}

fn quality(people: usize, activity: f64) {
    let pop = generate(&SynthConfig {
        seed: 11,
        people,
        activity,
        ..SynthConfig::default()
    });
    let (records, truth) = tokenise(&pop);
    for (upper, lower) in [
        (20.0, 10.0),
        (24.0, 12.0),
        (28.0, 12.0),
        (32.0, 12.0),
        (36.0, 14.0),
    ] {
        let cfg = LinkConfig {
            upper,
            lower,
            ..LinkConfig::default()
        };
        let mut l = Linker::new(cfg);
        let out = l.add(records.clone());
        let m = pairwise_metrics(&l.assignments(), &truth);
        println!(
            "people {people} act {activity} records {} upper {upper} lower {lower}: P {:.4} R {:.4} F1 {:.4} cP {:.4} cR {:.4} possible {} (true pairs {})",
            m.records,
            m.precision,
            m.recall,
            m.f1,
            m.cluster_precision,
            m.cluster_recall,
            out.possible.len(),
            m.true_pairs
        );
    }
}

// Perf data: identities from synth people, 8 tokens a record.
fn perf_records(n_records: usize, seed: u64) -> Vec<LinkRecord> {
    let people = n_records * 2 / 5;
    let pop = generate(&SynthConfig {
        seed,
        people,
        activity: 0.0,
        ..SynthConfig::default()
    });
    let key = LinkageKey::new("lk-test", &[7u8; 32]).unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let mut counts = RejectionCounts::new();
    let mut out = Vec::with_capacity(n_records);
    let mut s = seed | 1;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let order = [
        KeyName::Nhs,
        KeyName::Pnc,
        KeyName::SnDob,
        KeyName::FnDob,
        KeyName::FnSn,
        KeyName::SnPc,
        KeyName::FnPc,
        KeyName::DobPc,
        KeyName::PhSnDob,
        KeyName::PhFnSn,
        KeyName::NamesDob,
    ];
    while out.len() < n_records {
        let p = &pop.people[(rnd() % people as u64) as usize];
        let mut fname = p.forename.clone();
        if rnd() % 20 == 0 {
            fname.push('e');
        }
        let pc = if rnd() % 8 == 0 {
            p.previous_postcode.clone().unwrap_or(p.postcode.clone())
        } else {
            p.postcode.clone()
        };
        let dob = p.dob.format("%Y-%m-%d").to_string();
        let nhs = (rnd() % 3 == 0).then(|| p.nhs_number.clone());
        let ids = Identifiers {
            forename: Some(&fname),
            surname: Some(&p.surname),
            date_of_birth: Some(&dob),
            nhs_number: nhs.as_deref(),
            pnc_id: p.pnc_id.as_deref(),
            postcode: Some(&pc),
        };
        let mut t = tokenise_on(&ids, &key, &mut counts, today);
        t.sort_by_key(|(k, _)| order.iter().position(|x| x == k).unwrap_or(99));
        t.truncate(8);
        out.push(LinkRecord {
            id: out.len() as u64 + 1,
            source: Source::Police,
            tokens: t,
        });
    }
    out
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if mode == "quality" {
        quality(60_000, 3.0);
        quality(150_000, 1.0);
        return;
    }
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let t0 = Instant::now();
    let all = perf_records(n + 50_000, 3);
    println!(
        "prepared {} records in {:.1?} (tokens/record {:.2})",
        all.len(),
        t0.elapsed(),
        all.iter().map(|r| r.tokens.len()).sum::<usize>() as f64 / all.len() as f64
    );
    let (base, delta) = all.split_at(n);
    let mut l = Linker::new(LinkConfig::default());
    let t = Instant::now();
    let out = l.add(base.to_vec());
    println!(
        "link {} from empty: {:.2?} (compared {}, persons {}, possible {}, frequent tokens {})",
        base.len(),
        t.elapsed(),
        out.stats.pairs_compared,
        l.person_count(),
        out.possible.len(),
        out.stats.frequent_tokens
    );
    let t = Instant::now();
    let out = l.add(delta.to_vec());
    println!(
        "add delta {} into {}: {:.2?} (compared {}, merges {})",
        delta.len(),
        base.len(),
        t.elapsed(),
        out.stats.pairs_compared,
        out.merges.len()
    );
    let ids: Vec<u64> = delta.iter().take(10_000).map(|r| r.id).collect();
    let t = Instant::now();
    let out = l.remove(&ids);
    println!(
        "remove 10000: {:.2?} (splits {})",
        t.elapsed(),
        out.splits.len()
    );
}
