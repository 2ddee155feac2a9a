//! Retention periods from the agreement: how long the broker keeps each
//! source's records.

use std::collections::BTreeMap;

use chrono::{Months, NaiveDate};

use crate::engine::BundleId;
use crate::error::PolicyError;

/// The rule the periods are read from: a map from source name to
/// `{"years": n}` or `{"days": n}`.
pub(crate) const RETENTION_RULE: &str = "data.concord.retention.periods";

/// Longest period accepted, in either unit: anything longer is a slip in
/// the data, not a retention schedule.
const MAX_YEARS: u32 = 100;

/// How long records of one source are kept, counted from their event date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionPeriod {
    /// Whole days.
    Days(u32),
    /// Calendar years (29 February counts back to 28 February).
    Years(u32),
}

impl RetentionPeriod {
    /// The earliest event date still kept on `today`: records whose event
    /// date is before it have outlived the period. `None` if the date would
    /// fall outside the calendar chrono can represent.
    pub fn cutoff(self, today: NaiveDate) -> Option<NaiveDate> {
        match self {
            RetentionPeriod::Days(days) => today.checked_sub_days(chrono::Days::new(days.into())),
            RetentionPeriod::Years(years) => today.checked_sub_months(Months::new(years * 12)),
        }
    }
}

impl std::fmt::Display for RetentionPeriod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetentionPeriod::Days(n) => write!(f, "{n} days"),
            RetentionPeriod::Years(n) => write!(f, "{n} years"),
        }
    }
}

/// The retention period of each source, as the bundle that was serving
/// when they were read gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPeriods {
    /// Source name (`police`, ...) to its period. A source without one is
    /// kept: retention never deletes on a guess.
    pub periods: BTreeMap<String, RetentionPeriod>,
    /// The bundle the periods come from, for the audit log.
    pub bundle: BundleId,
}

impl RetentionPeriods {
    /// Parse the rule's value. Every entry must be an object with exactly
    /// one key, `days` or `years`, holding a whole number from 1 to the
    /// equivalent of 100 years; anything else refuses the whole map, so a
    /// malformed agreement purges nothing.
    pub(crate) fn from_json(
        value: &serde_json::Value,
        bundle: BundleId,
    ) -> Result<RetentionPeriods, PolicyError> {
        let invalid = |problem: String| PolicyError::InvalidDecision {
            rule: RETENTION_RULE.to_owned(),
            problem,
        };
        let Some(object) = value.as_object() else {
            return Err(invalid("it is not an object".to_owned()));
        };
        let mut periods = BTreeMap::new();
        for (source, period) in object {
            let entry = period.as_object().filter(|entry| entry.len() == 1);
            let Some((unit, n)) = entry.and_then(|entry| entry.iter().next()) else {
                return Err(invalid(format!(
                    "the period of {source} is not an object with one key, days or years"
                )));
            };
            let n = n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0);
            let period = match (unit.as_str(), n) {
                ("days", Some(n)) if n <= MAX_YEARS * 366 => RetentionPeriod::Days(n),
                ("years", Some(n)) if n <= MAX_YEARS => RetentionPeriod::Years(n),
                ("days" | "years", _) => {
                    return Err(invalid(format!(
                        "the period of {source} is not a whole number of {unit} between 1 and \
                         {MAX_YEARS} years"
                    )));
                }
                _ => {
                    return Err(invalid(format!(
                        "the period of {source} has unit {unit:?}; use days or years"
                    )));
                }
            };
            periods.insert(source.clone(), period);
        }
        Ok(RetentionPeriods { periods, bundle })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id() -> BundleId {
        BundleId {
            revision: "r".to_owned(),
            digest: "d".to_owned(),
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn parses_days_and_years() {
        let parsed = RetentionPeriods::from_json(
            &json!({"police": {"years": 6}, "community_safety": {"days": 2190}}),
            id(),
        )
        .unwrap();
        assert_eq!(parsed.periods["police"], RetentionPeriod::Years(6));
        assert_eq!(
            parsed.periods["community_safety"],
            RetentionPeriod::Days(2190)
        );
        assert_eq!(parsed.bundle, id());
    }

    #[test]
    fn malformed_periods_refuse_the_whole_map() {
        for bad in [
            json!([]),
            json!({"police": 6}),
            json!({"police": {}}),
            json!({"police": {"years": 6, "days": 1}}),
            json!({"police": {"months": 6}}),
            json!({"police": {"years": 0}}),
            json!({"police": {"years": -1}}),
            json!({"police": {"years": 1.5}}),
            json!({"police": {"years": "6"}}),
            json!({"police": {"years": 101}}),
            json!({"police": {"days": 40000}}),
        ] {
            let err = RetentionPeriods::from_json(&bad, id()).unwrap_err();
            assert!(
                matches!(err, PolicyError::InvalidDecision { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn cutoffs() {
        let today = date(2026, 11, 22);
        assert_eq!(
            RetentionPeriod::Years(6).cutoff(today),
            Some(date(2020, 11, 22))
        );
        assert_eq!(
            RetentionPeriod::Days(30).cutoff(today),
            Some(date(2026, 10, 23))
        );
        // 29 February counts back to 28 February in a common year.
        assert_eq!(
            RetentionPeriod::Years(1).cutoff(date(2028, 2, 29)),
            Some(date(2027, 2, 28))
        );
    }
}
