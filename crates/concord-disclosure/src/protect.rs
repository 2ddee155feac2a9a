//! The protection rule (DESIGN §5): what a raw table becomes before it may
//! leave the broker. The cell-key method of ONS's Census 2021 custom tables
//! and the ABS TableBuilder, with the partnership's suppression threshold
//! and a rounding grid:
//!
//! 1. Every record has a **record key** in 0..256, from a keyed hash of
//!    its source and source reference under a secret only the broker holds
//!    (the store computes it: `Store::load_fact_set`), so it is the same
//!    in every query and no reader can compute it. Every linked person has
//!    a person key the same way, for the people measures.
//! 2. A cell is a set of records (or people); its **cell key** is the sum
//!    of their keys modulo 256. The same set has the same key whatever
//!    query, grouping order, filter, panel or report names it.
//! 3. A count of 1..=`suppress_max` is withheld; 0 is released as 0 (it
//!    identifies nobody). Any other count is rounded to the rule's
//!    [`grid`](Rule::grid) (the first multiple of the rounding base above
//!    the threshold) and moved by the step the fixed perturbation table
//!    gives for (cell key, count): -1, 0 or +1 grid steps, never below one
//!    step.
//! 4. A table's **total** is the cell of all its records, protected the
//!    same way, never the sum of the released rows.
//!
//! There is no secondary suppression: every value depends on its own cell
//! alone, so no tie-breaking by row order can make two routes disagree.
//! Differencing is answered by the grid instead: two released figures
//! differ by a multiple of the grid step, every step is above the
//! threshold, and the perturbation moves by whole steps, so the set of
//! counts a released figure can stand for is a run of whole rounding
//! intervals. The difference of two nested cells is then consistent with
//! every count of 1..=`suppress_max` (checked exhaustively by
//! `differencing_two_nested_cells_never_narrows_the_band` below), and the
//! perturbation means no figure can be taken as exact even where rounding
//! intervals are intersected.

use crate::{ProtectedRow, ProtectedTable, ProtectedValue, RawTable, Rule};

/// How many rows the perturbation table has: a count's row is the count
/// modulo this, so every count, however large, has one.
const PTABLE_ROWS: u64 = 32;

/// Of the 256 cell keys of each row, how many move a figure down one step
/// and how many up one step (1 in 16 each); the rest leave it where
/// rounding put it.
const PTABLE_MOVES: usize = 16;

/// The perturbation table's step for a cell of `n` with cell key `key`:
/// -1, 0 or +1 grid steps. Each row is the same pattern rotated, so every
/// row holds each step for some key (which the differencing guarantee
/// relies on: a reader must take every step as possible).
pub(crate) fn perturbation(key: u8, n: u64) -> i8 {
    let row = (n % PTABLE_ROWS) as usize;
    let pos = (usize::from(key) + 89 * row) % 256;
    if pos < PTABLE_MOVES {
        -1
    } else if pos < 2 * PTABLE_MOVES {
        1
    } else {
        0
    }
}

/// Protects `raw` with `rule`: every cell, and the total, on its own.
pub fn protect(raw: &RawTable, rule: Rule) -> ProtectedTable {
    let rows = raw
        .rows
        .iter()
        .map(|(keys, cells)| ProtectedRow {
            keys: keys.clone(),
            values: cells.iter().map(|c| rule.release(c.count, c.key)).collect(),
        })
        .collect();
    let totals = raw
        .total
        .as_ref()
        .map(|t| t.iter().map(|c| rule.release(c.count, c.key)).collect())
        .unwrap_or_default();
    ProtectedTable {
        group_by: raw.group_by.clone(),
        measures: raw.measures.clone(),
        rows,
        totals,
        suppress_max: rule.suppress_max,
        rounding_base: rule.rounding_base,
    }
}

