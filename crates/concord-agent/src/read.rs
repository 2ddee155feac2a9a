//! Reading an agency export row by row (crate doc, "Reading an export").

use std::{
    collections::{HashMap, VecDeque},
    fmt,
    io::Read,
};

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use concord_core::{AgeBand, Period, RecordKind, Token};
use concord_keys::LinkageKey;
use concord_matchkey::{Identifiers, RejectionCounts, normalise_on, parse_date, tokens};
use concord_proto::v1;

use crate::{
    AgentError,
    mapping::{Age, ColumnSpec, Mapping, Spec, Value},
    quality::{ColumnQuality, DateLayouts},
};

/// How to read an export.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The day of normalisation: dates of birth after it are rejected.
    pub today: NaiveDate,
    /// When set, every event date must lie in it (the extract's period).
    pub period: Option<Period>,
    /// Keep person-level rows that yield no match-key token (as records
    /// without tokens) instead of reporting them as row errors.
    pub keep_untokenised_rows: bool,
    /// How many row errors to keep (all are counted).
    pub max_row_errors: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            today: concord_matchkey::today(),
            period: None,
            keep_untokenised_rows: false,
            max_row_errors: 1000,
        }
    }
}

/// A problem with one row: its line (1-based; the header is line 1), the
/// column (the export's header name; empty for the row as a whole) and
/// why. Never holds a cell's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub column: String,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column.is_empty() {
            write!(f, "line {}: {}", self.line, self.reason)
        } else {
            write!(
                f,
                "line {}, column {:?}: {}",
                self.line, self.column, self.reason
            )
        }
    }
}

/// What reading an export produced.
#[derive(Debug, Clone, Default)]
pub struct AgentOutput {
    /// One record per good row, in file order.
    pub records: Vec<v1::Record>,
    /// The first `max_row_errors` row errors, in file order.
    pub rejects: Vec<RowError>,
    /// How many row errors there were in all.
    pub row_errors: u64,
    /// Identifiers dropped as placeholders or invalid, by reason.
    pub rejection_counts: RejectionCounts,
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// Records kept without any token (`keep_untokenised_rows`).
    pub untokenised: u64,
    /// Per identifier column: what failed, and the date layouts seen.
    pub column_quality: ColumnQuality,
}

impl AgentOutput {
    /// True when every row became a record.
    pub fn is_clean(&self) -> bool {
        self.row_errors == 0
    }
}

/// The keyed source reference: `HMAC(K_link, "ref:" ‖ source ‖ ":" ‖ id)`.
pub fn source_ref(key: &LinkageKey, source: concord_core::Source, id: &str) -> Token {
    let mut msg = Vec::with_capacity(8 + source.as_str().len() + id.len());
    msg.extend_from_slice(b"ref:");
    msg.extend_from_slice(source.as_str().as_bytes());
    msg.push(b':');
    msg.extend_from_slice(id.as_bytes());
    key.mac(&msg)
}

/// The age band of an age in whole years.
pub(crate) fn band(age: u32) -> AgeBand {
    match age {
        0..=9 => AgeBand::A0To9,
        10..=17 => AgeBand::A10To17,
        18..=24 => AgeBand::A18To24,
        25..=34 => AgeBand::A25To34,
        35..=49 => AgeBand::A35To49,
        _ => AgeBand::A50Plus,
    }
}

