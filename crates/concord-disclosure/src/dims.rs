//! What a table is grouped by ([`Dimension`]) and what it counts
//! ([`Measure`]), with the codes used as row keys and their labels.

use std::{fmt, str::FromStr};

use chrono::{Datelike, NaiveDate};
use concord_core::{
    AgeBand, LocationType, PersonRole, RBKC_WARDS, RecordKind, Sex, Source, ViolenceCategory,
    Weapon, ward_name,
};

use crate::DisclosureError;

/// The key of a cell whose value was not recorded (no ward, no category,
/// ...). Its label is "Not recorded".
pub const NOT_RECORDED: &str = "";

/// A grouping of records. Every one but `Indicator` and `Period` is a
/// record field `Insights.Aggregate` accepts (`Hour` and `DayOfWeek` were
/// added for the emergency department panels); `Indicator` and `Period`
/// are the dashboard's own rows (which measure definition, which period),
/// never computed from a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    /// Calendar month of the event date, `YYYY-MM`.
    Month,
    /// Ward GSS code.
    Ward,
    /// Serious-violence category name.
    Category,
    /// Source name.
    Source,
    /// Age band name (`0-9`, ...).
    AgeBand,
    /// Sex name.
    Sex,
    /// Person role name.
    Role,
    /// Weapon name.
    Weapon,
    /// Location type name.
    LocationType,
    /// Hour of the event, `00`..`23`.
    Hour,
    /// Day of the week of a day-precise event date, `mon`..`sun`.
    DayOfWeek,
    /// A dashboard indicator id (see [`crate::dashboard`]).
    Indicator,
    /// A dashboard period label (`2026`, `2026-03`).
    Period,
}

impl Dimension {
    /// Every dimension, in code order.
    pub const ALL: [Dimension; 13] = [
        Dimension::Month,
        Dimension::Ward,
        Dimension::Category,
        Dimension::Source,
        Dimension::AgeBand,
        Dimension::Sex,
        Dimension::Role,
        Dimension::Weapon,
        Dimension::LocationType,
        Dimension::Hour,
        Dimension::DayOfWeek,
        Dimension::Indicator,
        Dimension::Period,
    ];

    /// The dimensions computed from a record's fields (all but `Indicator`
    /// and `Period`).
    pub const fn is_record_field(self) -> bool {
        !matches!(self, Dimension::Indicator | Dimension::Period)
    }

