//! mk1 normalisation and tokenising (`concord-matchkey`) on arbitrary text.
//!
//! Input: UTF-8 (lossy) text. Its lines are the six raw identifiers in
//! order (forename, surname, date of birth, NHS number, PNC id, postcode;
//! missing lines are "not held"), and separately the first line is given
//! to every normaliser at once. Besides "no panic", checks what the spec
//! (the crate doc of `concord-matchkey`) promises and is cheap to check:
//!
//! * normalising the kept forms again gives them back unchanged, with no
//!   rejection (the spec says so for names; dates, NHS numbers, PNC ids
//!   and postcodes are kept in a form their rule accepts);
//! * the kept forms have the documented shape (no 0x1F, no whitespace or
//!   digit in a name, ten digits with a good check digit, `YY/NNNNNNNA`
//!   with a good check letter, `OUTWARD INWARD`), and phonetic codes are
//!   A–Z of at most `NYSIIS_MAX` letters;
//! * tokens come in key-code order, once per key, are deterministic, and a
//!   strong key is formed exactly when its field is kept.

#![no_main]

use chrono::NaiveDate;
use concord_core::KeyName;
use concord_keys::LinkageKey;
use concord_matchkey::{
    FIELD_SEPARATOR, Identifiers, NYSIIS_MAX, Normalised, RejectionCounts, canonical_forename,
    nhs_check_digit, normalise_on, nysiis, parse_date, pnc_check_letter, tokenise_on, tokens,
};
use libfuzzer_sys::fuzz_target;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date")
}

/// The test key of `testdata/mk1-vectors.json`: bytes 0 to 31.
fn key() -> &'static LinkageKey {
    static KEY: std::sync::OnceLock<LinkageKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let secret: Vec<u8> = (0u8..32).collect();
        LinkageKey::new("lk-test", &secret).expect("a valid test key")
    })
}

fn check_name(kept: &str) {
    assert!(!kept.is_empty());
    assert!(
        !kept.chars().any(|c| c.is_whitespace()
            || (c.is_numeric() && !c.is_alphabetic())
            || c == FIELD_SEPARATOR as char),
        "a kept name is one word of letters"
    );
    if let Some(code) = nysiis(kept) {
        assert!(!code.is_empty() && code.len() <= NYSIIS_MAX);
        assert!(code.bytes().all(|b| b.is_ascii_uppercase()));
    }
}

fn check_nhs(kept: &str) {
    let b = kept.as_bytes();
    assert!(
        b.len() == 10 && b.iter().all(u8::is_ascii_digit),
        "ten digits"
    );
    let first: [u8; 9] = std::array::from_fn(|i| b[i] - b'0');
    assert_eq!(nhs_check_digit(&first), Some(b[9] - b'0'), "check digit");
}

fn check_pnc(kept: &str) {
    let b = kept.as_bytes();
    assert!(b.len() == 11 && b[2] == b'/', "YY/NNNNNNNA");
    assert!(b[..2].iter().chain(&b[3..10]).all(u8::is_ascii_digit));
    let yy: u32 = kept[..2].parse().expect("digits");
    let serial: u32 = kept[3..10].parse().expect("digits");
    assert!(serial > 0, "a zero serial is a placeholder");
    assert_eq!(pnc_check_letter(yy, serial), b[10] as char, "check letter");
}

fn check_postcode(kept: &str) {
    let (outward, inward) = kept.split_once(' ').expect("OUTWARD INWARD");
    assert!((2..=4).contains(&outward.len()) && inward.len() == 3);
    assert!(
        kept.bytes()
            .all(|b| b == b' ' || b.is_ascii_uppercase() || b.is_ascii_digit())
    );
}

fn check(ids: &Identifiers<'_>) {
    let (n, rejections) = normalise_on(ids, today());
    assert!(rejections.len() <= 6, "at most one rejection per field");

    n.forename().map(check_name);
    n.surname().map(check_name);
    n.nhs_number().map(check_nhs);
    n.pnc_id().map(check_pnc);
    n.postcode().map(check_postcode);
    if let Some(d) = n.date_of_birth() {
        assert!(d >= NaiveDate::from_ymd_opt(1900, 1, 1).expect("a date") && d <= today());
    }
    assert_eq!(
        n.phonetic_forename().map(str::to_owned),
        n.forename().and_then(nysiis)
    );
    assert_eq!(
        n.phonetic_surname().map(str::to_owned),
        n.surname().and_then(nysiis)
    );

    // Idempotence: the kept forms normalise to themselves.
    let dob = n.date_of_birth().map(|d| d.format("%Y-%m-%d").to_string());
    let again = Identifiers {
        forename: n.forename(),
        surname: n.surname(),
        date_of_birth: dob.as_deref(),
        nhs_number: n.nhs_number(),
        pnc_id: n.pnc_id(),
        postcode: n.postcode(),
    };
    let (n2, rejections2) = normalise_on(&again, today());
    assert!(
        rejections2.is_empty(),
        "a kept form is rejected when normalised again: {rejections2:?}"
    );
    assert!(
        n2 == n,
        "normalising kept forms changed them: {n:?} -> {n2:?}"
    );

    // Tokens: key-code order, once each, deterministic; strong keys exactly
    // when their field is kept.
    let toks = tokens(&n, key());
    assert!(toks.windows(2).all(|w| w[0].0.code() < w[1].0.code()));
    assert!(!n.is_empty() || toks.is_empty(), "no field kept, no token");
    let has = |k: KeyName| toks.iter().any(|(t, _)| *t == k);
    assert_eq!(has(KeyName::Nhs), n.nhs_number().is_some());
    assert_eq!(has(KeyName::Pnc), n.pnc_id().is_some());
    assert_eq!(
        has(KeyName::SnDob),
        n.surname().is_some() && n.date_of_birth().is_some()
    );
    assert_eq!(
        has(KeyName::FnSn),
        n.forename().is_some() && n.surname().is_some()
    );
    let mut counts = RejectionCounts::new();
    assert!(tokenise_on(ids, key(), &mut counts, today()) == toks);
    assert_eq!(counts.total(), rejections.len() as u64);
    assert!(tokens(&n2, key()) == toks);
    check_normalised_debug(&n);
}

/// `Debug` never shows values: only which fields are present.
fn check_normalised_debug(n: &Normalised) {
    let shown = format!("{n:?}");
    if let Some(s) = n.surname().filter(|s| s.len() > 12) {
        assert!(!shown.contains(s), "Debug shows a surname");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let mut field = || lines.next();
    let ids = Identifiers {
        forename: field(),
        surname: field(),
        date_of_birth: field(),
        nhs_number: field(),
        pnc_id: field(),
        postcode: field(),
    };
    check(&ids);

    let first = text.split('\n').next().unwrap_or_default();
    check(&Identifiers {
        forename: Some(first),
        surname: Some(first),
        date_of_birth: Some(first),
        nhs_number: Some(first),
        pnc_id: Some(first),
        postcode: Some(first),
    });

    if let Some(d) = parse_date(first) {
        assert_eq!(parse_date(&d.format("%Y-%m-%d").to_string()), Some(d));
    }
    let canonical = canonical_forename(first);
    assert_eq!(
        canonical_forename(canonical),
        canonical,
        "canonical forms map to themselves"
    );
});
