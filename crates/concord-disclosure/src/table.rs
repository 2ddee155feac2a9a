//! Count tables before and after protection.

use crate::{Dimension, DisclosureError, Measure};

/// The disclosure rule a policy decision sets for a role: counts of
/// 1..=`suppress_max` are never released; every other count is released on
/// the rule's [`grid`](Rule::grid) (a multiple of `rounding_base`), moved
/// by the cell-key perturbation (see [`crate::protect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub suppress_max: u32,
    pub rounding_base: u32,
}

impl Rule {
    /// DESIGN §5's rule: 1..7 suppressed, the rest released as multiples
    /// of 5 (on the grid of 10, the first multiple of 5 above 7).
    pub const DEFAULT: Rule = Rule {
        suppress_max: 7,
        rounding_base: 5,
    };

    /// The largest suppression threshold and rounding base a policy may
    /// set (a typo in the agreements data must not release everything
    /// as 0 or a billion).
    pub const MAX: u32 = 1_000;

    /// A rule from a policy decision. Refuses a rounding base of 0; a rule
    /// that suppresses nothing and rounds nothing is allowed only if the
    /// policy says so explicitly (suppress_max 0, base 1), and then counts
    /// are released exactly.
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

    /// The step released figures are multiples of: the smallest multiple
    /// of `rounding_base` above four thirds of `suppress_max` (10 for 1..7
    /// suppressed and a base of 5; 15 for 1..9). Two released figures
    /// differ by a multiple of the step; with a step this size, every
    /// count of 1..=`suppress_max` is consistent with every difference of
    /// two nested cells, whether the inner one is released or withheld
    /// (see [`crate::protect`]). With a step of 5 and a threshold of 7,
    /// two cells that differ by 7 records could be read as differing by 5
    /// to 7.
    pub fn grid(self) -> u64 {
        let b = u64::from(self.rounding_base);
        (4 * u64::from(self.suppress_max) / (3 * b) + 1) * b
    }

    /// Whether the rule is the policy's explicit "no protection" (0, 1).
    pub fn is_exact(self) -> bool {
        self.suppress_max == 0 && self.rounding_base == 1
    }

    /// A count rounded to the nearest multiple of the [`grid`](Rule::grid),
    /// halves up, and at least one step, before any perturbation.
    pub fn round(self, n: u64) -> u64 {
        let g = self.grid();
        ((n + g / 2) / g).max(1) * g
    }

    /// What a cell of `n` records (or people) whose cell key is `key` is
    /// released as: 0 for 0; withheld for 1..=`suppress_max`; otherwise
    /// rounded to the grid (at least one step), moved by the perturbation
    /// table's step for (`key`, `n`), and never below one step (so never 0 and never in the
    /// suppressed range). A function of the count and the key alone: the
    /// same set of records gets the same value by any route.
    pub fn release(self, n: u64, key: u8) -> ProtectedValue {
        if n == 0 {
            return ProtectedValue::Released(0);
        }
        if self.is_small(n) {
            return ProtectedValue::Suppressed;
        }
        if self.is_exact() {
            return ProtectedValue::Released(n);
        }
        let g = self.grid();
        let steps = self.round(n) / g;
        let moved = match crate::protect::perturbation(key, n) {
            -1 => steps.saturating_sub(1),
            1 => steps + 1,
            _ => steps,
        };
        ProtectedValue::Released(moved.max(1) * g)
    }

    /// Whether a raw count is suppressed by the primary rule.
    pub fn is_small(self, n: u64) -> bool {
        n >= 1 && n <= u64::from(self.suppress_max)
    }
}

/// One cell before protection: how many records (or people) it counts, and
/// its cell key (the sum of their record keys, modulo 256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cell {
    pub count: u64,
    pub key: u8,
}

/// One released figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtectedValue {
    /// Withheld: a count of 1..=`suppress_max`.
    Suppressed,
    /// Zero, or a count above the threshold, rounded and perturbed.
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
    /// (one key per `group_by` dimension, one cell per measure), keys
    /// unique.
    pub rows: Vec<(Vec<String>, Vec<Cell>)>,
    /// One cell per measure: every record (or person) the table counts,
    /// counted once. `None` where a total would add unlike things (rows
    /// of different indicators or periods).
    pub total: Option<Vec<Cell>>,
}

/// A table as it may leave the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedTable {
    pub group_by: Vec<Dimension>,
    pub measures: Vec<Measure>,
    /// (one key per `group_by` dimension, one value per measure), in the
    /// order of the dimensions' domains (see [`Dimension::domain`]).
    pub rows: Vec<ProtectedRow>,
    /// One per measure, or none where a total would add unlike things:
    /// the cell of every record (or person, counted once) the table
    /// counts, protected like any other cell. Not the sum of the rows:
    /// each figure is protected on its own.
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
