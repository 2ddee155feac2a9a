//! The agency side's reader (`concord-agent`) on arbitrary bytes: the TOML
//! mapping (`Mapping::from_toml`) and the CSV export read with it
//! (`read_extract`, and `write_token_csv`, which reads the same way while
//! streaming).
//!
//! Input: the mapping, a NUL byte, then the CSV export (no NUL: the whole
//! input is the mapping and the export is empty). The mapping text is
//! UTF-8 (lossy); the export is given as raw bytes, as a file would be.
//! Besides "no panic", checks:
//!
//! * the counts add up: records ≤ rows, every row without a record has at
//!   least one error, kept errors ≤ `max_row_errors`, `is_clean` exactly
//!   when no row errors;
//! * every `source_ref` and token is 32 bytes, carries the key's id and
//!   the mapping's source, and `source_ref`s are unique;
//! * no error names a line beyond the input's lines;
//! * `write_token_csv` reads the same rows and writes the same records.

#![no_main]

use std::collections::HashSet;

use chrono::NaiveDate;
use concord_agent::{AgentOutput, Mapping, ReadOptions, read_extract, write_token_csv};
use concord_core::Period;
use concord_keys::LinkageKey;
use libfuzzer_sys::fuzz_target;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

fn key() -> &'static LinkageKey {
    static KEY: std::sync::OnceLock<LinkageKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let secret: Vec<u8> = (0u8..32).collect();
        LinkageKey::new("lk-test", &secret).expect("a valid test key")
    })
}

fn check(out: &AgentOutput, mapping: &Mapping, opts: &ReadOptions, csv: &[u8]) {
    let records = out.records.len() as u64;
    assert!(records <= out.rows, "more records than rows");
    assert!(
        out.row_errors >= out.rows - records,
        "a row without a record has an error"
    );
    assert!(out.rejects.len() <= opts.max_row_errors);
    assert!(out.rejects.len() as u64 <= out.row_errors);
    assert_eq!(out.is_clean(), out.row_errors == 0);
    assert!(out.untokenised <= records);
    // Lines are 1-based and count the header; a CSV line ends in \n, \r or
    // \r\n, so there are at most (line breaks + 1) of them.
    let lines = 1 + csv.iter().filter(|&&b| b == b'\n' || b == b'\r').count() as u64;
    for e in &out.rejects {
        assert!(e.line >= 2 && e.line <= lines, "line {} of {lines}", e.line);
    }
    let mut refs = HashSet::new();
    for r in &out.records {
        assert_eq!(r.source, mapping.source().code());
        assert_eq!(r.source_ref.len(), 32);
        assert!(refs.insert(r.source_ref.clone()), "a source_ref repeats");
        for t in &r.tokens {
            assert_eq!(t.token.len(), 32);
            assert_eq!(t.key_id, "lk-test");
        }
        if let Some(p) = &opts.period {
            let d = NaiveDate::parse_from_str(&r.event_date, "%Y-%m-%d").expect("ISO event date");
            assert!(p.contains(d), "event date outside the period");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (mapping, csv) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mapping = String::from_utf8_lossy(mapping);
    let Ok(mapping) = Mapping::from_toml(&mapping, "fuzz.mapping.toml") else {
        return;
    };
    let loose = ReadOptions {
        today: day(2026, 1, 1),
        period: None,
        keep_untokenised_rows: false,
        max_row_errors: 1000,
    };
    let strict = ReadOptions {
        today: day(2026, 1, 1),
        period: Some(Period::new(day(2025, 11, 1), day(2026, 10, 31)).expect("a period")),
        keep_untokenised_rows: true,
        max_row_errors: 3,
    };
    for opts in [&loose, &strict] {
        let Ok(out) = read_extract(csv, &mapping, key(), opts) else {
            assert!(write_token_csv(csv, std::io::sink(), &mapping, key(), opts).is_err());
            continue;
        };
        check(&out, &mapping, opts, csv);
        let mut written = Vec::new();
        let summary = write_token_csv(csv, &mut written, &mapping, key(), opts)
            .expect("write_token_csv reads what read_extract read");
        assert_eq!(summary.rows, out.rows);
        assert_eq!(summary.written, out.records.len() as u64);
        assert_eq!(summary.row_errors, out.row_errors);
        assert_eq!(summary.untokenised, out.untokenised);
        assert_eq!(summary.rejects, out.rejects);
    }
});
