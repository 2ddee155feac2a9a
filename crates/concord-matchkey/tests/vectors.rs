//! The mk1 test vectors (`testdata/mk1-vectors.json`), recomputed byte for
//! byte: once through the API from the raw input, and once from the
//! vectors' normalised fields with a message layout written out here
//! independently and HMAC computed with ring directly.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use concord_keys::LinkageKey;
use concord_matchkey::{Identifiers, Spec, normalise_on, tokens_for};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    spec: String,
    key: KeyJson,
    today: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct KeyJson {
    key_id: String,
    secret_hex: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Fields {
    forename: Option<String>,
    surname: Option<String>,
    date_of_birth: Option<String>,
    nhs_number: Option<String>,
    pnc_id: Option<String>,
    postcode: Option<String>,
    #[serde(default)]
    phonetic_forename: Option<String>,
    #[serde(default)]
    phonetic_surname: Option<String>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    input: Fields,
    normalised: Fields,
    rejections: Vec<String>,
    tokens: BTreeMap<String, String>,
}

fn vectors() -> Vectors {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/mk1-vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_vector_recomputes_byte_for_byte() {
    let v = vectors();
    assert_eq!(v.spec, "mk1");
    assert!(v.cases.len() >= 20, "{} cases", v.cases.len());
    let secret = hex::decode(&v.key.secret_hex).unwrap();
    assert_eq!(secret, (0u8..32).collect::<Vec<_>>());
    let key = LinkageKey::new(&v.key.key_id, &secret).unwrap();
    let today: NaiveDate = v.today.parse().unwrap();
    let mut rejection_cases = 0;
    for c in &v.cases {
        let i = &c.input;
        let ids = Identifiers {
            forename: i.forename.as_deref(),
            surname: i.surname.as_deref(),
            date_of_birth: i.date_of_birth.as_deref(),
            nhs_number: i.nhs_number.as_deref(),
            pnc_id: i.pnc_id.as_deref(),
            postcode: i.postcode.as_deref(),
        };
        let (n, rejections) = normalise_on(&ids, today);
        let e = &c.normalised;
        let what = &c.name;
        assert_eq!(n.forename(), e.forename.as_deref(), "{what}: forename");
        assert_eq!(n.surname(), e.surname.as_deref(), "{what}: surname");
        assert_eq!(
            n.date_of_birth().map(|d| d.to_string()),
            e.date_of_birth,
            "{what}: date_of_birth"
        );
        assert_eq!(n.nhs_number(), e.nhs_number.as_deref(), "{what}: nhs");
        assert_eq!(n.pnc_id(), e.pnc_id.as_deref(), "{what}: pnc");
        assert_eq!(n.postcode(), e.postcode.as_deref(), "{what}: postcode");
        assert_eq!(
            n.phonetic_forename(),
            e.phonetic_forename.as_deref(),
            "{what}: phonetic forename"
        );
        assert_eq!(
            n.phonetic_surname(),
            e.phonetic_surname.as_deref(),
            "{what}: phonetic surname"
        );
        let names: Vec<&str> = rejections.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, c.rejections, "{what}: rejections");
        if !rejections.is_empty() {
            rejection_cases += 1;
        }
        let got: BTreeMap<String, String> = tokens_for(Spec::Mk1, &n, &key)
            .iter()
            .map(|(k, t)| (k.as_str().to_owned(), hex::encode(t.as_bytes())))
            .collect();
        assert_eq!(got, c.tokens, "{what}: tokens");
        assert_eq!(
            independent_tokens(&c.normalised, &secret),
            c.tokens,
            "{what}: tokens from the normalised fields"
        );
    }
    assert!(rejection_cases >= 10, "{rejection_cases} rejection cases");
}

/// The token messages as the crate doc describes them, built here from the
/// vectors' normalised fields without the crate.
fn independent_tokens(n: &Fields, secret: &[u8]) -> BTreeMap<String, String> {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let fn_ = n.forename.as_deref();
    let sn = n.surname.as_deref();
    let dob = n.date_of_birth.as_deref();
    let pc = n.postcode.as_deref();
    let swap = dob.and_then(|d| {
        let (y, m, day) = (&d[..4], &d[5..7], &d[8..]);
        let s = format!("{y}-{day}-{m}");
        (day != m && NaiveDate::parse_from_str(&s, "%Y-%m-%d").is_ok()).then_some(s)
    });
    let (lo, hi) = match (dob, swap.as_deref()) {
        (Some(d), Some(s)) if d < s => (Some(d), Some(s)),
        (Some(d), Some(s)) => (Some(s), Some(d)),
        _ => (None, None),
    };
    let names = match (fn_, sn) {
        (Some(f), Some(s)) if f <= s => (Some(f), Some(s)),
        (Some(f), Some(s)) => (Some(s), Some(f)),
        _ => (None, None),
    };
    // The initial of the canonical forename (the nickname table is the
    // spec's own data; the rest of the layout is written out here).
    let initial = fn_.map(|f| {
        let c = concord_matchkey::canonical_forename(f);
        c.chars().next().map(String::from).unwrap_or_default()
    });
    let table: Vec<(&str, Vec<Option<&str>>)> = vec![
        ("nhs", vec![n.nhs_number.as_deref()]),
        ("pnc", vec![n.pnc_id.as_deref()]),
        ("sn_dob", vec![sn, dob]),
        ("fn_dob", vec![fn_, dob]),
        ("fn_sn", vec![fn_, sn]),
        ("sn_pc", vec![sn, pc]),
        ("fn_pc", vec![fn_, pc]),
        ("dob_pc", vec![dob, pc]),
        ("phsn_dob", vec![n.phonetic_surname.as_deref(), dob]),
        ("phfn_sn", vec![n.phonetic_forename.as_deref(), sn]),
        ("sn_dobswap", vec![sn, lo, hi]),
        ("names_dob", vec![names.0, names.1, dob]),
        ("fi_dob", vec![initial.as_deref(), dob]),
    ];
    assert_eq!(table.len(), Spec::Mk1.keys().len(), "a key is missing here");
    let mut out = BTreeMap::new();
    for (name, fields) in table {
        let Some(fields) = fields.into_iter().collect::<Option<Vec<&str>>>() else {
            continue;
        };
        let msg = format!("mk1:{name}:{}", fields.join("\u{1f}"));
        let tag = ring::hmac::sign(&k, msg.as_bytes());
        out.insert(name.to_owned(), hex::encode(tag.as_ref()));
    }
    out
}

#[test]
fn twins_in_the_vectors_agree_where_the_spec_says() {
    let v = vectors();
    let case = |name: &str| {
        v.cases
            .iter()
            .find(|c| c.name.starts_with(name))
            .unwrap_or_else(|| panic!("no case {name:?}"))
    };
    let clean = case("a clean record");
    let same = case("the same person");
    assert_eq!(clean.tokens, same.tokens, "formatting differences vanish");
    let transposed = case("day and month transposed");
    assert_ne!(transposed.tokens["sn_dob"], clean.tokens["sn_dob"]);
    assert_eq!(transposed.tokens["sn_dobswap"], clean.tokens["sn_dobswap"]);
    let swapped = case("forename and surname swapped");
    assert_ne!(swapped.tokens["fn_dob"], clean.tokens["fn_dob"]);
    assert_eq!(swapped.tokens["names_dob"], clean.tokens["names_dob"]);
}
