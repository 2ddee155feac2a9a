//! Reading a person's records for a lookup: one query, the records by
//! primary key (the ids the linker holds for the person, of the sources a
//! policy allows), selecting only the columns some allowed source may
//! disclose. Every value comes back as text, the same on both
//! databases (dates ISO 8601, flags `true`/`false`, numbers in decimal).

use concord_core::Source;
use sqlx::Row;

use crate::{Store, StoreError, error, own::OwnConnection};

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
fn expr(f: &'static str) -> String {
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
    /// primary key.
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
        // By primary key only, the ids bound as one value so that each
        // connection prepares one statement whatever their number: no
        // source in the SQL, so no planner can prefer the `(source,
        // event_date)` index (without statistics, on a fresh load,
        // PostgreSQL would otherwise hash-join every record of the allowed
        // sources and SQLite scan them). PostgreSQL: an array; SQLite: a
        // JSON array, read by `json_each`.
        let sql = {
            let mut s = String::from("SELECT r.source");
            for c in &columns {
                s.push_str(", ");
                s.push_str(&expr(c));
            }
            s.push_str(" FROM records r WHERE r.id ");
            s
        };
        let [pg, sqlite] = [
            format!("{sql}= ANY($1) ORDER BY r.event_date, r.id"),
            format!("{sql}IN (SELECT value FROM json_each(?1)) ORDER BY r.event_date, r.id"),
        ];
        macro_rules! run {
            ($conn:expr, $sql:expr, $ids:expr) => {{
                let rows = sqlx::query(&$sql)
                    .bind($ids)
                    .fetch_all($conn)
                    .await
                    .map_err(error::classify)?;
                rows.iter()
                    .map(|row| {
                        let source: String = row.try_get(0).map_err(error::classify)?;
                        let values: Vec<Option<String>> = (0..columns.len())
                            .map(|i| row.try_get(i + 1))
                            .collect::<Result<_, _>>()
                            .map_err(error::classify)?;
                        Ok((source, values))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?
            }};
        }
        // On one of the store's own connections: a pooled one would cost
        // another round trip, sqlx's ping as it goes back (`own.rs`).
        let mut lease = self.readers.lease(&self.backend).await?;
        let rows = match lease.conn() {
            OwnConnection::Sqlite(conn) => run!(&mut *conn, sqlite, json_ids(&ids)),
            OwnConnection::Postgres(conn) => run!(&mut *conn, pg, &ids),
        };
        lease.done();
        let mut out = Vec::with_capacity(rows.len());
        for (source, values) in rows {
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

/// Record ids as a JSON array, for SQLite's `json_each`.
fn json_ids(ids: &[i64]) -> String {
    let mut s = String::with_capacity(ids.len() * 8 + 2);
    s.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&id.to_string());
    }
    s.push(']');
    s
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
        assert_eq!(json_ids(&[]), "[]");
        assert_eq!(
            json_ids(&[7, 12, 9_007_199_254_740_993]),
            "[7,12,9007199254740993]"
        );
    }
}
