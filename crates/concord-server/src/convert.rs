//! Wire types to domain types and back, by hand. Proto types stop here.

use concord_core::{
    ExtractHeader, Flags, RawHeader, RawRecord, RawToken, Receipt, Record, Violations,
};
use concord_proto::v1;

/// Validates a wire header; `None` exactly when it pushed a violation.
pub fn header(h: &v1::ExtractHeader, violations: &mut Violations) -> Option<ExtractHeader> {
    ExtractHeader::parse(
        &RawHeader {
            extract_id: &h.extract_id,
            source: h.source,
            period_start: &h.period_start,
            period_end: &h.period_end,
            mode: h.mode,
            schema_version: h.schema_version,
            record_count: h.record_count,
            delete_count: h.delete_count,
            checksum: &h.checksum,
            linkage_key_id: &h.linkage_key_id,
            data_set: &h.data_set,
        },
        violations,
    )
}

/// Validates record `index` of an extract against its header; `None`
/// exactly when it pushed a violation.
pub fn record(
    r: &v1::Record,
    index: u64,
    header: &ExtractHeader,
    violations: &mut Violations,
) -> Option<Record> {
    let risk = r.risk.unwrap_or_default();
    let flags = r.flags.unwrap_or_default();
    let raw = RawRecord {
        source: r.source,
        source_ref: &r.source_ref,
        kind: r.kind,
        role: r.role,
        event_date: &r.event_date,
        date_precision: r.event_date_precision,
        event_hour: r.event_hour,
        ward_code: &r.ward_code,
        lsoa_code: &r.lsoa_code,
        category: r.category,
        weapon: r.weapon,
        location_type: r.location_type,
        age_band: r.age_band,
        sex: r.sex,
        rosh: risk.rosh,
        dash_score: risk.dash_score,
        marac: risk.marac,
        flags: Flags {
            domestic_abuse: flags.domestic_abuse,
            under_25: flags.under_25,
            exploitation: flags.exploitation,
        },
        site_code: &r.site_code,
        tokens: r
            .tokens
            .iter()
            .map(|t| RawToken {
                key_name: &t.key_name,
                key_id: &t.key_id,
                token: &t.token,
            })
            .collect(),
    };
    Record::parse(&raw, index, header, violations)
}

/// The wire form of a receipt.
pub fn receipt(r: &Receipt) -> v1::ExtractReceipt {
    v1::ExtractReceipt {
        extract_id: r.extract_id.clone(),
        source: r.source.code(),
        mode: r.mode.code(),
        period_start: r.period.start.to_string(),
        period_end: r.period.end.to_string(),
        records_received: r.records_received,
        records_stored: r.records_stored,
        records_deleted: r.records_deleted,
        records_replaced: r.records_replaced,
        checksum: r.checksum.to_vec(),
        stored_digest: r.stored_digest.to_vec(),
        policy_digest: r.policy_digest.clone(),
        policy_revision: r.policy_revision.clone(),
        broker_key_id: r.broker_key_id.clone(),
        committed_at: r
            .committed_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        data_set: r.data_set.as_str().to_owned(),
        records_held: r.records_held,
    }
}

/// A caller-supplied free-text field of a request: what a caller typed
/// there may be anything, even an identifier, and the audit log is
/// append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerText {
    /// A purpose (`safeguarding_children`): a policy name.
    Purpose,
    /// A case reference in the partnership's format (`MASH-2026-0042`).
    CaseRef,
}

/// Longest purpose or case reference the audit log records as given.
pub const MAX_AUDITED_TEXT: usize = 64;

