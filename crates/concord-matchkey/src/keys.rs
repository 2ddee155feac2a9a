//! The mk1 and mk2 key sets and their token messages (crate doc, "Keys"
//! and "Tokens").

use chrono::NaiveDate;
use concord_core::{KeyName, Token};
use concord_keys::LinkageKey;

use crate::{Normalised, date::push_iso, nickname};

/// Separates the fields of a composite key in the token message: ASCII
/// unit separator, which no normalised field can contain.
pub const FIELD_SEPARATOR: u8 = 0x1f;

/// A version of the key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Spec {
    /// The first thirteen keys.
    Mk1,
    /// mk1's keys, unchanged, and the tolerant keys added for linkage on
    /// data it was not tuned on.
    Mk2,
}

impl Spec {
    /// The current key set: what the push agent sends.
    pub const CURRENT: Spec = Spec::Mk2;

    pub const fn as_str(self) -> &'static str {
        match self {
            Spec::Mk1 => "mk1",
            Spec::Mk2 => "mk2",
        }
    }

    /// The keys of the set, in key-code order.
    pub fn keys(self) -> &'static [KeyName] {
        match self {
            Spec::Mk1 => &KeyName::ALL[..13],
            Spec::Mk2 => KeyName::ALL,
        }
    }
}

/// One field of a key.
#[derive(Clone)]
enum Field<'a> {
    Text(&'a str),
    /// A derived form (a deletion form of a name).
    Own(String),
    Date(NaiveDate),
    /// `YYYY-MM`.
    YearMonth(NaiveDate),
    /// The date as eight digits `YYYYMMDD`, or one of its one-deletion
    /// forms (seven digits): `skip` is the position left out, 8 for none.
    Digits(NaiveDate, usize),
}

/// A key's fields for one token: up to three.
type Fields<'a> = ([Field<'a>; 3], usize);

fn text(s: &Option<String>) -> Option<Field<'_>> {
    s.as_deref().map(Field::Text)
}

fn pair<'a>(a: Option<Field<'a>>, b: Option<Field<'a>>) -> Option<Fields<'a>> {
    let (a, b) = (a?, b?);
    Some(([a, b.clone(), b], 2))
}

fn triple<'a>(
    a: Option<Field<'a>>,
    b: Option<Field<'a>>,
    c: Option<Field<'a>>,
) -> Option<Fields<'a>> {
    Some(([a?, b?, c?], 3))
}

/// The two names as an unordered pair (ascending byte order).
fn names(n: &Normalised) -> Option<(Field<'_>, Field<'_>)> {
    let (f, s) = (n.forename.as_deref()?, n.surname.as_deref()?);
    let (a, b) = if f <= s { (f, s) } else { (s, f) };
    Some((Field::Text(a), Field::Text(b)))
}

/// The date of birth and its day/month swap, earlier first, when the swap
/// is a different valid date.
fn swap_pair(n: &Normalised) -> Option<(Field<'static>, Field<'static>)> {
    let d = n.date_of_birth?;
    let s = crate::date::swapped(d)?;
    Some((Field::Date(d.min(s)), Field::Date(d.max(s))))
}

/// The fields of a single-token `key` for `n`, or `None` when one is
/// missing.
fn fields(key: KeyName, n: &Normalised) -> Option<Fields<'_>> {
    let t = text;
    let dob = n.date_of_birth.map(Field::Date);
    let canonical = || n.forename.as_deref().map(nickname::canonical_forename);
    match key {
        KeyName::Nhs => t(&n.nhs_number).map(|a| ([a.clone(), a.clone(), a], 1)),
        KeyName::Pnc => t(&n.pnc_id).map(|a| ([a.clone(), a.clone(), a], 1)),
        KeyName::SnDob => pair(t(&n.surname), dob),
        KeyName::FnDob => pair(t(&n.forename), dob),
        // The initial of the canonical forename (nicknames resolved), with
        // the date of birth: agreement despite a typo in the forename.
        KeyName::FiDob => pair(canonical().map(|f| Field::Text(nickname::initial(f))), dob),
        KeyName::FnSn => pair(t(&n.forename), t(&n.surname)),
        KeyName::SnPc => pair(t(&n.surname), t(&n.postcode)),
        KeyName::FnPc => pair(t(&n.forename), t(&n.postcode)),
        KeyName::DobPc => pair(dob, t(&n.postcode)),
        KeyName::PhSnDob => pair(t(&n.phonetic_surname), dob),
        KeyName::PhFnSn => pair(t(&n.phonetic_forename), t(&n.surname)),
        KeyName::SnDobSwap => {
            let (lo, hi) = swap_pair(n)?;
            triple(t(&n.surname), Some(lo), Some(hi))
        }
        KeyName::NamesDob => {
            let (a, b) = names(n)?;
            triple(Some(a), Some(b), dob)
        }
        KeyName::CfnSnDob => triple(canonical().map(Field::Text), t(&n.surname), dob),
        KeyName::FiSnDob => triple(
            canonical().map(|f| Field::Text(nickname::initial(f))),
            t(&n.surname),
            dob,
        ),
        KeyName::FnSnYm => triple(
            t(&n.forename),
            t(&n.surname),
            n.date_of_birth.map(Field::YearMonth),
        ),
        KeyName::FnDobSwap => {
            let (lo, hi) = swap_pair(n)?;
            triple(t(&n.forename), Some(lo), Some(hi))
        }
        KeyName::PhFnDob => pair(t(&n.phonetic_forename), dob),
        KeyName::PhSnFn => pair(t(&n.phonetic_surname), t(&n.forename)),
        KeyName::NamesPc => {
            let (a, b) = names(n)?;
            triple(Some(a), Some(b), t(&n.postcode))
        }
        KeyName::SnDelDob
        | KeyName::FnDelSn
        | KeyName::FnDelDob
        | KeyName::DobDelSn
        | KeyName::SnPartFnDob => None,
    }
}

