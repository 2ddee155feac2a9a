//! What can be wrong with a question (never with the data: counting and
//! protection cannot fail).

use crate::Dimension;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisclosureError {
    #[error(
        "unknown dimension: use month, ward, category, source, age_band, sex, role, weapon, location_type, hour or day_of_week"
    )]
    UnknownDimension,
    #[error("the {dimension} dimension cannot be grouped or filtered by in an aggregate")]
    NotAggregatable { dimension: Dimension },
    #[error("{what} is given twice: name each dimension, measure and filter once")]
    Repeated { what: &'static str },
    #[error("too many dimensions: group by at most {max}")]
    TooManyDimensions { max: usize },
    #[error("no measure: ask for at least one (records, distinct_people, ...)")]
    NoMeasures,
    #[error(
        "the table would have {cells} cells, more than {max}: group by fewer or smaller dimensions"
    )]
    TooManyCells { cells: usize, max: usize },
    #[error(
        "invalid period: give whole months, from the first day of a month to the last day of a month (at most 12), or for a dashboard a month (2026-10), a quarter (2026-Q1), a financial year (2025-26), a calendar year (2026) or twelve months to a month (12m-2026-10)"
    )]
    BadPeriod,
    #[error("a filter on {dimension} has a value that is not a {dimension} code")]
    BadFilterValue { dimension: Dimension },
    #[error("a filter on {dimension} names no value: give at least one")]
    EmptyFilter { dimension: Dimension },
    #[error(
        "invalid disclosure rule from the policy (suppress_max {suppress_max}, rounding_base {rounding_base}): the base must be 1..=1000 and the threshold at most 1000"
    )]
    BadRule {
        suppress_max: u32,
        rounding_base: u32,
    },
}