/// Completed years from `dob` to `on`; `None` if `on` is earlier.
fn age_on(dob: NaiveDate, on: NaiveDate) -> Option<u32> {
    if on < dob {
        return None;
    }
    let mut years = on.year() - dob.year();
    if (on.month(), on.day()) < (dob.month(), dob.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// What one row became.
pub(crate) enum Row {
    Record(v1::Record),
    Errors(Vec<RowError>),
}

/// The input of the CSV reader, noting where lines end.
///
/// The `csv` crate ends a row at `\n`, `\r\n` or a lone `\r`, but the line
/// of its positions counts `\n`s only and, after `\r\n`, is taken before
/// the `\n`: every row of a Windows export would be named a line too
/// early, and every row of a file with classic Mac line ends (Excel for
/// Mac's "CSV (Macintosh)") line 1. So lines are counted here, from the
/// bytes: a line end starts at every `\r` and at every `\n` not after a
/// `\r`. Only the ends the reader has read ahead are kept (memory stays
/// bounded by its buffer).
struct LineEnds<R> {
    inner: R,
    /// Bytes read so far.
    offset: u64,
    /// The last byte read was `\r`.
    after_cr: bool,
    /// Where the line ends not yet passed by a row start.
    ahead: VecDeque<u64>,
    /// Line ends before the current row.
    passed: u64,
}

impl<R: Read> LineEnds<R> {
    fn new(inner: R) -> Self {
        LineEnds {
            inner,
            offset: 0,
            after_cr: false,
            ahead: VecDeque::new(),
            passed: 0,
        }
    }

    /// The 1-based line of byte `at` (which only grows from call to call).
    fn line_of(&mut self, at: u64) -> u64 {
        while self.ahead.front().is_some_and(|&o| o < at) {
            self.ahead.pop_front();
            self.passed += 1;
        }
        1 + self.passed
    }
}

impl<R: Read> Read for LineEnds<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\r' || (b == b'\n' && !self.after_cr) {
                self.ahead.push_back(self.offset);
            }
            self.after_cr = b == b'\r';
            self.offset += 1;
        }
        Ok(n)
    }
}

/// Reads an export row by row.
pub(crate) struct Reader<'a, R: Read> {
    csv: csv::Reader<LineEnds<R>>,
    m: Mapping,
    key: &'a LinkageKey,
    opts: &'a ReadOptions,
    header_len: usize,
    seen: HashMap<Token, u64>,
    record: csv::ByteRecord,
    pub(crate) counts: RejectionCounts,
    pub(crate) rows: u64,
    pub(crate) untokenised: u64,
    pub(crate) dob_layouts: DateLayouts,
}

const NOT_UTF8: &str = "is not valid UTF-8 (export the file as UTF-8)";

impl<R: Read> Reader<'_, R> {
    /// The identifier columns' tally so far.
    pub(crate) fn column_quality(&self) -> ColumnQuality {
        ColumnQuality {
            rows: self.rows,
            counts: self.counts,
            dob_layouts: self.dob_layouts,
        }
    }
}

