//! Reading a person's records for a lookup: one query, the records by
//! primary key (the ids the linker holds for the person, of the sources a
//! policy allows), selecting only the columns some allowed source may
//! disclose. Every value comes back as text, the same on both
//! databases (dates ISO 8601, flags `true`/`false`, numbers in decimal).

use concord_core::Source;

use crate::{Store, StoreError};

/// The record fields a lookup may disclose; each is the `records` column of
/// the same name. Nothing else (no token, reference or key id) can be
/// selected by a lookup.
pub const LOOKUP_FIELDS: [&str; 19] = [
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

/// The canonical name of a disclosable field, or `None` if `name` is not
/// one.
pub fn lookup_field(name: &str) -> Option<&'static str> {
    LOOKUP_FIELDS.iter().copied().find(|f| *f == name)
}

/// The SQL expression reading field `f` as text on both databases.
pub(crate) fn expr(f: &'static str) -> String {
    match f {
        "event_date" | "event_hour" | "dash_score" => format!("CAST(r.{f} AS TEXT)"),
        "marac" | "flag_domestic_abuse" | "flag_under_25" | "flag_exploitation" => {
            format!("CASE WHEN r.{f} THEN 'true' ELSE 'false' END")
        }
        _ => format!("r.{f}"),
    }
}

/// One record of a person, projected to the fields its source may disclose
/// (in [`LOOKUP_FIELDS`] order). Fields the record does not hold are left
/// out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    pub source: Source,
    pub fields: Vec<(&'static str, String)>,
}

impl Store {
    /// The records `records` names (id and the source the linker holds
    /// for it) that come from the sources in `allowed`, each with only the
    /// fields allowed for its source, in source order, then by event date.
    /// `allowed` names fields by [`lookup_field`]; anything else is
    /// ignored. A record's stored source is checked again against
    /// `allowed` before any of its fields is returned. One query, by
    /// primary key, shared with the other lookups reading at the same
    /// moment (`record_reads.rs`).
    pub async fn person_records(
        &self,
        records: &[(u64, Source)],
        allowed: &[(Source, Vec<&'static str>)],
    ) -> Result<Vec<PersonRecord>, StoreError> {
        let allowed: Vec<(Source, Vec<&'static str>)> = allowed
            .iter()
            .map(|(s, fs)| {
                let fs = fs.iter().filter_map(|f| lookup_field(f)).collect();
                (*s, fs)
            })
            .collect();
        let ids: Vec<i64> = records
            .iter()
            .filter(|(_, s)| allowed.iter().any(|(a, _)| a == s))
            .map(|&(id, _)| {
                i64::try_from(id)
                    .map_err(|_| StoreError::Corrupt("a record id is out of range".into()))
            })
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // The columns: every field some allowed source may disclose.
        let columns: Vec<&'static str> = LOOKUP_FIELDS
            .iter()
            .copied()
            .filter(|f| allowed.iter().any(|(_, fs)| fs.contains(f)))
            .collect();
        let rows = self.read_records(ids, columns.clone()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for (_, source, values) in rows {
            let source: Source = source
                .parse()
                .map_err(|_| StoreError::Corrupt("records.source".into()))?;
            let Some((_, fields)) = allowed.iter().find(|(s, _)| *s == source) else {
                continue;
            };
            let fields = columns
                .iter()
                .zip(values)
                .filter(|(c, _)| fields.contains(c))
                .filter_map(|(c, v)| v.map(|v| (*c, v)))
                .collect();
            out.push(PersonRecord { source, fields });
        }
        out.sort_by_key(|r| r.source.code());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_fields_reach_the_sql() {
        assert_eq!(lookup_field("weapon"), Some("weapon"));
        assert_eq!(lookup_field("tokens"), None);
        assert_eq!(lookup_field("source_ref"), None);
        assert_eq!(lookup_field("kind; DROP TABLE records"), None);
        assert_eq!(
            expr("marac"),
            "CASE WHEN r.marac THEN 'true' ELSE 'false' END"
        );
        assert_eq!(expr("event_date"), "CAST(r.event_date AS TEXT)");
        assert_eq!(expr("ward_code"), "r.ward_code");
    }
}
