//! Why an identifier was dropped, and counts of it across a file.

use std::{fmt, str::FromStr};

/// Declares [`Rejection`] with its stable snake_case names.
macro_rules! rejections {
    ($($(#[$meta:meta])* $variant:ident = $text:literal, $field:literal;)+) => {
        /// Why an identifier was dropped instead of being hashed. The names
        /// are stable: agencies' data-quality reports count by them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rejection { $($(#[$meta])* $variant,)+ }

        impl Rejection {
            /// Every reason, in a fixed order.
            pub const ALL: &'static [Rejection] = &[$(Rejection::$variant,)+];

            /// The stable name.
            pub const fn as_str(self) -> &'static str {
                match self { $(Rejection::$variant => $text,)+ }
            }

            /// Which identifier it concerns (`forename`, `surname`,
            /// `date_of_birth`, `nhs_number`, `pnc_id`, `postcode`).
            pub const fn field(self) -> &'static str {
                match self { $(Rejection::$variant => $field,)+ }
            }
        }

        impl FromStr for Rejection {
            type Err = concord_core::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Rejection::$variant),)+
                    _ => Err(concord_core::UnknownName { vocabulary: "rejection", name: s.to_owned() }),
                }
            }
        }
    };
}

rejections! {
    /// UNKNOWN, NOT KNOWN, N/K, BABY, TEST, XXX, an initial only, only a
    /// title, no letters at all, ...
    ForenamePlaceholder = "forename_placeholder", "forename";
    /// Contains a digit.
    ForenameInvalid = "forename_invalid", "forename";
    SurnamePlaceholder = "surname_placeholder", "surname";
    SurnameInvalid = "surname_invalid", "surname";
    /// 1900-01-01 or 1901-01-01: system defaults, not birthdays.
    DobPlaceholder = "dob_placeholder", "date_of_birth";
    /// Before 1900-01-01 (1800-01-01, spreadsheet epochs, ...).
    DobBefore1900 = "dob_before_1900", "date_of_birth";
    /// After the day of normalisation.
    DobFuture = "dob_future", "date_of_birth";
    /// Not a date in an accepted form, or not a calendar date.
    DobInvalid = "dob_invalid", "date_of_birth";
    /// Ten of the same digit (0000000000, 9999999999, ...).
    NhsPlaceholder = "nhs_placeholder", "nhs_number";
    /// Not ten digits once spaces and dashes are removed.
    NhsInvalid = "nhs_invalid", "nhs_number";
    /// Ten digits whose modulus-11 check digit is wrong.
    NhsCheckDigit = "nhs_check_digit", "nhs_number";
    /// A serial number of zero.
    PncPlaceholder = "pnc_placeholder", "pnc_id";
    /// Not of the form YY/NNNNNNNA (or YYYY/NNNNNNNA).
    PncInvalid = "pnc_invalid", "pnc_id";
    /// The right shape, the wrong check letter.
    PncCheckLetter = "pnc_check_letter", "pnc_id";
    /// ZZ99 pseudo-postcodes (no fixed abode, not known), NFA, ...
    PostcodePlaceholder = "postcode_placeholder", "postcode";
    /// Not a full UK postcode in the official format.
    PostcodeInvalid = "postcode_invalid", "postcode";
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const N: usize = Rejection::ALL.len();

/// How many identifiers were dropped, by reason. Callers accumulate one
/// across a file and report it; it holds counts only, never values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectionCounts([u64; N]);

impl RejectionCounts {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, r: Rejection) {
        self.0[r as usize] += 1;
    }

    pub fn extend(&mut self, rs: impl IntoIterator<Item = Rejection>) {
        for r in rs {
            self.add(r);
        }
    }

    /// Adds another set of counts to this one.
    pub fn merge(&mut self, other: &RejectionCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    pub fn get(&self, r: Rejection) -> u64 {
        self.0[r as usize]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// The non-zero counts, in [`Rejection::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Rejection, u64)> + '_ {
        Rejection::ALL
            .iter()
            .map(|r| (*r, self.get(*r)))
            .filter(|(_, n)| *n > 0)
    }
}

impl fmt::Display for RejectionCounts {
    /// `nhs_check_digit=3, dob_placeholder=1`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, (r, n)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{r}={n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_counts_add_up() {
        for r in Rejection::ALL {
            assert_eq!(r.as_str().parse::<Rejection>().unwrap(), *r);
            assert!(r.as_str().starts_with(match r.field() {
                "date_of_birth" => "dob",
                "nhs_number" => "nhs",
                "pnc_id" => "pnc",
                other => other,
            }));
        }
        let mut c = RejectionCounts::new();
        assert_eq!(c.to_string(), "none");
        c.add(Rejection::DobPlaceholder);
        c.extend([Rejection::NhsCheckDigit, Rejection::NhsCheckDigit]);
        let mut d = RejectionCounts::new();
        d.add(Rejection::DobPlaceholder);
        c.merge(&d);
        assert_eq!(c.get(Rejection::DobPlaceholder), 2);
        assert_eq!(c.total(), 4);
        assert_eq!(c.to_string(), "dob_placeholder=2, nhs_check_digit=2");
    }
}