/// Names shorter than this have no deletion forms: only the name itself.
pub const MIN_DELETION_LEN: usize = 3;

/// The one-deletion neighbourhood of a name: the name and every string
/// made by removing one character, without repeats, in ascending byte
/// order. Two names one edit apart (a substitution, an insertion, a
/// deletion or a transposition of neighbours) always share one form.
pub fn deletion_forms(name: &str) -> Vec<String> {
    let chars: Vec<(usize, char)> = name.char_indices().collect();
    let mut out = vec![name.to_owned()];
    if chars.len() >= MIN_DELETION_LEN {
        for &(i, c) in &chars {
            let mut s = String::with_capacity(name.len());
            s.push_str(&name[..i]);
            s.push_str(&name[i + c.len_utf8()..]);
            out.push(s);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The eight digits `YYYYMMDD` of a date.
fn digits(d: NaiveDate) -> [u8; 8] {
    let mut v = Vec::with_capacity(10);
    push_iso(&mut v, d);
    [v[0], v[1], v[2], v[3], v[5], v[6], v[8], v[9]]
}

/// The digit deletion forms of a date: the positions to skip (8 = none),
/// one per distinct form, in ascending order of the form.
fn date_deletions(d: NaiveDate) -> Vec<usize> {
    let ds = digits(d);
    let form = |skip: usize| -> Vec<u8> {
        ds.iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, b)| *b)
            .collect()
    };
    let mut forms: Vec<(Vec<u8>, usize)> = (0..=8).map(|s| (form(s), s)).collect();
    forms.sort();
    forms.dedup_by(|a, b| a.0 == b.0);
    forms.into_iter().map(|(_, s)| s).collect()
}

/// Every token field list of `key` for `n`: one for a single-token key
/// (none when a field is missing), one per form for a multi-token key.
fn all_fields(key: KeyName, n: &Normalised) -> Vec<Fields<'_>> {
    let t = text;
    let dob = n.date_of_birth;
    let del = |name: &Option<String>| -> Vec<String> {
        name.as_deref().map(deletion_forms).unwrap_or_default()
    };
    match key {
        KeyName::SnDelDob | KeyName::FnDelSn | KeyName::FnDelDob => {
            let (own, other) = match key {
                KeyName::SnDelDob => (&n.surname, dob.map(Field::Date)),
                KeyName::FnDelSn => (&n.forename, t(&n.surname)),
                _ => (&n.forename, dob.map(Field::Date)),
            };
            let Some(other) = other else {
                return Vec::new();
            };
            del(own)
                .into_iter()
                .map(|f| ([Field::Own(f), other.clone(), other.clone()], 2))
                .collect()
        }
        KeyName::DobDelSn => match (dob, t(&n.surname)) {
            (Some(d), Some(o)) => date_deletions(d)
                .into_iter()
                .map(|s| ([Field::Digits(d, s), o.clone(), o.clone()], 2))
                .collect(),
            _ => Vec::new(),
        },
        KeyName::SnPartFnDob => match (t(&n.forename), dob) {
            (Some(f), Some(d)) => n
                .surname_parts
                .iter()
                .map(|p| ([Field::Text(p.as_str()), f.clone(), Field::Date(d)], 3))
                .collect(),
            _ => Vec::new(),
        },
        _ => fields(key, n).into_iter().collect(),
    }
}

/// Appends one token message to `out`.
fn write_message(key: KeyName, fs: &Fields<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(key.spec().as_bytes());
    out.push(b':');
    out.extend_from_slice(key.as_str().as_bytes());
    out.push(b':');
    for (i, f) in fs.0[..fs.1].iter().enumerate() {
        if i > 0 {
            out.push(FIELD_SEPARATOR);
        }
        match f {
            Field::Text(s) => out.extend_from_slice(s.as_bytes()),
            Field::Own(s) => out.extend_from_slice(s.as_bytes()),
            Field::Date(d) => push_iso(out, *d),
            Field::YearMonth(d) => {
                let mut v = Vec::with_capacity(10);
                push_iso(&mut v, *d);
                out.extend_from_slice(&v[..7]);
            }
            Field::Digits(d, skip) => {
                for (i, b) in digits(*d).iter().enumerate() {
                    if i != *skip {
                        out.push(*b);
                    }
                }
            }
        }
    }
}

/// Every token message of `key` for `n`, in the order of its forms.
pub(crate) fn messages(key: KeyName, n: &Normalised) -> Vec<Vec<u8>> {
    all_fields(key, n)
        .iter()
        .map(|fs| {
            let mut m = Vec::with_capacity(96);
            write_message(key, fs, &mut m);
            m
        })
        .collect()
}

/// Every token `n` yields under the current key set, in key-code order
/// (a multi-token key's tokens in the order of their forms).
pub fn tokens(n: &Normalised, key: &LinkageKey) -> Vec<(KeyName, Token)> {
    tokens_for(Spec::CURRENT, n, key)
}

/// Every token `n` yields under `spec`.
pub fn tokens_for(spec: Spec, n: &Normalised, key: &LinkageKey) -> Vec<(KeyName, Token)> {
    let mut out = Vec::with_capacity(64);
    for k in spec.keys() {
        for m in messages(*k, n) {
            out.push((*k, key.mac(&m)));
        }
    }
    out
}
