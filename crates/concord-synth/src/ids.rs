//! Synthetic NHS numbers, PNC ids and postcodes.

use rand::Rng;

/// The modulus-11 check digit, as mk1 validates it (one implementation
/// for the spec and the synthetic data).
pub use concord_matchkey::nhs_check_digit;

/// Whether `s` is ten digits with a valid modulus-11 check digit.
pub fn nhs_is_valid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d: Vec<u8> = b.iter().map(|x| x - b'0').collect();
    let nine: [u8; 9] = d[..9].try_into().expect("nine");
    nhs_check_digit(&nine) == Some(d[9])
}

/// A random NHS number in the `999` range, which the NHS reserves for test
/// data: no real patient holds one.
pub(crate) fn nhs_number(rng: &mut impl Rng) -> String {
    loop {
        let mut d = [9u8, 9, 9, 0, 0, 0, 0, 0, 0];
        for x in &mut d[3..] {
            *x = rng.random_range(0..10);
        }
        // Avoid 999 999 999x: normalisers reject all-same-digit numbers.
        if d.iter().all(|&x| x == 9) {
            continue;
        }
        if let Some(c) = nhs_check_digit(&d) {
            return d
                .iter()
                .chain(std::iter::once(&c))
                .map(|x| char::from(b'0' + x))
                .collect();
        }
    }
}

/// PNC check letters, indexed by `(YY·10⁷ + serial) mod 23`.
const PNC_LETTERS: &[u8; 23] = b"ZABCDEFGHJKLMNPQRTUVWXY";

/// A PNC id `YY/NNNNNNNA` with a valid check letter.
pub(crate) fn pnc_id(rng: &mut impl Rng, year: u32) -> String {
    let yy = year % 100;
    let serial: u32 = rng.random_range(1..10_000_000);
    let n = u64::from(yy) * 10_000_000 + u64::from(serial);
    let letter = PNC_LETTERS[(n % 23) as usize] as char;
    format!("{yy:02}/{serial:07}{letter}")
}

/// A postcode unit in `district` and `sector`: `W10 6AB`.
pub(crate) fn postcode(rng: &mut impl Rng, district: &str, sector: u8) -> String {
    let l = crate::geo::INWARD_LETTERS;
    let a = l[rng.random_range(0..l.len())] as char;
    let b = l[rng.random_range(0..l.len())] as char;
    format!("{district} {sector}{a}{b}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_dictionary_example_checks() {
        assert!(nhs_is_valid("9434765919"));
        assert!(!nhs_is_valid("9434765918"));
    }
}
