//! The mapping file: which columns of an agency's export hold what (crate
//! doc, "The mapping file").

use std::{collections::HashMap, fmt, str::FromStr};

use concord_core::{
    AgeBand, DASH_MAX, DatePrecision, GssCode, GssKind, LocationType, PersonRole, RecordKind,
    RoshLevel, Sex, SiteCode, Source, ViolenceCategory, Weapon,
};
use serde::{
    Deserialize, Deserializer,
    de::{self, MapAccess, Visitor},
};

use crate::AgentError;

/// A value a mapped column can produce. `parse` explains a bad value
/// without quoting it.
pub(crate) trait Value: Sized + Clone {
    fn parse(s: &str) -> Result<Self, String>;
}

macro_rules! vocab_values {
    ($($t:ty),+) => {$(
        impl Value for $t {
            fn parse(s: &str) -> Result<Self, String> {
                <$t>::from_str(s)
                    .or_else(|_| <$t>::from_str(&s.to_ascii_lowercase()))
                    .map_err(|_| {
                        let names: Vec<&str> = <$t>::ALL.iter().map(|v| v.as_str()).collect();
                        format!("is not a known {}; use one of {}", <$t>::LABEL, names.join(", "))
                    })
            }
        }
    )+};
}

vocab_values!(
    RecordKind,
    PersonRole,
    DatePrecision,
    ViolenceCategory,
    Weapon,
    LocationType,
    AgeBand,
    Sex,
    RoshLevel
);

impl Value for bool {
    fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Ok(true),
            "false" | "no" | "n" | "0" => Ok(false),
            _ => Err("must be true or false (also yes/no, y/n, 1/0)".into()),
        }
    }
}

fn whole(s: &str, max: u8) -> Result<u8, String> {
    s.parse::<u8>()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| format!("must be a whole number from 0 to {max}"))
}

/// Hour of the event, 0 to 23.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hour(pub u8);

impl Value for Hour {
    fn parse(s: &str) -> Result<Self, String> {
        whole(s, 23).map(Hour)
    }
}

/// DASH risk checklist score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dash(pub u8);

impl Value for Dash {
    fn parse(s: &str) -> Result<Self, String> {
        whole(s, DASH_MAX).map(Dash)
    }
}

/// Age in whole years at the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Age(pub u8);

