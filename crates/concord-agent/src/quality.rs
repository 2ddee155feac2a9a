//! Whole-column checks of an export: a column whose identifiers fail
//! validation on more than a stated share of rows is almost always mapped
//! wrongly (a date of birth in US order, another id in the NHS number
//! column), not a night's bad data; dropping those identifiers one by one
//! would send an extract that can no longer link. The reader tallies, per
//! identifier, how many values were dropped as invalid, and for the date of
//! birth how many values read in each common date layout. Counts only:
//! never a value.

use std::fmt;

use chrono::NaiveDate;
use concord_matchkey::{Rejection, RejectionCounts};

/// The share of rows a column may fail on by default (`--max-invalid-share`).
pub const DEFAULT_MAX_INVALID_SHARE: f64 = 0.05;

/// Date layouts an export may use for dates of birth: a name for people
/// and the chrono format for the mapping's `date_of_birth_format`.
const LAYOUTS: [(&str, &str); 12] = [
    ("YYYY-MM-DD", "%Y-%m-%d"),
    ("DD/MM/YYYY", "%d/%m/%Y"),
    ("MM/DD/YYYY", "%m/%d/%Y"),
    ("DD-MM-YYYY", "%d-%m-%Y"),
    ("MM-DD-YYYY", "%m-%d-%Y"),
    ("DD.MM.YYYY", "%d.%m.%Y"),
    ("YYYY/MM/DD", "%Y/%m/%d"),
    ("YYYYMMDD", "%Y%m%d"),
    ("DD-MON-YYYY", "%d-%b-%Y"),
    ("DD/MM/YY", "%d/%m/%y"),
    ("MM/DD/YY", "%m/%d/%y"),
    ("MM.DD.YYYY", "%m.%d.%Y"),
];

/// How many date-of-birth values read in each layout of [`LAYOUTS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateLayouts {
    values: u64,
    parsed: [u64; LAYOUTS.len()],
}

impl DateLayouts {
    /// Tallies one non-empty value (which is not kept).
    pub fn add(&mut self, value: &str) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        self.values += 1;
        for (n, (_, format)) in self.parsed.iter_mut().zip(LAYOUTS) {
            // Four-digit years only where the layout says YYYY.
            let ok = NaiveDate::parse_from_str(value, format).is_ok_and(|d| {
                !format.contains("%Y") || (1000..=9999).contains(&chrono::Datelike::year(&d))
            });
            if ok {
                *n += 1;
            }
        }
    }

    /// The layout most values read in, with the share that do, if any do.
    pub fn likeliest(&self) -> Option<(&'static str, &'static str, f64)> {
        let (i, n) = self
            .parsed
            .iter()
            .enumerate()
            .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)))?;
        (*n > 0).then(|| {
            let (name, format) = LAYOUTS[i];
            (name, format, *n as f64 / self.values as f64)
        })
    }
}

/// One identifier column's tally over a whole export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnQuality {
    /// Data rows read.
    pub rows: u64,
    /// Identifiers dropped, by reason (placeholders included).
    pub counts: RejectionCounts,
    /// The layouts of the date-of-birth column's values.
    pub dob_layouts: DateLayouts,
}

/// A column that failed validation on more than the allowed share of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnProblem {
    /// The export's column (its header name).
    pub column: String,
    /// The mapping key that names it (`identifiers.date_of_birth`).
    pub mapped_as: &'static str,
    pub failed: u64,
    pub rows: u64,
    /// The reasons and how many of each.
    pub reasons: Vec<(Rejection, u64)>,
    /// For a date of birth: the layout its values look like, the chrono
    /// format for it, and the share of values that read in it.
    pub looks_like: Option<(&'static str, &'static str, f64)>,
    /// The date-of-birth format the mapping already gives, if any.
    pub mapped_format: Option<String>,
}

/// Whether a reason means the value was not a valid identifier (as
/// opposed to a recognised placeholder such as UNKNOWN or 1900-01-01,
/// which an agency records on purpose).
fn is_failure(r: Rejection) -> bool {
    !matches!(
        r,
        Rejection::ForenamePlaceholder
            | Rejection::SurnamePlaceholder
            | Rejection::DobPlaceholder
            | Rejection::NhsPlaceholder
            | Rejection::PncPlaceholder
            | Rejection::PostcodePlaceholder
    )
}