impl<'a, R: Read> Reader<'a, R> {
    pub(crate) fn new(
        input: R,
        mapping: &Mapping,
        key: &'a LinkageKey,
        opts: &'a ReadOptions,
    ) -> Result<Self, AgentError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .delimiter(mapping.delimiter)
            .from_reader(LineEnds::new(input));
        let raw = match csv.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => return Err(csv_fatal(e)),
        };
        if raw.iter().all(|c| c.is_empty()) {
            return Err(AgentError::Header(
                "the file is empty; it needs a header row naming its columns".into(),
            ));
        }
        let mut header = Vec::with_capacity(raw.len());
        for (i, c) in raw.iter().enumerate() {
            let c = std::str::from_utf8(c).map_err(|_| {
                AgentError::Header(format!("column {} of the header row {NOT_UTF8}", i + 1))
            })?;
            let c = if i == 0 {
                c.trim_start_matches('\u{feff}')
            } else {
                c
            };
            header.push(c.trim().to_owned());
        }
        let m = mapping.bind(&header)?;
        for (path, column) in m
            .event_columns()
            .into_iter()
            .chain(m.identifiers.mapped())
            .chain([("record_id", m.record_id.name.as_str())])
        {
            if header.iter().filter(|h| *h == column).count() > 1 {
                return Err(AgentError::Header(format!(
                    "column {column:?} (mapped as {path}) appears more than once in the header"
                )));
            }
        }
        Ok(Reader {
            csv,
            header_len: header.len(),
            m,
            key,
            opts,
            seen: HashMap::new(),
            record: csv::ByteRecord::new(),
            counts: RejectionCounts::new(),
            rows: 0,
            untokenised: 0,
            dob_layouts: DateLayouts::default(),
        })
    }

    /// The next row, or `None` at the end of the file.
    pub(crate) fn next_row(&mut self) -> Result<Option<Row>, AgentError> {
        let before = self.csv.position().clone();
        match self.csv.read_byte_record(&mut self.record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                self.rows += 1;
                let at = self.record.position().cloned().unwrap_or(before);
                let line = self.line(&at);
                if self.record.len() != self.header_len {
                    return Ok(Some(Row::Errors(vec![RowError {
                        line,
                        column: String::new(),
                        reason: format!(
                            "has {} cell(s) but the header has {}",
                            self.record.len(),
                            self.header_len
                        ),
                    }])));
                }
                Ok(Some(self.row(line)))
            }
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(_) => Err(csv_fatal(e)),
                _ => {
                    self.rows += 1;
                    let at = e.position().cloned().unwrap_or(before);
                    let line = self.line(&at);
                    Ok(Some(Row::Errors(vec![RowError {
                        line,
                        column: String::new(),
                        reason: "is not valid CSV".into(),
                    }])))
                }
            },
        }
    }

    /// The 1-based line of a position, counting every kind of line end.
    fn line(&mut self, p: &csv::Position) -> u64 {
        self.csv.get_mut().line_of(p.byte())
    }

    fn row(&mut self, line: u64) -> Row {
        let mut c = Cells {
            record: &self.record,
            line,
            errors: Vec::new(),
        };
        let m = &self.m;

        let id = c.text(&m.record_id);
        let source_ref = match id {
            Some("") => {
                c.error(
                    &m.record_id.name,
                    "is empty; every row needs the agency's record id",
                );
                None
            }
            Some(id) => Some(source_ref(self.key, m.source, id)),
            None => None,
        };
        let before = c.errors.len();
        let kind = c.value(Some(&m.record_kind), "record_kind");
        if kind.is_none()
            && c.errors.len() == before
            && let Spec::Column(col) = &m.record_kind
        {
            c.error(&col.name, "is empty; every row needs a record kind");
        }
        let event_date = c.event_date(&m.event_date, self.opts.period.as_ref());
        let date_precision = c.value(m.date_precision.as_ref(), "fields.date_precision");
        let event_hour = c.hour(m.event_hour.as_ref());
        let ward = c.value(m.ward.as_ref(), "fields.ward_code");
        let lsoa = c.value(m.lsoa.as_ref(), "fields.lsoa_code");
        let category = c.value(m.category.as_ref(), "fields.category");
        let weapon = c.value(m.weapon.as_ref(), "fields.weapon");
        let location_type = c.value(m.location_type.as_ref(), "fields.location_type");
        let mut age_band = c.value(m.age_band.as_ref(), "fields.age_band");
        if let Some(Age(a)) = c.value(m.age.as_ref(), "fields.age") {
            age_band = Some(band(u32::from(a)));
        }
        let sex = c.value(m.sex.as_ref(), "fields.sex");
        let role = c.value(m.role.as_ref(), "fields.role");
        let rosh = c.value(m.rosh.as_ref(), "fields.rosh");
        let dash = c.value(m.dash_score.as_ref(), "fields.dash_score");
        let marac = c.value(m.marac.as_ref(), "fields.marac").unwrap_or(false);
        let da = c
            .value(m.flag_domestic_abuse.as_ref(), "fields.flag_domestic_abuse")
            .unwrap_or(false);
        let u25 = c
            .value(m.flag_under_25.as_ref(), "fields.flag_under_25")
            .unwrap_or(false);
        let ex = c
            .value(m.flag_exploitation.as_ref(), "fields.flag_exploitation")
            .unwrap_or(false);
        let site = c.value(m.site_code.as_ref(), "fields.site_code");

        // Identifiers: read, normalised and hashed here, and nowhere else.
        let person = kind != Some(RecordKind::EdAttendance);
        let mut cells: [Option<&str>; 6] = [None; 6];
        for (i, index) in m.identifier_index.iter().enumerate() {
            // An ED attendance carries no person tokens; its date of birth
            // may still give the age band.
            let wanted = person || (i == 2 && m.age_band_from_date_of_birth);
            if let (Some(index), true) = (index, wanted) {
                cells[i] = c.identifier(*index, &m.identifiers, i);
            }
        }
        // The layouts the date-of-birth values read in are tallied (never
        // the values); a mapped layout turns them into ISO dates first.
        let mut dob = cells[2];
        let dob_iso = match (dob, &m.identifiers.date_of_birth_format) {
            (Some(v), Some(f)) => {
                let iso = NaiveDate::parse_from_str(v.trim(), f)
                    .ok()
                    .map(|d| d.format("%Y-%m-%d").to_string());
                if iso.is_none() {
                    self.counts.add(concord_matchkey::Rejection::DobInvalid);
                }
                iso
            }
            _ => None,
        };
        if let Some(v) = dob {
            self.dob_layouts.add(v);
        }
        if m.identifiers.date_of_birth_format.is_some() {
            dob = dob_iso.as_deref();
        }
        let ids = Identifiers {
            forename: cells[0],
            surname: cells[1],
            date_of_birth: dob,
            nhs_number: cells[3],
            pnc_id: cells[4],
            postcode: cells[5],
        };
        let (n, rejections) = normalise_on(&ids, self.opts.today);
        self.counts.extend(rejections.iter().copied());
        let toks = if person {
            tokens(&n, self.key)
        } else {
            Vec::new()
        };
        if m.age_band_from_date_of_birth
            && let (Some(dob), Some(on)) = (n.date_of_birth(), event_date)
        {
            match age_on(dob, on) {
                Some(years) => age_band = Some(band(years)),
                None => c.error(
                    &m.event_date.name,
                    "is before the date of birth, so no age band can be given",
                ),
            }
        }
        let mapped = m.identifiers.mapped();
        let mut untokenised = false;
        if person && toks.is_empty() && !mapped.is_empty() {
            if self.opts.keep_untokenised_rows {
                untokenised = true;
            } else {
                let columns: Vec<&str> = mapped.iter().map(|(_, col)| *col).collect();
                c.error(
                    &columns.join(", "),
                    &format!(
                        "no match-key token: a key needs an NHS number, a PNC id or two of \
                         forename, surname, date of birth and postcode, and this row has too \
                         few usable ones ({} rejected as placeholder or invalid)",
                        rejections.len()
                    ),
                );
            }
        }
        if let Some(r) = source_ref
            && c.errors.is_empty()
            && let Some(first) = self.seen.get(&r).copied()
        {
            c.error(
                &m.record_id.name,
                &format!("repeats the record id of line {first}"),
            );
        }
        if !c.errors.is_empty() {
            return Row::Errors(c.errors);
        }
        let (Some(source_ref), Some(kind), Some(event_date)) = (source_ref, kind, event_date)
        else {
            unreachable!("a row without errors has a record id, a kind and an event date");
        };
        self.seen.insert(source_ref, line);
        if untokenised {
            self.untokenised += 1;
        }
        let risk = (rosh.is_some() || dash.is_some() || marac).then(|| v1::Risk {
            rosh: rosh.map_or(0, |r: concord_core::RoshLevel| r.code()),
            dash_score: dash.map(|d: crate::mapping::Dash| u32::from(d.0)),
            marac,
        });
        let flags = (da || u25 || ex).then_some(v1::Flags {
            domestic_abuse: da,
            under_25: u25,
            exploitation: ex,
        });
        Row::Record(v1::Record {
            source: m.source.code(),
            source_ref: source_ref.as_bytes().to_vec(),
            kind: kind.code(),
            role: role.map_or(0, |r: concord_core::PersonRole| r.code()),
            event_date: event_date.to_string(),
            event_date_precision: date_precision
                .map_or(0, |p: concord_core::DatePrecision| p.code()),
            event_hour: event_hour.map(u32::from),
            ward_code: ward.map(|w| w.0.as_str().to_owned()).unwrap_or_default(),
            lsoa_code: lsoa.map(|l| l.0.as_str().to_owned()).unwrap_or_default(),
            category: category.map_or(0, |v: concord_core::ViolenceCategory| v.code()),
            weapon: weapon.map_or(0, |v: concord_core::Weapon| v.code()),
            location_type: location_type.map_or(0, |v: concord_core::LocationType| v.code()),
            age_band: age_band.map_or(0, AgeBand::code),
            sex: sex.map_or(0, |v: concord_core::Sex| v.code()),
            risk,
            flags,
            site_code: site
                .map(|s: concord_core::SiteCode| s.as_str().to_owned())
                .unwrap_or_default(),
            tokens: toks
                .into_iter()
                .map(|(k, t)| v1::MatchKeyToken {
                    key_name: k.as_str().to_owned(),
                    key_id: self.key.id().to_owned(),
                    token: t.as_bytes().to_vec(),
                })
                .collect(),
        })
    }
}

