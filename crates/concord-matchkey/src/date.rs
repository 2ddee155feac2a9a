//! Dates of birth (crate doc, "Dates of birth").

use chrono::{Datelike, NaiveDate};

use crate::Rejection;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// A time of day after a date (`00:00`, `00:00:00`, `00:00:00.000`, `Z`).
fn is_time(s: &str) -> bool {
    let s = s.trim();
    s.contains(':')
        && s.len() <= 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b':' | b'.' | b'Z'))
}

/// Parses a calendar date in one of the forms agencies' systems export:
/// `YYYY-MM-DD`, `YYYYMMDD`, `DD/MM/YYYY`, `DD-MM-YYYY`, `DD.MM.YYYY`
/// (day and month may have one digit), or `DD-MON-YYYY` (`05-MAR-1990`,
/// any case), optionally followed by a time of day after a space or `T`,
/// which is ignored. Two-digit years are refused: the century is a guess.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let mut s = s.trim();
    let b = s.as_bytes();
    let time_at = (1..b.len().saturating_sub(1)).find(|&i| {
        b[i] == b' ' || (b[i] == b'T' && b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit())
    });
    if let Some(i) = time_at {
        if !is_time(&s[i + 1..]) {
            return None;
        }
        s = &s[..i];
    }
    let b = s.as_bytes();
    let (y, m, d) = if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        (
            digits(&s[..4], 4, 4)?,
            digits(&s[5..7], 2, 2)?,
            digits(&s[8..], 2, 2)?,
        )
    } else if b.len() == 8 && b.iter().all(u8::is_ascii_digit) {
        (
            digits(&s[..4], 4, 4)?,
            digits(&s[4..6], 2, 2)?,
            digits(&s[6..], 2, 2)?,
        )
    } else {
        let sep = *b.iter().find(|c| matches!(c, b'/' | b'-' | b'.'))?;
        let mut parts = s.split(sep as char);
        let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let m = match digits(m, 1, 2) {
            Some(m) => m,
            None if sep == b'-' && m.len() == 3 => {
                let m = m.to_ascii_uppercase();
                MONTHS.iter().position(|x| *x == m)? as u32 + 1
            }
            None => return None,
        };
        (digits(y, 4, 4)?, m, digits(d, 1, 2)?)
    };
    NaiveDate::from_ymd_opt(y as i32, m, d)
}

/// The ISO 8601 form, `YYYY-MM-DD`, appended without allocating.
pub(crate) fn push_iso(out: &mut Vec<u8>, d: NaiveDate) {
    let (y, m, day) = (d.year() as u32, d.month(), d.day());
    out.extend_from_slice(&[
        b'0' + (y / 1000 % 10) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
        b'-',
        b'0' + (m / 10) as u8,
        b'0' + (m % 10) as u8,
        b'-',
        b'0' + (day / 10) as u8,
        b'0' + (day % 10) as u8,
    ]);
}

/// The dates systems write when the date of birth is not known.
pub const PLACEHOLDER_DATES: &[(i32, u32, u32)] = &[(1900, 1, 1), (1901, 1, 1)];

/// Normalises a date of birth; `today` bounds it from above.
pub(crate) fn normalise(raw: &str, today: NaiveDate) -> Result<Option<NaiveDate>, Rejection> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let d = parse_date(raw).ok_or(Rejection::DobInvalid)?;
    if d.year() < 1900 {
        return Err(Rejection::DobBefore1900);
    }
    if PLACEHOLDER_DATES.contains(&(d.year(), d.month(), d.day())) {
        return Err(Rejection::DobPlaceholder);
    }
    if d > today {
        return Err(Rejection::DobFuture);
    }
    Ok(Some(d))
}

/// The date with day and month swapped, if that is a different valid date.
pub(crate) fn swapped(d: NaiveDate) -> Option<NaiveDate> {
    if d.day() == d.month() {
        return None;
    }
    NaiveDate::from_ymd_opt(d.year(), d.day(), d.month())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn every_accepted_form_gives_the_same_date() {
        for s in [
            "1990-03-05",
            "05/03/1990",
            "5/3/1990",
            "05-03-1990",
            "05.03.1990",
            "19900305",
            "05-Mar-1990",
            "05-MAR-1990",
            " 1990-03-05 ",
            "1990-03-05T00:00:00",
            "1990-03-05 00:00:00.000",
            "05/03/1990 00:00",
        ] {
            assert_eq!(parse_date(s), Some(ymd(1990, 3, 5)), "{s:?}");
        }
        assert_eq!(parse_date("05-OCT-1990"), Some(ymd(1990, 10, 5)));
        assert_eq!(parse_date("05-oct-1990 10:00"), Some(ymd(1990, 10, 5)));
        for s in [
            "05/03/90",
            "1990/03/05x",
            "31/02/1990",
            "1990-3-5",
            "05-03/1990",
            "March 5 1990",
            "1990-03-05 noon",
            "",
            "00/00/0000",
            "05-XYZ-1990",
        ] {
            assert_eq!(parse_date(s), None, "{s:?}");
        }
    }

    #[test]
    fn placeholder_future_and_ancient_dates_are_refused() {
        let today = ymd(2026, 1, 1);
        assert_eq!(
            normalise("01/01/1900", today),
            Err(Rejection::DobPlaceholder)
        );
        assert_eq!(
            normalise("1901-01-01", today),
            Err(Rejection::DobPlaceholder)
        );
        assert_eq!(
            normalise("1800-01-01", today),
            Err(Rejection::DobBefore1900)
        );
        assert_eq!(
            normalise("1899-12-31", today),
            Err(Rejection::DobBefore1900)
        );
        assert_eq!(normalise("2026-01-02", today), Err(Rejection::DobFuture));
        assert_eq!(normalise("2026-01-01", today), Ok(Some(today)));
        assert_eq!(normalise("31/02/2001", today), Err(Rejection::DobInvalid));
        assert_eq!(normalise(" ", today), Ok(None));
    }

    #[test]
    fn swaps_and_iso_text() {
        assert_eq!(swapped(ymd(1990, 3, 5)), Some(ymd(1990, 5, 3)));
        assert_eq!(swapped(ymd(1990, 3, 13)), None);
        assert_eq!(swapped(ymd(1990, 4, 4)), None);
        let mut out = Vec::new();
        push_iso(&mut out, ymd(1907, 3, 5));
        assert_eq!(out, b"1907-03-05");
    }
}
