//! `Linker::probe`: whom a record would be linked to, by `add`'s rules,
//! without adding it. Checked on hand-made cases and, by property, against
//! what `add` then does with the same record.

use std::hash::{DefaultHasher, Hash, Hasher};

use concord_core::{KeyName, Source, Token};
use concord_linkage::{LinkConfig, LinkRecord, Linker, Probe, RecordOutcome};
use proptest::prelude::*;

fn token(key: KeyName, value: &str) -> Token {
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = DefaultHasher::new();
        (i, key.as_str(), value).hash(&mut h);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    Token(out)
}

#[derive(Clone, Copy, Debug, Default)]
struct Ids {
    fname: &'static str,
    sname: &'static str,
    dob: &'static str,
    pc: &'static str,
    nhs: Option<&'static str>,
    pnc: Option<&'static str>,
}

/// One token per key over the fields, as mk1 makes them (a stand-in hash).
fn tokens(p: &Ids) -> Vec<(KeyName, Token)> {
    let mut v = Vec::new();
    let mut put = |k: KeyName, parts: &[&str]| {
        if parts.iter().all(|s| !s.is_empty()) {
            v.push((k, token(k, &parts.join("|"))));
        }
    };
    if let Some(n) = p.nhs {
        put(KeyName::Nhs, &[n]);
    }
    if let Some(n) = p.pnc {
        put(KeyName::Pnc, &[n]);
    }
    put(KeyName::SnDob, &[p.sname, p.dob]);
    put(KeyName::FnDob, &[p.fname, p.dob]);
    put(KeyName::FnSn, &[p.fname, p.sname]);
    put(KeyName::SnPc, &[p.sname, p.pc]);
    put(KeyName::FnPc, &[p.fname, p.pc]);
    put(KeyName::DobPc, &[p.dob, p.pc]);
    let mut pair = [p.fname, p.sname];
    pair.sort_unstable();
    put(KeyName::NamesDob, &[pair[0], pair[1], p.dob]);
    v
}

fn rec(id: u64, source: Source, p: &Ids) -> LinkRecord {
    LinkRecord {
        id,
        source,
        tokens: tokens(p),
    }
}

const ANNA: Ids = Ids {
    fname: "ANNA",
    sname: "OKAFOR",
    dob: "2009-05-06",
    pc: "W10 6AB",
    nhs: Some("9990001111"),
    pnc: None,
};

const BETH: Ids = Ids {
    fname: "BETH",
    nhs: Some("9990002222"),
    ..ANNA
};

const LEO: Ids = Ids {
    fname: "LEO",
    sname: "MARSH",
    dob: "2008-07-01",
    pc: "SW3 1AA",
    nhs: None,
    pnc: Some("08/123456A"),
};

/// Anna (health, police), her twin Beth (health), and Leo (police).
fn linker() -> (Linker, u64, u64, u64) {
    let mut l = Linker::new(LinkConfig::default());
    l.add(vec![
        rec(1, Source::Health, &ANNA),
        rec(2, Source::Health, &BETH),
        rec(3, Source::Police, &Ids { nhs: None, ..ANNA }),
        rec(4, Source::Police, &LEO),
    ]);
    let (anna, beth, leo) = (
        l.person_of(1).unwrap(),
        l.person_of(2).unwrap(),
        l.person_of(4).unwrap(),
    );
    assert_eq!(l.person_of(3), Some(anna));
    assert!(anna != beth && anna != leo && beth != leo);
    (l, anna, beth, leo)
}

#[test]
fn a_strong_key_alone_finds_the_person() {
    let (l, anna, _, leo) = linker();
    let only_nhs = vec![(KeyName::Nhs, token(KeyName::Nhs, "9990001111"))];
    assert_eq!(l.probe(&only_nhs), Probe::Linked(anna));
    let only_pnc = vec![(KeyName::Pnc, token(KeyName::Pnc, "08/123456A"))];
    assert_eq!(l.probe(&only_pnc), Probe::Linked(leo));
}

#[test]
fn forename_surname_and_date_of_birth_find_the_person_without_a_strong_key() {
    let (l, anna, _, leo) = linker();
    let moved = Ids {
        nhs: None,
        pc: "W11 1AA",
        ..ANNA
    };
    assert_eq!(l.probe(&tokens(&moved)), Probe::Linked(anna));
    let no_pnc = Ids { pnc: None, ..LEO };
    assert_eq!(l.probe(&tokens(&no_pnc)), Probe::Linked(leo));
}

#[test]
fn a_twin_without_a_strong_key_is_possible_not_linked() {
    let (l, ..) = linker();
    // Surname, date of birth and postcode agree with both twins; no forename.
    let vague = Ids {
        fname: "",
        nhs: None,
        ..ANNA
    };
    assert_eq!(l.probe(&tokens(&vague)), Probe::Possible);
}