    /// The record field the dimension reads (for the audit log's record of
    /// what an aggregate used); `None` for `Source`, `Indicator`, `Period`.
    pub const fn field(self) -> Option<&'static str> {
        match self {
            Dimension::Month | Dimension::DayOfWeek => Some("event_date"),
            Dimension::Ward => Some("ward_code"),
            Dimension::Category => Some("category"),
            Dimension::AgeBand => Some("age_band"),
            Dimension::Sex => Some("sex"),
            Dimension::Role => Some("role"),
            Dimension::Weapon => Some("weapon"),
            Dimension::LocationType => Some("location_type"),
            Dimension::Hour => Some("event_hour"),
            Dimension::Source | Dimension::Indicator | Dimension::Period => None,
        }
    }

    /// The stable code, equal to the `concord.v1.Dimension` number.
    pub const fn code(self) -> i32 {
        match self {
            Dimension::Month => 1,
            Dimension::Ward => 2,
            Dimension::Category => 3,
            Dimension::Source => 4,
            Dimension::AgeBand => 5,
            Dimension::Sex => 6,
            Dimension::Role => 7,
            Dimension::Weapon => 8,
            Dimension::LocationType => 9,
            Dimension::Hour => 10,
            Dimension::DayOfWeek => 11,
            Dimension::Indicator => 12,
            Dimension::Period => 13,
        }
    }

    /// The dimension with this code; `None` for 0 or an unknown code.
    pub fn from_code(code: i32) -> Option<Dimension> {
        Dimension::ALL.iter().copied().find(|d| d.code() == code)
    }

    /// The stable name (`month`, `ward`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Dimension::Month => "month",
            Dimension::Ward => "ward",
            Dimension::Category => "category",
            Dimension::Source => "source",
            Dimension::AgeBand => "age_band",
            Dimension::Sex => "sex",
            Dimension::Role => "role",
            Dimension::Weapon => "weapon",
            Dimension::LocationType => "location_type",
            Dimension::Hour => "hour",
            Dimension::DayOfWeek => "day_of_week",
            Dimension::Indicator => "indicator",
            Dimension::Period => "period",
        }
    }

    /// A heading for a table column.
    pub const fn title(self) -> &'static str {
        match self {
            Dimension::Month => "Month",
            Dimension::Ward => "Ward",
            Dimension::Category => "Category",
            Dimension::Source => "Agency",
            Dimension::AgeBand => "Age band",
            Dimension::Sex => "Sex",
            Dimension::Role => "Role",
            Dimension::Weapon => "Weapon",
            Dimension::LocationType => "Location",
            Dimension::Hour => "Hour",
            Dimension::DayOfWeek => "Day",
            Dimension::Indicator => "Measure",
            Dimension::Period => "Period",
        }
    }

    /// Checks that `code` is a valid key of this dimension (used for
    /// filters). Months are `YYYY-MM`; wards any `E05` GSS code.
    pub fn check_code(self, code: &str) -> Result<(), DisclosureError> {
        let ok = match self {
            Dimension::Month => parse_month(code).is_some(),
            Dimension::Ward => {
                code.len() == 9
                    && code.starts_with("E05")
                    && code[3..].bytes().all(|b| b.is_ascii_digit())
            }
            Dimension::Category => code.parse::<ViolenceCategory>().is_ok(),
            Dimension::Source => code.parse::<Source>().is_ok(),
            Dimension::AgeBand => code.parse::<AgeBand>().is_ok(),
            Dimension::Sex => code.parse::<Sex>().is_ok(),
            Dimension::Role => code.parse::<PersonRole>().is_ok(),
            Dimension::Weapon => code.parse::<Weapon>().is_ok(),
            Dimension::LocationType => code.parse::<LocationType>().is_ok(),
            Dimension::Hour => code.len() == 2 && code.parse::<u8>().is_ok_and(|h| h < 24),
            Dimension::DayOfWeek => DAYS.iter().any(|(c, _)| *c == code),
            Dimension::Indicator | Dimension::Period => false,
        };
        if ok {
            Ok(())
        } else {
            Err(DisclosureError::BadFilterValue { dimension: self })
        }
    }

    /// Every key of a closed dimension, in display order, so that a table
    /// shows its zeros (a ward with no records is a row of zeros, not a
    /// missing row). `months` are the period's months. `None` for
    /// `Indicator` and `Period`, whose keys the dashboard sets.
    /// [`NOT_RECORDED`] is not included: it appears only when records lack
    /// the field.
    pub fn domain(self, months: &[String]) -> Option<Vec<String>> {
        fn names<T: Copy>(all: &[T], f: fn(T) -> &'static str) -> Vec<String> {
            all.iter().map(|v| f(*v).to_owned()).collect()
        }
        Some(match self {
            Dimension::Month => months.to_vec(),
            Dimension::Ward => RBKC_WARDS.iter().map(|(c, _)| (*c).to_owned()).collect(),
            Dimension::Category => names(ViolenceCategory::ALL, ViolenceCategory::as_str),
            Dimension::Source => names(Source::ALL, Source::as_str),
            Dimension::AgeBand => names(AgeBand::ALL, AgeBand::as_str),
            Dimension::Sex => names(Sex::ALL, Sex::as_str),
            Dimension::Role => names(PersonRole::ALL, PersonRole::as_str),
            Dimension::Weapon => names(Weapon::ALL, Weapon::as_str),
            Dimension::LocationType => names(LocationType::ALL, LocationType::as_str),
            Dimension::Hour => (0..24).map(|h| format!("{h:02}")).collect(),
            Dimension::DayOfWeek => DAYS.iter().map(|(c, _)| (*c).to_owned()).collect(),
            Dimension::Indicator | Dimension::Period => return None,
        })
    }

    /// A human label for a key of this dimension: ward code → ward name,
    /// `2026-03` → `Mar 2026`, `knife_sharp` → `Knife or sharp object`.
    /// Unknown codes are shown as they are; [`NOT_RECORDED`] is "Not
    /// recorded".
    pub fn label(self, code: &str) -> String {
        if code == NOT_RECORDED {
            return "Not recorded".to_owned();
        }
        let known: Option<&str> = match self {
            Dimension::Month => {
                return parse_month(code)
                    .map(|d| d.format("%b %Y").to_string())
                    .unwrap_or_else(|| code.to_owned());
            }
            Dimension::Ward => ward_name(code),
            Dimension::Category => code.parse().ok().map(category_label),
            Dimension::Source => code.parse().ok().map(source_label),
            Dimension::AgeBand => code.parse::<AgeBand>().ok().map(|a| a.as_str()),
            Dimension::Sex => code.parse().ok().map(|s: Sex| match s {
                Sex::Female => "Female",
                Sex::Male => "Male",
                Sex::Other => "Other",
            }),
            Dimension::Role => code.parse().ok().map(|r: PersonRole| match r {
                PersonRole::Victim => "Victim",
                PersonRole::Suspect => "Suspect",
                PersonRole::Offender => "Offender",
                PersonRole::Subject => "Subject",
                PersonRole::Patient => "Patient",
            }),
            Dimension::Weapon => code.parse().ok().map(weapon_label),
            Dimension::LocationType => code.parse().ok().map(location_label),
            Dimension::Hour => {
                return code
                    .parse::<u8>()
                    .map(|h| format!("{h:02}:00"))
                    .unwrap_or_else(|_| code.to_owned());
            }
            Dimension::DayOfWeek => DAYS.iter().find(|(c, _)| *c == code).map(|(_, l)| *l),
            Dimension::Indicator => crate::dashboard::indicator_label(code),
            Dimension::Period => None,
        };
        known.map_or_else(|| code.to_owned(), str::to_owned)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dimension {
    type Err = DisclosureError;
    fn from_str(s: &str) -> Result<Dimension, DisclosureError> {
        Dimension::ALL
            .iter()
            .copied()
            .find(|d| d.as_str() == s)
            .ok_or(DisclosureError::UnknownDimension)
    }
}

/// What a cell counts. Records are counted whether or not they are linked;
/// the people measures count linked people only (an emergency department
/// attendance carries no person tokens and is no person).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    /// Records.
    Records,
    /// Distinct linked people.
    DistinctPeople,
    /// Distinct people of the cell whose records in the period come from
    /// two or more sources (any record of theirs in the period counts, not
    /// only the cell's).
    MultiAgencyPeople,
    /// Distinct people with a victim record in the cell that lies within
    /// 365 days of another victim record of theirs (any source, any date).
    RepeatVictims,
    /// Distinct people with a victim record in the cell at an age under 25.
    VictimsUnder25,
    /// Records of a person aged under 25 (age band 0-9, 10-17 or 18-24, or
    /// the under-25 flag): the Home Office measures' under-25 figures.
    RecordsUnder25,
}

