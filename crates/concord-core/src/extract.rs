//! The extract header (DESIGN §3).

use std::fmt;

use chrono::NaiveDate;

use crate::{DataSet, Source, Violations};

/// The only record schema version this broker accepts.
pub const SCHEMA_VERSION: u32 = 1;

/// An extract id, unique per source: `[A-Za-z0-9._-]`, 1 to 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtractId(String);

impl ExtractId {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if s.is_empty() {
            return Err("is empty");
        }
        if s.len() > 128 {
            return Err("is longer than 128 characters");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err("may contain only A-Z, a-z, 0-9, '.', '_' and '-'");
        }
        Ok(ExtractId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExtractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A reporting period: inclusive dates, at most 366 days long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    pub const MAX_DAYS: i64 = 366;

    pub fn new(start: NaiveDate, end: NaiveDate) -> Result<Self, &'static str> {
        if end < start {
            return Err("ends before it starts");
        }
        if (end - start).num_days() >= Self::MAX_DAYS {
            return Err("is longer than 366 days");
        }
        Ok(Period { start, end })
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        self.start <= d && d <= self.end
    }
}

/// Parses an ISO 8601 calendar date (`YYYY-MM-DD`).
pub(crate) fn parse_date(s: &str) -> Result<NaiveDate, &'static str> {
    if s.len() != 10 {
        return Err("is not an ISO 8601 date (YYYY-MM-DD)");
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| "is not an ISO 8601 date (YYYY-MM-DD)")
}

/// `snapshot` replaces the source's records for the period; `delta` upserts
/// and deletes by source reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractMode {
    Snapshot,
    Delta,
}

impl ExtractMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ExtractMode::Snapshot => "snapshot",
            ExtractMode::Delta => "delta",
        }
    }

    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(ExtractMode::Snapshot),
            2 => Some(ExtractMode::Delta),
            _ => None,
        }
    }

    pub const fn code(self) -> i32 {
        match self {
            ExtractMode::Snapshot => 1,
            ExtractMode::Delta => 2,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "snapshot" => Some(ExtractMode::Snapshot),
            "delta" => Some(ExtractMode::Delta),
            _ => None,
        }
    }
}

/// A validated extract header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractHeader {
    pub extract_id: ExtractId,
    pub source: Source,
    pub period: Period,
    pub mode: ExtractMode,
    pub record_count: u64,
    pub delete_count: u64,
    pub checksum: [u8; 32],
    pub linkage_key_id: String,
    /// The data set the extract carries: a snapshot's scope.
    pub data_set: DataSet,
}

/// The raw parts of a header as they arrive, before validation.
#[derive(Debug, Clone, Default)]
pub struct RawHeader<'a> {
    pub extract_id: &'a str,
    pub source: i32,
    pub period_start: &'a str,
    pub period_end: &'a str,
    pub mode: i32,
    pub schema_version: u32,
    pub record_count: u64,
    pub delete_count: u64,
    pub checksum: &'a [u8],
    pub linkage_key_id: &'a str,
    /// Empty: the source's only data set.
    pub data_set: &'a str,
}

/// Whether `s` is a key id: `[a-z0-9][a-z0-9-]{0,31}`.
pub fn is_key_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl ExtractHeader {
    /// Validates every part of a header, naming each problem.
    pub fn parse(raw: &RawHeader<'_>, violations: &mut Violations) -> Option<ExtractHeader> {
        let before = violations.total();
        let extract_id = ExtractId::parse(raw.extract_id)
            .map_err(|e| violations.push(None, "header.extract_id", e))
            .ok();
        let source = Source::from_code(raw.source);
        if source.is_none() {
            violations.push(None, "header.source", "is missing or not a known source");
        }
        let start = parse_date(raw.period_start)
            .map_err(|e| violations.push(None, "header.period_start", e))
            .ok();
        let end = parse_date(raw.period_end)
            .map_err(|e| violations.push(None, "header.period_end", e))
            .ok();
        let period = match (start, end) {
            (Some(s), Some(e)) => Period::new(s, e)
                .map_err(|why| violations.push(None, "header.period", why))
                .ok(),
            _ => None,
        };
        let mode = ExtractMode::from_code(raw.mode);
        if mode.is_none() {
            violations.push(None, "header.mode", "must be snapshot or delta");
        }
        if raw.schema_version != SCHEMA_VERSION {
            violations.push(
                None,
                "header.schema_version",
                format!(
                    "is {}, this broker accepts {SCHEMA_VERSION}",
                    raw.schema_version
                ),
            );
        }
        if mode == Some(ExtractMode::Snapshot) && raw.delete_count != 0 {
            violations.push(None, "header.delete_count", "must be 0 in snapshot mode");
        }
        let checksum: Option<[u8; 32]> = raw.checksum.try_into().ok();
        if checksum.is_none() {
            violations.push(None, "header.checksum", "must be a 32-byte SHA-256 digest");
        }
        if !is_key_id(raw.linkage_key_id) {
            violations.push(
                None,
                "header.linkage_key_id",
                "must be a key id such as lk-2026a",
            );
        }
        let data_set = source.and_then(|s| {
            DataSet::for_header(s, raw.data_set)
                .map_err(|why| violations.push(None, "header.data_set", why))
                .ok()
        });
        if violations.total() != before {
            return None;
        }
        Some(ExtractHeader {
            extract_id: extract_id?,
            source: source?,
            period: period?,
            mode: mode?,
            record_count: raw.record_count,
            delete_count: raw.delete_count,
            checksum: checksum?,
            linkage_key_id: raw.linkage_key_id.to_owned(),
            data_set: data_set?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawHeader<'static> {
        RawHeader {
            extract_id: "police-2026-10-01",
            source: 1,
            period_start: "2026-10-01",
            period_end: "2026-10-31",
            mode: 1,
            schema_version: 1,
            record_count: 10,
            delete_count: 0,
            checksum: &[7; 32],
            linkage_key_id: "lk-2026a",
            data_set: "",
        }
    }

    #[test]
    fn a_good_header_parses() {
        let mut v = Violations::new(10);
        let h = ExtractHeader::parse(&raw(), &mut v).expect("valid");
        assert!(v.is_empty());
        assert_eq!(h.source, Source::Police);
        assert_eq!(h.period.end.to_string(), "2026-10-31");
    }

    #[test]
    fn every_bad_part_is_named() {
        let bad = RawHeader {
            extract_id: "a b",
            source: 0,
            period_start: "2026-10-31",
            period_end: "2026-10-01",
            mode: 9,
            schema_version: 2,
            checksum: &[1, 2],
            linkage_key_id: "",
            ..raw()
        };
        let mut v = Violations::new(20);
        assert!(ExtractHeader::parse(&bad, &mut v).is_none());
        let fields: Vec<_> = v.kept().iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "header.extract_id",
                "header.source",
                "header.period",
                "header.mode",
                "header.schema_version",
                "header.checksum",
                "header.linkage_key_id"
            ]
        );
    }
}
