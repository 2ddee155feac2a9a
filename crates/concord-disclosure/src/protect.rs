//! The protection rule (DESIGN §5): what a raw table becomes before it may
//! leave the broker.
//!
//! For each measure (column) separately:
//!
//! 1. **Primary suppression**: a count of 1..=`suppress_max` is withheld.
//!    A true zero is released as 0: it says that nobody is counted, which
//!    identifies nobody, and withholding zeros would mark every withheld
//!    cell as non-zero.
//! 2. **Secondary suppression**: a *line* is a set of cells that differ in
//!    one dimension only (a row or a column of a two-dimensional table, the
//!    whole of a one-dimensional one). The sum of a line is published
//!    elsewhere: as a cell of the table grouped by the other dimensions,
//!    or as the total of the table without groups. So if a line held
//!    exactly one withheld cell, that sum minus the line's released cells
//!    would recover it (give or take rounding). Every line with exactly one
//!    withheld cell also withholds its smallest released non-zero cell,
//!    repeatedly until no line has exactly one, except a line whose other
//!    cells are all zero: its sum *is* the withheld cell, so the coarser
//!    table withholds it too when it is small. Zeros are never withheld:
//!    a withheld zero covers nothing, and withholding one spreads
//!    suppression across the table (its crossing line then needs cover).
//! 3. **Rounding**: every released count is rounded to the nearest
//!    `rounding_base`, halves up, and never to a number in
//!    1..=`suppress_max` (see [`Rule::release`]). The same count always
//!    rounds the same way: there is no randomness anywhere, so asking
//!    twice, or the same cell by another route, gives the same answer.
//! 4. **Totals** are the sums of the released (rounded) cells, so a total
//!    minus its visible parts is 0: totals reveal nothing the cells do not.
//!
//! Everything is a function of the raw table alone (ties broken by row
//! order), so the protected table is too.

use std::collections::HashMap;

use crate::{ProtectedRow, ProtectedTable, ProtectedValue, RawTable, Rule};

/// Protects `raw` with `rule`.
pub fn protect(raw: &RawTable, rule: Rule) -> ProtectedTable {
    let n = raw.rows.len();
    let lines = lines(raw);
    let mut rows: Vec<ProtectedRow> = raw
        .rows
        .iter()
        .map(|(keys, _)| ProtectedRow {
            keys: keys.clone(),
            values: Vec::with_capacity(raw.measures.len()),
        })
        .collect();
    for j in 0..raw.measures.len() {
        let counts: Vec<u64> = raw.rows.iter().map(|(_, c)| c[j]).collect();
        let withheld = suppress(&counts, &lines, rule);
        for i in 0..n {
            rows[i].values.push(if withheld[i] {
                ProtectedValue::Suppressed
            } else {
                ProtectedValue::Released(rule.release(counts[i]))
            });
        }
    }
    let totals = (0..raw.measures.len())
        .map(|j| ProtectedValue::Released(rows.iter().filter_map(|r| r.values[j].value()).sum()))
        .collect();
    ProtectedTable {
        group_by: raw.group_by.clone(),
        measures: raw.measures.clone(),
        rows,
        totals,
        suppress_max: rule.suppress_max,
        rounding_base: rule.rounding_base,
    }
}

/// The lines of a table: for each dimension, the groups of rows that agree
/// on every other dimension. A table without dimensions has none.
pub(crate) fn lines(raw: &RawTable) -> Vec<Vec<usize>> {
    let dims = raw.group_by.len();
    let mut out = Vec::new();
    for d in 0..dims {
        let mut groups: HashMap<Vec<&str>, Vec<usize>> = HashMap::new();
        let mut order: Vec<Vec<&str>> = Vec::new();
        for (i, (keys, _)) in raw.rows.iter().enumerate() {
            let rest: Vec<&str> = keys
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != d)
                .map(|(_, s)| s.as_str())
                .collect();
            let g = groups.entry(rest.clone()).or_default();
            if g.is_empty() {
                order.push(rest);
            }
            g.push(i);
        }
        for key in order {
            if let Some(g) = groups.remove(&key) {
                out.push(g);
            }
        }
    }
    out
}

