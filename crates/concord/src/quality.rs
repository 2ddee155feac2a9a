//! Linkage quality against a synthetic truth, for `concord link --truth`
//! and `concord demo`: pairwise precision, recall and F1 overall and per
//! pair of sources, and cluster precision and recall
//! (`concord_linkage::pairwise_metrics`).
//!
//! The truth is `truth.csv` from `concord synth` (data_set, org,
//! record_ref, person_id). It names agency record ids, which never leave
//! the agency; token files and the broker hold only keyed references,
//! `source_ref = HMAC(K_link, "ref:" ‖ source ‖ ":" ‖ id)`. So the truth is
//! joined by recomputing each row's source reference with the linkage key
//! the extracts were tokenised with ([`Truth::load`]).

use concord_synth::DataSetSynth as _;
use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    path::Path,
};

use anyhow::Context;
use concord_core::{Source, Token};
use concord_keys::LinkageKey;
use concord_linkage::Metrics;
use concord_synth::DataSet;

/// Which true person each (source, keyed source reference) belongs to.
pub struct Truth {
    person: HashMap<(Source, Token), u64>,
}

impl Truth {
    /// Reads `truth.csv` and keys each record id with `key`.
    pub fn load(path: &Path, key: &LinkageKey) -> anyhow::Result<Truth> {
        let context = || format!("cannot read the truth file {}", path.display());
        let mut reader = csv::Reader::from_path(path).with_context(context)?;
        let header = reader.headers().with_context(context)?.clone();
        let column = |name: &str| {
            header.iter().position(|h| h == name).with_context(|| {
                format!(
                    "the truth file {} has no column {name:?}; use the truth.csv that `concord \
                     synth` wrote (data_set,org,record_ref,person_id)",
                    path.display()
                )
            })
        };
        let (ds_col, ref_col, person_col) = (
            column("data_set")?,
            column("record_ref")?,
            column("person_id")?,
        );
        let mut rows = Vec::new();
        for (i, row) in reader.records().enumerate() {
            let row = row.with_context(context)?;
            let line = i + 2;
            let name = row.get(ds_col).unwrap_or_default();
            let Some(data_set) = DataSet::ALL.iter().find(|d| d.name() == name) else {
                anyhow::bail!(
                    "line {line} of the truth file {}: column data_set is not one of concord \
                     synth's data sets",
                    path.display()
                );
            };
            let person: u64 = row
                .get(person_col)
                .unwrap_or_default()
                .parse()
                .with_context(|| {
                    format!(
                        "line {line} of the truth file {}: column person_id is not a number",
                        path.display()
                    )
                })?;
            rows.push((
                data_set.source(),
                row.get(ref_col).unwrap_or_default().to_owned(),
                person,
            ));
        }
        Ok(Truth::from_rows(key, rows))
    }

    /// From (source, agency record id, true person) rows.
    pub fn from_rows(
        key: &LinkageKey,
        rows: impl IntoIterator<Item = (Source, String, u64)>,
    ) -> Truth {
        let person = rows
            .into_iter()
            .map(|(source, id, person)| {
                (
                    (source, concord_agent::source_ref(key, source, &id)),
                    person,
                )
            })
            .collect();
        Truth { person }
    }

    pub fn len(&self) -> usize {
        self.person.len()
    }

    /// The true person of a record.
    pub fn person(&self, source: Source, source_ref: &Token) -> Option<u64> {
        self.person.get(&(source, *source_ref)).copied()
    }
}

/// One record as linked: its source, the cluster (person id) it was put
/// in, and its true person.
#[derive(Debug, Clone, Copy)]
pub struct Judged {
    pub record: u64,
    pub source: Source,
    pub cluster: u64,
    pub person: u64,
}

/// Pair counts for one pair of sources (or one source with itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairCounts {
    pub predicted: u64,
    pub truth: u64,
    pub correct: u64,
}

