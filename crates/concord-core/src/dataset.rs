//! The nine data sets of DESIGN §3, the scope of a snapshot: a snapshot
//! replaces its source's records *of one data set* for the period, never
//! another data set's (community safety sends both MARAC cases and youth
//! violence services).

use std::fmt;

use crate::{RecordKind, Source};

/// One of the partnership's nine data sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataSet {
    PoliceViolentCrime,
    ChildrensDaExploitation,
    YouthOffending,
    AdultSafeguarding,
    Marac,
    EdAssaults,
    YouthServices,
    Housing,
    Probation,
}

impl DataSet {
    pub const ALL: [DataSet; 9] = [
        DataSet::PoliceViolentCrime,
        DataSet::ChildrensDaExploitation,
        DataSet::YouthOffending,
        DataSet::AdultSafeguarding,
        DataSet::Marac,
        DataSet::EdAssaults,
        DataSet::YouthServices,
        DataSet::Housing,
        DataSet::Probation,
    ];

    /// The stable name (header field `data_set`, database column).
    pub const fn as_str(self) -> &'static str {
        match self {
            DataSet::PoliceViolentCrime => "police_violent_crime",
            DataSet::ChildrensDaExploitation => "childrens_da_exploitation",
            DataSet::YouthOffending => "youth_offending",
            DataSet::AdultSafeguarding => "adult_safeguarding",
            DataSet::Marac => "marac",
            DataSet::EdAssaults => "ed_assaults",
            DataSet::YouthServices => "youth_services",
            DataSet::Housing => "housing",
            DataSet::Probation => "probation",
        }
    }

    pub fn parse(s: &str) -> Option<DataSet> {
        DataSet::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// The source that sends it.
    pub const fn source(self) -> Source {
        match self {
            DataSet::PoliceViolentCrime => Source::Police,
            DataSet::ChildrensDaExploitation => Source::ChildrensServices,
            DataSet::YouthOffending => Source::YouthJustice,
            DataSet::AdultSafeguarding => Source::AdultSocialCare,
            DataSet::Marac | DataSet::YouthServices => Source::CommunitySafety,
            DataSet::EdAssaults => Source::Health,
            DataSet::Housing => Source::Housing,
            DataSet::Probation => Source::Probation,
        }
    }

    /// The data sets `source` sends.
    pub fn of(source: Source) -> impl Iterator<Item = DataSet> {
        DataSet::ALL
            .into_iter()
            .filter(move |d| d.source() == source)
    }

    /// The data set of an extract whose header names none: the source's
    /// only one, or `None` for a source with several (community safety),
    /// whose extracts must name theirs.
    pub fn default_of(source: Source) -> Option<DataSet> {
        let mut sets = DataSet::of(source);
        match (sets.next(), sets.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }

    /// Whether a record of `kind` belongs to this data set. A source with
    /// one data set sends what kinds it records; community safety's two are
    /// told apart by kind: MARAC cases (`marac_case`) are MARAC's, every
    /// other kind is youth violence services'.
    pub fn holds(self, kind: RecordKind) -> bool {
        match self {
            DataSet::Marac => kind == RecordKind::MaracCase,
            DataSet::YouthServices => kind != RecordKind::MaracCase,
            _ => true,
        }
    }

    /// The data set of a stored record (for records stored before data
    /// sets were named: migration 0008 backfills with the same rule).
    pub fn of_record(source: Source, kind: RecordKind) -> DataSet {
        DataSet::of(source)
            .find(|d| d.holds(kind))
            .expect("every source has a data set for every kind")
    }

    /// The header's `data_set` for `source`: the named data set if it is
    /// one of `source`'s, or the source's only one when the header names
    /// none; otherwise why not, naming what to send.
    pub fn for_header(source: Source, named: &str) -> Result<DataSet, String> {
        let names = || {
            DataSet::of(source)
                .map(DataSet::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if named.is_empty() {
            return DataSet::default_of(source).ok_or_else(|| {
                format!(
                    "is empty, and {source} sends more than one data set ({}): name the one \
                     this extract carries, as a snapshot replaces that data set only",
                    names()
                )
            });
        }
        match DataSet::parse(named) {
            Some(d) if d.source() == source => Ok(d),
            Some(d) => Err(format!(
                "{named} is a data set of {}, not of {source} (whose data sets are: {})",
                d.source(),
                names()
            )),
            None => Err(format!(
                "is not a known data set; {source} sends: {}",
                names()
            )),
        }
    }
}

impl fmt::Display for DataSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_has_a_data_set_for_every_kind() {
        for &source in Source::ALL {
            for &kind in RecordKind::ALL {
                let d = DataSet::of_record(source, kind);
                assert_eq!(d.source(), source);
                assert!(d.holds(kind));
            }
        }
    }

    #[test]
    fn community_safety_must_name_its_data_set() {
        assert_eq!(
            DataSet::for_header(Source::Police, ""),
            Ok(DataSet::PoliceViolentCrime)
        );
        let why = DataSet::for_header(Source::CommunitySafety, "").unwrap_err();
        assert!(why.contains("marac, youth_services"), "{why}");
        assert_eq!(
            DataSet::for_header(Source::CommunitySafety, "marac"),
            Ok(DataSet::Marac)
        );
        let why = DataSet::for_header(Source::Police, "marac").unwrap_err();
        assert!(why.contains("of community_safety, not of police"), "{why}");
        assert!(DataSet::for_header(Source::Police, "everything").is_err());
        assert!(DataSet::Marac.holds(RecordKind::MaracCase));
        assert!(!DataSet::YouthServices.holds(RecordKind::MaracCase));
        assert!(!DataSet::Marac.holds(RecordKind::ServiceContact));
    }
}
