//! Records of one person with one injected error each, linked against a
//! background population whose model has been estimated (EM): each class
//! of error the mk2 keys and the field-level model are meant to survive is
//! its own property, so a failure names the class. Twins (same surname,
//! date of birth and address, different forenames) never link; mk1 and mk2
//! agencies link alike; EM recovers known error rates.
//!
//! Test people have names of random letters, so they meet no background
//! record by chance; each case's records are removed again afterwards, so
//! cases (and the shrinking of a failure) do not see each other.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use concord_core::{KeyName, Source, Token};
use concord_keys::LinkageKey;
use concord_linkage::{FIELDS, LEVELS, Level, LinkConfig, LinkRecord, Linker};
use concord_matchkey::{
    Identifiers, Normalised, Spec, canonical_forename, deletion_forms, normalise_on, nysiis,
    tokens_for,
};
use concord_synth::{DataSet, SynthConfig, generate};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

static KEY: LazyLock<LinkageKey> =
    LazyLock::new(|| LinkageKey::new("lk-test", &[7u8; 32]).unwrap());

/// Identifiers as one agency recorded them (`None`: not held).
#[derive(Clone, Debug, Default, PartialEq)]
struct Raw {
    forename: Option<String>,
    surname: Option<String>,
    dob: Option<NaiveDate>,
    postcode: Option<String>,
}

fn normalise(raw: &Raw) -> (Normalised, Vec<concord_matchkey::Rejection>) {
    let dob = raw.dob.map(|d| d.format("%Y-%m-%d").to_string());
    let ids = Identifiers {
        forename: raw.forename.as_deref(),
        surname: raw.surname.as_deref(),
        date_of_birth: dob.as_deref(),
        postcode: raw.postcode.as_deref(),
        ..Identifiers::default()
    };
    normalise_on(&ids, today())
}

/// The tokens of a test record; every field it holds must be kept (a
/// rejected field would make the case something other than it says).
fn tokens(raw: &Raw, spec: Spec) -> Vec<(KeyName, Token)> {
    let (n, rejections) = normalise(raw);
    assert!(
        rejections.is_empty(),
        "test identifiers rejected: {rejections:?} for {raw:?}"
    );
    tokens_for(spec, &n, &KEY)
}

fn record(id: u64, source: Source, raw: &Raw) -> LinkRecord {
    LinkRecord {
        id,
        source,
        tokens: tokens(raw, Spec::Mk2),
    }
}

// ---- the background ------------------------------------------------------

/// One synthetic agency record of the background.
struct BackgroundRecord {
    id: u64,
    source: Source,
    data_set: DataSet,
    /// The true person (concord-synth's id).
    person: u64,
    normalised: Normalised,
    /// Forename, surname, date of birth and postcode as the person's true
    /// ones: no error, none missing.
    clean: bool,
}

struct Background {
    records: Vec<BackgroundRecord>,
    /// The records tokenised with mk2, as the linker takes them.
    mk2: Vec<LinkRecord>,
}

/// About 3,000 identifying records of a synthetic population with
/// concord-synth's realistic errors, built once per test binary.
static BACKGROUND: LazyLock<Background> = LazyLock::new(|| {
    let pop = generate(&SynthConfig {
        seed: 41,
        people: 6_000,
        activity: 2.0,
        ..SynthConfig::default()
    });
    let true_fields: HashMap<u64, Normalised> = pop
        .people
        .iter()
        .map(|p| {
            let raw = Raw {
                forename: Some(p.forename.clone()),
                surname: Some(p.surname.clone()),
                dob: Some(p.dob),
                postcode: Some(p.postcode.clone()),
            };
            (p.id, normalise(&raw).0)
        })
        .collect();
    let mut records = Vec::new();
    for row in pop.identifying_rows() {
        let (n, _) = normalise_on(&row.identifiers(), today());
        let tf = &true_fields[&row.person];
        let clean = n.forename().is_some()
            && n.forename() == tf.forename()
            && n.surname() == tf.surname()
            && n.date_of_birth() == tf.date_of_birth()
            && n.postcode() == tf.postcode();
        records.push(BackgroundRecord {
            id: records.len() as u64 + 1,
            source: row.source(),
            data_set: row.data_set,
            person: row.person,
            normalised: n,
            clean,
        });
    }
    let mk2 = records
        .iter()
        .map(|r| LinkRecord {
            id: r.id,
            source: r.source,
            tokens: tokens_for(Spec::Mk2, &r.normalised, &KEY),
        })
        .collect();
    Background { records, mk2 }
});

