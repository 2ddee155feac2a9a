//! The token CSV format: an already tokenised extract, as `concord push
//! --tokens FILE` reads it.
//!
//! * UTF-8, comma-separated, with a **header row** (required). Cells are
//!   trimmed. Columns may come in any order; every column but `source_ref`,
//!   `kind` and `event_date` is optional, and an empty cell means "not held".
//!   A column not listed here is an error naming it; so is a column given
//!   twice.
//! * One row per record, in this vocabulary (the stable snake_case names
//!   of `concord-core`'s enums):
//!
//! | column | value |
//! |---|---|
//! | `source_ref` | the agency's record id keyed-hashed with the linkage key: 64 hex characters; unique in the file |
//! | `kind` | crime, ed_attendance, supervision, referral, case, asb_case, marac_case, safeguarding_concern, youth_offence, service_contact, housing_incident |
//! | `role` | victim, suspect, offender, subject, patient |
//! | `event_date` | `YYYY-MM-DD`, within the extract's period |
//! | `date_precision` | day, month, year |
//! | `event_hour` | 0 to 23 |
//! | `ward_code` | ONS ward code, `E05` and six digits |
//! | `lsoa_code` | ONS LSOA code, `E01` and six digits |
//! | `category` | homicide, gbh, abh, rape, assault_by_penetration, sexual_assault, robbery, threats_to_kill, domestic_abuse, exploitation, weapon_possession, other_violence |
//! | `weapon` | knife_sharp, firearm, corrosive, blunt, body, other, none |
//! | `location_type` | dwelling, street, licensed_premises, transport, school, park, shop, workplace, other |
//! | `age_band` | 0-9, 10-17, 18-24, 25-34, 35-49, 50+ |
//! | `sex` | female, male, other |
//! | `rosh` | low, medium, high, very_high |
//! | `dash_score` | 0 to 27 |
//! | `marac`, `flag_domestic_abuse`, `flag_under_25`, `flag_exploitation` | true, false, 1, 0 or empty (false) |
//! | `site_code` | ODS site code of an emergency department, 3 to 8 of A-Z and 0-9 |
//! | `tok_<key>` for each match key ([`KeyName::ALL`], in key-code order): the thirteen of the `mk1` key set (`tok_nhs`, `tok_pnc`, `tok_sn_dob`, `tok_fn_dob`, `tok_fn_sn`, `tok_sn_pc`, `tok_fn_pc`, `tok_dob_pc`, `tok_phsn_dob`, `tok_phfn_sn`, `tok_sn_dobswap`, `tok_names_dob`, `tok_fi_dob`), then those `mk2` added ([`KeyName::spec`]; `concord push --help` lists them) | the match-key token, 64 hex characters, or empty; a multi-token key ([`KeyName::is_multi`]: `mk2`'s deletion-form and surname-part keys, one token per form of the field) holds its tokens in one cell joined by `;`; `ed_attendance` rows carry none |
//!
//! A file of `mk1` tokens simply has only `mk1`'s columns: every token
//! column is optional.
//!
//! The whole file is parsed before anything is sent. Every problem is
//! reported as `line N, column C: reason` (the CSV line the row starts
//! on), and a reason never quotes the cell, which may hold a token.

use std::{collections::HashMap, fmt, io, path::Path, str::FromStr};

use chrono::NaiveDate;
use concord_core::{
    AgeBand, DASH_MAX, DatePrecision, Flags, GssCode, GssKind, KeyName, LocationType, Period,
    PersonRole, Record, RecordKind, Risk, RoshLevel, Sex, SiteCode, Token, ViolenceCategory,
    Weapon,
};