impl ColumnQuality {
    /// The mapped identifier columns that failed on more than `max_share`
    /// of the rows. `columns` is `(identifier, column)` as
    /// [`crate::IdentifierColumns::mapped`] gives it.
    pub fn problems(
        &self,
        columns: &[(&'static str, &str)],
        dob_format: Option<&str>,
        max_share: f64,
    ) -> Vec<ColumnProblem> {
        if self.rows == 0 {
            return vec![];
        }
        let mut out = Vec::new();
        for (identifier, column) in columns {
            let reasons: Vec<(Rejection, u64)> = self
                .counts
                .iter()
                .filter(|(r, _)| r.field() == *identifier && is_failure(*r))
                .collect();
            let failed: u64 = reasons.iter().map(|(_, n)| n).sum();
            if failed as f64 <= max_share * self.rows as f64 {
                continue;
            }
            let dob = *identifier == "date_of_birth";
            out.push(ColumnProblem {
                column: (*column).to_owned(),
                mapped_as: mapping_key(identifier),
                failed,
                rows: self.rows,
                reasons,
                looks_like: if dob {
                    self.dob_layouts.likeliest()
                } else {
                    None
                },
                mapped_format: if dob {
                    dob_format.map(str::to_owned)
                } else {
                    None
                },
            });
        }
        out
    }
}

fn mapping_key(identifier: &str) -> &'static str {
    match identifier {
        "forename" => "identifiers.forename",
        "surname" => "identifiers.surname",
        "date_of_birth" => "identifiers.date_of_birth",
        "nhs_number" => "identifiers.nhs_number",
        "pnc_id" => "identifiers.pnc_id",
        _ => "identifiers.postcode",
    }
}

/// What each identifier must hold, for the advice of a failing column.
fn expected(mapped_as: &str) -> &'static str {
    match mapped_as {
        "identifiers.nhs_number" => "10-digit NHS numbers with a valid check digit",
        "identifiers.pnc_id" => "PNC ids such as 12/3456789A",
        "identifiers.postcode" => "full UK postcodes such as SW3 5RS",
        _ => "people's names, without digits",
    }
}

impl fmt::Display for ColumnProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reasons: Vec<String> = self
            .reasons
            .iter()
            .map(|(r, n)| format!("{r}={n}"))
            .collect();
        write!(
            f,
            "column {:?} ({}): {} of {} rows ({:.1}%) failed validation ({})",
            self.column,
            self.mapped_as,
            self.failed,
            self.rows,
            100.0 * self.failed as f64 / self.rows as f64,
            reasons.join(", ")
        )?;
        if self.mapped_as != "identifiers.date_of_birth" {
            return write!(
                f,
                "; it should hold {}: check that {} names the right column",
                expected(self.mapped_as),
                self.mapped_as
            );
        }
        match (self.looks_like, &self.mapped_format) {
            (Some((name, format, share)), mapped) if mapped.as_deref() != Some(format) => write!(
                f,
                "; its values look like {name} ({:.0}% of them read as {name}): map it by adding \
                 date_of_birth_format = \"{format}\" under [identifiers] in the mapping",
                100.0 * share
            ),
            (_, Some(mapped)) => write!(
                f,
                "; they do not read in the mapping's date_of_birth_format {mapped:?}, nor in \
                 another common layout: check the column and its format"
            ),
            _ => write!(
                f,
                "; its values are in no common date layout: check that \
                 identifiers.date_of_birth names the date of birth column, or give its layout \
                 as date_of_birth_format (a chrono format such as \"%m/%d/%Y\") under \
                 [identifiers]"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_dates_look_like_us_dates() {
        let mut l = DateLayouts::default();
        for v in ["03/15/1990", "12/31/2001", "01/02/1985", "07/04/1976"] {
            l.add(v);
        }
        let (name, format, share) = l.likeliest().unwrap();
        assert_eq!((name, format), ("MM/DD/YYYY", "%m/%d/%Y"));
        assert_eq!(share, 1.0);
        let mut l = DateLayouts::default();
        for v in ["15/03/1990", "1990-03-15", "31/12/2001"] {
            l.add(v);
        }
        assert_eq!(l.likeliest().unwrap().0, "DD/MM/YYYY");
        assert_eq!(DateLayouts::default().likeliest(), None);
    }

    #[test]
    fn a_column_over_the_share_is_named_with_its_layout() {
        let mut q = ColumnQuality {
            rows: 100,
            ..Default::default()
        };
        for _ in 0..6 {
            q.counts.add(Rejection::DobInvalid);
        }
        for _ in 0..50 {
            q.counts.add(Rejection::NhsPlaceholder);
        }
        for _ in 0..100 {
            q.dob_layouts.add("03/15/1990");
        }
        let cols = [("date_of_birth", "DOB"), ("nhs_number", "NHS")];
        let p = q.problems(&cols, None, 0.05);
        // Placeholders are recorded on purpose: they are not failures.
        assert_eq!(p.len(), 1);
        let shown = p[0].to_string();
        assert!(
            shown.starts_with("column \"DOB\" (identifiers.date_of_birth): 6 of 100 rows (6.0%)"),
            "{shown}"
        );
        assert!(shown.contains("look like MM/DD/YYYY"), "{shown}");
        assert!(
            shown.contains("date_of_birth_format = \"%m/%d/%Y\""),
            "{shown}"
        );
        assert!(q.problems(&cols, None, 0.06).is_empty());
    }
}