/// Every count a released figure can stand for under `rule`, whatever the
/// cell key, among counts up to `max`: what a reader who knows the method
/// and the table (but not the keys) can infer from it.
pub fn consistent_counts(rule: Rule, value: ProtectedValue, max: u64) -> Vec<u64> {
    (0..=max)
        .filter(|n| (0..=255u8).any(|k| rule.release(*n, k) == value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cell, Dimension, Measure};

    fn table(
        dims: &[Dimension],
        rows: &[(&[&str], u64, u8)],
        total: Option<(u64, u8)>,
    ) -> RawTable {
        RawTable {
            group_by: dims.to_vec(),
            measures: vec![Measure::Records],
            rows: rows
                .iter()
                .map(|(k, count, key)| {
                    (
                        k.iter().map(|s| (*s).to_owned()).collect(),
                        vec![Cell {
                            count: *count,
                            key: *key,
                        }],
                    )
                })
                .collect(),
            total: total.map(|(count, key)| vec![Cell { count, key }]),
        }
    }

    #[test]
    fn releases_zero_withholds_small_counts_and_rounds_the_rest_to_the_grid() {
        let r = Rule::DEFAULT;
        assert_eq!(r.grid(), 10);
        assert_eq!(Rule::new(9, 5).unwrap().grid(), 15);
        assert_eq!(Rule::new(10, 5).unwrap().grid(), 15);
        assert_eq!(Rule::new(3, 10).unwrap().grid(), 10);
        assert!(Rule::new(7, 0).is_err());
        assert_eq!(r.release(0, 3), ProtectedValue::Released(0));
        for n in 1..=7 {
            for k in 0..=255 {
                assert_eq!(r.release(n, k), ProtectedValue::Suppressed);
            }
        }
        // A key whose step is 0 for these counts leaves plain rounding.
        let unmoved = |n: u64| (0..=255u8).find(|k| perturbation(*k, n) == 0).unwrap();
        for (n, v) in [(8, 10), (14, 10), (15, 20), (104, 100), (105, 110)] {
            assert_eq!(r.release(n, unmoved(n)), ProtectedValue::Released(v), "{n}");
        }
        // Never below one step, never in the suppressed range.
        for n in 8..200 {
            for k in 0..=255 {
                let v = r.release(n, k).value().unwrap();
                assert!(v >= 10 && v.is_multiple_of(10), "{n} -> {v}");
                assert!(v.abs_diff(n) <= 15, "{n} -> {v}");
            }
        }
        let exact = Rule::new(0, 1).unwrap();
        assert_eq!(exact.release(3, 200), ProtectedValue::Released(3));
    }

    #[test]
    fn every_row_of_the_perturbation_table_holds_every_step() {
        for row in 0..PTABLE_ROWS {
            let steps: Vec<i8> = (0..=255u8).map(|k| perturbation(k, row)).collect();
            for s in [-1, 0, 1] {
                assert!(steps.contains(&s), "row {row} lacks {s}");
            }
            assert_eq!(steps.iter().filter(|s| **s != 0).count(), 2 * PTABLE_MOVES);
        }
    }

    #[test]
    fn each_cell_and_the_total_are_protected_on_their_own() {
        let t = table(
            &[Dimension::Ward],
            &[
                (&["a"], 3, 1),
                (&["b"], 40, 2),
                (&["c"], 12, 3),
                (&["d"], 0, 0),
            ],
            Some((55, 6)),
        );
        let p = protect(&t, Rule::DEFAULT);
        let v: Vec<ProtectedValue> = p.rows.iter().map(|r| r.values[0]).collect();
        assert_eq!(v[0], ProtectedValue::Suppressed);
        assert_eq!(v[1], Rule::DEFAULT.release(40, 2));
        assert_eq!(
            v[2],
            Rule::DEFAULT.release(12, 3),
            "no cover cell is withheld"
        );
        assert_eq!(v[3], ProtectedValue::Released(0));
        assert_eq!(p.totals, [Rule::DEFAULT.release(55, 6)]);
        let no_total = table(&[Dimension::Indicator], &[(&["x"], 30, 0)], None);
        assert!(protect(&no_total, Rule::DEFAULT).totals.is_empty());
    }

    /// The guarantee against differencing two nested cells (a cell and the
    /// same cell with a small group of records taken out), for every rule
    /// a policy could plausibly set: for every count the smaller could
    /// have (withheld or released), every small group size, and every pair
    /// of cell keys, a reader who takes the two figures apart with the
    /// method in hand still finds every count of 1..=`suppress_max`
    /// possible for the small group. (Two withheld figures are left out:
    /// one inside the other says the inner is below the threshold less
    /// one, which any threshold says.)
    #[test]
    fn differencing_two_nested_cells_never_narrows_the_band() {
        for t in 1..=12u32 {
            for base in 1..=10u32 {
                let rule = Rule::new(t, base).unwrap();
                let t = u64::from(t);
                let max = 6 * t + 8 * rule.grid();
                let mut memo = std::collections::HashMap::new();
                let mut consistent = |v: ProtectedValue| -> Vec<u64> {
                    memo.entry(v)
                        .or_insert_with(|| consistent_counts(rule, v, max))
                        .clone()
                };
                let releases = |n: u64| -> std::collections::BTreeSet<ProtectedValue> {
                    (0..=255u8).map(|k| rule.release(n, k)).collect()
                };
                for y in 1..(3 * t + 3 * rule.grid()) {
                    for b in 1..=t {
                        if y + b <= t {
                            continue;
                        }
                        for v1 in releases(y + b) {
                            for v2 in releases(y) {
                                let s1 = consistent(v1);
                                let s2 = consistent(v2);
                                for x in 1..=t {
                                    assert!(
                                        s2.iter().any(|c| s1.contains(&(c + x))),
                                        "{rule:?}: {v1:?} over {v2:?} (truth {y}+{b}) rules out {x}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
