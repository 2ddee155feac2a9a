//! The mk1 key set and its token messages (crate doc, "Keys" and
//! "Tokens").

use chrono::NaiveDate;
use concord_core::{KeyName, Token};
use concord_keys::LinkageKey;

use crate::{Normalised, SPEC, date::push_iso};

/// Separates the fields of a composite key in the token message: ASCII
/// unit separator, which no normalised field can contain.
pub const FIELD_SEPARATOR: u8 = 0x1f;

/// One field of a key.
#[derive(Clone, Copy)]
enum Field<'a> {
    Text(&'a str),
    Date(NaiveDate),
}

fn text(s: &Option<String>) -> Option<Field<'_>> {
    s.as_deref().map(Field::Text)
}

fn pair<'a>(a: Option<Field<'a>>, b: Option<Field<'a>>) -> Option<([Field<'a>; 3], usize)> {
    let (a, b) = (a?, b?);
    Some(([a, b, b], 2))
}

/// The fields of `key` for `n`, in order, or `None` when one is missing.
fn fields(key: KeyName, n: &Normalised) -> Option<([Field<'_>; 3], usize)> {
    let t = text;
    let dob = n.date_of_birth.map(Field::Date);
    match key {
        KeyName::Nhs => t(&n.nhs_number).map(|a| ([a, a, a], 1)),
        KeyName::Pnc => t(&n.pnc_id).map(|a| ([a, a, a], 1)),
        KeyName::SnDob => pair(t(&n.surname), dob),
        KeyName::FnDob => pair(t(&n.forename), dob),
        // The initial of the canonical forename (nicknames resolved), with
        // the date of birth: agreement despite a typo in the forename.
        KeyName::FiDob => pair(
            n.forename.as_deref().map(|f| {
                Field::Text(crate::nickname::initial(
                    crate::nickname::canonical_forename(f),
                ))
            }),
            dob,
        ),
        KeyName::FnSn => pair(t(&n.forename), t(&n.surname)),
        KeyName::SnPc => pair(t(&n.surname), t(&n.postcode)),
        KeyName::FnPc => pair(t(&n.forename), t(&n.postcode)),
        KeyName::DobPc => pair(dob, t(&n.postcode)),
        KeyName::PhSnDob => pair(t(&n.phonetic_surname), dob),
        KeyName::PhFnSn => pair(t(&n.phonetic_forename), t(&n.surname)),
        KeyName::SnDobSwap => {
            let sn = t(&n.surname)?;
            let d = n.date_of_birth?;
            let s = crate::date::swapped(d)?;
            Some(([sn, Field::Date(d.min(s)), Field::Date(d.max(s))], 3))
        }
        KeyName::NamesDob => {
            let (f, s) = (n.forename.as_deref()?, n.surname.as_deref()?);
            let d = Field::Date(n.date_of_birth?);
            let (a, b) = if f <= s { (f, s) } else { (s, f) };
            Some(([Field::Text(a), Field::Text(b), d], 3))
        }
    }
}

/// Appends the token message of `key` for `n` to `out`; false (and `out`
/// untouched) when the key cannot be formed.
pub(crate) fn message(key: KeyName, n: &Normalised, out: &mut Vec<u8>) -> bool {
    let Some((fs, len)) = fields(key, n) else {
        return false;
    };
    out.extend_from_slice(SPEC.as_bytes());
    out.push(b':');
    out.extend_from_slice(key.as_str().as_bytes());
    out.push(b':');
    for (i, f) in fs[..len].iter().enumerate() {
        if i > 0 {
            out.push(FIELD_SEPARATOR);
        }
        match f {
            Field::Text(s) => out.extend_from_slice(s.as_bytes()),
            Field::Date(d) => push_iso(out, *d),
        }
    }
    true
}

/// Every token `n` yields, in key-code order.
pub fn tokens(n: &Normalised, key: &LinkageKey) -> Vec<(KeyName, Token)> {
    let mut out = Vec::with_capacity(KeyName::ALL.len());
    let mut msg = Vec::with_capacity(96);
    for k in KeyName::ALL {
        msg.clear();
        if message(*k, n, &mut msg) {
            out.push((*k, key.mac(&msg)));
        }
    }
    out
}