fn csv_fatal(e: csv::Error) -> AgentError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => AgentError::Io(io),
        _ => AgentError::Header("the header row is not valid CSV".into()),
    }
}

/// One row's cells, and the errors found in it.
struct Cells<'r> {
    record: &'r csv::ByteRecord,
    line: u64,
    errors: Vec<RowError>,
}

impl<'r> Cells<'r> {
    /// Records an error; one per column and row (a date-time column read
    /// for both the event date and the hour is reported once).
    fn error(&mut self, column: &str, reason: &str) {
        if self.errors.iter().any(|e| e.column == column) {
            return;
        }
        self.errors.push(RowError {
            line: self.line,
            column: column.to_owned(),
            reason: reason.to_owned(),
        });
    }

    /// The trimmed cell at `index`; an error if it is not UTF-8.
    fn cell(&mut self, index: usize, column: &str) -> Option<&'r str> {
        let bytes = self.record.get(index).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(s) => Some(s.trim()),
            Err(_) => {
                self.error(column, NOT_UTF8);
                None
            }
        }
    }

    fn text(&mut self, col: &ColumnSpec<()>) -> Option<&'r str> {
        self.cell(col.index, &col.name)
    }

    fn identifier(
        &mut self,
        index: usize,
        ids: &crate::IdentifierColumns,
        which: usize,
    ) -> Option<&'r str> {
        let column = [
            &ids.forename,
            &ids.surname,
            &ids.date_of_birth,
            &ids.nhs_number,
            &ids.pnc_id,
            &ids.postcode,
        ][which]
            .as_deref()
            .unwrap_or_default();
        self.cell(index, column).filter(|s| !s.is_empty())
    }

    /// A field's value for this row; `None` when not held (or on error).
    fn value<T: Value>(&mut self, spec: Option<&Spec<T>>, path: &str) -> Option<T> {
        let c = match spec? {
            Spec::Fixed(v) => return Some(v.clone()),
            Spec::Column(c) => c,
        };
        let s = self.cell(c.index, &c.name)?;
        if let Some(map) = &c.map {
            if let Some(v) = map.get(&s.to_lowercase()) {
                return v.clone();
            }
            if s.is_empty() {
                return None;
            }
            if let Some(v) = &c.otherwise {
                return v.clone();
            }
            self.error(
                &c.name,
                &format!(
                    "holds a value that {path}.map does not list (add it to the map, or set \
                     {path}.otherwise)"
                ),
            );
            return None;
        }
        if s.is_empty() {
            return None;
        }
        match T::parse(s) {
            Ok(v) => Some(v),
            Err(reason) => {
                self.error(&c.name, &reason);
                None
            }
        }
    }

    fn event_date(&mut self, col: &ColumnSpec<()>, period: Option<&Period>) -> Option<NaiveDate> {
        let s = self.cell(col.index, &col.name)?;
        if s.is_empty() {
            self.error(&col.name, "is empty; every row needs an event date");
            return None;
        }
        let d = match &col.format {
            Some(f) => NaiveDate::parse_from_str(s, f)
                .ok()
                .or_else(|| NaiveDateTime::parse_from_str(s, f).ok().map(|dt| dt.date())),
            None => parse_date(s),
        };
        let Some(d) = d else {
            let reason = match &col.format {
                Some(f) => format!("is not a date in the mapping's format {f:?}"),
                None => "is not a date (YYYY-MM-DD, DD/MM/YYYY, DD-MM-YYYY, DD.MM.YYYY, \
                         YYYYMMDD or DD-MON-YYYY; or set fields.event_date.format)"
                    .to_owned(),
            };
            self.error(&col.name, &reason);
            return None;
        };
        if let Some(p) = period
            && !p.contains(d)
        {
            self.error(
                &col.name,
                &format!("lies outside the extract's period {} to {}", p.start, p.end),
            );
            return None;
        }
        Some(d)
    }

    /// The event hour: a number 0 to 23, or with a `format`, the hour of a
    /// date-time or time.
    fn hour(&mut self, spec: Option<&Spec<crate::mapping::Hour>>) -> Option<u8> {
        if let Some(Spec::Column(c)) = spec
            && let Some(f) = &c.format
        {
            let s = self.cell(c.index, &c.name)?;
            if s.is_empty() {
                return None;
            }
            let h = NaiveDateTime::parse_from_str(s, f)
                .map(|dt| dt.hour())
                .or_else(|_| NaiveTime::parse_from_str(s, f).map(|t| t.hour()));
            return match h {
                Ok(h) => Some(h as u8),
                Err(_) => {
                    self.error(
                        &c.name,
                        &format!("is not a time in the mapping's format {f:?}"),
                    );
                    None
                }
            };
        }
        self.value(spec, "fields.event_hour").map(|h| h.0)
    }
}

