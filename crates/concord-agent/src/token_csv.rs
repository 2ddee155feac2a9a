//! Writing the token CSV (`concord tokenise`): the format `concord push
//! --tokens` reads (defined in `crates/concord/src/token_csv.rs`).

use std::io::{Read, Write};

use concord_core::{
    AgeBand, DatePrecision, KeyName, LocationType, PersonRole, RecordKind, RoshLevel, Sex,
    ViolenceCategory, Weapon,
};
use concord_keys::LinkageKey;
use concord_matchkey::RejectionCounts;
use concord_proto::v1;

use crate::{
    AgentError, Mapping, ReadOptions, RowError,
    read::{Reader, Row},
};

/// The fixed columns, in order; `tok_<key>` for every key follows.
pub const TOKEN_CSV_FIXED_COLUMNS: [&str; 20] = [
    "source_ref",
    "kind",
    "role",
    "event_date",
    "date_precision",
    "event_hour",
    "ward_code",
    "lsoa_code",
    "category",
    "weapon",
    "location_type",
    "age_band",
    "sex",
    "rosh",
    "dash_score",
    "marac",
    "flag_domestic_abuse",
    "flag_under_25",
    "flag_exploitation",
    "site_code",
];

/// The header row: the fixed columns, then `tok_<key>` per
/// [`KeyName::ALL`].
pub fn token_csv_header() -> Vec<String> {
    TOKEN_CSV_FIXED_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .chain(KeyName::ALL.iter().map(|k| format!("tok_{k}")))
        .collect()
}

fn name<T: Copy>(code: i32, from: fn(i32) -> Option<T>, show: fn(T) -> &'static str) -> String {
    from(code).map(show).unwrap_or_default().to_owned()
}

/// One record as a token CSV row (vocabulary values by their names, empty
/// when not held; booleans `true` or `false`; tokens in 64 hex, the tokens
/// of a multi-token key joined by `;`).
pub fn token_csv_row(r: &v1::Record) -> Vec<String> {
    let risk = r.risk.unwrap_or_default();
    let flags = r.flags.unwrap_or_default();
    let mut row = vec![
        hex::encode(&r.source_ref),
        name(r.kind, RecordKind::from_code, RecordKind::as_str),
        name(r.role, PersonRole::from_code, PersonRole::as_str),
        r.event_date.clone(),
        name(
            r.event_date_precision,
            DatePrecision::from_code,
            DatePrecision::as_str,
        ),
        r.event_hour.map(|h| h.to_string()).unwrap_or_default(),
        r.ward_code.clone(),
        r.lsoa_code.clone(),
        name(
            r.category,
            ViolenceCategory::from_code,
            ViolenceCategory::as_str,
        ),
        name(r.weapon, Weapon::from_code, Weapon::as_str),
        name(
            r.location_type,
            LocationType::from_code,
            LocationType::as_str,
        ),
        name(r.age_band, AgeBand::from_code, AgeBand::as_str),
        name(r.sex, Sex::from_code, Sex::as_str),
        name(risk.rosh, RoshLevel::from_code, RoshLevel::as_str),
        risk.dash_score.map(|d| d.to_string()).unwrap_or_default(),
        risk.marac.to_string(),
        flags.domestic_abuse.to_string(),
        flags.under_25.to_string(),
        flags.exploitation.to_string(),
        r.site_code.clone(),
    ];
    // A multi-token key's tokens share its cell, separated by `;`.
    for k in KeyName::ALL {
        let cell: Vec<String> = r
            .tokens
            .iter()
            .filter(|t| t.key_name == k.as_str())
            .map(|t| hex::encode(&t.token))
            .collect();
        row.push(cell.join(";"));
    }
    row
}

/// What [`write_token_csv`] did.
#[derive(Debug, Clone, Default)]
pub struct TokenCsvSummary {
    /// Data rows read.
    pub rows: u64,
    /// Rows written to the token CSV.
    pub written: u64,
    /// The first `max_row_errors` row errors (those rows are not written).
    pub rejects: Vec<RowError>,
    pub row_errors: u64,
    pub rejection_counts: RejectionCounts,
    pub untokenised: u64,
    /// Per identifier column: what failed, and the date layouts seen.
    pub column_quality: crate::ColumnQuality,
}

/// Reads an export like [`crate::read_extract`] and writes each good row
/// to `out` as a token CSV row, streaming (memory does not grow with the
/// file). Rows with errors are left out and reported in the summary; the
/// caller decides whether a file with errors is usable.
pub fn write_token_csv(
    input: impl Read,
    out: impl Write,
    mapping: &Mapping,
    key: &LinkageKey,
    opts: &ReadOptions,
) -> Result<TokenCsvSummary, AgentError> {
    let mut r = Reader::new(input, mapping, key, opts)?;
    let mut w = csv::Writer::from_writer(out);
    let write_err = |e: csv::Error| match e.into_kind() {
        csv::ErrorKind::Io(io) => AgentError::Write(io),
        other => AgentError::Write(std::io::Error::other(format!("{other:?}"))),
    };
    w.write_record(token_csv_header()).map_err(write_err)?;
    let mut s = TokenCsvSummary::default();
    while let Some(row) = r.next_row()? {
        match row {
            Row::Record(rec) => {
                w.write_record(token_csv_row(&rec)).map_err(write_err)?;
                s.written += 1;
            }
            Row::Errors(es) => {
                for e in es {
                    s.row_errors += 1;
                    if s.rejects.len() < opts.max_row_errors {
                        s.rejects.push(e);
                    }
                }
            }
        }
    }
    w.flush().map_err(AgentError::Write)?;
    s.rows = r.rows;
    s.rejection_counts = r.counts;
    s.untokenised = r.untokenised;
    s.column_quality = r.column_quality();
    Ok(s)
}
