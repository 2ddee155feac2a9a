//! What an aggregate read, per source: the audit log records it (DESIGN §6:
//! "what was disclosed"), as source → field names, never values.

use std::collections::{BTreeMap, BTreeSet};

use concord_core::Source;

use crate::{AggregateQuery, Dimension, Measure, PanelDef, Selection, dashboard::PanelRows};

/// Source → the record fields an aggregate read from it.
pub type Usage = BTreeMap<Source, BTreeSet<&'static str>>;

fn add(
    usage: &mut Usage,
    sources: &[Source],
    dims: &[Dimension],
    measures: &[Measure],
    selection: &Selection,
) {
    let mut fields: BTreeSet<&'static str> = BTreeSet::from(["event_date"]);
    fields.extend(dims.iter().filter_map(|d| d.field()));
    fields.extend(measures.iter().flat_map(|m| m.fields()));
    fields.extend(selection.fields());
    for s in sources {
        usage.entry(*s).or_default().extend(fields.iter().copied());
    }
}

impl PanelDef {
    /// What the panel reads, per source.
    pub fn usage(&self) -> Usage {
        let mut usage = Usage::new();
        let selections: Vec<Selection> = match self.rows {
            PanelRows::Grouped(sel) => vec![sel],
            PanelRows::Indicators(ids) | PanelRows::YearOnYear(ids) => ids
                .iter()
                .filter_map(|id| crate::dashboard::INDICATORS.iter().find(|i| i.id == *id))
                .map(|i| i.selection)
                .collect(),
        };
        for sel in &selections {
            add(&mut usage, sel.sources(), self.group_by, self.measures, sel);
        }
        usage
    }
}

/// What the whole dashboard reads, per source.
pub fn dashboard_usage() -> Usage {
    let mut usage = Usage::new();
    for p in crate::PANELS {
        for (s, f) in p.usage() {
            usage.entry(s).or_default().extend(f);
        }
    }
    usage
}

impl AggregateQuery {
    /// The sources the question reads: those its source filter names, or
    /// all.
    pub fn sources(&self) -> Vec<Source> {
        match self
            .filters
            .iter()
            .find(|f| f.dimension == Dimension::Source)
        {
            Some(f) => f.values.iter().filter_map(|v| v.parse().ok()).collect(),
            None => Source::ALL.to_vec(),
        }
    }

    /// What the question reads, per source.
    pub fn usage(&self) -> Usage {
        let mut dims = self.group_by.clone();
        dims.extend(self.filters.iter().map(|f| f.dimension));
        let mut usage = Usage::new();
        add(
            &mut usage,
            &self.sources(),
            &dims,
            &self.measures,
            &Selection::ANY,
        );
        usage
    }
}