/// A linker holding the background, its model estimated.
fn background_linker() -> Linker {
    let bg = &*BACKGROUND;
    let mut l = Linker::new(LinkConfig::default());
    l.add(bg.mk2.clone());
    assert!(
        bg.records.len() >= 2_000 && bg.records.len() < 4_000,
        "background of {} records",
        bg.records.len()
    );
    assert!(
        l.model().iterations > 0,
        "the model is estimated from the background"
    );
    l
}

/// Test record ids start above every background id.
const FIRST_TEST_ID: u64 = 1_000_000;

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

// ---- test people -----------------------------------------------------------

/// A name of random letters that normalisation keeps as it is (not a
/// placeholder such as a repeated letter, which shrinking would reach) and
/// that has a NYSIIS code.
fn kept_name(s: &str) -> bool {
    let raw = Raw {
        forename: Some(s.to_owned()),
        surname: Some(s.to_owned()),
        ..Raw::default()
    };
    let (n, rejections) = normalise(&raw);
    rejections.is_empty()
        && n.forename() == Some(s)
        && n.surname() == Some(s)
        && nysiis(s).is_some()
}

fn name() -> impl Strategy<Value = String> {
    "[A-Z]{5,9}".prop_filter("a name normalisation keeps", |s| kept_name(s))
}

/// Outward codes away from the background's (RBKC) districts.
const OUTWARD: &[&str] = &[
    "N1", "E17", "M14", "LS6", "B15", "CF10", "G12", "EH3", "BS8", "NE6", "L18", "S10",
];
/// Letters an inward code may hold.
const INWARD_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

fn postcode() -> impl Strategy<Value = String> {
    (
        prop::sample::select(OUTWARD),
        0u8..10,
        prop::sample::select(INWARD_LETTERS),
        prop::sample::select(INWARD_LETTERS),
    )
        .prop_map(|(o, d, a, b)| format!("{o} {d}{}{}", a as char, b as char))
}

