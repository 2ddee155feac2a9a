//! The record as the broker understands it (DESIGN §3), and the rules a
//! record must meet before it is stored.

use std::fmt;

use chrono::NaiveDate;

use crate::{
    AgeBand, DatePrecision, ExtractHeader, KeyName, LocationType, PersonRole, RecordKind,
    RoshLevel, Sex, Source, Violations, ViolenceCategory, Weapon, extract::parse_date,
};

/// Length of a match-key token, a source reference and a pseudonym.
pub const TOKEN_LEN: usize = 32;

/// Highest DASH risk checklist score.
pub const DASH_MAX: u8 = 27;

/// 32 opaque bytes: a match-key token, a keyed source reference, or the
/// broker's pseudonym of either. Debug prints a short prefix only.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub [u8; TOKEN_LEN]);

impl Token {
    pub fn from_slice(b: &[u8]) -> Option<Token> {
        b.try_into().ok().map(Token)
    }

    pub fn as_bytes(&self) -> &[u8; TOKEN_LEN] {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Token({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// Which kind of ONS GSS code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GssKind {
    /// Electoral ward, E05/W05.
    Ward,
    /// Lower layer super output area, E01/W01.
    Lsoa,
}

/// A validated ONS GSS code: a country letter, a two-digit entity code and
/// six digits (e.g. ward `E05013796`, LSOA `E01002815`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GssCode(String);

impl GssCode {
    pub fn parse(s: &str, kind: GssKind) -> Result<GssCode, &'static str> {
        let b = s.as_bytes();
        let entity: &[u8] = match kind {
            GssKind::Ward => b"05",
            GssKind::Lsoa => b"01",
        };
        let ok = b.len() == 9
            && matches!(b[0], b'E' | b'W')
            && &b[1..3] == entity
            && b[3..].iter().all(u8::is_ascii_digit);
        if !ok {
            return Err(match kind {
                GssKind::Ward => "is not an ONS ward code (E05 and six digits)",
                GssKind::Lsoa => "is not an ONS LSOA code (E01 and six digits)",
            });
        }
        Ok(GssCode(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ODS site code (emergency department), 3 to 8 of `A-Z0-9`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteCode(String);

impl SiteCode {
    pub fn parse(s: &str) -> Result<SiteCode, &'static str> {
        if (3..=8).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            Ok(SiteCode(s.to_owned()))
        } else {
            Err("is not an ODS site code (3 to 8 of A-Z, 0-9)")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Risk {
    pub rosh: Option<RoshLevel>,
    pub dash_score: Option<u8>,
    pub marac: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub domestic_abuse: bool,
    pub under_25: bool,
    pub exploitation: bool,
}

/// A validated record. `source_ref` and `tokens` are whatever the caller
/// holds: as received (agency tokens) or re-keyed (broker pseudonyms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub source_ref: Token,
    pub kind: RecordKind,
    pub role: Option<PersonRole>,
    pub event_date: NaiveDate,
    pub date_precision: Option<DatePrecision>,
    pub event_hour: Option<u8>,
    pub ward: Option<GssCode>,
    pub lsoa: Option<GssCode>,
    pub category: Option<ViolenceCategory>,
    pub weapon: Option<Weapon>,
    pub location_type: Option<LocationType>,
    pub age_band: Option<AgeBand>,
    pub sex: Option<Sex>,
    pub risk: Risk,
    pub flags: Flags,
    pub site_code: Option<SiteCode>,
    pub tokens: Vec<(KeyName, Token)>,
}

/// One token as it arrives.
#[derive(Debug, Clone, Copy)]
pub struct RawToken<'a> {
    pub key_name: &'a str,
    pub key_id: &'a str,
    pub token: &'a [u8],
}

/// A record's raw parts as they arrive, before validation: enum codes are
/// the wire numbers (0 = unspecified), strings may be empty.
#[derive(Debug, Clone, Default)]
pub struct RawRecord<'a> {
    pub source: i32,
    pub source_ref: &'a [u8],
    pub kind: i32,
    pub role: i32,
    pub event_date: &'a str,
    pub date_precision: i32,
    pub event_hour: Option<u32>,
    pub ward_code: &'a str,
    pub lsoa_code: &'a str,
    pub category: i32,
    pub weapon: i32,
    pub location_type: i32,
    pub age_band: i32,
    pub sex: i32,
    pub rosh: i32,
    pub dash_score: Option<u32>,
    pub marac: bool,
    pub flags: Flags,
    pub site_code: &'a str,
    pub tokens: Vec<RawToken<'a>>,
}

/// An optional vocabulary value: code 0 is "not held", any other unknown
/// code is a violation.
fn optional<T>(
    code: i32,
    from_code: fn(i32) -> Option<T>,
    index: u64,
    field: &'static str,
    label: &str,
    v: &mut Violations,
) -> Option<T> {
    if code == 0 {
        return None;
    }
    let value = from_code(code);
    if value.is_none() {
        v.record(index, field, format!("{code} is not a known {label}"));
    }
    value
}

impl Record {
    /// Validates record `index` of an extract against its header; pushes a
    /// violation for every problem and returns the record only if there
    /// were none.
    pub fn parse(
        raw: &RawRecord<'_>,
        index: u64,
        header: &ExtractHeader,
        v: &mut Violations,
    ) -> Option<Record> {
        let before = v.total();
        if raw.source != 0 && Source::from_code(raw.source) != Some(header.source) {
            v.record(
                index,
                "source",
                format!("must be {} like the extract, or unset", header.source),
            );
        }
        let source_ref = Token::from_slice(raw.source_ref);
        if source_ref.is_none() {
            v.record(index, "source_ref", "must be a 32-byte keyed hash");
        }
        let kind = RecordKind::from_code(raw.kind);
        if kind.is_none() {
            v.record(index, "kind", "is missing or not a known record kind");
        }
        let role = optional(
            raw.role,
            PersonRole::from_code,
            index,
            "role",
            PersonRole::LABEL,
            v,
        );
        let event_date = match parse_date(raw.event_date) {
            Ok(d) if header.period.contains(d) => Some(d),
            Ok(_) => {
                v.record(index, "event_date", "lies outside the extract's period");
                None
            }
            Err(e) => {
                v.record(index, "event_date", e);
                None
            }
        };
        let date_precision = optional(
            raw.date_precision,
            DatePrecision::from_code,
            index,
            "event_date_precision",
            DatePrecision::LABEL,
            v,
        );
        let event_hour = match raw.event_hour {
            Some(h) if h <= 23 => Some(h as u8),
            Some(_) => {
                v.record(index, "event_hour", "must be 0 to 23");
                None
            }
            None => None,
        };
        let ward = gss(raw.ward_code, GssKind::Ward, index, "ward_code", v);
        let lsoa = gss(raw.lsoa_code, GssKind::Lsoa, index, "lsoa_code", v);
        let category = optional(
            raw.category,
            ViolenceCategory::from_code,
            index,
            "category",
            ViolenceCategory::LABEL,
            v,
        );
        let weapon = optional(
            raw.weapon,
            Weapon::from_code,
            index,
            "weapon",
            Weapon::LABEL,
            v,
        );
        let location_type = optional(
            raw.location_type,
            LocationType::from_code,
            index,
            "location_type",
            LocationType::LABEL,
            v,
        );
        let age_band = optional(
            raw.age_band,
            AgeBand::from_code,
            index,
            "age_band",
            AgeBand::LABEL,
            v,
        );
        let sex = optional(raw.sex, Sex::from_code, index, "sex", Sex::LABEL, v);
        let rosh = optional(
            raw.rosh,
            RoshLevel::from_code,
            index,
            "risk.rosh",
            RoshLevel::LABEL,
            v,
        );
        let dash_score = match raw.dash_score {
            Some(s) if s <= u32::from(DASH_MAX) => Some(s as u8),
            Some(_) => {
                v.record(index, "risk.dash_score", "must be 0 to 27");
                None
            }
            None => None,
        };
        let site_code = if raw.site_code.is_empty() {
            None
        } else {
            SiteCode::parse(raw.site_code)
                .map_err(|e| v.record(index, "site_code", e))
                .ok()
        };
        let tokens = tokens(raw, index, header, v);
        if kind == Some(RecordKind::EdAttendance) && !raw.tokens.is_empty() {
            v.record(
                index,
                "tokens",
                "emergency department attendances carry no person tokens (ISTV)",
            );
        }
        if v.total() != before {
            return None;
        }
        Some(Record {
            source_ref: source_ref?,
            kind: kind?,
            role,
            event_date: event_date?,
            date_precision,
            event_hour,
            ward,
            lsoa,
            category,
            weapon,
            location_type,
            age_band,
            sex,
            risk: Risk {
                rosh,
                dash_score,
                marac: raw.marac,
            },
            flags: raw.flags,
            site_code,
            tokens,
        })
    }
}

fn gss(
    s: &str,
    kind: GssKind,
    index: u64,
    field: &'static str,
    v: &mut Violations,
) -> Option<GssCode> {
    if s.is_empty() {
        return None;
    }
    GssCode::parse(s, kind)
        .map_err(|e| v.record(index, field, e))
        .ok()
}

fn tokens(
    raw: &RawRecord<'_>,
    index: u64,
    header: &ExtractHeader,
    v: &mut Violations,
) -> Vec<(KeyName, Token)> {
    let mut out: Vec<(KeyName, Token)> = Vec::with_capacity(raw.tokens.len());
    for (i, t) in raw.tokens.iter().enumerate() {
        let field = || format!("tokens[{i}]");
        let Ok(name) = t.key_name.parse::<KeyName>() else {
            v.record(
                index,
                format!("{}.key_name", field()),
                "is not a key of the mk1 or mk2 key set",
            );
            continue;
        };
        if t.key_id != header.linkage_key_id {
            v.record(
                index,
                format!("{}.key_id", field()),
                "differs from the extract's linkage key id",
            );
            continue;
        }
        let Some(token) = Token::from_slice(t.token) else {
            v.record(index, format!("{}.token", field()), "must be 32 bytes");
            continue;
        };
        if !name.is_multi() && out.iter().any(|(n, _)| *n == name) {
            v.record(
                index,
                format!("{}.key_name", field()),
                format!("{name} appears twice"),
            );
            continue;
        }
        if name.is_multi() && out.iter().any(|(n, x)| *n == name && *x == token) {
            v.record(
                index,
                format!("{}.token", field()),
                format!("the same {name} token appears twice"),
            );
            continue;
        }
        out.push((name, token));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExtractMode, Period};

    fn header() -> ExtractHeader {
        ExtractHeader {
            extract_id: crate::ExtractId::parse("x").unwrap(),
            source: Source::Police,
            period: Period::new(
                NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
            )
            .unwrap(),
            mode: ExtractMode::Snapshot,
            record_count: 1,
            delete_count: 0,
            checksum: [0; 32],
            linkage_key_id: "lk-2026a".into(),
            data_set: crate::DataSet::PoliceViolentCrime,
        }
    }

    fn good() -> RawRecord<'static> {
        RawRecord {
            source_ref: &[9; 32],
            kind: RecordKind::Crime.code(),
            role: PersonRole::Victim.code(),
            event_date: "2026-10-12",
            ward_code: "E05013796",
            lsoa_code: "E01002815",
            category: ViolenceCategory::Gbh.code(),
            tokens: vec![RawToken {
                key_name: "sn_dob",
                key_id: "lk-2026a",
                token: &[1; 32],
            }],
            ..RawRecord::default()
        }
    }

    #[test]
    fn a_good_record_parses() {
        let mut v = Violations::new(10);
        let r = Record::parse(&good(), 0, &header(), &mut v).expect("valid");
        assert_eq!(r.kind, RecordKind::Crime);
        assert_eq!(r.tokens, vec![(KeyName::SnDob, Token([1; 32]))]);
        assert_eq!(r.ward.unwrap().as_str(), "E05013796");
    }

    #[test]
    fn every_problem_is_named_with_its_index() {
        let bad = RawRecord {
            source: Source::Health.code(),
            source_ref: &[1, 2, 3],
            kind: 0,
            role: 42,
            event_date: "2026-11-01",
            event_hour: Some(24),
            ward_code: "E01002815",
            dash_score: Some(28),
            site_code: "rqm01",
            tokens: vec![
                RawToken {
                    key_name: "surname",
                    key_id: "lk-2026a",
                    token: &[1; 32],
                },
                RawToken {
                    key_name: "nhs",
                    key_id: "lk-2025a",
                    token: &[1; 32],
                },
                RawToken {
                    key_name: "pnc",
                    key_id: "lk-2026a",
                    token: &[1; 31],
                },
            ],
            ..good()
        };
        let mut v = Violations::new(50);
        assert!(Record::parse(&bad, 7, &header(), &mut v).is_none());
        let fields: Vec<_> = v.kept().iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "source",
                "source_ref",
                "kind",
                "role",
                "event_date",
                "event_hour",
                "ward_code",
                "risk.dash_score",
                "site_code",
                "tokens[0].key_name",
                "tokens[1].key_id",
                "tokens[2].token"
            ]
        );
        assert!(v.kept().iter().all(|x| x.index == Some(7)));
    }

    #[test]
    fn ed_attendances_carry_no_person_tokens() {
        let ed = RawRecord {
            kind: RecordKind::EdAttendance.code(),
            ..good()
        };
        let mut v = Violations::new(5);
        assert!(Record::parse(&ed, 0, &header(), &mut v).is_none());
        assert_eq!(v.kept()[0].field, "tokens");
    }

    #[test]
    fn a_key_name_may_appear_once() {
        let t = RawToken {
            key_name: "nhs",
            key_id: "lk-2026a",
            token: &[1; 32],
        };
        let dup = RawRecord {
            tokens: vec![t, t],
            ..good()
        };
        let mut v = Violations::new(5);
        assert!(Record::parse(&dup, 0, &header(), &mut v).is_none());
        assert_eq!(v.kept()[0].reason, "nhs appears twice");
    }
}
