//! The canonical event encoding: stable, round-tripping, and one per event.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone, Utc};
use concord_audit::{Action, AuditError, AuditEvent, Decision, FieldName, Hash, SubjectId};
use concord_core::{ExtractId, Source, Token};
use proptest::prelude::*;

fn field(s: &str) -> FieldName {
    FieldName::parse(s).unwrap()
}

/// A fixed event touching every kind of value the encoding has.
fn fixed() -> AuditEvent {
    AuditEvent {
        seq: 17,
        prev: Hash([0xab; 32]),
        time: Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
            + chrono::Duration::milliseconds(250),
        user: "u123".into(),
        org: "rbkc-childrens".into(),
        role: "mash_officer".into(),
        action: Action::Lookup,
        purpose: Some("safeguarding_children".into()),
        case_ref: Some("MASH-2026-0042".into()),
        lawful_basis: None,
        decision: Decision::Deny {
            reason: "health data needs a \"safeguarding\" purpose\n— see ISA §4".into(),
        },
        policy_digest: Some("9f86d081884c7d65".into()),
        agreement: None,
        extract_id: Some(ExtractId::parse("police-2026-11-22").unwrap()),
        // Inserted out of order: the encoding sorts them.
        disclosed: BTreeMap::from([
            (
                Source::Health,
                BTreeSet::from([field("site"), field("attendance_date")]),
            ),
            (Source::Police, BTreeSet::new()),
        ]),
        subjects: BTreeSet::from([
            SubjectId::Pseudonym(Token([0x01; 32])),
            SubjectId::Person(42),
            SubjectId::Person(7),
        ]),
    }
}

const FIXED: &str = concat!(
    r#"{"v":1,"seq":17,"prev":"abababababababababababababababababababababababababababababababab","#,
    r#""time":"2026-11-22T10:00:00.250Z","user":"u123","org":"rbkc-childrens","role":"mash_officer","#,
    r#""action":"lookup","purpose":"safeguarding_children","case_ref":"MASH-2026-0042","lawful_basis":null,"#,
    r#""decision":"deny","reason":"health data needs a \"safeguarding\" purpose\n— see ISA §4","#,
    r#""policy_digest":"9f86d081884c7d65","agreement":null,"extract_id":"police-2026-11-22","#,
    r#""disclosed":[{"source":"police","fields":[]},{"source":"health","fields":["attendance_date","site"]}],"#,
    r#""subjects":["person:7","person:42","ps:0101010101010101010101010101010101010101010101010101010101010101"]}"#,
);

#[test]
fn a_fixed_event_encodes_to_fixed_bytes_and_a_fixed_leaf_hash() {
    let e = fixed();
    assert_eq!(String::from_utf8(e.encode()).unwrap(), FIXED);
    // SHA-256(0x00 ‖ FIXED), computed independently (Python hashlib).
    assert_eq!(
        e.leaf_hash().to_hex(),
        "87dd47cae48e45dc568d2015f77cb85ad934deb5febe6b0af42fefedfb7aa0c7"
    );
    assert_eq!(AuditEvent::decode(FIXED.as_bytes()).unwrap(), e);
}

