//! One record as a row of column values. The column order is defined here
//! once; the SQLite insert, the PostgreSQL binary COPY and the stored digest
//! all read it from here.

use chrono::NaiveDate;
use concord_core::{DataSet, KeyName, Record, Source, TOKEN_LEN, Token};

/// The `records` columns written at ingest, in order.
pub(crate) const COLUMNS: [&str; 26] = [
    "source",
    "source_ref",
    "extract_id",
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
    "broker_key_id",
    "linkage_key_id",
    "tokens",
    "data_set",
];

/// A column value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Null,
    Text(&'a str),
    Bytes(&'a [u8]),
    Int(i16),
    Bool(bool),
    Date(NaiveDate),
}

fn text<'a, T>(v: Option<T>, f: impl FnOnce(T) -> &'a str) -> Val<'a> {
    v.map_or(Val::Null, |x| Val::Text(f(x)))
}

/// What every row of one extract shares.
#[derive(Debug, Clone)]
pub(crate) struct ExtractCols {
    pub source: Source,
    pub extract_id: String,
    pub broker_key_id: String,
    pub linkage_key_id: String,
    /// The data set the extract carries (a snapshot's scope).
    pub data_set: DataSet,
}

/// Packs a record's (already re-keyed) tokens: (key code u8, 32 bytes) each.
pub fn pack_tokens(tokens: &[(KeyName, Token)], out: &mut Vec<u8>) {
    out.clear();
    for (name, token) in tokens {
        out.push(name.code() as u8);
        out.extend_from_slice(token.as_bytes());
    }
}

/// Unpacks what [`pack_tokens`] wrote; `None` if it is malformed.
pub fn unpack_tokens(bytes: &[u8]) -> Option<Vec<(KeyName, Token)>> {
    bytes
        .chunks(1 + TOKEN_LEN)
        .map(|c| {
            let name = KeyName::from_code(i32::from(*c.first()?))?;
            Some((name, Token::from_slice(c.get(1..)?)?))
        })
        .collect()
}

/// The column values of `r`, in [`COLUMNS`] order. `tokens` is the packed
/// token buffer of `r`.
pub(crate) fn values<'a>(r: &'a Record, x: &'a ExtractCols, tokens: &'a [u8]) -> [Val<'a>; 26] {
    [
        Val::Text(x.source.as_str()),
        Val::Bytes(r.source_ref.as_bytes()),
        Val::Text(&x.extract_id),
        Val::Text(r.kind.as_str()),
        text(r.role, |v| v.as_str()),
        Val::Date(r.event_date),
        text(r.date_precision, |v| v.as_str()),
        r.event_hour.map_or(Val::Null, |h| Val::Int(i16::from(h))),
        text(r.ward.as_ref(), |v| v.as_str()),
        text(r.lsoa.as_ref(), |v| v.as_str()),
        text(r.category, |v| v.as_str()),
        text(r.weapon, |v| v.as_str()),
        text(r.location_type, |v| v.as_str()),
        text(r.age_band, |v| v.as_str()),
        text(r.sex, |v| v.as_str()),
        text(r.risk.rosh, |v| v.as_str()),
        r.risk
            .dash_score
            .map_or(Val::Null, |s| Val::Int(i16::from(s))),
        Val::Bool(r.risk.marac),
        Val::Bool(r.flags.domestic_abuse),
        Val::Bool(r.flags.under_25),
        Val::Bool(r.flags.exploitation),
        text(r.site_code.as_ref(), |v| v.as_str()),
        Val::Text(&x.broker_key_id),
        Val::Text(&x.linkage_key_id),
        Val::Bytes(tokens),
        Val::Text(x.data_set.as_str()),
    ]
}

/// Appends one row in PostgreSQL's binary COPY tuple format: the field
/// count, then each field as its length and bytes (-1 for NULL). The same
/// bytes are what the stored digest runs over, for both databases.
pub(crate) fn encode_tuple(vals: &[Val<'_>], out: &mut Vec<u8>) {
    let pg_epoch = NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date");
    out.extend_from_slice(&(vals.len() as i16).to_be_bytes());
    for v in vals {
        match *v {
            Val::Null => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Val::Text(s) => field(out, s.as_bytes()),
            Val::Bytes(b) => field(out, b),
            Val::Int(i) => field(out, &i.to_be_bytes()),
            Val::Bool(b) => field(out, &[u8::from(b)]),
            Val::Date(d) => field(out, &((d - pg_epoch).num_days() as i32).to_be_bytes()),
        }
    }
}

fn field(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as i32).to_be_bytes());
    out.extend_from_slice(b);
}

/// Feeds a deletion into the stored digest: a tag and the re-keyed ref.
pub(crate) fn digest_delete(ctx: &mut ring::digest::Context, source_ref: &[u8]) {
    ctx.update(b"D");
    ctx.update(source_ref);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_pack_and_unpack() {
        let t = vec![
            (KeyName::Nhs, Token([1; 32])),
            (KeyName::SnDob, Token([2; 32])),
        ];
        let mut buf = Vec::new();
        pack_tokens(&t, &mut buf);
        assert_eq!(buf.len(), 66);
        assert_eq!(unpack_tokens(&buf), Some(t));
        assert_eq!(unpack_tokens(&buf[..40]), None);
    }

    #[test]
    fn a_multi_token_key_packs_each_token_in_order() {
        let t = vec![
            (KeyName::SnDob, Token([1; 32])),
            (KeyName::SnDelDob, Token([3; 32])),
            (KeyName::SnDelDob, Token([2; 32])),
            (KeyName::SnDelDob, Token([4; 32])),
            (KeyName::NamesPc, Token([5; 32])),
        ];
        let mut buf = Vec::new();
        pack_tokens(&t, &mut buf);
        assert_eq!(buf.len(), 5 * 33);
        assert_eq!(unpack_tokens(&buf), Some(t));
        // A code past the key set is malformed.
        buf[0] = KeyName::ALL.len() as u8 + 1;
        assert_eq!(unpack_tokens(&buf), None);
    }
}
