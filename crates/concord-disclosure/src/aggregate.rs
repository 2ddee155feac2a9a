//! `Insights.Aggregate`'s question and answer.
//!
//! A filter names a set of records like any other cell: the records whose
//! dimension has one of its values. The answer counts that set, so a ward
//! filtered to youth justice is the same cell, with the same key and the
//! same value, as the youth-justice row of the table grouped by ward and
//! source (see [`crate::protect`] for why differencing two such answers
//! narrows no withheld count). People are counted once per cell, the total
//! included.

use chrono::{Datelike, NaiveDate};

use crate::{
    Dimension, DisclosureError, FactSet, Measure, ProtectedTable, Rule, Selection, count::Query,
    dashboard::months_between, protect::protect,
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

    /// Answers the question from `facts`, protected with `rule`: the
    /// records the filters keep, grouped, each cell and the total
    /// protected on its own (see [`crate::protect`]).
    pub fn answer(&self, facts: &FactSet, rule: Rule) -> Result<ProtectedTable, DisclosureError> {
        let months = months_between(self.start, self.end);
        facts.check(&self.group_by, &months)?;
        let raw = facts.count(&Query {
            group_by: &self.group_by,
            measures: &self.measures,
            start: self.start,
            end: self.end,
            selection: &Selection::ANY,
            months: &months,
            filters: &self.filters,
        });
        Ok(protect(&raw, rule))
    }
}