/// The short form of the format, for `concord push --help`. The token
/// columns are listed from [`KeyName`], so the help follows the key set.
pub fn format_help() -> String {
    let list = |keep: fn(&KeyName) -> bool, prefix: &str| -> String {
        let names: Vec<String> = KeyName::ALL
            .iter()
            .filter(|k| keep(k))
            .map(|k| format!("{prefix}{k}"))
            .collect();
        names.join(", ")
    };
    let keys = format!(
        "and tok_<key> (64 hex) for each match key: mk1's {}, and those mk2 added, {}. The \
         multi-token keys ({}) hold several tokens in one cell, joined by `;`.",
        list(|k| k.spec() == "mk1", "tok_"),
        list(|k| k.spec() == "mk2", "tok_"),
        list(|k| k.is_multi(), ""),
    );
    format!(
        "\
Token CSV format (--tokens): a header row, then one row per record; columns in any order,
cells trimmed, empty means not held. Required: source_ref (64 hex), kind, event_date
(YYYY-MM-DD, within the period). Optional: role, date_precision, event_hour (0-23),
ward_code (E05…), lsoa_code (E01…), category, weapon, location_type, age_band, sex, rosh,
dash_score (0-27), marac, flag_domestic_abuse, flag_under_25, flag_exploitation
(true/false/1/0), site_code,
{}
Vocabulary values are concord's snake_case names (e.g. kind crime, category gbh, age_band
18-24). Unknown columns are refused; any bad row is reported as `line N, column C: reason`
and nothing is sent.",
        wrap(&keys, 90)
    )
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split(' ') {
        if line > 0 && line + 1 + word.chars().count() > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.chars().count();
    }
    out
}

/// One parsed row: the record, and the CSV line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub record: Record,
}

/// A problem with one row (or one cell of it). Never holds a cell's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub line: u64,
    /// The column name; `None` when the row as a whole is wrong.
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {column}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// Why a token file cannot be used.
#[derive(Debug)]
pub enum TokenCsvError {
    /// The file could not be read.
    Io(io::Error),
    /// The header row is missing or names an unknown, repeated or no
    /// required column.
    Header(String),
    /// Rows with problems: every one of them, in file order.
    Rows(Vec<RowProblem>),
}

impl fmt::Display for TokenCsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenCsvError::Io(e) => write!(f, "cannot read the token file: {e}"),
            TokenCsvError::Header(problem) => write!(f, "header row: {problem}"),
            TokenCsvError::Rows(problems) => {
                write!(f, "{} problem(s) in the token file", problems.len())
            }
        }
    }
}

impl std::error::Error for TokenCsvError {}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    SourceRef,
    Kind,
    Role,
    EventDate,
    DatePrecision,
    EventHour,
    WardCode,
    LsoaCode,
    Category,
    Weapon,
    LocationType,
    AgeBand,
    Sex,
    Rosh,
    DashScore,
    Marac,
    FlagDomesticAbuse,
    FlagUnder25,
    FlagExploitation,
    SiteCode,
    Token(KeyName),
}

/// The fixed columns by name (the token columns are `tok_<key>`).
const FIXED: &[(&str, Column)] = &[
    ("source_ref", Column::SourceRef),
    ("kind", Column::Kind),
    ("role", Column::Role),
    ("event_date", Column::EventDate),
    ("date_precision", Column::DatePrecision),
    ("event_hour", Column::EventHour),
    ("ward_code", Column::WardCode),
    ("lsoa_code", Column::LsoaCode),
    ("category", Column::Category),
    ("weapon", Column::Weapon),
    ("location_type", Column::LocationType),
    ("age_band", Column::AgeBand),
    ("sex", Column::Sex),
    ("rosh", Column::Rosh),
    ("dash_score", Column::DashScore),
    ("marac", Column::Marac),
    ("flag_domestic_abuse", Column::FlagDomesticAbuse),
    ("flag_under_25", Column::FlagUnder25),
    ("flag_exploitation", Column::FlagExploitation),
    ("site_code", Column::SiteCode),
];

const REQUIRED: [Column; 3] = [Column::SourceRef, Column::Kind, Column::EventDate];

const TOKEN_PREFIX: &str = "tok_";

impl Column {
    fn parse(name: &str) -> Option<Column> {
        if let Some(key) = name.strip_prefix(TOKEN_PREFIX) {
            return key.parse::<KeyName>().ok().map(Column::Token);
        }
        FIXED.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    fn name(self) -> String {
        match self {
            Column::Token(key) => format!("{TOKEN_PREFIX}{key}"),
            fixed => FIXED
                .iter()
                .find(|(_, c)| *c == fixed)
                .map(|(n, _)| (*n).to_owned())
                .expect("every fixed column is named"),
        }
    }
}

/// Reads and parses a token file; see [`parse`].
pub fn read(path: &Path, period: Option<&Period>) -> Result<Vec<Row>, TokenCsvError> {
    let file = std::fs::File::open(path).map_err(TokenCsvError::Io)?;
    parse(io::BufReader::new(file), period)
}

/// Parses a whole token file. With `period`, every event date must lie in
/// it. Returns every row, or every problem.
pub fn parse(input: impl io::Read, period: Option<&Period>) -> Result<Vec<Row>, TokenCsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(input);
    let columns = header(&mut reader)?;

    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut seen: HashMap<Token, u64> = HashMap::new();
    let mut raw = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut raw) {
            Ok(false) => break,
            Ok(true) => {
                let line = raw.position().map_or(line, csv::Position::line);
                // `row` returns a record only if the row had no problem.
                if let Some(record) = row(&columns, &raw, line, period, &mut problems) {
                    match seen.insert(record.source_ref, line) {
                        Some(first) => problems.push(RowProblem {
                            line,
                            column: Some("source_ref".to_owned()),
                            reason: format!("repeats the source reference of line {first}"),
                        }),
                        None => rows.push(Row { line, record }),
                    }
                }
            }
            Err(e) => problems.push(csv_problem(&e, &columns, line)?),
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(TokenCsvError::Rows(problems))
    }
}

