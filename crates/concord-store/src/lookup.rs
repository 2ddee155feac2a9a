//! Reading a person's records for a lookup: one query, the person's record
//! ids from `record_person` (indexed by person), then those `records` by
//! primary key, restricted to the sources a policy allows and selecting
//! only the columns some allowed source may disclose. Every value comes back as text, the same on both
//! databases (dates ISO 8601, flags `true`/`false`, numbers in decimal).

use concord_core::Source;
use sqlx::{QueryBuilder, Row};

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
    /// The records of `person` from the sources in `allowed`, each with
    /// only the fields allowed for its source, in source order, then by
    /// event date. `allowed` names fields by [`lookup_field`]; anything
    /// else is ignored. One query.
    pub async fn person_records(
        &self,
        person: u64,
        allowed: &[(Source, Vec<&'static str>)],
    ) -> Result<Vec<PersonRecord>, StoreError> {
        let allowed: Vec<(Source, Vec<&'static str>)> = allowed
            .iter()
            .map(|(s, fs)| {
                let fs = fs.iter().filter_map(|f| lookup_field(f)).collect();
                (*s, fs)
            })
            .collect();
        if allowed.is_empty() {
            return Ok(Vec::new());
        }
        // The columns: every field some allowed source may disclose.
        let columns: Vec<&'static str> = LOOKUP_FIELDS
            .iter()
            .copied()
            .filter(|f| allowed.iter().any(|(_, fs)| fs.contains(f)))
            .collect();
        let person = i64::try_from(person)
            .map_err(|_| StoreError::Corrupt("the person id is out of range".into()))?;
        let select = {
            let mut s = String::from("SELECT r.source");
            for c in &columns {
                s.push_str(", ");
                s.push_str(&expr(c));
            }
            s.push_str(" FROM records r WHERE r.id ");
            s
        };
        // The person's record ids first (the `record_person` index), then
        // each record by primary key, with the source only as a filter.
        // Written so that no planner can prefer the `(source, event_date)`
        // index: without statistics (a fresh load, autovacuum behind)
        // PostgreSQL otherwise hash-joins every record of the allowed
        // sources, and SQLite scans them (hundreds of milliseconds at a
        // million records, instead of a fraction of one). PostgreSQL: the
        // ids as an array (an init plan, then a primary key scan); SQLite:
        // unary `+` takes the source column out of index selection.
        let [pg, sqlite] = [
            [
                "= ANY(ARRAY(SELECT record_id FROM record_person WHERE person_id = ",
                ")) AND r.source IN (",
            ],
            [
                "IN (SELECT record_id FROM record_person WHERE person_id = ",
                ") AND +r.source IN (",
            ],
        ];
        macro_rules! run {
            ($db:ty, $conn:expr, $sql:expr) => {{
                let [ids, sources] = $sql;
                let mut q: QueryBuilder<'_, $db> = QueryBuilder::new(&select);
                q.push(ids);
                q.push_bind(person);
                q.push(sources);
                let mut sep = q.separated(", ");
                for (s, _) in &allowed {
                    sep.push_bind(s.as_str());
                }
                q.push(") ORDER BY r.event_date, r.id");
                let rows = q.build().fetch_all($conn).await.map_err(error::classify)?;
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
            OwnConnection::Sqlite(conn) => run!(sqlx::Sqlite, &mut *conn, sqlite),
            OwnConnection::Postgres(conn) => run!(sqlx::Postgres, &mut *conn, pg),
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
