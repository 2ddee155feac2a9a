//! Aggregates and disclosure control (DESIGN §5): what the partnership may
//! count, how it is counted, and what a count becomes before it leaves the
//! broker. No I/O: the store loads a [`FactSet`], the server asks the
//! policy for a [`Rule`] and sends a [`ProtectedTable`] or a [`Dashboard`].
//!
//! - [`Dimension`] and [`Measure`]: what a table is grouped by and counts,
//!   with labels for readers ([`Dimension::label`]: ward code → ward name).
//! - [`FactSet`]: every stored record as a compact fact (no tokens, the
//!   person as the broker's internal id), counted into a [`RawTable`]. One
//!   implementation for SQLite and PostgreSQL alike.
//! - [`protect`]: the cell-key method: each cell (a set of records) and
//!   each total is suppressed when small, else rounded to the rule's grid
//!   and perturbed by a function of its records' keys, so the same cell
//!   has the same value by every route. The module doc says why.
//! - [`AggregateQuery`]: `Insights.Aggregate`'s checked question; a filter
//!   names a cell like any other.
//! - [`dashboard`]: the board's panels ([`PANELS`]) and the types a
//!   renderer draws ([`Dashboard`], [`Panel`], [`PanelKind`]).
//!
//! A [`RawTable`] never leaves the broker; only [`protect`]'s output does.

#![forbid(unsafe_code)]

mod aggregate;
mod count;
pub mod dashboard;
mod dims;
mod error;
mod protect;
mod table;
mod usage;

pub use aggregate::{AggregateQuery, Filter, MAX_GROUP_BY};
pub use count::{FactInput, FactSet, MAX_CELLS, Query, RecordKeys, Selection};
pub use dashboard::{
    Dashboard, DashboardPeriod, PANELS, Panel, PanelDef, PanelKind, PeriodKind, build_dashboard,
    panel_def,
};
pub use dims::{DAYS, Dimension, Measure, NOT_RECORDED, kind_label, month_key, parse_month};
pub use error::DisclosureError;
pub use protect::{consistent_counts, protect};
pub use table::{Cell, ProtectedRow, ProtectedTable, ProtectedValue, RawTable, Rule};
pub use usage::{Usage, dashboard_usage};