#[test]
fn only_the_canonical_form_decodes() {
    let ok = FIXED.to_owned();
    let variants = [
        // Whitespace.
        ok.replacen("\"seq\":17", "\"seq\": 17", 1),
        // Keys reordered.
        ok.replacen(r#""user":"u123","org":"rbkc-childrens""#, r#""org":"rbkc-childrens","user":"u123""#, 1),
        // A key missing (an optional value left out rather than null).
        ok.replacen(r#""lawful_basis":null,"#, "", 1),
        // An unknown key.
        ok.replacen(r#"{"v":1,"#, r#"{"v":1,"x":0,"#, 1),
        // Escapes the encoder would not write.
        ok.replacen("u123", "\\u0075123", 1),
        // Uppercase hex.
        ok.replacen("abababab", "ABABABAB", 1),
        // Time not in the canonical form.
        ok.replacen("10:00:00.250Z", "10:00:00.250+00:00", 1),
        ok.replacen("10:00:00.250Z", "10:00:00.25Z", 1),
        // Unsorted or repeated subjects, a padded number.
        ok.replacen(r#""person:7","person:42""#, r#""person:42","person:7""#, 1),
        ok.replacen(r#""person:7","person:42""#, r#""person:7","person:7","person:42""#, 1),
        ok.replacen("person:7", "person:07", 1),
        ok.replacen("person:7", "person:+7", 1),
        // Sources out of order, repeated; fields unsorted.
        ok.replacen(
            r#"[{"source":"police","fields":[]},{"source":"health","fields":["attendance_date","site"]}]"#,
            r#"[{"source":"health","fields":["attendance_date","site"]},{"source":"police","fields":[]}]"#,
            1,
        ),
        ok.replacen(r#"{"source":"police","fields":[]},"#, r#"{"source":"police","fields":[]},{"source":"police","fields":[]},"#, 1),
        ok.replacen(r#"["attendance_date","site"]"#, r#"["site","attendance_date"]"#, 1),
        // Values outside the vocabulary, or identifiers where pseudonyms go.
        ok.replacen(r#""action":"lookup""#, r#""action":"browse""#, 1),
        ok.replacen(r#""source":"police""#, r#""source":"bank""#, 1),
        ok.replacen("person:7", "JOHN SMITH", 1),
        ok.replacen(r#""fields":[]"#, r#""fields":["Date of Birth"]"#, 1),
        // Decisions that cannot be.
        ok.replacen(r#""decision":"deny""#, r#""decision":"allow""#, 1),
        ok.replacen(r#""decision":"deny""#, r#""decision":"maybe""#, 1),
        // Another version; a trailing newline; not JSON at all.
        ok.replacen(r#"{"v":1,"#, r#"{"v":2,"#, 1),
        format!("{ok}\n"),
        ok[..ok.len() - 1].to_owned(),
    ];
    for (i, v) in variants.iter().enumerate() {
        assert_ne!(v, &ok, "variant {i} must differ");
        let err = AuditEvent::decode(v.as_bytes()).unwrap_err();
        assert!(matches!(err, AuditError::Event(_)), "variant {i}: {err}");
    }
}

#[test]
fn decode_errors_do_not_quote_the_input() {
    let bad = FIXED.replacen(r#""user":"u123""#, r#""user":"u123","secret":"hunter2""#, 1);
    let err = AuditEvent::decode(bad.as_bytes()).unwrap_err().to_string();
    assert!(!err.contains("hunter2") && !err.contains("secret"), "{err}");
}

#[test]
fn display_summarises_without_the_subjects() {
    let shown = fixed().to_string();
    assert_eq!(
        shown,
        "#17 2026-11-22T10:00:00.250Z u123 (rbkc-childrens/mash_officer) lookup denied (health data needs a \"safeguarding\" purpose\n— see ISA §4) purpose=safeguarding_children case=MASH-2026-0042 disclosed=police,health subjects=3"
    );
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(any::<String>())
}

prop_compose! {
    fn arb_event()(
        seq in any::<u64>(),
        prev in any::<[u8; 32]>(),
        secs in 0i64..4_000_000_000,
        nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000],
        user in any::<String>(), org in any::<String>(), role in any::<String>(),
        action in prop::sample::select(Action::ALL.to_vec()),
        purpose in opt_text(), case_ref in opt_text(), lawful_basis in opt_text(),
        deny in prop::option::of(any::<String>()),
        policy_digest in opt_text(), agreement in opt_text(),
        extract in prop::option::of("[A-Za-z0-9._-]{1,40}"),
        disclosed in prop::collection::btree_map(
            prop::sample::select(Source::ALL.to_vec()),
            prop::collection::btree_set("[a-z][a-z0-9_]{0,20}", 0..4),
            0..4,
        ),
        people in prop::collection::btree_set(any::<u64>(), 0..4),
        pseudonyms in prop::collection::btree_set(any::<[u8; 32]>(), 0..3),
    ) -> AuditEvent {
        AuditEvent {
            seq,
            prev: Hash(prev),
            time: Utc.timestamp_opt(secs, nanos).unwrap(),
            user, org, role, action, purpose, case_ref, lawful_basis,
            decision: match deny { None => Decision::Allow, Some(reason) => Decision::Deny { reason } },
            policy_digest, agreement,
            extract_id: extract.map(|e| ExtractId::parse(&e).unwrap()),
            disclosed: disclosed.into_iter().map(|(s, f)| (s, f.iter().map(|f| field(f)).collect())).collect(),
            subjects: people.into_iter().map(SubjectId::Person)
                .chain(pseudonyms.into_iter().map(|p| SubjectId::Pseudonym(Token(p))))
                .collect(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_event_round_trips_through_its_one_encoding(e in arb_event()) {
        let bytes = e.encode();
        let back = AuditEvent::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &e);
        prop_assert_eq!(back.encode(), bytes, "encoding is deterministic");
    }

    #[test]
    fn different_events_have_different_leaves(a in arb_event(), b in arb_event()) {
        prop_assume!(a != b);
        prop_assert_ne!(a.leaf_hash(), b.leaf_hash());
    }
}