impl Measure {
    /// Every measure, in code order.
    pub const ALL: [Measure; 6] = [
        Measure::Records,
        Measure::DistinctPeople,
        Measure::MultiAgencyPeople,
        Measure::RepeatVictims,
        Measure::VictimsUnder25,
        Measure::RecordsUnder25,
    ];

    /// The stable code, equal to the `concord.v1.Measure` number.
    pub const fn code(self) -> i32 {
        match self {
            Measure::Records => 1,
            Measure::DistinctPeople => 2,
            Measure::MultiAgencyPeople => 3,
            Measure::RepeatVictims => 4,
            Measure::VictimsUnder25 => 5,
            Measure::RecordsUnder25 => 6,
        }
    }

    /// The measure with this code; `None` for 0 or an unknown code.
    pub fn from_code(code: i32) -> Option<Measure> {
        Measure::ALL.iter().copied().find(|m| m.code() == code)
    }

    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Measure::Records => "records",
            Measure::DistinctPeople => "distinct_people",
            Measure::MultiAgencyPeople => "multi_agency_people",
            Measure::RepeatVictims => "repeat_victims",
            Measure::VictimsUnder25 => "victims_under_25",
            Measure::RecordsUnder25 => "records_under_25",
        }
    }

    /// A heading for a table column.
    pub const fn title(self) -> &'static str {
        match self {
            Measure::Records => "Records",
            Measure::DistinctPeople => "People",
            Measure::MultiAgencyPeople => "People known to 2+ agencies",
            Measure::RepeatVictims => "Repeat victims",
            Measure::VictimsUnder25 => "Victims under 25",
            Measure::RecordsUnder25 => "Under 25",
        }
    }

    /// The record fields the measure reads beyond the person.
    pub const fn fields(self) -> &'static [&'static str] {
        match self {
            Measure::Records | Measure::DistinctPeople | Measure::MultiAgencyPeople => &[],
            Measure::RepeatVictims => &["kind", "role", "event_date"],
            Measure::VictimsUnder25 => &["kind", "role", "age_band", "flag_under_25"],
            Measure::RecordsUnder25 => &["age_band", "flag_under_25"],
        }
    }

    /// Whether the measure counts people (and so is not additive across
    /// cells: a person may appear in several).
    pub const fn counts_people(self) -> bool {
        !matches!(self, Measure::Records | Measure::RecordsUnder25)
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Day-of-week keys (ISO order) and labels.
pub const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

/// The key of a month (`YYYY-MM`).
pub fn month_key(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

/// The first day of month `YYYY-MM`.
pub fn parse_month(s: &str) -> Option<NaiveDate> {
    let (y, m) = s.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
}

/// A human label for a record kind, as practitioners name it (the
/// dashboard's panels name kinds in the same words; `concord lookup` and
/// `concord review` show these).
pub fn kind_label(k: RecordKind) -> &'static str {
    match k {
        RecordKind::Crime => "Crime",
        RecordKind::EdAttendance => "Emergency department attendance",
        RecordKind::Supervision => "Supervision",
        RecordKind::Referral => "Referral",
        RecordKind::Case => "Case",
        RecordKind::AsbCase => "Anti-social behaviour case",
        RecordKind::MaracCase => "MARAC case",
        RecordKind::SafeguardingConcern => "Safeguarding concern",
        RecordKind::YouthOffence => "Youth offence",
        RecordKind::ServiceContact => "Service contact",
        RecordKind::HousingIncident => "Housing incident",
    }
}

fn category_label(c: ViolenceCategory) -> &'static str {
    match c {
        ViolenceCategory::Homicide => "Homicide",
        ViolenceCategory::Gbh => "Grievous bodily harm",
        ViolenceCategory::Abh => "Actual bodily harm",
        ViolenceCategory::Rape => "Rape",
        ViolenceCategory::AssaultByPenetration => "Assault by penetration",
        ViolenceCategory::SexualAssault => "Sexual assault",
        ViolenceCategory::Robbery => "Robbery",
        ViolenceCategory::ThreatsToKill => "Threats to kill",
        ViolenceCategory::DomesticAbuse => "Domestic abuse",
        ViolenceCategory::Exploitation => "Exploitation",
        ViolenceCategory::WeaponPossession => "Weapon possession",
        ViolenceCategory::OtherViolence => "Other violence",
    }
}

