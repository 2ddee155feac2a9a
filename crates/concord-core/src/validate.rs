//! Collecting what is wrong with an extract, so the answer can name every
//! invalid record (up to a limit, with the total).

use std::fmt;

/// One thing wrong: which record (`None` for the header or the extract as a
/// whole), which field, and why. Never carries a field's value, so it can be
/// logged and returned without leaking anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub index: Option<u64>,
    pub field: String,
    pub reason: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "records[{i}].{}: {}", self.field, self.reason),
            None => write!(f, "{}: {}", self.field, self.reason),
        }
    }
}

/// Violations found so far: the first `limit` are kept, all are counted.
#[derive(Debug, Clone)]
pub struct Violations {
    kept: Vec<Violation>,
    total: u64,
    limit: usize,
}

impl Violations {
    pub fn new(limit: usize) -> Self {
        Violations {
            kept: Vec::new(),
            total: 0,
            limit,
        }
    }

    pub fn push(
        &mut self,
        index: Option<u64>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.total += 1;
        if self.kept.len() < self.limit {
            self.kept.push(Violation {
                index,
                field: field.into(),
                reason: reason.into(),
            });
        }
    }

    /// A violation of record `index`.
    pub fn record(&mut self, index: u64, field: impl Into<String>, reason: impl Into<String>) {
        self.push(Some(index), field, reason);
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// How many violations there were in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The first `limit` violations.
    pub fn kept(&self) -> &[Violation] {
        &self.kept
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s)", self.total)?;
        if (self.kept.len() as u64) < self.total {
            write!(f, ", first {} shown", self.kept.len())?;
        }
        for v in &self.kept {
            write!(f, "; {v}")?;
        }
        Ok(())
    }
}
