//! Count tables before and after protection.

use crate::{Dimension, DisclosureError, Measure};

/// The disclosure rule a policy decision sets for a role: counts of
/// 1..=`suppress_max` are suppressed, every other count is rounded to the
/// nearest `rounding_base` (halves round up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub suppress_max: u32,
    pub rounding_base: u32,
}

impl Rule {
    /// DESIGN §5's rule: 1..7 suppressed, the rest rounded to the nearest 5.
    pub const DEFAULT: Rule = Rule {
        suppress_max: 7,
        rounding_base: 5,
    };

    /// The largest suppression threshold and rounding base a policy may
    /// set (a typo in the agreements data must not release everything
    /// as 0 or a billion).
    pub const MAX: u32 = 1_000;

    /// A rule from a policy decision. Refuses a rounding base of 0 and a
    /// rule that suppresses nothing and rounds nothing is allowed only if
    /// the policy says so explicitly (suppress_max 0, base 1).
    pub fn new(suppress_max: u32, rounding_base: u32) -> Result<Rule, DisclosureError> {
        if rounding_base == 0 || rounding_base > Rule::MAX || suppress_max > Rule::MAX {
            return Err(DisclosureError::BadRule {
                suppress_max,
                rounding_base,
            });
        }
        Ok(Rule {
            suppress_max,
            rounding_base,
        })
    }

    /// The rounded value of a count the rule does not suppress.
    pub fn round(self, n: u64) -> u64 {
        let b = u64::from(self.rounding_base);
        // Nearest multiple, halves up: floor((n + b/2) / b) * b, where for
        // an odd base b/2 rounds down (there is no exact half).
        (n + b / 2) / b * b
    }

    /// What a count the rule does not suppress is released as: 0 for 0;
    /// otherwise rounded, but never to a number the rule suppresses (with a
    /// base above the threshold, 7 would round to 5 and reveal itself as
    /// the only unsuppressed count that rounds there): at least the first
    /// multiple of the base above the threshold.
    pub fn release(self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let b = u64::from(self.rounding_base);
        let floor = (u64::from(self.suppress_max) / b + 1) * b;
        self.round(n).max(floor)
    }

    /// Whether a raw count is suppressed by the primary rule.
    pub fn is_small(self, n: u64) -> bool {
        n >= 1 && n <= u64::from(self.suppress_max)
    }
}

/// One released figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtectedValue {
    /// Withheld: a small count, or a cell withheld so that a small one
    /// cannot be worked out from the others.
    Suppressed,
    /// Zero, or a count above the threshold, rounded.
    Released(u64),
}

impl ProtectedValue {
    /// The released value, `None` if suppressed.
    pub fn value(self) -> Option<u64> {
        match self {
            ProtectedValue::Suppressed => None,
            ProtectedValue::Released(v) => Some(v),
        }
    }

    /// Whether the value is suppressed.
    pub fn is_suppressed(self) -> bool {
        self == ProtectedValue::Suppressed
    }
}

/// Raw counts per group, as the counting produced them. Never leaves the
/// broker: only [`crate::protect`]'s result does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTable {
    pub group_by: Vec<Dimension>,
    pub measures: Vec<Measure>,
    /// (one key per `group_by` dimension, one count per measure), keys
    /// unique.
    pub rows: Vec<(Vec<String>, Vec<u64>)>,
}

/// A table as it may leave the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedTable {
    pub group_by: Vec<Dimension>,
    pub measures: Vec<Measure>,
    /// (one key per `group_by` dimension, one value per measure), in the
    /// order of the dimensions' domains (see [`Dimension::domain`]).
    pub rows: Vec<ProtectedRow>,
    /// One per measure: the sum of the column's released cells, rounded
    /// only in the sense that every part is. Never suppressed. For a people
    /// measure it counts a person once per row they appear in.
    pub totals: Vec<ProtectedValue>,
    pub suppress_max: u32,
    pub rounding_base: u32,
}

/// One row of a [`ProtectedTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedRow {
    /// One code per `group_by` dimension (label with [`Dimension::label`]).
    pub keys: Vec<String>,
    /// One value per measure.
    pub values: Vec<ProtectedValue>,
}

impl ProtectedTable {
    /// The rule this table was protected with.
    pub fn rule(&self) -> Rule {
        Rule {
            suppress_max: self.suppress_max,
            rounding_base: self.rounding_base,
        }
    }

    /// The column of a measure.
    pub fn measure_index(&self, m: Measure) -> Option<usize> {
        self.measures.iter().position(|x| *x == m)
    }

    /// The value of the row with these keys for measure `m`.
    pub fn get(&self, keys: &[&str], m: Measure) -> Option<ProtectedValue> {
        let col = self.measure_index(m)?;
        self.rows
            .iter()
            .find(|r| r.keys.iter().map(String::as_str).eq(keys.iter().copied()))
            .map(|r| r.values[col])
    }

    /// The distinct keys of dimension column `dim`, in row order (for a
    /// two-dimensional chart: the series or the x axis).
    pub fn keys_of(&self, dim: usize) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.rows {
            let k = r.keys[dim].as_str();
            if !out.contains(&k) {
                out.push(k);
            }
        }
        out
    }

    /// How many cells are suppressed.
    pub fn suppressed_cells(&self) -> usize {
        self.rows
            .iter()
            .flat_map(|r| &r.values)
            .filter(|v| v.is_suppressed())
            .count()
    }
}