/// What the audit log may record of a caller-supplied field: the value
/// when it has the field's shape (a purpose `[a-z0-9_]`, a case reference
/// `MASH|MARAC|ASC|EMG-YYYY-NNNN[NN]`, each at most
/// [`MAX_AUDITED_TEXT`] characters), else a bounded marker that says only
/// that it did not. The one place every event builder cleans such a field
/// (lookups, aggregates, link reviews), so nothing a caller typed enters
/// the log unchecked. `None` (not given) stays `None`.
pub fn audited_text(field: CallerText, value: Option<&str>) -> Option<String> {
    let value = value?;
    let ok = value.len() <= MAX_AUDITED_TEXT
        && match field {
            CallerText::Purpose => {
                !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            }
            CallerText::CaseRef => {
                let mut parts = value.split('-');
                let digits = |s: &str, lo: usize, hi: usize| {
                    (lo..=hi).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
                };
                matches!(parts.next(), Some("MASH" | "MARAC" | "ASC" | "EMG"))
                    && parts.next().is_some_and(|y| digits(y, 4, 4))
                    && parts.next().is_some_and(|n| digits(n, 4, 6))
                    && parts.next().is_none()
            }
        };
    Some(if ok {
        value.to_owned()
    } else {
        match field {
            CallerText::Purpose => "(malformed purpose)",
            CallerText::CaseRef => "(not in the partnership's format)",
        }
        .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use concord_core::{
        AgeBand, DatePrecision, KeyName, LocationType, PersonRole, RecordKind, RoshLevel, Sex,
        Source, ViolenceCategory, Weapon,
    };

    /// The domain codes are the wire enum numbers: check every value by name.
    fn wire_name(prefix: &str, name: &str) -> String {
        format!(
            "{prefix}_{}",
            name.to_uppercase().replace('-', "_").replace('+', "_PLUS")
        )
    }

    macro_rules! same_codes {
        ($domain:ty, $wire:ty, $prefix:literal) => {
            for v in <$domain>::ALL {
                let wire = <$wire>::try_from(v.code()).expect("code exists on the wire");
                assert_eq!(
                    wire.as_str_name(),
                    wire_name($prefix, v.as_str()),
                    "{}",
                    <$domain>::LABEL
                );
            }
        };
    }

    #[test]
    fn only_field_shaped_caller_text_reaches_the_audit_log() {
        use super::{CallerText::*, audited_text};
        let clean = |f, v: &str| audited_text(f, Some(v)).unwrap();
        assert_eq!(audited_text(Purpose, None), None);
        assert_eq!(
            clean(Purpose, "safeguarding_children"),
            "safeguarding_children"
        );
        for bad in ["Jane Doe 01/02/2010", "", "marac ", &"a".repeat(65)] {
            assert_eq!(clean(Purpose, bad), "(malformed purpose)", "{bad}");
        }
        assert_eq!(clean(Purpose, &"a".repeat(64)), "a".repeat(64));
        for good in ["MASH-2026-0042", "MARAC-2026-123456", "EMG-2026-0001"] {
            assert_eq!(clean(CaseRef, good), good);
        }
        for bad in [
            "JANE-DOE-2010",
            "MASH-26-0042",
            "MASH-2026-42",
            "MASH-2026-0042-1",
            "MASH-2026-1234567",
            "",
        ] {
            assert_eq!(
                clean(CaseRef, bad),
                "(not in the partnership's format)",
                "{bad}"
            );
        }
        // A long free text leaves a marker no longer than the marker.
        let long = format!("{} 9990000018", "x".repeat(100_000));
        assert_eq!(clean(Purpose, &long), "(malformed purpose)");
    }

    #[test]
    fn domain_codes_are_the_wire_numbers() {
        use concord_proto::v1;
        same_codes!(Source, v1::Source, "SOURCE");
        same_codes!(RecordKind, v1::RecordKind, "RECORD_KIND");
        same_codes!(PersonRole, v1::PersonRole, "PERSON_ROLE");
        same_codes!(DatePrecision, v1::DatePrecision, "DATE_PRECISION");
        same_codes!(ViolenceCategory, v1::ViolenceCategory, "VIOLENCE_CATEGORY");
        same_codes!(Weapon, v1::Weapon, "WEAPON");
        same_codes!(LocationType, v1::LocationType, "LOCATION_TYPE");
        same_codes!(AgeBand, v1::AgeBand, "AGE_BAND");
        same_codes!(Sex, v1::Sex, "SEX");
        same_codes!(RoshLevel, v1::RoshLevel, "ROSH_LEVEL");
        assert_eq!(KeyName::ALL.len(), 25);
    }
}
