//! `Insights.Aggregate`'s question and answer.
//!
//! Filters never count a subset of records afresh: a filtered question is
//! answered from the protected table grouped by the filtered dimensions as
//! well, keeping the cells whose keys the filter names and adding them up.
//! So two questions that differ by one small group (wards {A, B} and {A})
//! give answers that differ by that group's *protected* figure, which is
//! withheld when it is small: differencing filters recovers nothing the
//! full table does not already show. A summed cell that includes a
//! withheld part is withheld itself (it would otherwise undercount).
//! People measures are summed per filtered value, so a person met under
//! two filtered values counts twice: group by the dimension instead to see
//! them apart.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

use crate::{
    Dimension, DisclosureError, FactSet, Measure, ProtectedRow, ProtectedTable, ProtectedValue,
    Rule, Selection, count::Query, dashboard::months_between, protect::protect,
};

/// The most dimensions a question may group by.
pub const MAX_GROUP_BY: usize = 3;

/// One filter: the records whose `dimension` has any of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub dimension: Dimension,
    pub values: Vec<String>,
}

/// A checked aggregate question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateQuery {
    pub group_by: Vec<Dimension>,
    pub measures: Vec<Measure>,
    /// The first day of a month.
    pub start: NaiveDate,
    /// The last day of a month, at most 12 months after `start`'s.
    pub end: NaiveDate,
    pub filters: Vec<Filter>,
}

impl AggregateQuery {
    /// Checks a question: aggregatable dimensions, none twice, at most
    /// [`MAX_GROUP_BY`]; at least one measure, none twice; a period of
    /// whole months (so that periods cannot be differenced day by day), at
    /// most twelve; filter values valid codes of their dimension, a
    /// dimension filtered once.
    pub fn new(
        group_by: Vec<Dimension>,
        measures: Vec<Measure>,
        start: NaiveDate,
        end: NaiveDate,
        filters: Vec<Filter>,
    ) -> Result<AggregateQuery, DisclosureError> {
        for (i, d) in group_by.iter().enumerate() {
            if !d.is_record_field() {
                return Err(DisclosureError::NotAggregatable { dimension: *d });
            }
            if group_by[..i].contains(d) {
                return Err(DisclosureError::Repeated { what: d.as_str() });
            }
        }
        if group_by.len() > MAX_GROUP_BY {
            return Err(DisclosureError::TooManyDimensions { max: MAX_GROUP_BY });
        }
        if measures.is_empty() {
            return Err(DisclosureError::NoMeasures);
        }
        for (i, m) in measures.iter().enumerate() {
            if measures[..i].contains(m) {
                return Err(DisclosureError::Repeated { what: m.as_str() });
            }
        }
        let whole_months = start.day() == 1
            && end.succ_opt().is_some_and(|d| d.day() == 1)
            && start <= end
            && months_between(start, end).len() <= 12;
        if !whole_months {
            return Err(DisclosureError::BadPeriod);
        }
        for (i, f) in filters.iter().enumerate() {
            if !f.dimension.is_record_field() {
                return Err(DisclosureError::NotAggregatable {
                    dimension: f.dimension,
                });
            }
            if filters[..i].iter().any(|g| g.dimension == f.dimension) {
                return Err(DisclosureError::Repeated {
                    what: f.dimension.as_str(),
                });
            }
            if f.values.is_empty() {
                return Err(DisclosureError::EmptyFilter {
                    dimension: f.dimension,
                });
            }
            for v in &f.values {
                f.dimension.check_code(v)?;
            }
        }
        Ok(AggregateQuery {
            group_by,
            measures,
            start,
            end,
            filters,
        })
    }

    /// The dimensions the protected table is counted over: the groups,
    /// then every filtered dimension not among them.
    fn fine_dimensions(&self) -> Vec<Dimension> {
        let mut dims = self.group_by.clone();
        for f in &self.filters {
            if !dims.contains(&f.dimension) {
                dims.push(f.dimension);
            }
        }
        dims
    }

    /// Answers the question from `facts`, protected with `rule`.
    pub fn answer(&self, facts: &FactSet, rule: Rule) -> Result<ProtectedTable, DisclosureError> {
        let months = months_between(self.start, self.end);
        let dims = self.fine_dimensions();
        facts.check(&dims, &months)?;
        let raw = facts.count(&Query {
            group_by: &dims,
            measures: &self.measures,
            start: self.start,
            end: self.end,
            selection: &Selection::ANY,
            months: &months,
        });
        let fine = protect(&raw, rule);
        if self.filters.is_empty() {
            return Ok(fine);
        }
        let g = self.group_by.len();
        let m = self.measures.len();
        let mut rows: Vec<ProtectedRow> = Vec::new();
        let mut index: HashMap<Vec<String>, usize> = HashMap::new();
        for row in &fine.rows {
            let kept = self.filters.iter().all(|f| {
                let col = dims
                    .iter()
                    .position(|d| *d == f.dimension)
                    .expect("filtered dimensions are counted");
                f.values.contains(&row.keys[col])
            });
            if !kept {
                continue;
            }
            let keys = &row.keys[..g];
            let at = *index.entry(keys.to_vec()).or_insert_with(|| {
                rows.push(ProtectedRow {
                    keys: keys.to_vec(),
                    values: vec![ProtectedValue::Released(0); m],
                });
                rows.len() - 1
            });
            let target = &mut rows[at];
            for (acc, v) in target.values.iter_mut().zip(&row.values) {
                *acc = match (*acc, *v) {
                    (ProtectedValue::Released(a), ProtectedValue::Released(b)) => {
                        ProtectedValue::Released(a + b)
                    }
                    _ => ProtectedValue::Suppressed,
                };
            }
        }
        let totals = (0..m)
            .map(|j| {
                ProtectedValue::Released(rows.iter().filter_map(|r| r.values[j].value()).sum())
            })
            .collect();
        Ok(ProtectedTable {
            group_by: self.group_by.clone(),
            measures: self.measures.clone(),
            rows,
            totals,
            suppress_max: rule.suppress_max,
            rounding_base: rule.rounding_base,
        })
    }
}