fn source_label(s: Source) -> &'static str {
    match s {
        Source::Police => "Police",
        Source::Health => "Health (emergency departments)",
        Source::Probation => "Probation",
        Source::YouthJustice => "Youth justice",
        Source::ChildrensServices => "Children's services",
        Source::AdultSocialCare => "Adult social care",
        Source::Housing => "Housing",
        Source::CommunitySafety => "Community safety",
    }
}

fn weapon_label(w: Weapon) -> &'static str {
    match w {
        Weapon::KnifeSharp => "Knife or sharp object",
        Weapon::Firearm => "Firearm",
        Weapon::Corrosive => "Corrosive substance",
        Weapon::Blunt => "Blunt object",
        Weapon::Body => "Body (hands, feet)",
        Weapon::Other => "Other weapon",
        Weapon::None => "No weapon",
    }
}

fn location_label(l: LocationType) -> &'static str {
    match l {
        LocationType::Dwelling => "Dwelling",
        LocationType::Street => "Street",
        LocationType::LicensedPremises => "Licensed premises",
        LocationType::Transport => "Transport",
        LocationType::School => "School",
        LocationType::Park => "Park",
        LocationType::Shop => "Shop",
        LocationType::Workplace => "Workplace",
        LocationType::Other => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_labels_read_well() {
        for d in Dimension::ALL {
            assert_eq!(Dimension::from_code(d.code()), Some(d));
            assert_eq!(d.as_str().parse::<Dimension>().unwrap(), d);
        }
        for m in Measure::ALL {
            assert_eq!(Measure::from_code(m.code()), Some(m));
        }
        assert_eq!(Dimension::from_code(0), None);
        assert_eq!(Dimension::Ward.label("E05009396"), "Golborne");
        assert_eq!(Dimension::Month.label("2026-03"), "Mar 2026");
        assert_eq!(
            Dimension::Weapon.label("knife_sharp"),
            "Knife or sharp object"
        );
        assert_eq!(Dimension::Hour.label("07"), "07:00");
        assert_eq!(Dimension::Ward.label(NOT_RECORDED), "Not recorded");
        assert_eq!(Dimension::Ward.domain(&[]).unwrap().len(), 18);
        assert!(Dimension::Ward.check_code("E05009396").is_ok());
        assert!(Dimension::Ward.check_code("E0500939").is_err());
        assert!(Dimension::Hour.check_code("23").is_ok());
        assert!(Dimension::Hour.check_code("24").is_err());
    }

    #[test]
    fn the_canonical_ward_list_is_the_synthetic_populations() {
        let synth: Vec<(&str, &str)> = concord_synth::geo::WARDS
            .iter()
            .map(|w| (w.code, w.name))
            .collect();
        assert_eq!(synth, RBKC_WARDS.to_vec());
    }
}