/// Reads a whole export into records; see the crate doc.
pub fn read_extract(
    csv: impl Read,
    mapping: &Mapping,
    key: &LinkageKey,
    opts: &ReadOptions,
) -> Result<AgentOutput, AgentError> {
    let mut r = Reader::new(csv, mapping, key, opts)?;
    let mut out = AgentOutput::default();
    while let Some(row) = r.next_row()? {
        match row {
            Row::Record(rec) => out.records.push(rec),
            Row::Errors(es) => {
                for e in es {
                    out.row_errors += 1;
                    if out.rejects.len() < opts.max_row_errors {
                        out.rejects.push(e);
                    }
                }
            }
        }
    }
    out.rejection_counts = r.counts;
    out.rows = r.rows;
    out.untokenised = r.untokenised;
    out.column_quality = r.column_quality();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn ages_count_completed_years_and_band() {
        assert_eq!(age_on(d(2000, 3, 5), d(2025, 3, 4)), Some(24));
        assert_eq!(age_on(d(2000, 3, 5), d(2025, 3, 5)), Some(25));
        assert_eq!(age_on(d(2000, 2, 29), d(2001, 2, 28)), Some(0));
        assert_eq!(age_on(d(2000, 3, 5), d(2000, 3, 4)), None);
        let bands: Vec<&str> = [0, 9, 10, 17, 18, 24, 25, 34, 35, 49, 50, 101]
            .iter()
            .map(|a| band(*a).as_str())
            .collect();
        assert_eq!(
            bands,
            [
                "0-9", "0-9", "10-17", "10-17", "18-24", "18-24", "25-34", "25-34", "35-49",
                "35-49", "50+", "50+"
            ]
        );
    }

    #[test]
    fn source_refs_are_keyed_by_source_and_id() {
        let k = LinkageKey::new("lk-test", &[1; 32]).unwrap();
        let a = source_ref(&k, concord_core::Source::Police, "R1");
        assert_eq!(a, k.mac(b"ref:police:R1"));
        assert_ne!(a, source_ref(&k, concord_core::Source::Health, "R1"));
        let other = LinkageKey::new("lk-test", &[2; 32]).unwrap();
        assert_ne!(a, source_ref(&other, concord_core::Source::Police, "R1"));
    }
}