fn date(days: Vec<u32>) -> impl Strategy<Value = NaiveDate> {
    (1940i32..=2008, 1u32..=12, prop::sample::select(days))
        .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn any_date() -> impl Strategy<Value = NaiveDate> {
    date((1..=28).collect())
}

#[derive(Clone, Debug)]
struct Person {
    forename: String,
    surname: String,
    dob: NaiveDate,
    postcode: String,
}

impl Person {
    fn raw(&self) -> Raw {
        Raw {
            forename: Some(self.forename.clone()),
            surname: Some(self.surname.clone()),
            dob: Some(self.dob),
            postcode: Some(self.postcode.clone()),
        }
    }
}

fn person_born(dob: impl Strategy<Value = NaiveDate>) -> impl Strategy<Value = Person> {
    (name(), name(), dob, postcode())
        .prop_filter("two different names", |(f, s, _, _)| f != s)
        .prop_map(|(forename, surname, dob, postcode)| Person {
            forename,
            surname,
            dob,
            postcode,
        })
}

fn person() -> impl Strategy<Value = Person> {
    person_born(any_date())
}

/// A person and a postcode they moved to.
fn person_moved() -> impl Strategy<Value = (Person, String)> {
    (person(), postcode()).prop_filter("a different postcode", |(p, pc)| *pc != p.postcode)
}

#[derive(Clone, Copy, Debug)]
enum Edit {
    Substitute,
    Insert,
    Delete,
    Transpose,
}

/// One edit of `s` at position `at` (modulo the positions the edit has;
/// `letter` for a substitution or an insertion).
fn typo(s: &str, edit: Edit, at: usize, letter: u8) -> String {
    let mut c: Vec<u8> = s.bytes().collect();
    match edit {
        Edit::Substitute => {
            let i = at % c.len();
            c[i] = if c[i] == letter {
                b'A' + (letter - b'A' + 1) % 26
            } else {
                letter
            };
        }
        Edit::Insert => c.insert(at % (c.len() + 1), letter),
        Edit::Delete => {
            c.remove(at % c.len());
        }
        Edit::Transpose => {
            let i = at % (c.len() - 1);
            c.swap(i, i + 1);
        }
    }
    String::from_utf8(c).unwrap()
}

fn edit() -> impl Strategy<Value = (Edit, usize, u8)> {
    (
        prop::sample::select(vec![
            Edit::Substitute,
            Edit::Insert,
            Edit::Delete,
            Edit::Transpose,
        ]),
        0usize..10,
        b'A'..=b'Z',
    )
}

/// How the two records of a case reach the linker.
#[derive(Clone, Copy, Debug)]
enum Arrival {
    /// In one delta.
    Together,
    /// The clean record in one delta, the erroneous one in the next.
    CleanFirst,
    ErroneousFirst,
}

fn arrival() -> impl Strategy<Value = Arrival> {
    prop::sample::select(vec![
        Arrival::Together,
        Arrival::CleanFirst,
        Arrival::ErroneousFirst,
    ])
}

/// Two records of one person: one as it should be, one with an error.
#[derive(Clone, Debug)]
struct Case {
    clean: Raw,
    erroneous: Raw,
    arrival: Arrival,
}

/// Every case of `cases` must end as one person of exactly its two
/// records, in a linker holding the background.
fn check_linked(class: &str, cases: u32, strategy: impl Strategy<Value = (Raw, Raw)>) {
    let linker = RefCell::new(background_linker());
    let next_id = Cell::new(FIRST_TEST_ID);
    let strategy = (strategy, arrival()).prop_map(|((clean, erroneous), arrival)| Case {
        clean,
        erroneous,
        arrival,
    });
    let result = runner(cases).run(&strategy, |case| {
        let (a, b) = (next_id.get(), next_id.get() + 1);
        next_id.set(a + 2);
        let mut l = linker.borrow_mut();
        let ra = record(a, Source::Police, &case.clean);
        let rb = record(b, Source::Housing, &case.erroneous);
        match case.arrival {
            Arrival::Together => {
                l.add([ra, rb]);
            }
            Arrival::CleanFirst => {
                l.add([ra]);
                l.add([rb]);
            }
            Arrival::ErroneousFirst => {
                l.add([rb]);
                l.add([ra]);
            }
        }
        let (pa, pb) = (l.person_of(a), l.person_of(b));
        let records = pa.and_then(|p| l.records_of(p));
        l.remove(&[a, b]);
        prop_assert_eq!(pa, pb, "the two records are different persons");
        prop_assert_eq!(
            records,
            Some(vec![a, b]),
            "the person holds a background record too"
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{class}: {e}\n{}", linker.borrow().model().report());
    }
}

const CASES: u32 = 32;

// ---- one error per class: the two records are one person -----------------

#[test]
fn date_of_birth_one_day_off_links() {
    // Days whose neighbours either side differ in one digit (05 and 06, not
    // 09 and 10), and not the first of the month (the day before is in
    // another month: 1940-01-01 and 1939-12-31 share no digit form).
    let days: Vec<u32> = (2..=28).filter(|d| (1..=8).contains(&(d % 10))).collect();
    let s = (person_born(date(days)), any::<bool>()).prop_map(|(p, later)| {
        let dob = if later {
            p.dob.succ_opt().unwrap()
        } else {
            p.dob.pred_opt().unwrap()
        };
        let e = Raw {
            dob: Some(dob),
            ..p.raw()
        };
        (p.raw(), e)
    });
    check_linked("date of birth one day off", CASES, s);
}

/// Every valid date of birth one digit of `YYYYMMDD` away from `d`.
fn one_digit_away(d: NaiveDate) -> Vec<NaiveDate> {
    let digits = d.format("%Y%m%d").to_string().into_bytes();
    let first = NaiveDate::from_ymd_opt(1901, 1, 2).unwrap();
    let mut out = Vec::new();
    for i in 0..8 {
        for c in b'0'..=b'9' {
            if c == digits[i] {
                continue;
            }
            let mut v = digits.clone();
            v[i] = c;
            let s = String::from_utf8(v).unwrap();
            if let Ok(x) = NaiveDate::parse_from_str(&s, "%Y%m%d")
                && x >= first
                && x <= today()
            {
                out.push(x);
            }
        }
    }
    out
}

#[test]
fn date_of_birth_one_digit_off_links() {
    let s = (person(), any::<Index>()).prop_map(|(p, i)| {
        let away = one_digit_away(p.dob);
        let e = Raw {
            dob: Some(away[i.index(away.len())]),
            ..p.raw()
        };
        (p.raw(), e)
    });
    check_linked("date of birth one digit off", CASES, s);
}

#[test]
fn day_and_month_transposed_links() {
    let s = person_born(date((1..=12).collect()))
        .prop_filter("day and month differ", |p| p.dob.day() != p.dob.month())
        .prop_map(|p| {
            let d = p.dob;
            let swapped = NaiveDate::from_ymd_opt(d.year(), d.day(), d.month()).unwrap();
            let e = Raw {
                dob: Some(swapped),
                ..p.raw()
            };
            (p.raw(), e)
        });
    check_linked("day and month transposed", CASES, s);
}

#[test]
fn surname_typo_with_the_postcode_moved_or_missing_links() {
    let s = (person_moved(), edit(), any::<bool>())
        .prop_map(|((p, moved), (edit, at, letter), missing)| {
            let e = Raw {
                surname: Some(typo(&p.surname, edit, at, letter)),
                postcode: (!missing).then_some(moved),
                ..p.raw()
            };
            (p.raw(), e)
        })
        .prop_filter("a real typo, kept", |(c, e)| {
            e.surname != c.surname && kept_name(e.surname.as_deref().unwrap())
        });
    check_linked("surname typo, postcode moved or missing", CASES, s);
}

#[test]
fn forename_typo_with_the_postcode_moved_links() {
    let s = (person_moved(), edit())
        .prop_map(|((p, moved), (edit, at, letter))| {
            let e = Raw {
                forename: Some(typo(&p.forename, edit, at, letter)),
                postcode: Some(moved),
                ..p.raw()
            };
            (p.raw(), e)
        })
        .prop_filter("a real typo, kept", |(c, e)| {
            e.forename != c.forename && kept_name(e.forename.as_deref().unwrap())
        });
    check_linked("forename typo, postcode moved", CASES, s);
}

#[test]
fn forename_and_surname_swapped_with_the_postcode_moved_links() {
    let s = person_moved().prop_map(|(p, moved)| {
        let e = Raw {
            forename: Some(p.surname.clone()),
            surname: Some(p.forename.clone()),
            postcode: Some(moved),
            ..p.raw()
        };
        (p.raw(), e)
    });
    check_linked("forename and surname swapped, postcode moved", CASES, s);
}

#[test]
fn a_hyphenated_surname_recorded_as_one_part_links() {
    let s = (person(), name(), any::<bool>())
        .prop_filter("two different parts", |(p, b, _)| p.surname != *b)
        .prop_map(|(p, second, first_part)| {
            let clean = Raw {
                surname: Some(format!("{}-{second}", p.surname)),
                ..p.raw()
            };
            let part = if first_part {
                p.surname.clone()
            } else {
                second
            };
            let e = Raw {
                surname: Some(part),
                ..p.raw()
            };
            (clean, e)
        });
    check_linked("hyphenated surname recorded as one part", CASES, s);
}

/// Familiar forms and their formal forms (from `canonical_forename`'s
/// table, checked below).
const NICKNAMES: &[(&str, &str)] = &[
    ("BILL", "WILLIAM"),
    ("LIZ", "ELIZABETH"),
    ("BOB", "ROBERT"),
    ("KATE", "CATHERINE"),
    ("MIKE", "MICHAEL"),
    ("SUE", "SUSAN"),
    ("TOM", "THOMAS"),
    ("JIM", "JAMES"),
    ("PEGGY", "MARGARET"),
    ("HARRY", "HENRY"),
    ("TED", "EDWARD"),
    ("DICK", "RICHARD"),
    ("POLLY", "MARY"),
    ("TONY", "ANTHONY"),
    ("JENNY", "JENNIFER"),
    ("BECKY", "REBECCA"),
];

#[test]
fn a_nickname_links() {
    for (nick, formal) in NICKNAMES {
        assert_eq!(canonical_forename(nick), *formal, "{nick} is not {formal}");
    }
    let s = (person(), prop::sample::select(NICKNAMES), any::<bool>()).prop_map(
        |(p, (nick, formal), formal_first)| {
            let (x, y) = if formal_first {
                (formal, nick)
            } else {
                (nick, formal)
            };
            let clean = Raw {
                forename: Some(x.to_string()),
                ..p.raw()
            };
            let e = Raw {
                forename: Some(y.to_string()),
                ..p.raw()
            };
            (clean, e)
        },
    );
    check_linked("nickname", CASES, s);
}

#[test]
fn the_postcode_missing_on_one_record_links() {
    let s = person().prop_map(|p| {
        let e = Raw {
            postcode: None,
            ..p.raw()
        };
        (p.raw(), e)
    });
    check_linked("postcode missing", CASES, s);
}

// ---- twins ---------------------------------------------------------------

/// Forenames the linker must tell apart: no shared one-deletion form (so
/// not one edit apart, as the linker sees it), different NYSIIS codes, and
/// not variants of one name. They may share an initial.
fn distinct_forenames(a: &str, b: &str) -> bool {
    let (da, db) = (deletion_forms(a), deletion_forms(b));
    !da.iter().any(|f| db.contains(f))
        && nysiis(a) != nysiis(b)
        && canonical_forename(a) != canonical_forename(b)
}

/// Real twin forenames sharing an initial.
const TWIN_NAMES: &[(&str, &str)] = &[
    ("AMELIA", "AMY"),
    ("OLIVER", "OSCAR"),
    ("JACK", "JAMES"),
    ("SOPHIE", "SARAH"),
    ("HARRY", "HUGO"),
    ("ELLA", "EMILY"),
    ("LUCY", "LILY"),
    ("THOMAS", "THEO"),
];

fn twin_forenames() -> impl Strategy<Value = (String, String)> {
    for (a, b) in TWIN_NAMES {
        assert!(distinct_forenames(a, b), "{a} and {b} are too close");
    }
    prop_oneof![
        prop::sample::select(TWIN_NAMES).prop_map(|(a, b)| (a.to_string(), b.to_string())),
        // Random names sharing an initial.
        (name(), name()).prop_map(|(a, b)| {
            let b = format!("{}{}", &a[..1], &b[1..]);
            (a, b)
        }),
        (name(), name()),
    ]
    .prop_filter("forenames the linker can tell apart", |(a, b)| {
        kept_name(b) && distinct_forenames(a, b)
    })
}

#[derive(Clone, Debug)]
struct Twins {
    first: Raw,
    second: Raw,
    /// A record of one of them with no forename.
    no_forename: Raw,
    /// The record with no forename arrives with the twins (else later).
    together: bool,
}

#[test]
fn twins_never_link() {
    let s = (person(), twin_forenames(), any::<bool>())
        .prop_filter("forenames not the surname", |(p, (a, b), _)| {
            *a != p.surname && *b != p.surname
        })
        .prop_map(|(p, (a, b), together)| Twins {
            first: Raw {
                forename: Some(a),
                ..p.raw()
            },
            second: Raw {
                forename: Some(b),
                ..p.raw()
            },
            no_forename: Raw {
                forename: None,
                ..p.raw()
            },
            together,
        });
    let linker = RefCell::new(background_linker());
    let next_id = Cell::new(FIRST_TEST_ID);
    let result = runner(48).run(&s, |t| {
        let (a, b, c) = (next_id.get(), next_id.get() + 1, next_id.get() + 2);
        next_id.set(a + 3);
        let mut l = linker.borrow_mut();
        let twins = [
            record(a, Source::Police, &t.first),
            record(b, Source::Housing, &t.second),
        ];
        let third = record(c, Source::CommunitySafety, &t.no_forename);
        let before = if t.together {
            l.add(twins.into_iter().chain([third]));
            None
        } else {
            l.add(twins);
            let before = (l.person_of(a), l.person_of(b));
            l.add([third]);
            Some(before)
        };
        let after = (l.person_of(a), l.person_of(b));
        l.remove(&[a, b, c]);
        if let Some((pa, pb)) = before {
            prop_assert_ne!(pa, pb, "twins linked");
        }
        prop_assert_ne!(
            after.0,
            after.1,
            "twins one person after a record with no forename"
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("twins: {e}");
    }
}

// ---- mk1 and mk2 together --------------------------------------------------

/// Police send mk1 while every other agency sends mk2: the records without
/// errors fall into the same persons as when everyone sends mk2.
#[test]
fn an_mk1_agency_links_like_an_mk2_agency() {
    let bg = &*BACKGROUND;
    let all_mk2 = background_linker();
    let mut mixed = Linker::new(LinkConfig::default());
    mixed.add(bg.records.iter().map(|r| {
        let spec = if r.data_set == DataSet::PoliceViolentCrime {
            Spec::Mk1
        } else {
            Spec::Mk2
        };
        LinkRecord {
            id: r.id,
            source: r.source,
            tokens: tokens_for(spec, &r.normalised, &KEY),
        }
    }));
    assert!(mixed.model().iterations > 0);

    let clean: Vec<&BackgroundRecord> = bg.records.iter().filter(|r| r.clean).collect();
    // The partition of the clean records must be the same in both: person
    // ids map one to one.
    let mut to_mixed: HashMap<u64, u64> = HashMap::new();
    let mut to_mk2: HashMap<u64, u64> = HashMap::new();
    for r in &clean {
        let (p, q) = (
            all_mk2.person_of(r.id).unwrap(),
            mixed.person_of(r.id).unwrap(),
        );
        assert_eq!(
            *to_mixed.entry(p).or_insert(q),
            q,
            "record {} split from its mk2 person when police send mk1",
            r.id
        );
        assert_eq!(
            *to_mk2.entry(q).or_insert(p),
            p,
            "record {} joined another person when police send mk1",
            r.id
        );
    }
    // People with a clean police (mk1) record and a clean record from
    // another agency (mk2): linked in both.
    let mut by_person: HashMap<u64, Vec<&BackgroundRecord>> = HashMap::new();
    for r in &clean {
        by_person.entry(r.person).or_default().push(r);
    }
    let mut across = 0;
    for rs in by_person.values() {
        let police: Vec<u64> = rs
            .iter()
            .filter(|r| r.data_set == DataSet::PoliceViolentCrime)
            .map(|r| r.id)
            .collect();
        let other: Vec<u64> = rs
            .iter()
            .filter(|r| r.data_set != DataSet::PoliceViolentCrime)
            .map(|r| r.id)
            .collect();
        if let (Some(&p), Some(&o)) = (police.first(), other.first()) {
            across += 1;
            assert_eq!(
                mixed.person_of(p),
                mixed.person_of(o),
                "mk1 {p} and mk2 {o}"
            );
            assert_eq!(all_mk2.person_of(p), all_mk2.person_of(o));
        }
    }
    assert!(
        across >= 10,
        "only {across} people with clean police and other records"
    );
    eprintln!(
        "mk1/mk2: {} clean records, {across} people across police and others",
        clean.len()
    );
}

// ---- EM estimates ----------------------------------------------------------

/// The level's index in `LEVELS[field]`.
fn level(field: usize, l: Level) -> usize {
    LEVELS[field].iter().position(|&x| x == l).unwrap()
}

/// 5,000 people with two records each, the second with errors injected
/// at known rates: EM, without labels, lands on those rates.
#[test]
fn em_recovers_injected_error_rates() {
    use rand::{Rng, SeedableRng};
    const PEOPLE: usize = 5_000;
    const SURNAME_TYPO: f64 = 0.05;
    const POSTCODE_MOVED: f64 = 0.20;
    const DOB_ONE_DIGIT: f64 = 0.03;
    // Absolute tolerance on each m: far above sampling noise (about 0.006
    // at two standard errors for 0.05 over 5,000 pairs), far below the
    // rates themselves.
    const TOLERANCE: f64 = 0.02;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let letters = |rng: &mut rand_chacha::ChaCha8Rng| -> String {
        loop {
            let n = rng.random_range(5..=9);
            let s: String = (0..n)
                .map(|_| rng.random_range(b'A'..=b'Z') as char)
                .collect();
            if kept_name(&s) {
                return s;
            }
        }
    };
    let pc = |rng: &mut rand_chacha::ChaCha8Rng| -> String {
        let l = |rng: &mut rand_chacha::ChaCha8Rng| {
            INWARD_LETTERS[rng.random_range(0..INWARD_LETTERS.len())] as char
        };
        format!(
            "{} {}{}{}",
            OUTWARD[rng.random_range(0..OUTWARD.len())],
            rng.random_range(0..10),
            l(rng),
            l(rng)
        )
    };
    let mut records = Vec::with_capacity(2 * PEOPLE);
    let (mut typos, mut moves, mut digits) = (0usize, 0usize, 0usize);
    for i in 0..PEOPLE {
        let p = Person {
            forename: letters(&mut rng),
            surname: letters(&mut rng),
            dob: NaiveDate::from_ymd_opt(
                rng.random_range(1940..=2008),
                rng.random_range(1..=12),
                rng.random_range(1..=28),
            )
            .unwrap(),
            postcode: pc(&mut rng),
        };
        let mut e = p.raw();
        if rng.random_bool(SURNAME_TYPO) {
            loop {
                let edit = [
                    Edit::Substitute,
                    Edit::Insert,
                    Edit::Delete,
                    Edit::Transpose,
                ][rng.random_range(0..4)];
                let at = rng.random_range(0..10);
                let t = typo(&p.surname, edit, at, rng.random_range(b'A'..=b'Z'));
                if t != p.surname && kept_name(&t) {
                    e.surname = Some(t);
                    typos += 1;
                    break;
                }
            }
        }
        if rng.random_bool(POSTCODE_MOVED) {
            let moved = loop {
                let x = pc(&mut rng);
                if x != p.postcode {
                    break x;
                }
            };
            e.postcode = Some(moved);
            moves += 1;
        }
        if rng.random_bool(DOB_ONE_DIGIT) {
            let away = one_digit_away(p.dob);
            e.dob = Some(away[rng.random_range(0..away.len())]);
            digits += 1;
        }
        let id = 2 * i as u64 + 1;
        records.push(record(id, Source::Police, &p.raw()));
        records.push(record(id + 1, Source::Housing, &e));
    }
    let mut l = Linker::new(LinkConfig::default());
    l.add(records);
    let m = l.model();
    assert!(m.iterations > 0, "the model was estimated");
    eprintln!("{}", m.report());
    let (s, d, p) = (1, 2, 3);
    assert_eq!(FIELDS[s], "surname");
    assert_eq!(FIELDS[d], "date_of_birth");
    assert_eq!(FIELDS[p], "postcode");
    let n = PEOPLE as f64;
    for (field, lv, injected) in [
        (s, Level::OneEdit, typos as f64 / n),
        (p, Level::Disagree, moves as f64 / n),
        (d, Level::OneEdit, digits as f64 / n),
    ] {
        let est = m.m[field][level(field, lv)];
        eprintln!(
            "m of {} at {}: {est:.4}, injected {injected:.4}",
            FIELDS[field],
            lv.as_str()
        );
        assert!(
            (est - injected).abs() <= TOLERANCE,
            "m of {} at {}: {est:.4}, injected {injected:.4} (±{TOLERANCE})",
            FIELDS[field],
            lv.as_str()
        );
    }
    // No forename errors were injected: the matches' forenames agree.
    let f = 0;
    assert!(
        m.m[f][level(f, Level::Exact)] >= 1.0 - TOLERANCE,
        "m of forename exact: {}",
        m.m[f][0]
    );
    // One match per person among all pairs.
    let pairs = (2 * PEOPLE) as f64 * (2 * PEOPLE - 1) as f64;
    let lambda = 2.0 * n / pairs;
    assert!(
        (m.lambda / lambda - 1.0).abs() < 0.1,
        "λ {} against {lambda}",
        m.lambda
    );
}