impl Value for Age {
    fn parse(s: &str) -> Result<Self, String> {
        whole(s, 130).map(Age)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ward(pub GssCode);

impl Value for Ward {
    fn parse(s: &str) -> Result<Self, String> {
        GssCode::parse(&s.to_ascii_uppercase(), GssKind::Ward)
            .map(Ward)
            .map_err(str::to_owned)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lsoa(pub GssCode);

impl Value for Lsoa {
    fn parse(s: &str) -> Result<Self, String> {
        GssCode::parse(&s.to_ascii_uppercase(), GssKind::Lsoa)
            .map(Lsoa)
            .map_err(str::to_owned)
    }
}

impl Value for SiteCode {
    fn parse(s: &str) -> Result<Self, String> {
        SiteCode::parse(&s.to_ascii_uppercase()).map_err(str::to_owned)
    }
}

/// Where a field's value comes from.
#[derive(Debug, Clone)]
pub(crate) enum Spec<T> {
    /// The same for every row (`{ value = "crime" }`).
    Fixed(T),
    /// From a column, optionally through a value map.
    Column(ColumnSpec<T>),
}

#[derive(Debug, Clone)]
pub(crate) struct ColumnSpec<T> {
    /// The column's name in the header.
    pub name: String,
    /// Its position, set when the header is read.
    pub index: usize,
    /// Agency value (trimmed, lower-cased) → Concord value; `None` (an
    /// empty value in the file) means "not held".
    pub map: Option<HashMap<String, Option<T>>>,
    /// The value for a non-empty cell the map does not list; `Some(None)`
    /// (`otherwise = ""`) means "not held".
    pub otherwise: Option<Option<T>>,
    /// A chrono format (event date and hour only).
    pub format: Option<String>,
}

/// A TOML scalar in a value map (`"gbh"`, `true`, `23`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Bool(bool),
    Int(i64),
}

impl Scalar {
    fn text(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
        }
    }
}

/// A field as written: `"Column name"` or a table.
#[derive(Default)]
struct RawField {
    column: Option<String>,
    value: Option<Scalar>,
    map: Option<Vec<(String, Scalar)>>,
    otherwise: Option<Scalar>,
    format: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldTable {
    column: Option<String>,
    value: Option<Scalar>,
    map: Option<toml::Table>,
    otherwise: Option<Scalar>,
    format: Option<String>,
}

impl<'de> Deserialize<'de> for RawField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawField;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a column name, or a table with `column` (and `map`, `otherwise`) or `value`",
                )
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawField, E> {
                Ok(RawField {
                    column: Some(s.to_owned()),
                    ..RawField::default()
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<RawField, A::Error> {
                let t = FieldTable::deserialize(de::value::MapAccessDeserializer::new(m))?;
                let map = match t.map {
                    None => None,
                    Some(table) => {
                        let mut pairs = Vec::with_capacity(table.len());
                        for (k, v) in table {
                            let v = match v {
                                toml::Value::String(s) => Scalar::Text(s),
                                toml::Value::Boolean(b) => Scalar::Bool(b),
                                toml::Value::Integer(i) => Scalar::Int(i),
                                _ => {
                                    return Err(de::Error::custom(format!(
                                        "map entry {k:?} must be a string, true/false or a number"
                                    )));
                                }
                            };
                            pairs.push((k, v));
                        }
                        Some(pairs)
                    }
                };
                Ok(RawField {
                    column: t.column,
                    value: t.value,
                    map,
                    otherwise: t.otherwise,
                    format: t.format,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// The columns holding a person's identifiers. They are read, normalised
/// and hashed inside the agent and nowhere else.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierColumns {
    pub forename: Option<String>,
    pub surname: Option<String>,
    pub date_of_birth: Option<String>,
    pub nhs_number: Option<String>,
    pub pnc_id: Option<String>,
    pub postcode: Option<String>,
    /// The layout of the date-of-birth column, a chrono format such as
    /// `"%m/%d/%Y"` (US order); without it, dates are read in the UK
    /// layouts the normalisation spec accepts.
    pub date_of_birth_format: Option<String>,
}

impl IdentifierColumns {
    /// `(identifier, column)` for every mapped identifier.
    pub fn mapped(&self) -> Vec<(&'static str, &str)> {
        [
            ("forename", &self.forename),
            ("surname", &self.surname),
            ("date_of_birth", &self.date_of_birth),
            ("nhs_number", &self.nhs_number),
            ("pnc_id", &self.pnc_id),
            ("postcode", &self.postcode),
        ]
        .into_iter()
        .filter_map(|(k, c)| c.as_deref().map(|c| (k, c)))
        .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingToml {
    source: String,
    #[serde(default)]
    delimiter: Option<String>,
    record_id: String,
    record_kind: RawField,
    #[serde(default)]
    identifiers: IdentifierColumns,
    fields: FieldsToml,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldsToml {
    event_date: RawField,
    date_precision: Option<RawField>,
    event_hour: Option<RawField>,
    ward_code: Option<RawField>,
    lsoa_code: Option<RawField>,
    category: Option<RawField>,
    weapon: Option<RawField>,
    location_type: Option<RawField>,
    age_band: Option<RawField>,
    age: Option<RawField>,
    #[serde(default)]
    age_band_from_date_of_birth: bool,
    sex: Option<RawField>,
    role: Option<RawField>,
    rosh: Option<RawField>,
    dash_score: Option<RawField>,
    marac: Option<RawField>,
    flag_domestic_abuse: Option<RawField>,
    flag_under_25: Option<RawField>,
    flag_exploitation: Option<RawField>,
    site_code: Option<RawField>,
}

/// A validated mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub(crate) source: Source,
    pub(crate) delimiter: u8,
    pub(crate) record_id: ColumnSpec<()>,
    pub(crate) record_kind: Spec<RecordKind>,
    pub(crate) identifiers: IdentifierColumns,
    pub(crate) identifier_index: [Option<usize>; 6],
    pub(crate) event_date: ColumnSpec<()>,
    pub(crate) date_precision: Option<Spec<DatePrecision>>,
    pub(crate) event_hour: Option<Spec<Hour>>,
    pub(crate) ward: Option<Spec<Ward>>,
    pub(crate) lsoa: Option<Spec<Lsoa>>,
    pub(crate) category: Option<Spec<ViolenceCategory>>,
    pub(crate) weapon: Option<Spec<Weapon>>,
    pub(crate) location_type: Option<Spec<LocationType>>,
    pub(crate) age_band: Option<Spec<AgeBand>>,
    pub(crate) age: Option<Spec<Age>>,
    pub(crate) age_band_from_date_of_birth: bool,
    pub(crate) sex: Option<Spec<Sex>>,
    pub(crate) role: Option<Spec<PersonRole>>,
    pub(crate) rosh: Option<Spec<RoshLevel>>,
    pub(crate) dash_score: Option<Spec<Dash>>,
    pub(crate) marac: Option<Spec<bool>>,
    pub(crate) flag_domestic_abuse: Option<Spec<bool>>,
    pub(crate) flag_under_25: Option<Spec<bool>>,
    pub(crate) flag_exploitation: Option<Spec<bool>>,
    pub(crate) site_code: Option<Spec<SiteCode>>,
}

/// A map value or `otherwise`: a Concord value, or empty for "not held"
/// (an agency value that has no counterpart, such as a kind of abuse that
/// is not violence).
fn target<T: Value>(v: &str) -> Result<Option<T>, String> {
    if v.trim().is_empty() {
        Ok(None)
    } else {
        T::parse(v).map(Some)
    }
}

/// Compiles one field; `path` names it in errors (`fields.weapon`).
fn compile<T: Value>(raw: RawField, path: &str, allow_format: bool) -> Result<Spec<T>, String> {
    if raw.format.is_some() && !allow_format {
        return Err(format!(
            "{path}: `format` is only for event_date and event_hour"
        ));
    }
    match (raw.column, raw.value) {
        (Some(_), Some(_)) => Err(format!("{path}: give either `column` or `value`, not both")),
        (None, None) => Err(format!("{path}: needs `column` or `value`")),
        (None, Some(v)) => {
            if raw.map.is_some() || raw.otherwise.is_some() || raw.format.is_some() {
                return Err(format!(
                    "{path}: `map`, `otherwise` and `format` go with `column`, not `value`"
                ));
            }
            let v = v.text();
            T::parse(&v)
                .map(Spec::Fixed)
                .map_err(|e| format!("{path}.value: {v:?} {e}"))
        }
        (Some(name), None) => {
            if name.trim().is_empty() {
                return Err(format!("{path}: the column name is empty"));
            }
            let map = match raw.map {
                None => None,
                Some(pairs) => {
                    let mut m: HashMap<String, Option<T>> = HashMap::with_capacity(pairs.len());
                    for (k, v) in pairs {
                        let v = v.text();
                        let t =
                            target::<T>(&v).map_err(|e| format!("{path}.map.{k:?}: {v:?} {e}"))?;
                        let key = k.trim().to_lowercase();
                        if m.insert(key, t).is_some() {
                            return Err(format!(
                                "{path}.map: {k:?} is listed twice (keys are compared trimmed and ignoring case)"
                            ));
                        }
                    }
                    Some(m)
                }
            };
            let otherwise = match raw.otherwise {
                None => None,
                Some(_) if map.is_none() => {
                    return Err(format!("{path}: `otherwise` needs a `map`"));
                }
                Some(v) => {
                    let v = v.text();
                    Some(target::<T>(&v).map_err(|e| format!("{path}.otherwise: {v:?} {e}"))?)
                }
            };
            Ok(Spec::Column(ColumnSpec {
                name: name.trim().to_owned(),
                index: usize::MAX,
                map,
                otherwise,
                format: raw.format,
            }))
        }
    }
}

/// The event date: a column, optionally with a chrono `format`.
fn event_date(raw: RawField) -> Result<ColumnSpec<()>, String> {
    let path = "fields.event_date";
    if raw.value.is_some() || raw.map.is_some() || raw.otherwise.is_some() {
        return Err(format!(
            "{path}: a `column` and optionally a `format`; no `value`, `map` or `otherwise`"
        ));
    }
    match raw.column {
        Some(name) if !name.trim().is_empty() => Ok(ColumnSpec {
            name: name.trim().to_owned(),
            index: usize::MAX,
            map: None,
            otherwise: None,
            format: raw.format,
        }),
        _ => Err(format!("{path}: needs a `column`")),
    }
}

fn optional<T: Value>(
    raw: Option<RawField>,
    path: &str,
    allow_format: bool,
) -> Result<Option<Spec<T>>, String> {
    raw.map(|r| compile(r, path, allow_format)).transpose()
}

impl Mapping {
    /// Parses and validates a mapping file; `what` names it in errors (a
    /// path). A mapping holds column names and code lists, never personal
    /// data, so errors may quote it.
    pub fn from_toml(text: &str, what: &str) -> Result<Mapping, AgentError> {
        let err = |reason: String| AgentError::Mapping {
            what: what.to_owned(),
            reason,
        };
        let t: MappingToml = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let source = Source::from_str(&t.source).map_err(|_| {
            let names: Vec<&str> = Source::ALL.iter().map(|s| s.as_str()).collect();
            err(format!(
                "source: {:?} is not a source; use one of {}",
                t.source,
                names.join(", ")
            ))
        })?;
        let delimiter = match t.delimiter.as_deref() {
            None => b',',
            Some(d) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
            Some("\\t") => b'\t',
            Some(d) => return Err(err(format!("delimiter: {d:?} must be one ASCII character"))),
        };
        if t.record_id.trim().is_empty() {
            return Err(err("record_id: the column name is empty".into()));
        }
        let record_id = ColumnSpec {
            name: t.record_id.trim().to_owned(),
            index: usize::MAX,
            map: None,
            otherwise: None,
            format: None,
        };
        let record_kind = compile(t.record_kind, "record_kind", false).map_err(err)?;
        if let Spec::Column(c) = &record_kind
            && (c.map.iter().flat_map(|m| m.values()).any(Option::is_none)
                || c.otherwise == Some(None))
        {
            return Err(err(
                "record_kind: every row needs a record kind, so no map value (nor `otherwise`) \
                 may be empty"
                    .into(),
            ));
        }
        let f = t.fields;
        let event_date = event_date(f.event_date).map_err(err)?;
        let m = Mapping {
            source,
            delimiter,
            record_id,
            record_kind,
            identifier_index: [None; 6],
            event_date,
            date_precision: optional(f.date_precision, "fields.date_precision", false)
                .map_err(err)?,
            event_hour: optional(f.event_hour, "fields.event_hour", true).map_err(err)?,
            ward: optional(f.ward_code, "fields.ward_code", false).map_err(err)?,
            lsoa: optional(f.lsoa_code, "fields.lsoa_code", false).map_err(err)?,
            category: optional(f.category, "fields.category", false).map_err(err)?,
            weapon: optional(f.weapon, "fields.weapon", false).map_err(err)?,
            location_type: optional(f.location_type, "fields.location_type", false).map_err(err)?,
            age_band: optional(f.age_band, "fields.age_band", false).map_err(err)?,
            age: optional(f.age, "fields.age", false).map_err(err)?,
            age_band_from_date_of_birth: f.age_band_from_date_of_birth,
            sex: optional(f.sex, "fields.sex", false).map_err(err)?,
            role: optional(f.role, "fields.role", false).map_err(err)?,
            rosh: optional(f.rosh, "fields.rosh", false).map_err(err)?,
            dash_score: optional(f.dash_score, "fields.dash_score", false).map_err(err)?,
            marac: optional(f.marac, "fields.marac", false).map_err(err)?,
            flag_domestic_abuse: optional(
                f.flag_domestic_abuse,
                "fields.flag_domestic_abuse",
                false,
            )
            .map_err(err)?,
            flag_under_25: optional(f.flag_under_25, "fields.flag_under_25", false).map_err(err)?,
            flag_exploitation: optional(f.flag_exploitation, "fields.flag_exploitation", false)
                .map_err(err)?,
            site_code: optional(f.site_code, "fields.site_code", false).map_err(err)?,
            identifiers: t.identifiers,
        };
        m.check().map_err(err)?;
        Ok(m)
    }

    /// Rules across fields.
    fn check(&self) -> Result<(), String> {
        let age_sources = [
            self.age_band.is_some(),
            self.age.is_some(),
            self.age_band_from_date_of_birth,
        ];
        if age_sources.iter().filter(|x| **x).count() > 1 {
            return Err(
                "fields: give at most one of age_band, age and age_band_from_date_of_birth".into(),
            );
        }
        if let Some(f) = &self.identifiers.date_of_birth_format {
            if self.identifiers.date_of_birth.is_none() {
                return Err(
                    "identifiers.date_of_birth_format needs identifiers.date_of_birth".into(),
                );
            }
            // A usable date format writes a date that it reads back.
            let probe = chrono::NaiveDate::from_ymd_opt(1987, 11, 23).expect("a valid date");
            let mut written = String::new();
            let reads_back =
                std::fmt::Write::write_fmt(&mut written, format_args!("{}", probe.format(f)))
                    .is_ok()
                    && chrono::NaiveDate::parse_from_str(&written, f).ok() == Some(probe);
            if !reads_back {
                return Err(format!(
                    "identifiers.date_of_birth_format {f:?} is not a chrono date format with a \
                     day, month and year, such as \"%m/%d/%Y\" or \"%d/%m/%Y\""
                ));
            }
        }
        if self.age_band_from_date_of_birth && self.identifiers.date_of_birth.is_none() {
            return Err(
                "fields.age_band_from_date_of_birth needs identifiers.date_of_birth".into(),
            );
        }
        if matches!(self.record_kind, Spec::Fixed(RecordKind::EdAttendance)) {
            let ids: Vec<&str> = self
                .identifiers
                .mapped()
                .into_iter()
                .filter(|(k, _)| !(self.age_band_from_date_of_birth && *k == "date_of_birth"))
                .map(|(k, _)| k)
                .collect();
            if !ids.is_empty() {
                return Err(format!(
                    "identifiers: emergency department attendances carry no person tokens \
                     (ISTV); remove {}",
                    ids.join(", ")
                ));
            }
        }
        // An identifier column must never feed an event field, which would
        // send it to the broker.
        let ids = self.identifiers.mapped();
        for (path, column) in self.event_columns() {
            if let Some((id, _)) = ids.iter().find(|(_, c)| *c == column) {
                return Err(format!(
                    "{path}: column {column:?} is mapped as identifiers.{id}; an identifier \
                     column cannot also be an event field"
                ));
            }
        }
        if let Some((id, _)) = ids.iter().find(|(_, c)| *c == self.record_id.name) {
            return Err(format!(
                "record_id: column {:?} is mapped as identifiers.{id}; use the agency's own \
                 record id",
                self.record_id.name
            ));
        }
        Ok(())
    }

    /// `(path, column)` of every column-backed event field.
    pub(crate) fn event_columns(&self) -> Vec<(&'static str, &str)> {
        fn col<T>(s: &Option<Spec<T>>) -> Option<&str> {
            match s {
                Some(Spec::Column(c)) => Some(&c.name),
                _ => None,
            }
        }
        let kind = match &self.record_kind {
            Spec::Column(c) => Some(c.name.as_str()),
            Spec::Fixed(_) => None,
        };
        [
            ("record_kind", kind),
            ("fields.event_date", Some(self.event_date.name.as_str())),
            ("fields.date_precision", col(&self.date_precision)),
            ("fields.event_hour", col(&self.event_hour)),
            ("fields.ward_code", col(&self.ward)),
            ("fields.lsoa_code", col(&self.lsoa)),
            ("fields.category", col(&self.category)),
            ("fields.weapon", col(&self.weapon)),
            ("fields.location_type", col(&self.location_type)),
            ("fields.age_band", col(&self.age_band)),
            ("fields.age", col(&self.age)),
            ("fields.sex", col(&self.sex)),
            ("fields.role", col(&self.role)),
            ("fields.rosh", col(&self.rosh)),
            ("fields.dash_score", col(&self.dash_score)),
            ("fields.marac", col(&self.marac)),
            ("fields.flag_domestic_abuse", col(&self.flag_domestic_abuse)),
            ("fields.flag_under_25", col(&self.flag_under_25)),
            ("fields.flag_exploitation", col(&self.flag_exploitation)),
            ("fields.site_code", col(&self.site_code)),
        ]
        .into_iter()
        .filter_map(|(p, c)| c.map(|c| (p, c)))
        .collect()
    }

    /// The source this file is from.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The identifier columns.
    pub fn identifiers(&self) -> &IdentifierColumns {
        &self.identifiers
    }

    /// A copy with every column's position in `header` filled in; an error
    /// names the first column the header lacks.
    pub(crate) fn bind(&self, header: &[String]) -> Result<Mapping, AgentError> {
        let find = |name: &str, path: &str| -> Result<usize, AgentError> {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| AgentError::MissingColumn {
                    column: name.to_owned(),
                    field: path.to_owned(),
                })
        };
        fn set<T>(
            s: &mut Option<Spec<T>>,
            header: &[String],
            path: &str,
        ) -> Result<(), AgentError> {
            if let Some(Spec::Column(c)) = s {
                c.index = header.iter().position(|h| *h == c.name).ok_or_else(|| {
                    AgentError::MissingColumn {
                        column: c.name.clone(),
                        field: path.to_owned(),
                    }
                })?;
            }
            Ok(())
        }
        let mut m = self.clone();
        m.record_id.index = find(&m.record_id.name, "record_id")?;
        if let Spec::Column(c) = &mut m.record_kind {
            c.index = find(&c.name, "record_kind")?;
        }
        m.event_date.index = find(&m.event_date.name, "fields.event_date")?;
        let ids = self.identifiers.clone();
        let id_cols = [
            (&ids.forename, "identifiers.forename"),
            (&ids.surname, "identifiers.surname"),
            (&ids.date_of_birth, "identifiers.date_of_birth"),
            (&ids.nhs_number, "identifiers.nhs_number"),
            (&ids.pnc_id, "identifiers.pnc_id"),
            (&ids.postcode, "identifiers.postcode"),
        ];
        for (i, (c, path)) in id_cols.iter().enumerate() {
            m.identifier_index[i] = c.as_deref().map(|c| find(c, path)).transpose()?;
        }
        set(&mut m.date_precision, header, "fields.date_precision")?;
        set(&mut m.event_hour, header, "fields.event_hour")?;
        set(&mut m.ward, header, "fields.ward_code")?;
        set(&mut m.lsoa, header, "fields.lsoa_code")?;
        set(&mut m.category, header, "fields.category")?;
        set(&mut m.weapon, header, "fields.weapon")?;
        set(&mut m.location_type, header, "fields.location_type")?;
        set(&mut m.age_band, header, "fields.age_band")?;
        set(&mut m.age, header, "fields.age")?;
        set(&mut m.sex, header, "fields.sex")?;
        set(&mut m.role, header, "fields.role")?;
        set(&mut m.rosh, header, "fields.rosh")?;
        set(&mut m.dash_score, header, "fields.dash_score")?;
        set(&mut m.marac, header, "fields.marac")?;
        set(
            &mut m.flag_domestic_abuse,
            header,
            "fields.flag_domestic_abuse",
        )?;
        set(&mut m.flag_under_25, header, "fields.flag_under_25")?;
        set(&mut m.flag_exploitation, header, "fields.flag_exploitation")?;
        set(&mut m.site_code, header, "fields.site_code")?;
        Ok(m)
    }
}
