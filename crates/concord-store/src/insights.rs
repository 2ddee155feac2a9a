//! What the aggregates count: every record's countable fields and its
//! person, read in one pass into a [`FactSet`], and the generation counter
//! that says when a loaded set is stale (`insights_state`, bumped by
//! triggers on every accepted extract, linkage run and record deletion:
//! migrations `0004_insights.sql`).
//!
//! Counting itself happens in `concord-disclosure`, over the loaded facts:
//! one implementation for both databases, so the same cell counts the same
//! on SQLite and PostgreSQL, and a year's dashboard costs a pass over
//! memory instead of a dozen scans of `records`.

use chrono::NaiveDate;
use concord_core::{
    AgeBand, LocationType, PersonRole, RecordKind, Sex, Source, ViolenceCategory, Weapon,
};
use concord_disclosure::{FactInput, FactSet, RecordKeys};
use ring::hmac;

use crate::{Backend, Store, StoreError, error};

/// Records per row of the packed fact queries: sqlx pays per row (on
/// SQLite about 7 µs, more than the query itself), so the database packs
/// each chunk of records into one string and Rust splits it.
const CHUNK: u32 = 4096;

/// One record's fields, `|`-separated, records `;`-separated: every value
/// is a vocabulary name, an ISO date, a GSS code or an integer, so neither
/// separator can occur in one. Fields: source, kind, role, event_date,
/// date_precision, event_hour, ward_code, category, weapon, location_type,
/// age_band, sex, flag_domestic_abuse (0/1), flag_under_25 (0/1), person_id,
/// source_ref (hex).
fn facts_sql(backend: &str) -> String {
    let sqlite = backend == "sqlite";
    let text = |c: &str| format!("coalesce({c}, '')");
    let cast_int = |c: &str| {
        if sqlite {
            format!("coalesce({c}, '')")
        } else {
            format!("coalesce({c}::text, '')")
        }
    };
    let cast_bool = |c: &str| {
        if sqlite {
            c.to_owned()
        } else {
            format!("{c}::int::text")
        }
    };
    let agg = if sqlite { "group_concat" } else { "string_agg" };
    let date = if sqlite {
        "r.event_date".to_owned()
    } else {
        "r.event_date::text".to_owned()
    };
    let fields = [
        "r.source".to_owned(),
        "r.kind".to_owned(),
        text("r.role"),
        date,
        text("r.date_precision"),
        cast_int("r.event_hour"),
        text("r.ward_code"),
        text("r.category"),
        text("r.weapon"),
        text("r.location_type"),
        text("r.age_band"),
        text("r.sex"),
        cast_bool("r.flag_domestic_abuse"),
        cast_bool("r.flag_under_25"),
        cast_int("p.person_id"),
        if sqlite {
            "lower(hex(r.source_ref))".to_owned()
        } else {
            "encode(r.source_ref, 'hex')".to_owned()
        },
    ];
    format!(
        "SELECT {agg}({}, ';') FROM records r LEFT JOIN record_person p ON p.record_id = r.id \
         GROUP BY r.id / {CHUNK}",
        fields.join(" || '|' || ")
    )
}

const GENERATION: &str = "SELECT generation FROM insights_state WHERE id = 1";

/// Parses a stored vocabulary name; a name the vocabulary does not know
/// means the row is corrupt.
fn parse<T: std::str::FromStr>(s: &str, column: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("records.{column}")))
}

fn parse_opt<T: std::str::FromStr>(s: &str, column: &str) -> Result<Option<T>, StoreError> {
    if s.is_empty() {
        Ok(None)
    } else {
        parse(s, column).map(Some)
    }
}

/// The keyed hash that gives every record and person its cell key (see
/// `concord_disclosure::protect`): `HMAC-SHA256(secret, "record" ‖
/// source ‖ 0 ‖ source_ref)` and `HMAC-SHA256(secret, "person" ‖ person
/// id)`, first byte. A record keeps its key for as long as it is stored
/// and whenever its agency sends it again (the source reference is what
/// the agency keeps stable), so the same cell gets the same figure from
/// one night to the next; without the secret, no reader can compute one.
pub struct RecordKeyer {
    key: hmac::Key,
}

