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
//! - [`protect`]: primary suppression, secondary suppression, rounding and
//!   totals from the released cells; deterministic. The module doc says
//!   why each step is there.
//! - [`AggregateQuery`]: `Insights.Aggregate`'s checked question; filters
//!   are answered from the protected finer table, so differencing filters
//!   recovers nothing.
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
pub use count::{FactInput, FactSet, MAX_CELLS, Query, Selection};
pub use dashboard::{
    Dashboard, DashboardPeriod, PANELS, Panel, PanelDef, PanelKind, build_dashboard, panel_def,
};
pub use dims::{DAYS, Dimension, Measure, NOT_RECORDED, month_key, parse_month};
pub use error::DisclosureError;
pub use protect::protect;
pub use table::{ProtectedRow, ProtectedTable, ProtectedValue, RawTable, Rule};
pub use usage::{Usage, dashboard_usage};