fn header(reader: &mut csv::Reader<impl io::Read>) -> Result<Vec<Column>, TokenCsvError> {
    let names = match reader.headers() {
        Ok(h) if h.iter().any(|c| !c.is_empty()) => h.clone(),
        Ok(_) => {
            return Err(TokenCsvError::Header(
                "the file is empty; it needs a header row such as \
                 source_ref,kind,event_date,..."
                    .into(),
            ));
        }
        Err(e) if e.is_io_error() => match e.into_kind() {
            csv::ErrorKind::Io(e) => return Err(TokenCsvError::Io(e)),
            _ => unreachable!("checked is_io_error"),
        },
        Err(_) => return Err(TokenCsvError::Header("is not valid UTF-8 CSV".into())),
    };
    let mut columns: Vec<Column> = Vec::with_capacity(names.len());
    for name in &names {
        let name = name.trim_start_matches('\u{feff}');
        let Some(column) = Column::parse(name) else {
            return Err(TokenCsvError::Header(format!(
                "unknown column {name:?}; the columns are {}, and tok_<key> for each mk1 or mk2 key ({})",
                FIXED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
                KeyName::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if columns.contains(&column) {
            return Err(TokenCsvError::Header(format!(
                "column {name:?} appears more than once"
            )));
        }
        columns.push(column);
    }
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|c| !columns.contains(c))
        .map(|c| c.name())
        .collect();
    if !missing.is_empty() {
        return Err(TokenCsvError::Header(format!(
            "required column(s) missing: {}",
            missing.join(", ")
        )));
    }
    Ok(columns)
}

/// A csv-level error on a row, as a problem; an I/O error ends the parse.
fn csv_problem(e: &csv::Error, columns: &[Column], line: u64) -> Result<RowProblem, TokenCsvError> {
    let line = e.position().map_or(line, csv::Position::line);
    match e.kind() {
        csv::ErrorKind::Io(io) => Err(TokenCsvError::Io(io::Error::new(io.kind(), io.to_string()))),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => Ok(RowProblem {
            line,
            column: None,
            reason: format!("has {len} cell(s) but the header has {expected_len}"),
        }),
        csv::ErrorKind::Utf8 { err, .. } => Ok(RowProblem {
            line,
            column: Some(
                columns
                    .get(err.field())
                    .map_or_else(|| format!("#{}", err.field() + 1), |c| c.name()),
            ),
            reason: "is not valid UTF-8".into(),
        }),
        _ => Ok(RowProblem {
            line,
            column: None,
            reason: "is not valid CSV".into(),
        }),
    }
}

/// The fields of a record as its cells are read.
#[derive(Default)]
struct Parts {
    source_ref: Option<Token>,
    kind: Option<RecordKind>,
    role: Option<PersonRole>,
    event_date: Option<NaiveDate>,
    date_precision: Option<DatePrecision>,
    event_hour: Option<u8>,
    ward: Option<GssCode>,
    lsoa: Option<GssCode>,
    category: Option<ViolenceCategory>,
    weapon: Option<Weapon>,
    location_type: Option<LocationType>,
    age_band: Option<AgeBand>,
    sex: Option<Sex>,
    risk: Risk,
    flags: Flags,
    site_code: Option<SiteCode>,
    tokens: Vec<(KeyName, Token)>,
}

/// Parses one row; pushes a problem for every bad cell.
fn row(
    columns: &[Column],
    raw: &csv::StringRecord,
    line: u64,
    period: Option<&Period>,
    problems: &mut Vec<RowProblem>,
) -> Option<Record> {
    let before = problems.len();
    let mut p = Parts::default();
    for (column, cell) in columns.iter().zip(raw.iter()) {
        let column = *column;
        if cell.is_empty() {
            if REQUIRED.contains(&column) {
                problems.push(RowProblem {
                    line,
                    column: Some(column.name()),
                    reason: "is required".into(),
                });
            }
            continue;
        }
        if let Err(reason) = cell_into(&mut p, column, cell, period) {
            problems.push(RowProblem {
                line,
                column: Some(column.name()),
                reason,
            });
        }
    }
    if p.kind == Some(RecordKind::EdAttendance)
        && let Some((key, _)) = p.tokens.first()
    {
        problems.push(RowProblem {
            line,
            column: Some(Column::Token(*key).name()),
            reason: "must be empty: emergency department attendances carry no person tokens (ISTV)"
                .into(),
        });
    }
    if problems.len() != before {
        return None;
    }
    p.tokens.sort_by_key(|(key, _)| *key);
    Some(Record {
        source_ref: p.source_ref?,
        kind: p.kind?,
        role: p.role,
        event_date: p.event_date?,
        date_precision: p.date_precision,
        event_hour: p.event_hour,
        ward: p.ward,
        lsoa: p.lsoa,
        category: p.category,
        weapon: p.weapon,
        location_type: p.location_type,
        age_band: p.age_band,
        sex: p.sex,
        risk: p.risk,
        flags: p.flags,
        site_code: p.site_code,
        tokens: p.tokens,
    })
}

/// Parses one non-empty cell into `p`; the error is the reason, which never
/// quotes the cell.
fn cell_into(
    p: &mut Parts,
    column: Column,
    cell: &str,
    period: Option<&Period>,
) -> Result<(), String> {
    match column {
        Column::SourceRef => p.source_ref = Some(token(cell)?),
        Column::Kind => p.kind = Some(vocab(cell, RecordKind::ALL, RecordKind::LABEL)?),
        Column::Role => p.role = Some(vocab(cell, PersonRole::ALL, PersonRole::LABEL)?),
        Column::EventDate => {
            let date = NaiveDate::parse_from_str(cell, "%Y-%m-%d")
                .ok()
                .filter(|_| cell.len() == 10)
                .ok_or("is not an ISO 8601 date (YYYY-MM-DD)")?;
            if let Some(period) = period
                && !period.contains(date)
            {
                return Err(format!(
                    "lies outside the extract's period {} to {}",
                    period.start, period.end
                ));
            }
            p.event_date = Some(date);
        }
        Column::DatePrecision => {
            p.date_precision = Some(vocab(cell, DatePrecision::ALL, DatePrecision::LABEL)?);
        }
        Column::EventHour => p.event_hour = Some(number(cell, 23)?),
        Column::WardCode => p.ward = Some(GssCode::parse(cell, GssKind::Ward)?),
        Column::LsoaCode => p.lsoa = Some(GssCode::parse(cell, GssKind::Lsoa)?),
        Column::Category => {
            p.category = Some(vocab(cell, ViolenceCategory::ALL, ViolenceCategory::LABEL)?);
        }
        Column::Weapon => p.weapon = Some(vocab(cell, Weapon::ALL, Weapon::LABEL)?),
        Column::LocationType => {
            p.location_type = Some(vocab(cell, LocationType::ALL, LocationType::LABEL)?);
        }
        Column::AgeBand => p.age_band = Some(vocab(cell, AgeBand::ALL, AgeBand::LABEL)?),
        Column::Sex => p.sex = Some(vocab(cell, Sex::ALL, Sex::LABEL)?),
        Column::Rosh => p.risk.rosh = Some(vocab(cell, RoshLevel::ALL, RoshLevel::LABEL)?),
        Column::DashScore => p.risk.dash_score = Some(number(cell, DASH_MAX)?),
        Column::Marac => p.risk.marac = flag(cell)?,
        Column::FlagDomesticAbuse => p.flags.domestic_abuse = flag(cell)?,
        Column::FlagUnder25 => p.flags.under_25 = flag(cell)?,
        Column::FlagExploitation => p.flags.exploitation = flag(cell)?,
        Column::SiteCode => p.site_code = Some(SiteCode::parse(cell)?),
        // A multi-token key (mk2's deletion forms, surname parts) holds its
        // tokens in one cell, separated by `;`.
        Column::Token(key) if key.is_multi() => {
            for t in cell.split(';') {
                p.tokens.push((key, token(t)?));
            }
        }
        Column::Token(key) => p.tokens.push((key, token(cell)?)),
    }
    Ok(())
}

fn token(cell: &str) -> Result<Token, String> {
    let mut bytes = [0u8; 32];
    if cell.len() != 64 || hex::decode_to_slice(cell, &mut bytes).is_err() {
        return Err("must be 64 hex characters (a 32-byte keyed hash)".into());
    }
    Ok(Token(bytes))
}

fn vocab<T: FromStr + fmt::Display>(cell: &str, all: &[T], label: &str) -> Result<T, String> {
    cell.parse::<T>().map_err(|_| {
        let names: Vec<String> = all.iter().map(ToString::to_string).collect();
        format!("is not a known {label}; use one of {}", names.join(", "))
    })
}

fn number(cell: &str, max: u8) -> Result<u8, String> {
    cell.parse::<u8>()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| format!("must be a whole number from 0 to {max}"))
}

fn flag(cell: &str) -> Result<bool, String> {
    match cell {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("must be true, false, 1, 0 or empty".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "0c7a1f9e2b3d4c5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c";
    const T2: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f";

    fn october() -> Period {
        Period::new(
            NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
        )
        .unwrap()
    }

    fn problems(text: &str) -> Vec<RowProblem> {
        match parse(text.as_bytes(), Some(&october())) {
            Err(TokenCsvError::Rows(p)) => p,
            other => panic!("expected row problems, got {other:?}"),
        }
    }

    fn header_error(text: &str) -> String {
        match parse(text.as_bytes(), None) {
            Err(TokenCsvError::Header(p)) => p,
            other => panic!("expected a header error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_file_parses_into_records() {
        let text = format!(
            "kind,source_ref,event_date,ward_code,category,age_band,flag_under_25,tok_fn_sn,tok_sn_dob,dash_score,marac\n\
             crime,{T1},2026-10-03,E05009391,gbh,18-24,true,{T2},{T1},12,1\n\
             crime,{T2},2026-10-31,,,,,,,,\n"
        );
        let rows = parse(text.as_bytes(), Some(&october())).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].line, 3);
        let r = &rows[0].record;
        assert_eq!(r.kind, RecordKind::Crime);
        assert_eq!(r.ward.as_ref().unwrap().as_str(), "E05009391");
        assert_eq!(r.category, Some(ViolenceCategory::Gbh));
        assert_eq!(r.age_band, Some(AgeBand::A18To24));
        assert!(r.flags.under_25);
        assert_eq!(r.risk.dash_score, Some(12));
        assert!(r.risk.marac);
        // Tokens in key order, whatever the column order.
        assert_eq!(
            r.tokens.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            vec![KeyName::SnDob, KeyName::FnSn]
        );
        assert_eq!(hex::encode(r.tokens[1].1.as_bytes()), T2);
        let r = &rows[1].record;
        assert!(r.tokens.is_empty() && r.ward.is_none() && r.category.is_none());
    }

    #[test]
    fn the_example_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/examples/police-2026-10.tokens.csv");
        let rows = read(&path, Some(&october())).unwrap();
        assert_eq!(rows.len(), 5);
        for row in &rows {
            let ward = row.record.ward.as_ref().unwrap().as_str();
            assert!(("E05009388"..="E05009405").contains(&ward), "{ward}");
            let keys: Vec<KeyName> = row.record.tokens.iter().map(|(k, _)| *k).collect();
            assert_eq!(keys, vec![KeyName::SnDob, KeyName::FnDob, KeyName::FnSn]);
        }
    }

    #[test]
    fn every_bad_row_is_named_by_line_and_column_without_its_value() {
        let text = format!(
            "source_ref,kind,event_date,ward_code,sex,tok_nhs\n\
             {T1},crime,2026-10-03,E05009391,female,\n\
             SECRETREF,burglary,2026-10-03,SECRETWARD,female,\n\
             {T2},crime,2026-11-02,E05009391,SECRETSEX,SECRETTOKEN\n\
             {T1},crime,2026-10-04,,,\n\
             {T2},ed_attendance,2026-10-05,,,{T1}\n\
             ,crime,,,\n"
        );
        let found = problems(&text);
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "line 3, column source_ref: must be 64 hex characters (a 32-byte keyed hash)",
                "line 3, column kind: is not a known record kind; use one of crime, ed_attendance, \
                 supervision, referral, case, asb_case, marac_case, safeguarding_concern, \
                 youth_offence, service_contact, housing_incident",
                "line 3, column ward_code: is not an ONS ward code (E05 and six digits)",
                "line 4, column event_date: lies outside the extract's period 2026-10-01 to 2026-10-31",
                "line 4, column sex: is not a known sex; use one of female, male, other",
                "line 4, column tok_nhs: must be 64 hex characters (a 32-byte keyed hash)",
                "line 5, column source_ref: repeats the source reference of line 2",
                "line 6, column tok_nhs: must be empty: emergency department attendances carry no \
                 person tokens (ISTV)",
                "line 7: has 5 cell(s) but the header has 6",
            ]
        );
        for s in &shown {
            assert!(!s.contains("SECRET"), "a cell value leaked: {s}");
        }
        let text = format!("source_ref,kind,event_date\n,crime,\n{T1},crime,2026-10-01\n");
        let shown: Vec<String> = problems(&text).iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "line 2, column source_ref: is required",
                "line 2, column event_date: is required"
            ]
        );
    }

    #[test]
    fn unknown_repeated_and_missing_columns_are_refused() {
        let err = header_error("source_ref,kind,event_date,name\n");
        assert!(err.starts_with("unknown column \"name\""), "{err}");
        let err = header_error("source_ref,kind,event_date,tok_surname\n");
        assert!(err.starts_with("unknown column \"tok_surname\""), "{err}");
        let err = header_error("source_ref,kind,event_date,kind\n");
        assert_eq!(err, "column \"kind\" appears more than once");
        let err = header_error("source_ref,ward_code\n");
        assert_eq!(err, "required column(s) missing: kind, event_date");
        let err = header_error("");
        assert!(err.starts_with("the file is empty"), "{err}");
    }

    #[test]
    fn a_multi_token_key_holds_its_tokens_in_one_cell() {
        let text = format!(
            "source_ref,kind,event_date,tok_snd_dob,tok_sn_dob\n\
             {T1},crime,2026-10-03,{T1};{T2},{T2}\n"
        );
        let rows = parse(text.as_bytes(), Some(&october())).unwrap();
        let tokens: Vec<(KeyName, String)> = rows[0]
            .record
            .tokens
            .iter()
            .map(|(k, t)| (*k, hex::encode(t.as_bytes())))
            .collect();
        assert_eq!(
            tokens,
            [
                (KeyName::SnDob, T2.to_owned()),
                (KeyName::SnDelDob, T1.to_owned()),
                (KeyName::SnDelDob, T2.to_owned()),
            ]
        );
        // A single-token key takes one token; a bad part is named, not shown.
        let text = format!(
            "source_ref,kind,event_date,tok_sn_dob,tok_snd_dob\n\
             {T1},crime,2026-10-03,{T1};{T2},{T1};SECRET\n"
        );
        let shown: Vec<String> = problems(&text).iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "line 2, column tok_sn_dob: must be 64 hex characters (a 32-byte keyed hash)",
                "line 2, column tok_snd_dob: must be 64 hex characters (a 32-byte keyed hash)",
            ]
        );
    }

    #[test]
    fn the_help_names_every_token_column_and_the_multi_token_keys() {
        let help = format_help();
        assert!(help.lines().all(|l| l.chars().count() <= 90), "{help}");
        fn words(text: &str) -> Vec<&str> {
            text.split(|c: char| c.is_whitespace() || "(),".contains(c))
                .map(|w| w.trim_end_matches('.'))
                .filter(|w| !w.is_empty())
                .collect()
        }
        let (before, multi) = help.split_once("multi-token keys").unwrap();
        let (words, multi) = (words(&help), words(multi));
        for k in KeyName::ALL {
            let column = format!("tok_{k}");
            assert!(words.contains(&column.as_str()), "{column}");
            let in_multi = multi.contains(&k.as_str());
            assert_eq!(in_multi, k.is_multi(), "{k}");
        }
        assert!(before.contains("mk1's tok_nhs, tok_pnc,"), "{help}");
        // Every token column the help names parses as a column.
        for w in words
            .iter()
            .filter(|w| w.starts_with("tok_") && **w != "tok_<key>")
        {
            assert!(matches!(Column::parse(w), Some(Column::Token(_))), "{w}");
        }
    }

    #[test]
    fn a_header_only_file_is_an_empty_extract() {
        let rows = parse("source_ref,kind,event_date\n".as_bytes(), None).unwrap();
        assert!(rows.is_empty());
    }
}
