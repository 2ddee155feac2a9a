//! NHS numbers, PNC ids and postcodes (crate doc).

use crate::Rejection;

/// The modulus-11 check digit of the first nine digits of an NHS number:
/// weights 10 down to 2, `11 - (sum mod 11)`, where 11 becomes 0 and 10
/// means no NHS number can start with these nine digits.
pub fn nhs_check_digit(first_nine: &[u8; 9]) -> Option<u8> {
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10).rev())
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

/// Normalises an NHS number to its ten digits.
pub(crate) fn nhs(raw: &str) -> Result<Option<String>, Rejection> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let mut d = [0u8; 10];
    let mut n = 0;
    for b in raw.bytes() {
        match b {
            b'0'..=b'9' if n < 10 => {
                d[n] = b - b'0';
                n += 1;
            }
            b' ' | b'-' => {}
            _ => return Err(Rejection::NhsInvalid),
        }
    }
    if n != 10 {
        return Err(Rejection::NhsInvalid);
    }
    if d.iter().all(|x| *x == d[0]) {
        return Err(Rejection::NhsPlaceholder);
    }
    let first_nine: &[u8; 9] = d[..9].try_into().expect("nine digits");
    if nhs_check_digit(first_nine) != Some(d[9]) {
        return Err(Rejection::NhsCheckDigit);
    }
    Ok(Some(d.iter().map(|x| char::from(b'0' + x)).collect()))
}

/// The 23 PNC check letters, indexed by `(YY·10⁷ + serial) mod 23`.
pub const PNC_CHECK_LETTERS: &[u8; 23] = b"ZABCDEFGHJKLMNPQRTUVWXY";

/// The check letter of PNC id year `yy` (two digits) and serial number.
pub fn pnc_check_letter(yy: u32, serial: u32) -> char {
    let n = u64::from(yy) * 10_000_000 + u64::from(serial);
    PNC_CHECK_LETTERS[(n % 23) as usize] as char
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Normalises a PNC id to `YY/NNNNNNNA`.
pub(crate) fn pnc(raw: &str) -> Result<Option<String>, Rejection> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    // Every accepted shape is ASCII; checking first also keeps the byte
    // offsets below on character boundaries.
    if !s.is_ascii() {
        return Err(Rejection::PncInvalid);
    }
    let Some(letter) = s.chars().last().filter(char::is_ascii_uppercase) else {
        return Err(Rejection::PncInvalid);
    };
    let body = &s[..s.len() - 1];
    let (year, serial) = match body.split_once('/') {
        Some((y, n)) if (y.len() == 2 || y.len() == 4) && (1..=7).contains(&n.len()) => (y, n),
        Some(_) => return Err(Rejection::PncInvalid),
        None if body.len() == 9 => body.split_at(2),
        None if body.len() == 11 => body.split_at(4),
        None => return Err(Rejection::PncInvalid),
    };
    if !all_digits(year) || !all_digits(serial) {
        return Err(Rejection::PncInvalid);
    }
    if year.len() == 4 && !matches!(&year[..2], "19" | "20") {
        return Err(Rejection::PncInvalid);
    }
    let yy: u32 = year[year.len() - 2..].parse().expect("two digits");
    let serial: u32 = serial.parse().expect("at most seven digits");
    if serial == 0 {
        return Err(Rejection::PncPlaceholder);
    }
    if pnc_check_letter(yy, serial) != letter {
        return Err(Rejection::PncCheckLetter);
    }
    Ok(Some(format!("{yy:02}/{serial:07}{letter}")))
}

/// Postcodes that stand for "no fixed abode" or "not known" (compared with
/// everything but letters and digits removed). ZZ99 postcodes are caught
/// by their prefix.
pub const POSTCODE_PLACEHOLDERS: &[&str] = &[
    "NFA",
    "NOFIXEDABODE",
    "UNKNOWN",
    "NOTKNOWN",
    "NK",
    "NA",
    "NONE",
    "ZZ99",
];

fn is_letter(b: u8) -> bool {
    b.is_ascii_uppercase()
}

fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

/// Does `outward` follow the official pattern (A9, A99, A9A, AA9, AA99,
/// AA9A, with the letters each position allows)?
fn valid_outward(o: &[u8]) -> bool {
    let first = |b: u8| is_letter(b) && !b"QVX".contains(&b);
    let second = |b: u8| is_letter(b) && !b"IJZ".contains(&b);
    let third = |b: u8| b"ABCDEFGHJKPSTUW".contains(&b);
    let fourth = |b: u8| b"ABEHMNPRVWXY".contains(&b);
    match *o {
        [a, n] => first(a) && is_digit(n),
        [a, n, m] if is_digit(n) => first(a) && (is_digit(m) || third(m)),
        [a, b, n] => first(a) && second(b) && is_digit(n),
        [a, b, n, m] => first(a) && second(b) && is_digit(n) && (is_digit(m) || fourth(m)),
        _ => false,
    }
}

fn valid_inward(i: &[u8]) -> bool {
    let letter = |b: u8| is_letter(b) && !b"CIKMOV".contains(&b);
    matches!(*i, [n, a, b] if is_digit(n) && letter(a) && letter(b))
}

/// Normalises a UK postcode to `OUTWARD INWARD` with one space.
pub(crate) fn postcode(raw: &str) -> Result<Option<String>, Rejection> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let compact: Vec<u8> = raw
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    let alnum: Vec<u8> = compact
        .iter()
        .copied()
        .filter(u8::is_ascii_alphanumeric)
        .collect();
    if alnum.starts_with(b"ZZ99") || POSTCODE_PLACEHOLDERS.iter().any(|p| p.as_bytes() == alnum) {
        return Err(Rejection::PostcodePlaceholder);
    }
    if !(5..=7).contains(&compact.len()) {
        return Err(Rejection::PostcodeInvalid);
    }
    let (outward, inward) = compact.split_at(compact.len() - 3);
    let girobank = outward == b"GIR" && inward == b"0AA";
    let valid = girobank || (valid_outward(outward) && valid_inward(inward));
    if !valid {
        return Err(Rejection::PostcodeInvalid);
    }
    let mut out = String::with_capacity(8);
    out.push_str(std::str::from_utf8(outward).expect("ASCII"));
    out.push(' ');
    out.push_str(std::str::from_utf8(inward).expect("ASCII"));
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(s: &str) -> Result<Option<String>, Rejection> {
        Ok(Some(s.to_owned()))
    }

    #[test]
    fn nhs_numbers() {
        // The NHS Data Dictionary's worked example: 943 476 5919.
        assert_eq!(nhs("943 476 5919"), some("9434765919"));
        assert_eq!(nhs("943-476-5919"), some("9434765919"));
        assert_eq!(nhs("9434765918"), Err(Rejection::NhsCheckDigit));
        assert_eq!(nhs("0000000000"), Err(Rejection::NhsPlaceholder));
        assert_eq!(nhs("9999999999"), Err(Rejection::NhsPlaceholder));
        assert_eq!(nhs("1111111111"), Err(Rejection::NhsPlaceholder));
        assert_eq!(nhs("943476591"), Err(Rejection::NhsInvalid));
        assert_eq!(nhs("94347659190"), Err(Rejection::NhsInvalid));
        assert_eq!(nhs("943476591X"), Err(Rejection::NhsInvalid));
        assert_eq!(nhs("943.476.5919"), Err(Rejection::NhsInvalid));
        assert_eq!(nhs(""), Ok(None));
        // A remainder of 1 makes the check "digit" 10: no valid number.
        let nine = (0..1_000_000u32)
            .map(|i| {
                let s = format!("{:09}", 123_000_000 + i);
                let b: [u8; 9] = std::array::from_fn(|k| s.as_bytes()[k] - b'0');
                b
            })
            .find(|b| nhs_check_digit(b).is_none())
            .expect("some prefix has check 10");
        for last in 0..=9u8 {
            let s: String = nine
                .iter()
                .chain([last].iter())
                .map(|x| char::from(b'0' + x))
                .collect();
            assert_eq!(nhs(&s), Err(Rejection::NhsCheckDigit), "{s}");
        }
    }

    #[test]
    fn pnc_ids() {
        // Worked by hand: 01·10⁷ + 12345 = 10012345 = 23·435319 + 8 → H;
        // 26·10⁷ + 1 = 260000001 ≡ 20 → W; 99·10⁷ + 9999999 ≡ 19 → V;
        // 23 ≡ 0 → Z; 05·10⁷ + 100 ≡ 9 → J.
        for (yy, serial, want) in [
            (1, 12345, 'H'),
            (26, 1, 'W'),
            (99, 9_999_999, 'V'),
            (0, 23, 'Z'),
            (5, 100, 'J'),
        ] {
            assert_eq!(pnc_check_letter(yy, serial), want, "{yy}/{serial}");
        }
        let letter = 'H';
        let canonical = format!("01/0012345{letter}");
        for form in [
            format!("01/12345{letter}"),
            format!("2001/0012345{letter}"),
            format!("2001/12345{}", letter.to_ascii_lowercase()),
            format!("010012345{letter}"),
            format!("20010012345{letter}"),
            format!(" 01 / 0012345 {letter} "),
        ] {
            assert_eq!(pnc(&form), Ok(Some(canonical.clone())), "{form}");
        }
        let wrong = if letter == 'A' { 'B' } else { 'A' };
        assert_eq!(
            pnc(&format!("01/12345{wrong}")),
            Err(Rejection::PncCheckLetter)
        );
        assert_eq!(pnc("01/0000000Z"), Err(Rejection::PncPlaceholder));
        for bad in [
            "01/12345",
            "1/12345A",
            "01/123456789A",
            "1801/12345A",
            "ABC",
            "01-12345A",
        ] {
            assert_eq!(pnc(bad), Err(Rejection::PncInvalid), "{bad}");
        }
    }

    #[test]
    fn a_pnc_id_with_non_ascii_characters_is_invalid_not_a_panic() {
        // Found by fuzz/fuzz_targets/matchkey_normalise.rs: ten bytes without
        // a slash were split at byte 2, inside the first character.
        assert_eq!(pnc("\u{FFFD}EDMAYNE"), Err(Rejection::PncInvalid));
        assert_eq!(pnc("0\u{E9}123456A"), Err(Rejection::PncInvalid));
        assert_eq!(pnc("012\u{E9}123456A"), Err(Rejection::PncInvalid));
        assert_eq!(pnc("\u{E9}\u{E9}/1234567A"), Err(Rejection::PncInvalid));
    }

    #[test]
    fn postcodes() {
        for (raw, want) in [
            ("sw1a1aa", "SW1A 1AA"),
            ("SW1A 1AA", "SW1A 1AA"),
            (" w8  7nx ", "W8 7NX"),
            ("W87NX", "W8 7NX"),
            ("M1 1AE", "M1 1AE"),
            ("B33 8TH", "B33 8TH"),
            ("CR2 6XH", "CR2 6XH"),
            ("DN55 1PT", "DN55 1PT"),
            ("W1A 0AX", "W1A 0AX"),
            ("EC1A 1BB", "EC1A 1BB"),
            ("GIR 0AA", "GIR 0AA"),
        ] {
            assert_eq!(postcode(raw), some(want), "{raw}");
        }
        for p in [
            "ZZ99 3VZ",
            "zz993wz",
            "ZZ99 3CZ",
            "NFA",
            "N/A",
            "No Fixed Abode",
            "n.f.a.",
        ] {
            assert_eq!(postcode(p), Err(Rejection::PostcodePlaceholder), "{p}");
        }
        for bad in [
            "SW1A", "QW1 1AA", "AI1 1AA", "W1I 1AA", "SW1C 1AA", "SW1A 1CA", "SW1A1AAA", "12345",
            "SW1A-1AA",
        ] {
            assert_eq!(postcode(bad), Err(Rejection::PostcodeInvalid), "{bad}");
        }
    }
}