#[test]
fn a_different_nhs_number_is_never_linked() {
    let (l, ..) = linker();
    // Anna's names and date of birth with a third NHS number: the police
    // record (no NHS number) agrees exactly, but Anna's person holds
    // another NHS number, so the link is refused and held for review.
    let other = Ids {
        nhs: Some("9990003333"),
        ..ANNA
    };
    assert_eq!(l.probe(&tokens(&other)), Probe::Possible);
}

#[test]
fn nothing_in_common_matches_nobody() {
    let (l, ..) = linker();
    let stranger = Ids {
        fname: "ZED",
        sname: "QUILL",
        dob: "1990-01-01",
        pc: "N1 1AA",
        nhs: None,
        pnc: None,
    };
    assert_eq!(l.probe(&tokens(&stranger)), Probe::NoMatch);
    assert_eq!(l.probe(&[]), Probe::NoMatch);
}

#[test]
fn a_record_that_would_join_two_people_names_neither() {
    let (l, ..) = linker();
    // Anna's NHS number with Leo's PNC id: `add` would merge them.
    let bridge = vec![
        (KeyName::Nhs, token(KeyName::Nhs, "9990001111")),
        (KeyName::Pnc, token(KeyName::Pnc, "08/123456A")),
    ];
    assert_eq!(l.probe(&bridge), Probe::Possible);
}

#[test]
fn probing_changes_nothing() {
    let (l, ..) = linker();
    let before = (l.assignments(), l.next_person(), l.record_count());
    for p in [ANNA, BETH, LEO] {
        l.probe(&tokens(&p));
    }
    assert_eq!(before, (l.assignments(), l.next_person(), l.record_count()));
}

// Small pools, so that records collide, twins appear and links are
// ambiguous.
const FNAMES: [&str; 4] = ["ANNA", "BETH", "", "ANNE"];
const SNAMES: [&str; 3] = ["OKAFOR", "MARSH", ""];
const DOBS: [&str; 3] = ["2009-05-06", "2009-06-05", ""];
const PCS: [&str; 3] = ["W10 6AB", "SW3 1AA", ""];
const NHS: [Option<&str>; 3] = [None, Some("9990001111"), Some("9990002222")];
const PNC: [Option<&str>; 3] = [None, None, Some("08/123456A")];

fn ids() -> impl Strategy<Value = Ids> {
    (
        0..4usize,
        0..3usize,
        0..3usize,
        0..3usize,
        0..3usize,
        0..3usize,
    )
        .prop_map(|(f, s, d, p, n, c)| Ids {
            fname: FNAMES[f],
            sname: SNAMES[s],
            dob: DOBS[d],
            pc: PCS[p],
            nhs: NHS[n],
            pnc: PNC[c],
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The probe says what `add` then does: linked to one existing person
    /// exactly when `add` links the record to that person without merging
    /// anyone; possible when `add` holds it for review or merges people
    /// through it; no match when `add` leaves it unlinked.
    #[test]
    fn the_probe_predicts_add(stored in prop::collection::vec(ids(), 1..12), query in ids()) {
        let mut l = Linker::new(LinkConfig::default());
        let sources = [Source::Police, Source::Health, Source::Housing];
        l.add(
            stored
                .iter()
                .enumerate()
                .map(|(i, p)| rec(i as u64 + 1, sources[i % 3], p))
                .collect::<Vec<_>>(),
        );
        let q = tokens(&query);
        let probe = l.probe(&q);
        let id = stored.len() as u64 + 100;
        let out = l.add(vec![LinkRecord { id, source: Source::YouthJustice, tokens: q.clone() }]);
        let outcome = out.records.iter().find(|(r, _)| *r == id).map(|(_, o)| o.clone());
        match (probe, outcome) {
            (_, None) => prop_assert!(false, "no outcome for the added record"),
            (Probe::Linked(p), Some(RecordOutcome::Linked { person })) => {
                prop_assert_eq!(p, person);
                prop_assert!(out.merges.is_empty());
            }
            (Probe::Possible, Some(RecordOutcome::Linked { .. })) => {
                prop_assert!(!out.merges.is_empty(), "possible, but add linked without a merge");
            }
            (Probe::Possible, Some(RecordOutcome::Possible { .. })) => {}
            (Probe::NoMatch, Some(RecordOutcome::Unlinked { .. })) => {}
            (Probe::NoMatch, Some(RecordOutcome::NoTokens)) => prop_assert!(q.is_empty()),
            (p, Some(o)) => prop_assert!(false, "probe {:?} but add gave {:?}", p, o),
        }
    }
}