/// Which cells of one column are withheld (primary, then secondary to a
/// fixed point).
fn suppress(counts: &[u64], lines: &[Vec<usize>], rule: Rule) -> Vec<bool> {
    let mut withheld: Vec<bool> = counts.iter().map(|c| rule.is_small(*c)).collect();
    loop {
        let mut changed = false;
        for line in lines {
            let hidden = line.iter().filter(|i| withheld[**i]).count();
            if hidden != 1 {
                continue;
            }
            // The smallest released non-zero cell; ties to the first in row
            // order. With none, the line's sum is the withheld cell itself,
            // which the coarser table withholds in turn when it is small.
            let pick = line
                .iter()
                .copied()
                .filter(|i| !withheld[*i] && counts[*i] > 0)
                .min_by_key(|i| (counts[*i], *i));
            if let Some(i) = pick {
                withheld[i] = true;
                changed = true;
            }
        }
        if !changed {
            return withheld;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dimension, Measure};

    fn table(dims: &[Dimension], rows: &[(&[&str], u64)]) -> RawTable {
        RawTable {
            group_by: dims.to_vec(),
            measures: vec![Measure::Records],
            rows: rows
                .iter()
                .map(|(k, v)| (k.iter().map(|s| (*s).to_owned()).collect(), vec![*v]))
                .collect(),
        }
    }

    fn values(t: &ProtectedTable) -> Vec<Option<u64>> {
        t.rows.iter().map(|r| r.values[0].value()).collect()
    }

    #[test]
    fn rounds_to_the_nearest_base_halves_up() {
        let r = Rule::DEFAULT;
        let got: Vec<u64> = [0, 8, 10, 12, 13, 17, 18, 102, 103]
            .map(|n| r.round(n))
            .to_vec();
        assert_eq!(got, [0, 10, 10, 10, 15, 15, 20, 100, 105]);
        let r10 = Rule::new(10, 10).unwrap();
        assert_eq!(r10.round(15), 20);
        assert_eq!(r10.round(14), 10);
        assert!(Rule::new(7, 0).is_err());
        // Released counts never land in the suppressed range.
        let odd = Rule::new(6, 5).unwrap();
        assert_eq!(odd.release(7), 10);
        assert_eq!(odd.release(0), 0);
        assert_eq!(Rule::DEFAULT.release(8), 10);
    }

    #[test]
    fn one_small_cell_in_a_line_takes_the_smallest_other_with_it() {
        let t = table(
            &[Dimension::Ward],
            &[(&["a"], 3), (&["b"], 40), (&["c"], 12), (&["d"], 0)],
        );
        let p = protect(&t, Rule::DEFAULT);
        // c (12) is the smallest non-zero released cell; the zero stays.
        assert_eq!(values(&p), [None, Some(40), None, Some(0)]);
        assert_eq!(p.totals, [ProtectedValue::Released(40)]);
    }

    #[test]
    fn a_small_cell_among_zeros_is_withheld_alone() {
        // The line's sum is the small cell itself: withheld in the coarser
        // table as well, so a zero need not be.
        let t = table(&[Dimension::Ward], &[(&["a"], 3), (&["b"], 0)]);
        assert_eq!(values(&protect(&t, Rule::DEFAULT)), [None, Some(0)]);
    }

    #[test]
    fn two_dimensional_tables_are_protected_along_rows_and_columns() {
        // ward x sex: a/female is small; its row and its column each need a
        // second withheld cell, and those in turn need partners.
        let t = table(
            &[Dimension::Ward, Dimension::Sex],
            &[
                (&["a", "f"], 2),
                (&["a", "m"], 30),
                (&["b", "f"], 20),
                (&["b", "m"], 50),
                (&["c", "f"], 25),
                (&["c", "m"], 60),
            ],
        );
        let p = protect(&t, Rule::DEFAULT);
        for line in lines(&t) {
            let hidden = line
                .iter()
                .filter(|i| p.rows[**i].values[0].is_suppressed())
                .count();
            assert_ne!(hidden, 1, "line {line:?}");
        }
        assert_eq!(values(&p), [None, None, None, None, Some(25), Some(60)]);
    }

    #[test]
    fn suppression_does_not_spread_through_zeros() {
        // Children's services' 3 in ward a is covered by the police's 8
        // beside it; the police's column then needs cover (b's 40), but
        // health's 12 in a, in a column of zeros, stays released.
        let t = table(
            &[Dimension::Ward, Dimension::Source],
            &[
                (&["a", "police"], 8),
                (&["a", "health"], 12),
                (&["a", "childrens"], 3),
                (&["b", "police"], 40),
                (&["b", "health"], 0),
                (&["b", "childrens"], 0),
            ],
        );
        let p = protect(&t, Rule::DEFAULT);
        assert_eq!(values(&p), [None, Some(10), None, None, Some(0), Some(0)]);
    }

    #[test]
    fn a_table_without_groups_is_one_cell() {
        let t = table(&[], &[(&[], 5)]);
        let p = protect(&t, Rule::DEFAULT);
        assert_eq!(values(&p), [None]);
        assert_eq!(p.totals, [ProtectedValue::Released(0)]);
    }
}
