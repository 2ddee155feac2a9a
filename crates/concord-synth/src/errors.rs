//! How agencies get identifiers wrong.

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::{ErrorRates, names, people::Person};

/// Identifiers as one agency recorded them for one record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Observed {
    pub forename: String,
    pub surname: String,
    pub dob: Option<NaiveDate>,
    pub postcode: String,
    pub nhs: String,
    pub pnc: String,
}

/// What an agency usually holds: the chance that a record carries the NHS
/// number and the PNC id (of a person who has one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Holds {
    pub nhs: f64,
    pub pnc: f64,
}

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

/// One keyboard-style slip: substitution, transposition of neighbours, or
/// deletion. Works on characters, so accented names stay valid UTF-8.
pub(crate) fn typo(rng: &mut ChaCha8Rng, s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    if c.len() < 3 {
        return s.to_owned();
    }
    // Never touch the first letter: most slips are later in a word.
    let i = rng.random_range(1..c.len());
    match rng.random_range(0..3) {
        0 => {
            let mut r = ALPHABET[rng.random_range(0..ALPHABET.len())] as char;
            if r.eq_ignore_ascii_case(&c[i]) {
                r = if r == 'z' { 'a' } else { (r as u8 + 1) as char };
            }
            c[i] = r;
        }
        1 if i + 1 < c.len() && c[i] != c[i + 1] => c.swap(i, i + 1),
        1 => c.swap(i - 1, i),
        _ => {
            c.remove(i);
        }
    }
    c.into_iter().collect()
}

/// Day and month transposed, when that is another valid date.
pub(crate) fn swap_day_month(d: NaiveDate) -> Option<NaiveDate> {
    if d.day() == d.month() || d.day() > 12 {
        return None;
    }
    NaiveDate::from_ymd_opt(d.year(), d.day(), d.month())
}

/// Records `p` as an agency would, with errors at the configured rates.
pub(crate) fn observe(rng: &mut ChaCha8Rng, p: &Person, e: &ErrorRates, holds: Holds) -> Observed {
    let mut forename = p.forename.clone();
    let mut surname = p.surname.clone();
    if rng.random_bool(e.nickname) {
        let n = names::nicknames(&forename);
        if !n.is_empty() {
            forename = n[rng.random_range(0..n.len())].to_owned();
        }
    }
    if surname.contains('-') && rng.random_bool(e.hyphen) {
        let (a, b) = surname.split_once('-').expect("hyphen");
        surname = if rng.random_bool(0.8) { a } else { b }.to_owned();
    }
    if rng.random_bool(e.typo) {
        if rng.random_bool(0.5) {
            forename = typo(rng, &forename);
        } else {
            surname = typo(rng, &surname);
        }
    }
    if rng.random_bool(e.name_swap) {
        std::mem::swap(&mut forename, &mut surname);
    }
    let mut dob = Some(p.dob);
    if rng.random_bool(e.dob_day_month) {
        dob = swap_day_month(p.dob).or(dob);
    }
    let mut postcode = p.postcode.clone();
    if let Some(old) = &p.previous_postcode
        && rng.random_bool(e.old_postcode)
    {
        postcode = old.clone();
    }
    if rng.random_bool(e.missing_field) {
        dob = None;
    }
    if rng.random_bool(e.missing_field) {
        postcode.clear();
    }
    if rng.random_bool(e.missing_field / 4.0) {
        forename.clear();
    }
    let nhs = if rng.random_bool(holds.nhs) {
        p.nhs_number.clone()
    } else {
        String::new()
    };
    let pnc = match &p.pnc_id {
        Some(x) if rng.random_bool(holds.pnc) => x.clone(),
        _ => String::new(),
    };
    Observed {
        forename,
        surname,
        dob,
        postcode,
        nhs,
        pnc,
    }
}
