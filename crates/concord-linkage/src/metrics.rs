//! Linkage quality against a known truth (synthetic data).

use rustc_hash::FxHashMap;

/// Pairwise and cluster-level quality of a predicted partition.
///
/// Pairwise: a pair of records is predicted linked when both share a
/// cluster, truly linked when both share a person. Cluster-level: a
/// predicted cluster is exact when it holds precisely one true person's
/// records. Only records present in both inputs are evaluated (`records`).
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub records: u64,
    pub predicted_pairs: u64,
    pub true_pairs: u64,
    pub true_positive_pairs: u64,
    /// true positive pairs / predicted pairs (1 when nothing is predicted).
    pub precision: f64,
    /// true positive pairs / true pairs (1 when there is nothing to find).
    pub recall: f64,
    pub f1: f64,
    pub clusters: u64,
    pub persons: u64,
    /// Predicted clusters equal to a true person.
    pub exact_clusters: u64,
    /// exact clusters / predicted clusters.
    pub cluster_precision: f64,
    /// exact clusters / true persons.
    pub cluster_recall: f64,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Computes [`Metrics`] in linear time: pair counts come from the sizes of
/// clusters, persons and their intersections, never from listing pairs.
pub fn pairwise_metrics(predicted: &[(u64, u64)], truth: &[(u64, u64)]) -> Metrics {
    let truth_of: FxHashMap<u64, u64> = truth.iter().copied().collect();
    let mut cluster_size: FxHashMap<u64, u64> = FxHashMap::default();
    let mut person_size: FxHashMap<u64, u64> = FxHashMap::default();
    let mut cell: FxHashMap<(u64, u64), u64> = FxHashMap::default();
    let mut records = 0u64;
    let mut seen: FxHashMap<u64, ()> = FxHashMap::default();
    for &(rec, cluster) in predicted {
        let Some(&person) = truth_of.get(&rec) else {
            continue;
        };
        if seen.insert(rec, ()).is_some() {
            continue;
        }
        records += 1;
        *cluster_size.entry(cluster).or_default() += 1;
        *person_size.entry(person).or_default() += 1;
        *cell.entry((cluster, person)).or_default() += 1;
    }
    let predicted_pairs: u64 = cluster_size.values().map(|&n| pairs(n)).sum();
    let true_pairs: u64 = person_size.values().map(|&n| pairs(n)).sum();
    let true_positive_pairs: u64 = cell.values().map(|&n| pairs(n)).sum();
    let exact_clusters = cell
        .iter()
        .filter(|&(&(c, p), &n)| cluster_size[&c] == n && person_size[&p] == n)
        .count() as u64;
    let precision = ratio(true_positive_pairs, predicted_pairs);
    let recall = ratio(true_positive_pairs, true_pairs);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    let clusters = cluster_size.len() as u64;
    let persons = person_size.len() as u64;
    Metrics {
        records,
        predicted_pairs,
        true_pairs,
        true_positive_pairs,
        precision,
        recall,
        f1,
        clusters,
        persons,
        exact_clusters,
        cluster_precision: ratio(exact_clusters, clusters),
        cluster_recall: ratio(exact_clusters, persons),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_made_example() {
        // Truth: A = {1,2,3}, B = {4,5}, C = {6}.
        let truth = [(1, 10), (2, 10), (3, 10), (4, 20), (5, 20), (6, 30)];
        // Predicted: {1,2}, {3,4,5}, {6}.
        let predicted = [(1, 1), (2, 1), (3, 2), (4, 2), (5, 2), (6, 3)];
        let m = pairwise_metrics(&predicted, &truth);
        assert_eq!(m.records, 6);
        // Predicted pairs: 1 + 3 = 4; true pairs: 3 + 1 = 4;
        // true positives: (1,2) and (4,5) = 2.
        assert_eq!(m.predicted_pairs, 4);
        assert_eq!(m.true_pairs, 4);
        assert_eq!(m.true_positive_pairs, 2);
        assert_eq!(m.precision, 0.5);
        assert_eq!(m.recall, 0.5);
        assert_eq!(m.f1, 0.5);
        // Only {6} is exact.
        assert_eq!(m.exact_clusters, 1);
        assert_eq!(m.cluster_precision, 1.0 / 3.0);
        assert_eq!(m.cluster_recall, 1.0 / 3.0);
    }

    #[test]
    fn perfect_and_empty() {
        let truth = [(1, 7), (2, 7), (3, 8)];
        let m = pairwise_metrics(&[(1, 1), (2, 1), (3, 2)], &truth);
        assert_eq!((m.precision, m.recall, m.f1), (1.0, 1.0, 1.0));
        assert_eq!((m.cluster_precision, m.cluster_recall), (1.0, 1.0));
        // All singletons: nothing predicted (precision 1), nothing found.
        let m = pairwise_metrics(&[(1, 1), (2, 2), (3, 3)], &truth);
        assert_eq!((m.precision, m.recall), (1.0, 0.0));
        assert_eq!(m.exact_clusters, 1);
    }
}