impl RecordKeyer {
    /// A keyer from the broker's secret for cell keys (at least 16 bytes).
    pub fn new(secret: &[u8]) -> RecordKeyer {
        RecordKeyer {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    fn sign(&self, parts: &[&[u8]]) -> u8 {
        let mut ctx = hmac::Context::with_key(&self.key);
        for p in parts {
            ctx.update(p);
        }
        ctx.sign().as_ref()[0]
    }

    /// The key of the record `source_ref` of `source`.
    pub fn record(&self, source: Source, source_ref: &[u8]) -> u8 {
        self.sign(&[b"record", source.as_str().as_bytes(), &[0], source_ref])
    }

    /// The key of the broker's person `person`.
    pub fn person(&self, person: i64) -> u8 {
        self.sign(&[b"person", &person.to_be_bytes()])
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// One packed record (see [`facts_sql`]) and its source reference.
fn fact_of(packed: &str) -> Result<(FactInput, Vec<u8>), StoreError> {
    let mut f = packed.split('|');
    let mut next = |column: &str| {
        f.next()
            .ok_or_else(|| StoreError::Corrupt(format!("records.{column}")))
    };
    let source = parse::<Source>(next("source")?, "source")?;
    let kind = parse::<RecordKind>(next("kind")?, "kind")?;
    let role = parse_opt::<PersonRole>(next("role")?, "role")?;
    let event_date = NaiveDate::parse_from_str(next("event_date")?, "%Y-%m-%d")
        .map_err(|_| StoreError::Corrupt("records.event_date".into()))?;
    // No precision recorded means the date is the day.
    let day_precise = matches!(next("date_precision")?, "" | "day");
    let event_hour = parse_opt::<u8>(next("event_hour")?, "event_hour")?;
    let ward = next("ward_code")?;
    let ward_code = (!ward.is_empty()).then(|| ward.to_owned());
    let category = parse_opt::<ViolenceCategory>(next("category")?, "category")?;
    let weapon = parse_opt::<Weapon>(next("weapon")?, "weapon")?;
    let location_type = parse_opt::<LocationType>(next("location_type")?, "location_type")?;
    let age_band = parse_opt::<AgeBand>(next("age_band")?, "age_band")?;
    let sex = parse_opt::<Sex>(next("sex")?, "sex")?;
    let flag_domestic_abuse = next("flag_domestic_abuse")? == "1";
    let flag_under_25 = next("flag_under_25")? == "1";
    let person = parse_opt::<i64>(next("person_id")?, "person_id")?;
    let source_ref = unhex(next("source_ref")?)
        .ok_or_else(|| StoreError::Corrupt("records.source_ref".into()))?;
    let input = FactInput {
        source,
        kind,
        role,
        event_date,
        day_precise,
        event_hour,
        ward_code,
        category,
        weapon,
        location_type,
        age_band,
        sex,
        flag_domestic_abuse,
        flag_under_25,
        person,
    };
    Ok((input, source_ref))
}

impl Store {
    /// The insights generation: changes whenever what the aggregates count
    /// may have changed. Read it *before* [`insight_facts`](Self::insight_facts),
    /// so a set is never labelled newer than it is.
    pub async fn insights_generation(&self) -> Result<i64, StoreError> {
        match &self.backend {
            Backend::Sqlite { pool, .. } => sqlx::query_scalar(GENERATION).fetch_one(pool).await,
            Backend::Postgres(pool) => sqlx::query_scalar(GENERATION).fetch_one(pool).await,
        }
        .map_err(error::classify)
    }

    /// Every stored record's countable fields and its person (no tokens, no
    /// references), in one pass. The caller builds the [`FactSet`]
    /// (CPU work: off the async runtime) with [`FactSet::new`].
    pub async fn insight_facts(&self) -> Result<Vec<FactInput>, StoreError> {
        Ok(self
            .insight_facts_with_refs()
            .await?
            .into_iter()
            .map(|(f, _)| f)
            .collect())
    }

    /// [`insight_facts`](Self::insight_facts) with each record's source
    /// reference (for its record key).
    async fn insight_facts_with_refs(&self) -> Result<Vec<(FactInput, Vec<u8>)>, StoreError> {
        let sql = facts_sql(self.backend_name());
        let chunks: Vec<Option<String>> = match &self.backend {
            Backend::Sqlite { pool, .. } => sqlx::query_scalar(&sql).fetch_all(pool).await,
            Backend::Postgres(pool) => sqlx::query_scalar(&sql).fetch_all(pool).await,
        }
        .map_err(error::classify)?;
        let mut out = Vec::with_capacity(chunks.len() * CHUNK as usize);
        for chunk in chunks.iter().flatten() {
            for packed in chunk.split(';') {
                out.push(fact_of(packed)?);
            }
        }
        Ok(out)
    }

    /// [`insight_facts`](Self::insight_facts), each record with its keys
    /// from `keyer`, built into a [`FactSet`] on a blocking thread.
    pub async fn load_fact_set(
        &self,
        keyer: std::sync::Arc<RecordKeyer>,
    ) -> Result<FactSet, StoreError> {
        let inputs = self.insight_facts_with_refs().await?;
        tokio::task::spawn_blocking(move || {
            let mut person_keys: std::collections::HashMap<i64, u8> = Default::default();
            FactSet::keyed(inputs.into_iter().map(|(f, source_ref)| {
                let keys = RecordKeys {
                    record: keyer.record(f.source, &source_ref),
                    person: f.person.map_or(0, |p| {
                        *person_keys.entry(p).or_insert_with(|| keyer.person(p))
                    }),
                };
                (f, keys)
            }))
        })
        .await
        .map_err(|_| StoreError::Corrupt("building the insight facts failed".into()))
    }
}