impl PairCounts {
    fn ratio(a: u64, b: u64) -> f64 {
        if b == 0 { 1.0 } else { a as f64 / b as f64 }
    }
    pub fn precision(&self) -> f64 {
        Self::ratio(self.correct, self.predicted)
    }
    pub fn recall(&self) -> f64 {
        Self::ratio(self.correct, self.truth)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// Quality overall and per pair of sources.
pub struct Report {
    pub overall: Metrics,
    /// (a, b) with a <= b in `Source::ALL` order; (a, a) counts pairs
    /// within one source (its duplicates).
    pub pairs: BTreeMap<(usize, usize), PairCounts>,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Counts per source in a group of records.
type BySource = [u64; Source::ALL.len()];

fn source_index(s: Source) -> usize {
    Source::ALL
        .iter()
        .position(|x| *x == s)
        .expect("every source is in Source::ALL")
}

/// Pairs between (or within) sources in a group.
fn group_pairs(g: &BySource, a: usize, b: usize) -> u64 {
    if a == b { pairs(g[a]) } else { g[a] * g[b] }
}

/// Measures a linkage: `judged` holds every record with a known true
/// person (records without one are left out by the caller).
pub fn measure(judged: &[Judged]) -> Report {
    let predicted: Vec<(u64, u64)> = judged.iter().map(|j| (j.record, j.cluster)).collect();
    let truth: Vec<(u64, u64)> = judged.iter().map(|j| (j.record, j.person)).collect();
    let overall = concord_linkage::pairwise_metrics(&predicted, &truth);

    let mut clusters: HashMap<u64, BySource> = HashMap::new();
    let mut persons: HashMap<u64, BySource> = HashMap::new();
    let mut cells: HashMap<(u64, u64), BySource> = HashMap::new();
    for j in judged {
        let s = source_index(j.source);
        clusters.entry(j.cluster).or_default()[s] += 1;
        persons.entry(j.person).or_default()[s] += 1;
        cells.entry((j.cluster, j.person)).or_default()[s] += 1;
    }
    let mut report = BTreeMap::new();
    let n = Source::ALL.len();
    for a in 0..n {
        for b in a..n {
            let sum = |groups: &HashMap<_, BySource>| {
                groups.values().map(|g| group_pairs(g, a, b)).sum::<u64>()
            };
            let counts = PairCounts {
                predicted: sum(&clusters),
                truth: sum(&persons),
                correct: cells.values().map(|g| group_pairs(g, a, b)).sum(),
            };
            if counts.predicted > 0 || counts.truth > 0 {
                report.insert((a, b), counts);
            }
        }
    }
    Report {
        overall,
        pairs: report,
    }
}

impl Report {
    /// The report as text: the overall figures, then a table per pair of
    /// sources.
    pub fn render(&self) -> String {
        let m = &self.overall;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "  overall: pairwise precision {:.4}, recall {:.4}, F1 {:.4} ({} records, {} true \
             pairs, {} predicted, {} correct)",
            m.precision,
            m.recall,
            m.f1,
            m.records,
            m.true_pairs,
            m.predicted_pairs,
            m.true_positive_pairs
        );
        let _ = writeln!(
            s,
            "  clusters: precision {:.4}, recall {:.4} ({} predicted, {} true people, {} exact)",
            m.cluster_precision, m.cluster_recall, m.clusters, m.persons, m.exact_clusters
        );
        let _ = writeln!(
            s,
            "  {:<44} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "per pair of sources (pairs of records):",
            "true",
            "predicted",
            "correct",
            "precision",
            "recall",
            "F1"
        );
        for ((a, b), c) in &self.pairs {
            let name = format!("{} × {}", Source::ALL[*a], Source::ALL[*b]);
            let _ = writeln!(
                s,
                "    {:<42} {:>9} {:>9} {:>9} {:>9.4} {:>9.4} {:>9.4}",
                name,
                c.truth,
                c.predicted,
                c.correct,
                c.precision(),
                c.recall(),
                c.f1()
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_counted_between_and_within_sources() {
        use Source::{Health, Police};
        let j = |record, source, cluster, person| Judged {
            record,
            source,
            cluster,
            person,
        };
        // Person 1: police records 1, 2 and health 3. Person 2: health 4.
        // Predicted: {1, 2}, {3, 4}.
        let report = measure(&[
            j(1, Police, 10, 1),
            j(2, Police, 10, 1),
            j(3, Health, 20, 1),
            j(4, Health, 20, 2),
        ]);
        let (p, h) = (source_index(Police), source_index(Health));
        let (p, h) = (p.min(h), p.max(h));
        let police_police = report.pairs[&(source_index(Police), source_index(Police))];
        assert_eq!(
            police_police,
            PairCounts {
                predicted: 1,
                truth: 1,
                correct: 1
            }
        );
        let cross = report.pairs[&(p, h)];
        // True cross pairs: (1,3), (2,3); none predicted.
        assert_eq!(
            cross,
            PairCounts {
                predicted: 0,
                truth: 2,
                correct: 0
            }
        );
        assert_eq!((cross.precision(), cross.recall()), (1.0, 0.0));
        let health_health = report.pairs[&(source_index(Health), source_index(Health))];
        assert_eq!(
            health_health,
            PairCounts {
                predicted: 1,
                truth: 0,
                correct: 0
            }
        );
        assert_eq!(report.overall.true_pairs, 3);
        assert_eq!(report.overall.predicted_pairs, 2);
        let shown = report.render();
        assert!(shown.contains("police × health"), "{shown}");
    }
}
